# Generated from Experiments/custom_scenes.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


from __future__ import annotations

import functools
import json
import math
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from depthnerf.blender import _blender_frame_paths, _transform_matrix, pick_views
from depthnerf.bounds import bounds_from_cameras, bounds_from_depth
from depthnerf.cameras import ray_depth_to_z_depth, z_depth_to_ray_depth
from depthnerf.depth_io import downscale_depth, read_depth_file
from depthnerf.images import downscale_area, read_image
from depthnerf.io import atomic_json
from depthnerf.lens import DISTORTION, PINHOLE_MODELS, Camera, remap, resize_nearest, undistortion
from depthnerf.scene import (TRAINING_DTYPE, DataError, SceneData, check_bounds, check_depth, check_image,
    check_intrinsics, check_poses, check_scene, check_scene_box, resolve_inside)


# %% Experiments/custom_scenes.ipynb · cell c23
NERFSTUDIO_JSON = "transforms.json"
SPLITS = ("train", "val", "test")
TRAIN_SPLIT_FRACTION = 0.9  # nerfstudio's default when the file lists no split: ceil(0.9 N) frames train
CAMERA_KEYS = ("camera_model", "fl_x", "fl_y", "cx", "cy", "w", "h", "k1", "k2", "k3", "k4", "p1", "p2",
               "camera_angle_x")
# read and used, or recorded and deliberately not used (documented in the notebook); anything else is warned about
TOP_KEYS = {*CAMERA_KEYS, "frames", "train_filenames", "val_filenames", "test_filenames", "applied_transform",
            "applied_scale", "aabb_scale", "near", "far", "scene_box", "depth_type", "depth_unit_scale_factor",
            "ply_file_path", "orientation_override"}
FRAME_KEYS = {*CAMERA_KEYS, "file_path", "transform_matrix", "depth_file_path", "depth_type",
              "depth_unit_scale_factor", "mask_path", "colmap_im_id"}


def _field(fields: dict, key: str, where: str, default=None) -> float | None:
    """``fields[key]`` as a float (``default`` when absent); a DataError naming ``where`` and ``key`` otherwise."""
    if key not in fields:
        return default
    value = fields[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"{where}: {key} must be a finite number, got {value!r}")
    return float(value)


def frame_camera(meta: dict, frame: dict, where: str, image_size: tuple[int, int] | None = None) -> Camera:
    """The camera of one frame: its own camera fields over the file's top-level ones (nerfstudio allows
    either). ``image_size`` ``(H, W)`` of the image file: checked against ``w``/``h`` and the default for them.

    >>> cam = frame_camera({"fl_x": 50.0, "w": 40, "h": 30, "camera_model": "OPENCV", "k1": -0.1}, {"cx": 21.0}, "t")
    >>> cam.matrix[0].tolist(), cam.matrix[1].tolist(), cam.model, cam.distortion, cam.distorted
    ([50.0, 0.0, 21.0], [0.0, 50.0, 15.0], 'OPENCV', (-0.1, 0.0, 0.0, 0.0, 0.0), True)
    """
    fields = {**{k: meta[k] for k in CAMERA_KEYS if k in meta}, **{k: frame[k] for k in CAMERA_KEYS if k in frame}}
    H, W = image_size if image_size is not None else (None, None)
    w, h = _field(fields, "w", where, W), _field(fields, "h", where, H)
    if w is None or h is None:
        raise DataError(f"{where}: needs w and h (image width and height in pixels)")
    if image_size is not None and (int(w), int(h)) != (W, H):
        raise DataError(f"{where}: w, h = {int(w)}x{int(h)} but the image file is {W}x{H}")
    if "fl_x" in fields:
        fx = _field(fields, "fl_x", where)
        fy = _field(fields, "fl_y", where, fx)
    elif "camera_angle_x" in fields:  # instant-ngp's files may give only the field of view
        angle = _field(fields, "camera_angle_x", where)
        if not 0 < angle < math.pi:
            raise DataError(f"{where}: camera_angle_x = {angle:g} must be the horizontal field of view in radians")
        fx = fy = 0.5 * w / math.tan(0.5 * angle)
    else:
        raise DataError(f"{where}: needs fl_x (focal length in pixels) or camera_angle_x")
    K = np.array([[fx, 0, _field(fields, "cx", where, w / 2)], [0, fy, _field(fields, "cy", where, h / 2)], [0, 0, 1]])
    check_intrinsics(K, int(h), int(w), where, {"fx": "fl_x", "fy": "fl_y", "cx": "cx", "cy": "cy"})
    coefficients = {k: _field(fields, k, where, 0.0) for k in ("k1", "k2", "k3", "k4", "p1", "p2")}
    model = fields.get("camera_model") or ("OPENCV" if any(coefficients.values()) else "PINHOLE")
    if model in PINHOLE_MODELS:
        used = ()
    elif model in DISTORTION:
        used = DISTORTION[model]
    else:
        raise DataError(f"{where}: camera_model {model!r} is not supported; this loader reads "
                        f"{', '.join(PINHOLE_MODELS + tuple(DISTORTION))} (undistort the images to a pinhole camera first)")
    ignored = sorted(k for k, v in coefficients.items() if v and k not in used)
    if ignored:
        why = (" (nerfstudio's OPENCV k4 is an r^8 term that OpenCV's model has not)" if model == "OPENCV"
               and "k4" in ignored else "")
        raise DataError(f"{where}: camera_model {model} has no distortion coefficient {', '.join(ignored)}{why}, "
                        f"but the file gives {', '.join(f'{k} = {coefficients[k]:g}' for k in ignored)}; fix the "
                        "camera_model or the coefficients")
    return Camera(tuple(K.ravel()), int(w), int(h), model, tuple(coefficients[k] for k in used))


