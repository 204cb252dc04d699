# Generated from 01_Data_Loading.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np

from depthnerf.cameras import z_depth_to_ray_depth
from depthnerf.scene import TRAINING_DTYPE, DataError, SceneData, check_depth


# %% 01_Data_Loading.ipynb · cell c86
def read_depth_file(path: Path | str, K: np.ndarray, depth_type: str = "z",
                    unit_scale: float | None = None, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read one depth map and return **ray depth** ``[H, W]`` float32 (0 = no measurement).

    * ``.npy`` / ``.npz`` (first array, or the one named ``depth``): float values times ``unit_scale``
      (default 1);
    * integer PNG (16-bit, nerfstudio's convention): raw values times ``unit_scale`` (default
      ``1e-3``: millimetres to metres, nerfstudio's ``depth_unit_scale_factor``).

    ``depth_type`` says what the file holds: ``"ray"`` (distance along the ray) or ``"z"`` (camera
    z-depth, converted with :func:`z_depth_to_ray_depth`). ``K`` are the intrinsics at the file's
    resolution. NaN, negative values, a shape other than ``shape`` and values that overflow to inf
    in the float32 result raise :class:`DataError`.
    """
    path = Path(path)
    if depth_type not in ("ray", "z"):
        raise DataError(f"{path}: depth_type must be 'ray' or 'z', got {depth_type!r}")
    if not path.is_file():
        raise DataError(f"{path}: depth file is missing")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            depth = np.load(path)
        elif suffix == ".npz":
            with np.load(path) as archive:
                depth = archive["depth"] if "depth" in archive else archive[archive.files[0]]
        else:
            raw = iio.imread(path)
            if not np.issubdtype(raw.dtype, np.integer):
                raise DataError(f"{path}: a depth PNG must hold integers, got {raw.dtype}")
            depth = raw[..., 0] if raw.ndim == 3 else raw
            unit_scale = 1e-3 if unit_scale is None else unit_scale
    except DataError:
        raise
    except Exception as err:
        raise DataError(f"{path}: cannot read depth ({type(err).__name__}: {err})") from err
    depth = check_depth(np.asarray(depth, dtype=np.float64) * (1.0 if unit_scale is None else unit_scale),
                        path, shape)
    if depth_type == "z":
        depth = z_depth_to_ray_depth(depth, K)
    return check_depth(depth, path, dtype=TRAINING_DTYPE)  # checked after the cast: an overflow is inf there


# %% 01_Data_Loading.ipynb · cell c89
def downscale_depth(depth: np.ndarray, mask: np.ndarray, factor: int, rel_spread: float = 0.05):
    """Downscale dense depth ``[H, W]``: mean of the valid sub-pixels of each block, valid only if at
    least half of the block is valid and the valid values agree (``max - min <= rel_spread * mean``).

    >>> d = np.array([[2.0, 2.0, 3.0, 0.0], [2.0, 2.1, 5.0, 0.0]])
    >>> depth, mask = downscale_depth(d, d > 0, 2)
    >>> np.round(depth, 3).tolist(), mask.tolist()   # left: mean 2.025; right: 3 and 5 disagree -> invalid
    ([[2.025, 0.0]], [[True, False]])
    """
    if factor == 1:
        return depth, mask
    H, W = depth.shape[0] // factor * factor, depth.shape[1] // factor * factor
    shape = (H // factor, factor, W // factor, factor)
    d, m = depth[:H, :W].reshape(shape), mask[:H, :W].reshape(shape)
    count = m.sum(axis=(1, 3))
    mean = np.where(m, d, 0.0).sum(axis=(1, 3)) / np.maximum(count, 1)
    spread = np.where(m, d, -np.inf).max(axis=(1, 3)) - np.where(m, d, np.inf).min(axis=(1, 3))
    valid = (count * 2 >= factor * factor) & (count > 0) & (spread <= rel_spread * mean)
    return np.where(valid, mean, 0.0).astype(depth.dtype), valid


# %% 01_Data_Loading.ipynb · cell c11
NERF_SYNTHETIC_DEPTH_MAX = 8.0  # t = 8 (1 - v / 255): derived from the cameras and checked in notebook 01


def nerf_synthetic_depth(raw: np.ndarray, path: Path | str = "?", alpha: np.ndarray | None = None,
                         shape: tuple[int, int] | None = None) -> np.ndarray:
    """Ray depth ``[H, W]`` from a NeRF-Synthetic 8-bit test depth PNG: ``t = 8 (1 - v / 255)``.

    ``v = 0`` (background) and pixels with ``alpha < 1`` (anti-aliased edges) give 0 (invalid).

    >>> nerf_synthetic_depth(np.array([[0, 255, 128]], dtype=np.uint8)).astype(float).round(4).tolist()
    [[0.0, 0.0, 3.9843]]
    """
    if raw.dtype != np.uint8:
        raise DataError(f"{path}: NeRF-Synthetic depth maps are 8-bit, got {raw.dtype}")
    value = (raw[..., 0] if raw.ndim == 3 else raw).astype(np.float64)
    if shape is not None and value.shape != tuple(shape):
        raise DataError(f"{path}: depth shape {value.shape} does not match the image shape {tuple(shape)}")
    valid = (value > 0) & (value < 255)
    if alpha is not None:
        valid &= alpha >= 1.0
    return np.where(valid, NERF_SYNTHETIC_DEPTH_MAX * (1 - value / 255), 0.0).astype(np.float32)


# %% 01_Data_Loading.ipynb · cell c13
def _project(points: np.ndarray, pose: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel row, column (floor of the continuous position) and distance to the camera of world points."""
    w2c = np.linalg.inv(pose.astype(np.float64))
    cam = points @ w2c[:3, :3].T + w2c[:3, 3]
    col = np.floor(K[0, 0] * cam[:, 0] / -cam[:, 2] + K[0, 2]).astype(np.int64)
    row = np.floor(-K[1, 1] * cam[:, 1] / -cam[:, 2] + K[1, 2]).astype(np.int64)
    return row, col, np.linalg.norm(cam, axis=1)


def nerf_synthetic_depth_check(test: SceneData, train: SceneData, scale: float = 1.0, stride: int = 3) -> dict:
    """Consistency of a scene's test depth (times ``scale``) with its cameras: cross-view residuals
    between ``test`` views at least 3 apart (every ``stride``-th pixel), and the fraction of points
    inside the silhouettes (alphas) of the ``train`` views."""
    if test.depth is None:
        raise DataError(f"{test.name}/{test.split}: the test split has no depth maps")
    grid = np.zeros((test.H, test.W), bool)
    grid[::stride, ::stride] = True
    residuals, inside = [], []
    for a in range(len(test)):
        origins, dirs = test.rays(a)
        m = test.depth_mask[a] & grid
        points = origins[m] + scale * test.depth[a][m][:, None] * dirs[m]
        for b in range(len(test)):
            if abs(a - b) < 3:
                continue
            row, col, dist = _project(points, test.poses[b], test.intrinsics[b])
            ok = (col >= 0) & (col < test.W) & (row >= 0) & (row < test.H)
            ok[ok] &= test.depth_mask[b][row[ok], col[ok]]
            residuals.append(scale * test.depth[b][row[ok], col[ok]] - dist[ok])
        for b in range(len(train)):
            row, col, _ = _project(points, train.poses[b], train.intrinsics[b])
            inside.append(train.alphas[b][np.clip(row, 0, train.H - 1), np.clip(col, 0, train.W - 1)] > 0.5)
    r = np.concatenate(residuals)
    covisible = np.abs(r) < 0.1
    return dict(covisible_fraction=float(covisible.mean()), median_abs=float(np.median(np.abs(r[covisible]))),
                median_signed=float(np.median(r[covisible])), rms=float(np.sqrt(np.mean(r[covisible] ** 2))),
                silhouette_fraction=float(np.concatenate(inside).mean()))
