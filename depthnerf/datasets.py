# Generated from 01_Data_Loading.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from depthnerf.blender import load_blender
from depthnerf.embedded import ensure_embedded_scene
from depthnerf.llff import load_llff
from depthnerf.nerfstudio import NERFSTUDIO_JSON, load_nerfstudio
from depthnerf.scene import DataError, SceneData


# %% 01_Data_Loading.ipynb · cell c23
def load_dataset(data: str | Path, split: str = "train", downscale: int = 1, *, root: Path | str = "data",
                 **options) -> SceneData:
    """Load ``data``: ``"embedded"`` (generated into ``root/embedded`` on first use) or a folder holding a
    Blender-layout scene (``transforms_{split}.json``), a nerfstudio scene (one ``transforms.json``) or an
    LLFF scene (``poses_bounds.npy``), tried in that order.

    ``options`` go to the loader (:func:`load_blender`: background, max_views, view_subset, ...;
    :func:`load_nerfstudio`; :func:`load_llff`).
    """
    if str(data) == "embedded":
        return load_blender(ensure_embedded_scene(root), split, downscale, **options)
    folder = Path(data)
    if not folder.is_dir():
        raise DataError(f"{folder}: dataset folder not found (expected 'embedded' or a scene folder)")
    if (folder / f"transforms_{split}.json").exists() or any(folder.glob("transforms_*.json")):
        return load_blender(folder, split, downscale, **options)
    if (folder / NERFSTUDIO_JSON).is_file():
        return load_nerfstudio(folder, split, downscale, **options)
    if (folder / "poses_bounds.npy").exists():
        return load_llff(folder, split, downscale, **options)
    raise DataError(f"{folder}: none of transforms_{split}.json (Blender layout), {NERFSTUDIO_JSON} (nerfstudio) "
                    f"or poses_bounds.npy (LLFF) found")


# %% 01_Data_Loading.ipynb · cell c134
def select_views(data: SceneData, n: int, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` views spread over the cameras (farthest-point sampling of the centres), sorted.

    >>> poses = np.tile(np.eye(4), (4, 1, 1)); poses[:, 0, 3] = [0.0, 1.0, 2.0, 10.0]
    >>> s = SceneData(np.zeros((4, 1, 1, 3)), poses, np.tile(np.eye(3), (4, 1, 1)), 1, 1, 2.0, 6.0,
    ...               np.ones(3), np.zeros((2, 3)), image_paths=list("abcd"))
    >>> select_views(s, 2, seed=0).tolist(), select_views(s, 3, seed=3).tolist()
    ([0, 3], [0, 2, 3])
    """
    total = len(data)
    if not 1 <= n <= total:
        raise ValueError(f"cannot select {n} of {total} views")
    centres = data.poses[:, :3, 3].astype(np.float64)
    chosen = [int(np.random.default_rng(seed).integers(total))]
    gap = np.linalg.norm(centres - centres[chosen[0]], axis=1)
    while len(chosen) < n:
        chosen.append(int(np.argmax(gap)))
        gap = np.minimum(gap, np.linalg.norm(centres - centres[chosen[-1]], axis=1))
    return np.sort(np.array(chosen))


def corrupt_depth(data: SceneData, noise_std: float = 0.0, keep_fraction: float = 1.0, scale: float = 1.0,
                  seed: int = 0) -> SceneData:
    """A copy of ``data`` whose valid depth is scaled by ``scale``, given Gaussian noise of ``noise_std``
    scene units and thinned to ``keep_fraction`` of its valid pixels (deterministic for a ``seed``).

    >>> s = SceneData(np.zeros((1, 2, 2, 3)), np.eye(4)[None], np.eye(3)[None], 2, 2, 2.0, 6.0, np.ones(3),
    ...               np.zeros((2, 3)), depth=np.full((1, 2, 2), 4.0), depth_mask=np.ones((1, 2, 2), bool))
    >>> corrupt_depth(s, scale=1.1).depth[0, 0].astype(float).round(4).tolist(), int(corrupt_depth(s, keep_fraction=0.5).depth_mask.sum())
    ([4.4, 4.4], 2)
    """
    if data.depth is None or data.depth_mask is None:
        raise ValueError(f"{data.name}/{data.split}: has no depth to corrupt")
    if not 0.0 <= keep_fraction <= 1.0 or noise_std < 0 or scale <= 0:
        raise ValueError("need 0 <= keep_fraction <= 1, noise_std >= 0 and scale > 0")
    rng = np.random.default_rng(seed)
    mask = data.depth_mask.copy()
    depth = np.where(mask, data.depth.astype(np.float64) * scale, 0.0)
    if noise_std > 0:
        depth += np.where(mask, rng.normal(0.0, noise_std, depth.shape), 0.0)
        mask &= depth > 0
    valid = np.flatnonzero(mask)
    n_keep = int(round(keep_fraction * len(valid)))
    dropped = rng.choice(valid, size=len(valid) - n_keep, replace=False)
    mask.flat[dropped] = False
    sigma = data.depth_sigma
    if noise_std > 0:
        sigma = np.full(depth.shape, noise_std) if sigma is None else np.sqrt(sigma.astype(np.float64) ** 2 + noise_std**2)
    return replace(data, depth=np.where(mask, depth, 0.0).astype(np.float32), depth_mask=mask,
                   depth_sigma=None if sigma is None else np.where(mask, sigma, 0.0).astype(np.float32))