# %% Experiments/custom_scenes.ipynb · cell c24
def split_indices(names: list[str], lists: dict, split: str, where) -> np.ndarray:
    """Indices (into the frames sorted by ``file_path``) of ``split``: ``train``, ``val``, ``test`` or ``all``.

    With ``lists`` (``{"train": [...], ...}``, the file's ``<split>_filenames``), the frames named there
    (a name that is no frame is an error, as is a missing list when another is given). Without, the
    nerfstudio rule: ``ceil(0.9 N)`` training frames evenly spread (``linspace(0, N-1)``), the rest
    both ``val`` and ``test``.

    >>> names = [f"images/f{i}.png" for i in range(10)]
    >>> split_indices(names, {}, "train", "t").tolist(), split_indices(names, {}, "test", "t").tolist()
    ([0, 1, 2, 3, 4, 5, 6, 7, 9], [8])
    >>> split_indices(names, {"train": ["./images/f1.png"], "test": ["images/f0.png"]}, "train", "t").tolist()
    [1]
    """
    every = np.arange(len(names))
    if split == "all":
        return every
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: choose train, val, test or all")
    if any(v is not None for v in lists.values()):
        listed = lists.get(split)
        if listed is None:
            given = sorted(f"{k}_filenames" for k, v in lists.items() if v is not None)
            raise DataError(f"{where}: lists {', '.join(given)} but not {split}_filenames; give that list too")
        if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
            raise DataError(f"{where}: {split}_filenames must be a list of file paths")
        index = {os.path.normpath(n): k for k, n in enumerate(names)}
        unknown = [n for n in listed if os.path.normpath(n) not in index]
        if unknown:
            raise DataError(f"{where}: {split}_filenames names {len(unknown)} files that no frame has "
                            f"(e.g. {unknown[:3]}); names must match the frames' file_path")
        return np.array(sorted({index[os.path.normpath(n)] for n in listed}), dtype=np.int64)
    n_train = math.ceil(len(names) * TRAIN_SPLIT_FRACTION)
    train = np.unique(np.linspace(0, len(names) - 1, n_train).astype(np.int64))
    chosen = train if split == "train" else np.setdiff1d(every, train)
    if len(chosen) == 0:
        raise DataError(f"{where}: {len(names)} frames leave no {split} frame under nerfstudio's rule (the first "
                        f"ceil({TRAIN_SPLIT_FRACTION} N) evenly spread frames train); list train_filenames, "
                        "val_filenames and test_filenames")
    return chosen


