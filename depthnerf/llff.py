# Generated from 01_Data_Loading.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from depthnerf.blender import pick_views
from depthnerf.cameras import average_pose, frustum_box
from depthnerf.images import downscale_area, read_image
from depthnerf.scene import (DataError, SceneData, check_bounds, check_image, check_intrinsics, check_poses,
    check_scene_scale)
from depthnerf.sparse_depth import colmap_observations, dsnerf_observations, rasterise_sparse_depth


# %% 01_Data_Loading.ipynb · cell c17
LLFF_BOUND_FACTOR = 0.75


def llff_to_opengl(poses_bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split ``poses_bounds [N, 17]`` into camera-to-world ``[N,4,4]`` (OpenGL axes), ``hwf [N,3]``
    and ``bounds [N,2]``. LLFF's rotation columns (down, right, back) become (right, up, back).

    >>> row = np.concatenate([np.array([[0, 1, 0, 5, 480], [1, 0, 0, 6, 640], [0, 0, 1, 7, 500.0]]).ravel(), [2, 9]])
    >>> pose, hwf, bounds = llff_to_opengl(row[None])
    >>> (pose[0] + 0.0).tolist(), hwf[0].tolist(), bounds[0].tolist()
    ([[1.0, 0.0, 0.0, 5.0], [0.0, -1.0, 0.0, 6.0], [0.0, 0.0, 1.0, 7.0], [0.0, 0.0, 0.0, 1.0]], [480.0, 640.0, 500.0], [2.0, 9.0])
    """
    mats = poses_bounds[:, :15].reshape(-1, 3, 5).astype(np.float64)
    poses = np.tile(np.eye(4), (len(mats), 1, 1))
    poses[:, :3, 0], poses[:, :3, 1], poses[:, :3, 2] = mats[:, :, 1], -mats[:, :, 0], mats[:, :, 2]
    poses[:, :3, 3] = mats[:, :, 3]
    return poses, mats[:, :, 4], poses_bounds[:, 15:17].astype(np.float64)


# %% 01_Data_Loading.ipynb · cell c114
def llff_world_transform(folder: Path | str) -> dict:
    """The LLFF normalisation of a scene: OpenGL poses, bounds, ``scale`` and ``recentre`` (``[4,4]``,
    the inverse average pose) such that ``scene = recentre @ (scale * colmap_world)`` for positions."""
    path = Path(folder) / "poses_bounds.npy"
    if not path.is_file():
        raise DataError(f"{path}: missing (an LLFF scene needs poses_bounds.npy)")
    try:
        raw = np.load(path)
    except Exception as err:
        raise DataError(f"{path}: cannot read ({type(err).__name__}: {err})") from err
    if raw.ndim != 2 or raw.shape[1] != 17:
        raise DataError(f"{path}: expected a finite [N, 17] array, got shape {raw.shape}")
    if not np.isfinite(raw).all():
        row, column = (int(k[0]) for k in np.nonzero(~np.isfinite(raw)))
        raise DataError(f"{path}: expected a finite [N, 17] array; row {row} column {column} is {raw[row, column]}")
    poses, hwf, bounds = llff_to_opengl(raw)
    if (bounds <= 0).any():
        row = int(np.argmax((bounds <= 0).any(axis=1)))
        raise DataError(f"{path}: near/far bounds must be positive; row {row} has {bounds[row].tolist()} "
                        "(columns 15, 16)")
    if (bounds[:, 0] >= bounds[:, 1]).any():
        row = int(np.argmax(bounds[:, 0] >= bounds[:, 1]))
        raise DataError(f"{path}: row {row}: the near bound {bounds[row, 0]:g} is not below the far bound "
                        f"{bounds[row, 1]:g} (columns 15, 16); each row needs 0 < near < far")
    if (hwf <= 0).any():
        row = int(np.argmax((hwf <= 0).any(axis=1)))
        raise DataError(f"{path}: row {row}: H, W, focal (columns 4, 9, 14) must be positive, got {hwf[row].tolist()}")
    check_poses(poses, path, [f"row {i} (its 3x4 camera-to-world pose)" for i in range(len(poses))])
    scale = 1.0 / (bounds.min() * LLFF_BOUND_FACTOR)
    poses[:, :3, 3] *= scale
    recentre = np.linalg.inv(average_pose(poses))
    return dict(poses=recentre @ poses, hwf=hwf, bounds=bounds * scale, scale=scale, recentre=recentre)


# %% 01_Data_Loading.ipynb · cell c131
LLFF_HOLDOUT = 8


def _llff_image_folder(folder: Path, downscale: int) -> tuple[Path, int]:
    for k in sorted((d for d in range(1, downscale + 1) if downscale % d == 0), reverse=True):
        candidate = folder / ("images" if k == 1 else f"images_{k}")
        if candidate.is_dir():
            return candidate, downscale // k
    available = sorted(p.name for p in folder.glob("images*") if p.is_dir())
    raise DataError(f"{folder}: no image folder for downscale {downscale} (need images_k with k dividing "
                    f"{downscale}); found {available}")


def load_llff(folder: Path | str, split: str = "train", downscale: int = 8,
              max_views: int | None = None, view_subset: str = "even", background=(1.0, 1.0, 1.0),
              workers: int | None = None, sparse_depth: str | None = None) -> SceneData:
    """Load an LLFF scene (``poses_bounds.npy`` + ``images_k/``) with NeRF's rescale and recentring.

    ``sparse_depth``: None, ``"colmap"`` (from ``sparse/0``, see :func:`colmap_observations`) or
    ``"dsnerf"`` (from DS-NeRF's ``colmap_depth_*.npy``), rasterised with :func:`rasterise_sparse_depth`.
    """
    folder = Path(folder)
    world = llff_world_transform(folder)
    image_folder, extra = _llff_image_folder(folder, downscale)
    files = sorted(p for p in image_folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if len(files) != len(world["poses"]):
        raise DataError(f"{image_folder}: {len(files)} images but {folder / 'poses_bounds.npy'} has "
                        f"{len(world['poses'])} poses")
    every = np.arange(len(files))
    held = every[::LLFF_HOLDOUT]
    chosen = {"train": np.setdiff1d(every, held), "test": held, "val": held, "all": every}.get(split)
    if chosen is None:
        raise ValueError(f"unknown split {split!r}: choose train, val, test or all")
    chosen = chosen[pick_views(len(chosen), max_views, view_subset)]

    def read(path, first_shape):
        image = read_image(path)
        check_image(image, path, first_shape, image_folder.name)
        if image.shape[-1] == 4 and image[..., 3].min() < 1:
            raise DataError(f"{path}: has transparent pixels (alpha < 1), but LLFF images are photographs and are "
                            "not composited: composite it on a background first, or use the Blender layout")
        rgb = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]
        return downscale_area(rgb, extra).astype(np.float32), image.shape

    first, first_shape = read(files[chosen[0]], None)
    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
        images = [first] + [im for im, _ in pool.map(lambda i: read(files[i], first_shape), chosen[1:])]
    H, W = images[0].shape[:2]
    full_h, full_w, focal = world["hwf"][0]
    f = focal * W / full_w
    K = np.array([[f, 0, W / 2], [0, f, H / 2], [0, 0, 1]])  # square pixels: LLFF stores one focal
    source = folder / "poses_bounds.npy"
    check_intrinsics(K, H, W, source, {"fx": "the focal (column 14)", "fy": "the focal (column 14)"})
    poses = world["poses"][chosen]
    near, far = check_bounds(0.9 * world["bounds"].min(), world["bounds"].max(), source)
    intrinsics = np.repeat(K[None], len(chosen), axis=0)
    box = frustum_box(poses, intrinsics, H, W, near, far)
    check_scene_scale(poses, K, H, W, near, far, box, source,
                      "its bounds (columns 15, 16) do not match its poses: recompute poses_bounds.npy from the "
                      "COLMAP model (LLFF's imgs2poses.py)")
    depth = {}
    if sparse_depth is not None:
        names = [p.name for p in files]
        if sparse_depth == "colmap":
            obs = colmap_observations(folder / "sparse" / "0", names)
        elif sparse_depth == "dsnerf":
            obs = dsnerf_observations(folder, len(files))
        else:
            raise ValueError(f"unknown sparse_depth {sparse_depth!r}: choose None, 'colmap' or 'dsnerf'")
        depth = rasterise_sparse_depth(obs, world, chosen, K, H, W)
    return SceneData(
        images=np.stack(images), poses=poses.astype(np.float32), intrinsics=intrinsics.astype(np.float32),
        H=H, W=W, near=float(near), far=float(far),
        background=np.asarray(background, np.float32), scene_box=box,
        image_paths=[str(files[i]) for i in chosen], name=folder.name, split=split, **depth,
    )
