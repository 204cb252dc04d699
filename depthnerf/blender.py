# Generated from 01_Data_Loading.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from depthnerf.cameras import focal_from_fov
from depthnerf.depth_io import downscale_depth, nerf_synthetic_depth, read_depth_file
from depthnerf.images import downscale_area, read_image, read_image_raw
from depthnerf.scene import (DataError, SceneData, _number, check_bounds, check_image, check_intrinsics, check_poses,
    check_scene_box, check_scene_scale, resolve_inside)


# %% 01_Data_Loading.ipynb · cell c15
def pick_views(n_total: int, max_views: int | None, how: str = "even") -> np.ndarray:
    """Indices of at most ``max_views`` of ``n_total`` views: the ``first`` ones, or ``even``ly spread.

    >>> pick_views(10, 4).tolist(), pick_views(10, 4, "first").tolist(), pick_views(3, None).tolist()
    ([0, 3, 6, 9], [0, 1, 2, 3], [0, 1, 2])
    """
    if max_views is None or max_views >= n_total:
        return np.arange(n_total)
    if max_views < 1:
        raise ValueError(f"max_views must be at least 1, got {max_views}")
    if how == "first":
        return np.arange(max_views)
    if how == "even":
        return np.unique(np.round(np.linspace(0, n_total - 1, max_views)).astype(np.int64))
    raise ValueError(f"unknown view subset {how!r}: choose 'first' or 'even'")


# %% 01_Data_Loading.ipynb · cell c106
def _blender_intrinsics(meta: dict, H: int, W: int, path: Path) -> np.ndarray:
    """Full-resolution ``K [3,3]`` from ``fl_x``/``fl_y`` or ``camera_angle_x`` and ``cx``/``cy`` (checked)."""
    if "fl_x" in meta:
        fx = _number(meta, "fl_x", path)
        fy = _number(meta, "fl_y", path, default=fx)
        fields = {"fx": "fl_x", "fy": "fl_y" if "fl_y" in meta else "fl_x"}
    elif "camera_angle_x" in meta:
        angle = _number(meta, "camera_angle_x", path)
        if not 0 < angle < np.pi:
            raise DataError(f"{path}: camera_angle_x = {angle:g} must be the horizontal field of view in radians, "
                            "0 < camera_angle_x < pi")
        fx = fy = focal_from_fov(angle, W)
        fields = {"fx": "camera_angle_x", "fy": "camera_angle_x"}
    else:
        raise DataError(f"{path}: needs camera_angle_x or fl_x to know the focal length")
    if "w" in meta and "h" in meta and (int(_number(meta, "w", path)), int(_number(meta, "h", path))) != (W, H):
        raise DataError(f"{path}: says images are {meta['w']}x{meta['h']} but they are {W}x{H}")
    cx, cy = _number(meta, "cx", path, default=W / 2), _number(meta, "cy", path, default=H / 2)
    K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], dtype=np.float64)
    fields.update(cx="cx" if "cx" in meta else "the image width", cy="cy" if "cy" in meta else "the image height")
    return check_intrinsics(K, H, W, path, fields)


# %% 01_Data_Loading.ipynb · cell c109
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".exr")


def _blender_frame_paths(folder: Path, frame, index: int, json_path: Path) -> tuple[Path, Path | None]:
    """The image and depth file of frame ``index`` (``.png`` appended when ``file_path`` has no image
    extension), both checked to lie inside ``folder``."""
    if not isinstance(frame, dict) or frame.get("file_path") is None or "transform_matrix" not in frame:
        keys = sorted(frame) if isinstance(frame, dict) else type(frame).__name__
        raise DataError(f"{json_path}: frame {index} lacks file_path or transform_matrix (it has {keys}); every frame "
                        "needs both")
    file_path = frame["file_path"]
    if not isinstance(file_path, str) or not Path(file_path).name:
        raise DataError(f"{json_path}: frame {index} file_path must name an image file, got {file_path!r}")
    relative = Path(file_path)
    if relative.suffix.lower() not in _IMAGE_SUFFIXES:
        relative = relative.with_name(relative.name + ".png")
    image_path = resolve_inside(folder, relative, f"{json_path}: frame {index} file_path")
    depth_path = None
    if "depth_file_path" in frame:
        depth_path = resolve_inside(folder, frame["depth_file_path"], f"{json_path}: frame {index} depth_file_path")
    return image_path, depth_path