def _applied_transform(meta: dict, where) -> np.ndarray | None:
    """The file's ``applied_transform`` (3x4 or 4x4: what ns-process-data already applied to the poses) as 4x4."""
    if "applied_transform" not in meta:
        return None
    try:
        matrix = np.asarray(meta["applied_transform"], dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DataError(f"{where}: applied_transform must be a 3x4 matrix of numbers ({err})") from err
    if matrix.shape not in ((3, 4), (4, 4)) or not np.isfinite(matrix).all():
        raise DataError(f"{where}: applied_transform must be a finite 3x4 matrix, got shape {matrix.shape}")
    return np.vstack([matrix[:3], [0.0, 0.0, 0.0, 1.0]])


@dataclass
class Transforms:
    """A parsed, checked ``transforms.json``: its frames sorted by ``file_path`` (nerfstudio's order) with
    their camera-to-world ``poses [N,4,4]`` (OpenGL axes, as in the file: ``applied_transform`` is
    recorded, never applied again), the image and depth paths, the split lists, and the fields kept
    for the record (``applied_transform``, ``applied_scale``, ``aabb_scale``; ``ignored``: unknown keys)."""

    path: Path
    meta: dict
    frames: list
    names: list
    poses: np.ndarray
    image_paths: list
    depth_paths: list
    lists: dict
    applied_transform: np.ndarray | None
    applied_scale: float | None
    aabb_scale: float | None
    ignored: list


def read_transforms(folder: Path | str) -> Transforms:
    """Read and check ``folder/transforms.json`` as a whole (frames, paths, poses, splits) before any image."""
    path = Path(folder) / NERFSTUDIO_JSON
    if not path.is_file():
        raise DataError(f"{path}: missing (a nerfstudio scene needs {NERFSTUDIO_JSON})")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err})") from err
    frames = meta.get("frames") if isinstance(meta, dict) else None
    if not isinstance(frames, list) or not frames:
        raise DataError(f"{path}: needs a non-empty list of frames")
    for i, frame in enumerate(frames):
        if not isinstance(frame, dict) or not isinstance(frame.get("file_path"), str):
            raise DataError(f"{path}: frame {i} needs a file_path (a string)")
    frames = sorted(frames, key=lambda f: f["file_path"])
    names = [f["file_path"] for f in frames]
    if len(set(map(os.path.normpath, names))) != len(names):
        raise DataError(f"{path}: two frames have the same file_path")
    paths = [_blender_frame_paths(Path(folder), f, i, path) for i, f in enumerate(frames)]
    poses = check_poses(np.stack([_transform_matrix(f, i, path) for i, f in enumerate(frames)]), path,
                        [f"frame {names[i]!r} transform_matrix" for i in range(len(frames))])
    ignored = sorted(set(meta) - TOP_KEYS) + sorted({f"frames[].{k}" for f in frames for k in f} -
                                                     {f"frames[].{k}" for k in FRAME_KEYS})
    if ignored:
        warnings.warn(f"{path}: keys this loader does not read, ignored: {ignored}", stacklevel=2)
    depth_paths = [p[1] for p in paths]
    if any(p is not None for p in depth_paths) and None in depth_paths:
        raise DataError(f"{path}: {sum(p is not None for p in depth_paths)} of {len(frames)} frames have a "
                        "depth_file_path; give it for every frame or none")
    scale = _field(meta, "applied_scale", path)
    return Transforms(path, meta, frames, names, poses, [p[0] for p in paths], depth_paths,
                      {s: meta.get(f"{s}_filenames") for s in SPLITS}, _applied_transform(meta, path), scale,
                      _field(meta, "aabb_scale", path), ignored)


# %% Experiments/custom_scenes.ipynb · cell c26
MASK_HANDLING = ("refuse", "alpha", "ignore")


@functools.lru_cache(maxsize=4)
def _undistortion(camera: Camera) -> tuple[np.ndarray, np.ndarray | None]:
    return undistortion(camera, f"camera {camera.model} {camera.distortion}")


