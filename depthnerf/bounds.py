# Generated from Experiments/custom_scenes.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import math

import numpy as np

from depthnerf.cameras import ray_grid
from depthnerf.scene import DataError


# %% Experiments/custom_scenes.ipynb · cell c25
def bounds_from_depth(poses: np.ndarray, intrinsics: np.ndarray, depths) -> tuple[float, float, np.ndarray]:
    """``(near, far, scene_box [2,3])`` enclosing every valid depth point (``depth > 0``) of the views:
    ``near = 0.9 min t``, ``far = 1.1 max t`` over the ray depths ``t``, the box the points' bounding box
    grown by 5% of its largest side on each side (a flat scene, a poster, still gets a thick box). ``poses [N,4,4]``, ``intrinsics [N,3,3]``, ``depths``: N ``[H,W]``.

    >>> K = np.array([[2.0, 0, 1], [0, 2.0, 1], [0, 0, 1]])
    >>> near, far, box = bounds_from_depth(np.eye(4)[None], K[None], [np.full((2, 2), 3.0)])
    >>> round(near, 3), round(far, 3), np.round(box, 3).tolist()
    (2.7, 3.3, [[-0.778, -0.778, -2.899], [0.778, 0.778, -2.758]])
    """
    t_lo, t_hi, lo, hi = np.inf, 0.0, np.full(3, np.inf), np.full(3, -np.inf)
    for pose, K, depth in zip(poses, intrinsics, depths):
        valid = depth > 0
        if not valid.any():
            continue
        origins, dirs = ray_grid(pose, K, *depth.shape)
        t = depth[valid].astype(np.float64)
        points = origins[valid] + t[:, None] * dirs[valid]
        t_lo, t_hi = min(t_lo, t.min()), max(t_hi, t.max())
        lo, hi = np.minimum(lo, points.min(0)), np.maximum(hi, points.max(0))
    if not np.isfinite(t_lo):
        raise DataError("no valid depth (every depth value is 0) to derive near, far and the scene box from")
    margin = 0.05 * max(float((hi - lo).max()), 1e-3 * t_hi)
    return 0.9 * float(t_lo), 1.1 * float(t_hi), np.stack([lo - margin, hi + margin])


CAMERA_MIN_SPREAD = math.sin(math.radians(10.0)) ** 2  # bounds_from_cameras: the axes must spread at least this


def bounds_from_cameras(poses: np.ndarray, where) -> tuple[float, float, np.ndarray]:
    """``(near, far, scene_box)`` from the cameras alone, for captures that look at one object: the
    point ``c`` nearest to every optical axis (least squares: ``sum (I - d d^T)(c - C) = 0``) must lie in
    front of every camera, and the content is taken to be the cube of half-side ``h = min_i |C_i - c| / 2``
    around it; ``near = min |C_i - c| - sqrt(3) h``, ``far = max |C_i - c| + sqrt(3) h`` (ray depths
    spanning that cube from every camera). Axes that spread less than 10 degrees (a forward-facing
    capture) do not fix ``c``: an error says what to give instead.

    >>> from depthnerf.cameras import look_at
    >>> ring = np.stack([look_at(np.array([4 * np.cos(a), 4 * np.sin(a), 1.0])) for a in (0.0, 2.0, 4.0)])
    >>> near, far, box = bounds_from_cameras(ring, "t.json")
    >>> round(near, 3), round(far, 3), np.round(box[1], 3).tolist()
    (0.552, 7.694, [2.062, 2.062, 2.062])
    """
    centres, axes = poses[:, :3, 3].astype(np.float64), -poses[:, :3, 2].astype(np.float64)
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    projector = np.eye(3) - axes[:, :, None] * axes[:, None, :]  # [N,3,3]: removes the part along each axis
    A, b = projector.sum(0), np.einsum("nij,nj->i", projector, centres)
    fix = ("give depth files (depth_file_path), or near, far and scene_box ([[xmin, ymin, zmin], [xmax, ymax, "
           "zmax]], world units) in the file")
    if len(poses) < 2 or np.linalg.eigvalsh(A).min() < CAMERA_MIN_SPREAD * len(poses):
        raise DataError(f"{where}: cannot derive near, far and a scene box from the cameras: their optical axes "
                        f"are (nearly) parallel, so they do not point at one place (a forward-facing capture?); {fix}")
    focus = np.linalg.solve(A, b)
    ahead = np.einsum("ni,ni->n", focus - centres, axes)
    if (ahead <= 0).any():
        raise DataError(f"{where}: cannot derive near, far and a scene box from the cameras: the point nearest to "
                        f"their optical axes is behind {int((ahead <= 0).sum())} of them (they do not look at one "
                        f"object); {fix}")
    distance = np.linalg.norm(centres - focus, axis=1)
    half = 0.5 * distance.min()
    box = np.stack([focus - half, focus + half])
    return float(distance.min() - math.sqrt(3) * half), float(distance.max() + math.sqrt(3) * half), box