def _transform_matrix(frame: dict, index: int, json_path: Path) -> np.ndarray:
    try:
        matrix = np.asarray(frame["transform_matrix"], dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DataError(f"{json_path}: frame {index} transform_matrix must be a 4x4 matrix of numbers ({err})") from err
    if matrix.shape != (4, 4):
        raise DataError(f"{json_path}: frame {index} transform_matrix must be a 4x4 matrix, got shape {matrix.shape}")
    return matrix


def _load_blender_frame(index: int, image_path: Path, depth_path: Path | None, frame: dict, meta: dict,
                        json_path: Path, downscale: int, background: np.ndarray, depth_type: str | None, first):
    folder = json_path.parent
    image = read_image(image_path)
    check_image(image, image_path, first, json_path.name)
    H, W = image.shape[:2]
    if image.shape[-1] == 4:
        alpha = image[..., 3]
        rgb = image[..., :3] * alpha[..., None] + background * (1 - alpha[..., None])
    else:
        alpha, rgb = None, np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]
    K = _blender_intrinsics(meta, H, W, json_path)
    depth = mask = None
    synthetic_depth = sorted(image_path.parent.glob(image_path.stem + "_depth_*.png"))
    if depth_path is None and synthetic_depth:
        resolve_inside(folder, synthetic_depth[0].relative_to(folder), f"{json_path}: frame {index} test depth map")
        depth = nerf_synthetic_depth(read_image_raw(synthetic_depth[0]), synthetic_depth[0], alpha, (H, W))
        depth, mask = downscale_depth(depth, depth > 0, downscale)
    if depth_path is not None:
        kind = depth_type or frame.get("depth_type") or meta.get("depth_type", "z")
        scale = _number(frame, "depth_unit_scale_factor", f"{json_path}: frame {index}",
                        default=_number(meta, "depth_unit_scale_factor", json_path))
        if scale is not None and not (np.isfinite(scale) and scale > 0):
            raise DataError(f"{json_path}: frame {index} depth_unit_scale_factor = {scale:g} must be a finite number "
                            "> 0 (scene units per stored depth unit)")
        depth = read_depth_file(depth_path, K, kind, scale, shape=(H, W))
        depth, mask = downscale_depth(depth, depth > 0, downscale)
    rgb = downscale_area(rgb, downscale).astype(np.float32)
    alpha = None if alpha is None else downscale_area(alpha, downscale).astype(np.float32)
    return str(image_path), rgb, alpha, depth, mask, image.shape, K


# %% 01_Data_Loading.ipynb · cell c111
BLENDER_NEAR, BLENDER_FAR = 2.0, 6.0
BLENDER_SCENE_BOX = np.array([[-1.5, -1.5, -1.5], [1.5, 1.5, 1.5]], dtype=np.float32)


def load_blender(folder: Path | str, split: str = "train", downscale: int = 1,
                 background=(1.0, 1.0, 1.0), max_views: int | None = None, view_subset: str = "even",
                 depth_type: str | None = None, workers: int | None = None) -> SceneData:
    """Load a Blender-layout scene (``transforms_{split}.json`` + PNGs) into :class:`SceneData`.

    ``downscale``: integer area-downscaling factor. ``background``: RGB the RGBA images are
    composited on. ``max_views``/``view_subset``: see :func:`pick_views`. ``depth_type``: overrides the
    JSON's ``depth_type`` for ``depth_file_path`` files. ``workers``: decoding threads.

    The JSON is validated as a whole (near/far, scene_box, every frame's paths and pose) before any
    image is read; the images and depth of the chosen views as they are read; the scene scale after
    the first image (it gives the intrinsics).
    """
    folder = Path(folder)
    json_path = folder / f"transforms_{split}.json"
    if not json_path.is_file():
        raise DataError(f"{json_path}: missing (a Blender-layout scene needs transforms_{split}.json)")
    try:
        meta = json.loads(json_path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"{json_path}: not valid JSON ({err})") from err
    frames = meta.get("frames") if isinstance(meta, dict) else None
    if not frames:
        raise DataError(f"{json_path}: has no frames")
    if not isinstance(frames, list):
        raise DataError(f"{json_path}: frames must be a list of frames, got {type(frames).__name__}")
    if int(downscale) != downscale or downscale < 1:
        raise ValueError(f"downscale must be a positive integer, got {downscale}")
    fix = f"set near/far/scene_box in {json_path.name}, or rescale the poses"
    near, far = check_bounds(_number(meta, "near", json_path, BLENDER_NEAR),
                             _number(meta, "far", json_path, BLENDER_FAR), json_path,
                             fix=f"set near and far in {json_path.name}")
    scene_box = check_scene_box(meta.get("scene_box", BLENDER_SCENE_BOX), json_path)
    paths = [_blender_frame_paths(folder, frame, i, json_path) for i, frame in enumerate(frames)]
    all_poses = check_poses(np.stack([_transform_matrix(frame, i, json_path) for i, frame in enumerate(frames)]),
                            json_path, [f"frame {i} transform_matrix" for i in range(len(frames))])
    chosen = pick_views(len(frames), max_views, view_subset)
    background = np.asarray(background, dtype=np.float32)

    def load(i, first_shape):
        return _load_blender_frame(int(i), *paths[i], frames[i], meta, json_path, downscale, background, depth_type,
                                   first_shape)

    first = load(chosen[0], None)
    check_scene_scale(all_poses, first[6], first[5][0], first[5][1], near, far, scene_box, json_path, fix)
    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
        rest = list(pool.map(lambda i: load(i, first[5]), chosen[1:]))
    loaded = [first] + rest
    K = first[6].copy()
    K[:2] /= downscale
    has_depth = [item[3] is not None for item in loaded]
    if any(has_depth) and not all(has_depth):
        raise DataError(f"{json_path}: {sum(has_depth)} of {len(chosen)} frames have a depth_file_path; "
                        "give it for every frame or none")
    images = np.stack([item[1] for item in loaded])
    return SceneData(
        images=images, poses=all_poses[chosen].astype(np.float32),
        intrinsics=np.repeat(K[None], len(chosen), axis=0).astype(np.float32),
        H=images.shape[1], W=images.shape[2], near=near, far=far, background=background, scene_box=scene_box,
        alphas=None if loaded[0][2] is None else np.stack([item[2] for item in loaded]),
        depth=np.stack([item[3] for item in loaded]) if all(has_depth) else None,
        depth_mask=np.stack([item[4] for item in loaded]) if all(has_depth) else None,
        image_paths=[item[0] for item in loaded], name=folder.name, split=split,
    )