def frame_geometry(tf: Transforms, i: int, image_size: tuple[int, int] | None = None) -> tuple:
    """``(camera, K_new, maps)`` of frame ``i``: the file's camera and the pinhole camera it is undistorted to."""
    where = f"{tf.path}: frame {tf.names[i]!r}"
    if image_size is None and not all(k in tf.frames[i] or k in tf.meta for k in ("w", "h")):
        image_size = iio.improps(tf.image_paths[i]).shape[:2]
    camera = frame_camera(tf.meta, tf.frames[i], where, image_size)
    K_new, maps = _undistortion(camera)
    return camera, K_new, maps


def frame_depth(tf: Transforms, i: int, camera: Camera, K_new: np.ndarray, maps) -> np.ndarray | None:
    """Ray depth ``[h,w]`` of frame ``i`` in the undistorted camera ``K_new`` (None without a depth file).

    The file holds z-depth (``depth_type`` "z", nerfstudio's) or ray depth ("ray") times
    ``depth_unit_scale_factor`` (16-bit PNG: default 0.001, millimetres); another resolution of the same
    aspect ratio is resized (nearest); both kinds are unchanged by undistortion (the same point, the same
    camera centre), so the file's values are remapped (nearest) first and converted with ``K_new``."""
    path = tf.depth_paths[i]
    if path is None:
        return None
    frame, where = tf.frames[i], f"{tf.path}: frame {tf.names[i]!r}"
    kind = frame.get("depth_type", tf.meta.get("depth_type", "z"))
    if kind not in ("z", "ray"):
        raise DataError(f"{where}: depth_type must be 'z' or 'ray', got {kind!r}")
    scale = _field(frame, "depth_unit_scale_factor", where, _field(tf.meta, "depth_unit_scale_factor", tf.path))
    if scale is not None and scale <= 0:
        raise DataError(f"{where}: depth_unit_scale_factor = {scale:g} must be > 0 (scene units per stored unit)")
    values = read_depth_file(path, camera.matrix, "ray", scale)  # "ray": the file's values, unconverted
    values = remap(resize_nearest(values, camera.h, camera.w, path), maps, nearest=True)
    depth = z_depth_to_ray_depth(values.astype(np.float64), K_new) if kind == "z" else values
    return check_depth(depth, path, dtype=TRAINING_DTYPE)


def _frame_mask(tf: Transforms, i: int, shape: tuple[int, int], masks: str) -> np.ndarray | None:
    mask_path = tf.frames[i].get("mask_path")
    if mask_path is None or masks == "ignore":
        return None
    path = resolve_inside(tf.path.parent, mask_path, f"{tf.path}: frame {tf.names[i]!r} mask_path")
    mask = read_image(path)[..., 0]
    if mask.shape != shape:
        raise DataError(f"{path}: mask is {mask.shape[1]}x{mask.shape[0]} but its image is {shape[1]}x{shape[0]}")
    return (mask > 0.5).astype(np.float32)


def _load_frame(tf: Transforms, i: int, downscale: int, background: np.ndarray, masks: str, first) -> tuple:
    image = read_image(tf.image_paths[i])
    check_image(image, tf.image_paths[i], first, tf.path.name)
    H, W = image.shape[:2]
    camera, K_new, maps = frame_geometry(tf, i, (H, W))
    alpha = image[..., 3] if image.shape[-1] == 4 else None
    mask = _frame_mask(tf, i, (H, W), masks)
    if mask is not None:
        alpha = mask if alpha is None else alpha * mask
    rgb = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]
    if alpha is not None:  # composited before resampling: the same as resampling premultiplied colour
        rgb = rgb * alpha[..., None] + background * (1 - alpha[..., None])
        alpha = np.clip(remap(alpha, maps), 0.0, 1.0)
    rgb = np.clip(remap(rgb.astype(np.float32), maps), 0.0, 1.0)
    depth = frame_depth(tf, i, camera, K_new, maps)
    valid = None
    if depth is not None:
        depth, valid = downscale_depth(depth, depth > 0, downscale)
    K = K_new.copy()
    K[:2] /= downscale
    return (downscale_area(rgb, downscale).astype(np.float32),
            None if alpha is None else downscale_area(alpha, downscale).astype(np.float32), depth, valid, image.shape, K)


def scene_bounds(tf: Transforms, workers: int | None = None) -> tuple[float, float, np.ndarray, str]:
    """``(near, far, scene_box, rule)`` of the scene, the same whichever split is loaded: each of
    ``near``, ``far``, ``scene_box`` from the file when it gives it; the rest from the depth of every
    training frame (:func:`bounds_from_depth`, ``rule`` "depth") or, without depth, from the cameras
    (:func:`bounds_from_cameras`, ``rule`` "cameras")."""
    given = {k: tf.meta[k] for k in ("near", "far", "scene_box") if k in tf.meta}
    rule = "file"
    if len(given) < 3:
        train = split_indices(tf.names, tf.lists, "train", tf.path)
        if tf.depth_paths[0] is not None:
            def depth_of(i):
                camera, K_new, maps = frame_geometry(tf, i)
                return K_new, frame_depth(tf, i, camera, K_new, maps)

            with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
                loaded = list(pool.map(depth_of, train))
            try:
                derived = bounds_from_depth(tf.poses[train], np.stack([k for k, _ in loaded]), [d for _, d in loaded])
            except DataError as err:
                raise DataError(f"{tf.path}: training frames: {err}") from None
            rule = "depth"
        else:
            derived, rule = bounds_from_cameras(tf.poses[train], tf.path), "cameras"
        given = {**dict(zip(("near", "far", "scene_box"), derived)), **given}
    near, far = check_bounds(_field(given, "near", tf.path), _field(given, "far", tf.path), tf.path,
                             fix=f"set near and far in {tf.path.name}")
    return near, far, check_scene_box(given["scene_box"], tf.path), rule


def load_nerfstudio(folder: Path | str, split: str = "train", downscale: int = 1, background=(1.0, 1.0, 1.0),
                    max_views: int | None = None, view_subset: str = "even", masks: str = "refuse",
                    workers: int | None = None) -> SceneData:
    """Load a nerfstudio scene (``transforms.json`` + images, optional depth) into :class:`SceneData`.

    Frames in ``file_path`` order; ``split`` from the file's lists or nerfstudio's rule
    (:func:`split_indices`); every frame undistorted to its pinhole camera (:func:`undistortion`, per-frame
    intrinsics kept); RGBA composited on ``background``; near/far/scene box by :func:`scene_bounds`.
    ``masks``: frames with ``mask_path`` are refused (``"refuse"``: nerfstudio drops masked pixels from
    its losses, which this trainer cannot), the mask becomes the alpha (``"alpha"``: masked pixels train
    as background) or is not read (``"ignore"``). ``downscale``, ``max_views``, ``view_subset``: as
    :func:`depthnerf.blender.load_blender`.
    """
    if int(downscale) != downscale or downscale < 1:
        raise ValueError(f"downscale must be a positive integer, got {downscale}")
    if masks not in MASK_HANDLING:
        raise ValueError(f"masks = {masks!r}: choose one of {MASK_HANDLING}")
    tf = read_transforms(folder)
    with_mask = [n for n, f in zip(tf.names, tf.frames) if "mask_path" in f]
    if with_mask and masks == "refuse":
        raise DataError(f"{tf.path}: {len(with_mask)} frames have a mask_path (e.g. {with_mask[0]!r}); nerfstudio "
                        "leaves masked pixels out of its losses, which this trainer cannot do: load with "
                        "masks='alpha' (the mask becomes the alpha, masked pixels train as background) or "
                        "masks='ignore' (masks not read)")
    chosen = split_indices(tf.names, tf.lists, split, tf.path)
    chosen = chosen[pick_views(len(chosen), max_views, view_subset)]
    near, far, box, _ = scene_bounds(tf, workers)
    background = np.asarray(background, dtype=np.float32)
    first = _load_frame(tf, int(chosen[0]), int(downscale), background, masks, None)
    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
        rest = list(pool.map(lambda i: _load_frame(tf, int(i), int(downscale), background, masks, first[4]),
                             chosen[1:]))
    loaded = [first] + rest
    alphas = [item[1] for item in loaded]
    if any(a is None for a in alphas) and not all(a is None for a in alphas):
        raise DataError(f"{tf.path}: some frames of the {split} split have an alpha channel or mask and some not")
    images = np.stack([item[0] for item in loaded])
    data = SceneData(
        images=images, poses=tf.poses[chosen].astype(np.float32),
        intrinsics=np.stack([item[5] for item in loaded]).astype(np.float32), H=images.shape[1], W=images.shape[2],
        near=near, far=far, background=background, scene_box=box,
        alphas=None if alphas[0] is None else np.stack(alphas),
        depth=None if loaded[0][2] is None else np.stack([item[2] for item in loaded]),
        depth_mask=None if loaded[0][2] is None else np.stack([item[3] for item in loaded]),
        image_paths=[str(tf.image_paths[i]) for i in chosen], name=Path(folder).name, split=split)
    return check_scene(data)


def is_nerfstudio_scene(folder: Path | str) -> bool:
    """True for a folder holding ``transforms.json`` (and no Blender-layout ``transforms_<split>.json``)."""
    folder = Path(folder)
    return (folder / NERFSTUDIO_JSON).is_file() and not any(folder.glob("transforms_*.json"))


# %% Experiments/custom_scenes.ipynb · cell c27
def write_nerfstudio(folder: Path | str, splits: dict, depth_unit_scale: float = 1e-3, bounds: bool = False) -> Path:
    """Write loaded scenes (``{"train": SceneData, "val": ..., ...}``) as one nerfstudio folder: PNG images
    (RGBA, colour un-composited from the background, when the scene has alphas), 16-bit z-depth PNGs in
    units of ``depth_unit_scale`` (0 = no depth), per-frame PINHOLE intrinsics and the split lists;
    ``near``/``far``/``scene_box`` only with ``bounds`` (else the loader derives them). Returns the JSON's path."""
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    frames, lists = [], {}
    for split, data in splits.items():
        lists[f"{split}_filenames"] = []
        for k in range(len(data)):
            name = f"images/{split}_{k:04d}.png"
            rgb = data.images[k].astype(np.float64)
            if data.alphas is not None:
                a = data.alphas[k].astype(np.float64)[..., None]
                rgb = np.c_[np.where(a > 0, (rgb - data.background * (1 - a)) / np.maximum(a, 1e-8), 0.0), a]
            iio.imwrite(folder / name, np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8))
            K = data.intrinsics[k].astype(np.float64)
            frame = {"file_path": name, "transform_matrix": data.poses[k].astype(np.float64).tolist(),
                     "camera_model": "PINHOLE", "fl_x": K[0, 0], "fl_y": K[1, 1], "cx": K[0, 2], "cy": K[1, 2],
                     "w": int(data.W), "h": int(data.H)}
            if data.depth is not None:
                z = ray_depth_to_z_depth(np.where(data.depth_mask[k], data.depth[k], 0.0).astype(np.float64), K)
                stored = np.round(z / depth_unit_scale)
                if stored.max() > np.iinfo(np.uint16).max:
                    raise ValueError(f"depth up to {z.max():g} does not fit 16 bits at {depth_unit_scale:g} per unit")
                frame["depth_file_path"] = name.replace(".png", "_depth.png")
                iio.imwrite(folder / frame["depth_file_path"], stored.astype(np.uint16))
            frames.append(frame)
            lists[f"{split}_filenames"].append(name)
    first = next(iter(splits.values()))
    meta = {"frames": frames, **lists, "depth_unit_scale_factor": depth_unit_scale}
    if bounds:
        meta |= {"near": first.near, "far": first.far, "scene_box": np.asarray(first.scene_box, np.float64).tolist()}
    return atomic_json(folder / NERFSTUDIO_JSON, meta)
