# Generated from 01_Data_Loading.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from depthnerf.cameras import ray_depth_to_z_depth, ray_grid
from depthnerf.rays import camera_rays, ray_aabb_intersect


# %% 01_Data_Loading.ipynb · cell c05
class DataError(ValueError):
    """A dataset file is missing, unreadable or inconsistent (the message names the file)."""


@dataclass
class SceneData:
    """A loaded split of one scene (numpy arrays; shapes with ``N`` views of ``H x W`` pixels).

    images ``[N,H,W,3]`` float32 in [0, 1], composited on ``background``; alphas ``[N,H,W]`` or None;
    poses ``[N,4,4]`` camera-to-world (OpenGL axes); intrinsics ``[N,3,3]`` in pixels of this
    resolution; near/far along the ray (scene units); background ``[3]``; scene_box ``[2,3]``
    (min, max corners of the content); depth ``[N,H,W]`` ray depth (0 = invalid) or None;
    depth_mask ``[N,H,W]`` bool or None; depth_sigma ``[N,H,W]`` or None.
    """

    images: np.ndarray
    poses: np.ndarray
    intrinsics: np.ndarray
    H: int
    W: int
    near: float
    far: float
    background: np.ndarray
    scene_box: np.ndarray
    alphas: np.ndarray | None = None
    depth: np.ndarray | None = None
    depth_mask: np.ndarray | None = None
    depth_sigma: np.ndarray | None = None
    image_paths: list[str] = field(default_factory=list)
    name: str = ""
    split: str = ""

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices) -> "SceneData":
        """The views at ``indices`` (a new SceneData; arrays are copied)."""
        idx = np.asarray(indices, dtype=np.int64)
        pick = lambda a: None if a is None else a[idx].copy()  # noqa: E731
        return replace(
            self, images=pick(self.images), poses=pick(self.poses), intrinsics=pick(self.intrinsics),
            alphas=pick(self.alphas), depth=pick(self.depth), depth_mask=pick(self.depth_mask),
            depth_sigma=pick(self.depth_sigma),
            image_paths=[self.image_paths[i] for i in idx],
        )

    def rays(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """World-space origins and unit directions ``[H, W, 3]`` of view ``index``."""
        return ray_grid(self.poses[index], self.intrinsics[index], self.H, self.W)

    def z_depth(self) -> np.ndarray | None:
        """Camera z-depth ``[N,H,W]`` (``ray depth * z_scale``), or None without depth."""
        if self.depth is None:
            return None
        return np.stack([ray_depth_to_z_depth(d, K) for d, K in zip(self.depth, self.intrinsics)])


# %% 01_Data_Loading.ipynb · cell c41
def _number(meta: dict, key: str, source, default=None) -> float:
    """``float(meta[key])`` (``default`` when absent), a DataError naming ``key`` when it is not a number."""
    if key not in meta:
        return default
    value = meta[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"{source}: {key} must be a number, got {value!r}")
    return float(value)


def check_bounds(near: float, far: float, source, fix: str = "") -> tuple[float, float]:
    """``(near, far)`` as floats, refusing anything but finite ``0 <= near < far`` (ray depths, scene units;
    finite in float32 too). ``source`` names the file in the message, ``fix`` says where to change them.

    >>> check_bounds(2, 6.0, "t.json")
    (2.0, 6.0)
    """
    near, far = float(near), float(far)
    hint = f": {fix}" if fix else ""
    for name, value in (("near", near), ("far", far)):
        with np.errstate(over="ignore"):
            finite = np.isfinite(np.float32(value))
        if not finite:
            raise DataError(f"{source}: {name} = {value:g} is not finite; near/far are ray depths bounding the "
                            f"content (scene units), both finite{hint}")
    if near < 0:
        raise DataError(f"{source}: near = {near:g} is negative; near is a distance along the ray, "
                        f"need 0 <= near < far{hint}")
    if near == far:
        raise DataError(f"{source}: near = {near:g} equals far = {far:g}: nothing between them to render; "
                        f"need 0 <= near < far{hint}")
    if near > far:
        raise DataError(f"{source}: near = {near:g} is not below far = {far:g} (swapped?); need 0 <= near < far{hint}")
    return near, far


# %% 01_Data_Loading.ipynb · cell c61
def check_intrinsics(K: np.ndarray, H: int, W: int, source, fields: dict | None = None) -> np.ndarray:
    """Refuse pinhole intrinsics ``K [3,3]`` (pixels of an ``H x W`` image) unless ``fx, fy`` are finite and
    ``> 0`` and the principal point ``(cx, cy)`` is finite and within ``[-W, 2W] x [-H, 2H]`` (farther out:
    other units or a typo). ``fields`` names the input each of fx, fy, cx, cy came from. Returns ``K``.

    >>> check_intrinsics(np.array([[50.0, 0, 40], [0, 50.0, 30], [0, 0, 1]]), 60, 80, "t.json")[0].tolist()
    [50.0, 0.0, 40.0]
    """
    names = {"fx": "fx", "fy": "fy", "cx": "cx", "cy": "cy", **(fields or {})}
    for key, value in (("fx", K[0, 0]), ("fy", K[1, 1])):
        if not (np.isfinite(value) and value > 0):
            raise DataError(f"{source}: {names[key]} gives the focal length {key} = {value:g} px; it must be finite "
                            "and > 0")
    for key, value, size, side in (("cx", K[0, 2], W, "width"), ("cy", K[1, 2], H, "height")):
        if not np.isfinite(value):
            raise DataError(f"{source}: {names[key]} gives the principal point {key} = {value:g}; it must be finite")
        if not -size <= value <= 2 * size:
            raise DataError(f"{source}: {names[key]} gives the principal point {key} = {value:g} px, far outside the "
                            f"image (its {side} is {size} px; allowed {-size}..{2 * size}): cx, cy are pixels of "
                            "the full-resolution image")
    return K


# %% 01_Data_Loading.ipynb · cell c64
ROTATION_TOLERANCE = 1e-3


def check_poses(poses: np.ndarray, source, labels: list[str] | None = None,
                tol: float = ROTATION_TOLERANCE) -> np.ndarray:
    """Camera-to-world ``[N,4,4]`` (float64), refused unless finite with last row ``(0, 0, 0, 1)`` and a
    rotation ``R = pose[:3, :3]`` that is orthonormal (``max |R^T R - I| <= tol``) with ``det R = +1``
    (within ``tol``): a rigid motion, no scale, shear or mirror. ``labels[i]`` names pose ``i``.

    >>> from depthnerf.cameras import look_at
    >>> check_poses(look_at(np.array([0.0, -4.0, 1.0]))[None], "t.json").shape
    (1, 4, 4)
    """
    poses = np.asarray(poses, dtype=np.float64)
    labels = labels or [f"pose {i}" for i in range(len(poses))]
    if poses.ndim != 3 or poses.shape[1:] != (4, 4):
        raise DataError(f"{source}: poses must be [N, 4, 4] camera-to-world matrices, got shape {poses.shape}")
    bad = ~np.isfinite(poses).all(axis=(1, 2))
    if bad.any():
        raise DataError(f"{source}: {labels[int(np.argmax(bad))]} holds NaN or infinite values")
    last = np.abs(poses[:, 3] - [0.0, 0.0, 0.0, 1.0]).max(axis=1)
    if (last > tol).any():
        i = int(np.argmax(last > tol))
        raise DataError(f"{source}: {labels[i]}: last row is {poses[i, 3].tolist()}, expected [0, 0, 0, 1] "
                        "(a camera-to-world matrix)")
    R = poses[:, :3, :3]
    error = np.abs(np.einsum("nji,njk->nik", R, R) - np.eye(3)).max(axis=(1, 2))
    if (error > tol).any():
        i = int(np.argmax(error > tol))
        raise DataError(f"{source}: {labels[i]}: rotation is not orthonormal (max |R^T R - I| = {error[i]:.3g} > "
                        f"{tol:g}): scale or shear in the pose; give a rigid camera-to-world matrix")
    det = np.linalg.det(R)
    if (np.abs(det - 1) > tol).any():
        i = int(np.argmax(np.abs(det - 1) > tol))
        raise DataError(f"{source}: {labels[i]}: rotation has det {det[i]:.4g}, not +1: a mirrored camera frame "
                        "(flip one axis back; OpenGL camera axes are right, up, back)")
    return poses


# %% 01_Data_Loading.ipynb · cell c67
_CHANNELS = {1: "grey", 3: "RGB", 4: "RGBA"}


def check_image(image: np.ndarray, path, first: tuple[int, int, int] | None = None, split: str = "the split") -> None:
    """Refuse an image ``[H, W, C]`` that is not grey, RGB or RGBA, differs in size or channels from the
    ``first`` image ``(H, W, C)`` of its ``split``, is fully transparent (RGBA with alpha 0 everywhere) or
    constant (every pixel equal, all channels).

    >>> check_image(np.eye(2)[..., None], "a.png", (2, 2, 1))
    """
    if image.ndim != 3 or image.shape[-1] not in _CHANNELS:
        raise DataError(f"{path}: has {image.shape[-1] if image.ndim == 3 else 0} channels (shape {image.shape}); "
                        "expected grey, RGB or RGBA")
    H, W, C = image.shape
    if first is not None and (H, W) != tuple(first[:2]):
        raise DataError(f"{path}: is {W}x{H} but the first image of {split} is {first[1]}x{first[0]}; all images "
                        "of a split must have the same size")
    if first is not None and C != first[2]:
        raise DataError(f"{path}: is {_CHANNELS[C]} but the first image of {split} is {_CHANNELS[first[2]]}; all "
                        "images of a split must be RGB or all RGBA (grey: all grey)")
    if C == 4 and image[..., 3].max() == 0:
        raise DataError(f"{path}: is fully transparent (alpha 0 everywhere), so the view shows nothing; fix its "
                        "alpha channel or remove its frame")
    if not (image != image[0, 0]).any():  # (10x faster than np.ptp over the channels)
        value = np.round(image[0, 0].astype(np.float64), 4).tolist()
        raise DataError(f"{path}: is constant (every pixel is {value}): an empty or failed render or capture; "
                        "replace the image or remove its frame")


# %% 01_Data_Loading.ipynb · cell c70
TRAINING_DTYPE = np.float32  # what SceneData holds and the trainer computes in


def check_depth(depth: np.ndarray, path: Path | str, shape: tuple[int, int] | None = None,
                dtype=None) -> np.ndarray:
    """Reject NaN/inf, negative values and a wrong ``[H, W]`` shape, naming the file.

    With ``dtype`` the depth is cast first and the *cast* is checked and returned: a value beyond
    float32's range (3.4e38) is finite in float64 but inf after the cast.

    >>> check_depth(np.array([[3.0, 0.0]]), "d.npy", dtype=np.float32)
    array([[3., 0.]], dtype=float32)
    >>> try:
    ...     check_depth(np.array([[1e39, 2.0]]), "d.npy", dtype=np.float32)
    ... except DataError as err:
    ...     print(err)  # doctest: +ELLIPSIS
    d.npy: depth holds 1 values that overflow to inf when cast to float32 (the training dtype, ...
    """
    if dtype is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            cast = np.asarray(depth).astype(dtype)
        overflow = ~np.isfinite(cast) & np.isfinite(depth)
        if overflow.any():
            raise DataError(f"{path}: depth holds {int(overflow.sum())} values that overflow to inf when cast to "
                            f"{np.dtype(dtype).name} (the training dtype, at most {np.finfo(dtype).max:.3g}; largest "
                            f"value {np.max(np.abs(np.asarray(depth)[overflow])):.3g}): check the file's units (and "
                            "depth_unit_scale_factor, where one applies)")
        depth = cast
    if depth.ndim == 3 and depth.shape[-1] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2:
        raise DataError(f"{path}: depth must be a 2-D array [H, W], got shape {depth.shape}")
    if shape is not None and depth.shape != tuple(shape):
        raise DataError(f"{path}: depth shape {depth.shape} does not match the image shape {tuple(shape)}")
    if not np.isfinite(depth).all():
        raise DataError(f"{path}: depth holds {int((~np.isfinite(depth)).sum())} NaN or infinite values")
    if (depth < 0).any():
        raise DataError(f"{path}: depth holds {int((depth < 0).sum())} negative values (min {depth.min():g})")
    return depth


# %% 01_Data_Loading.ipynb · cell c73
def resolve_inside(root: Path | str, relative, source) -> Path:
    """``root / relative``, after checking that it resolves (symbolic links and ``..`` followed) to a path
    inside ``root``; ``source`` names the file and field in the error.

    >>> str(resolve_inside("scene", "./train/r_0.png", "t.json"))
    'scene/train/r_0.png'
    """
    if not isinstance(relative, (str, os.PathLike)):
        raise DataError(f"{source} must be a path (a string), got {relative!r}")
    path = Path(root) / relative
    inside = Path(root).resolve()
    resolved = path.resolve()
    if resolved != inside and not resolved.is_relative_to(inside):
        raise DataError(f"{source} {str(relative)!r} resolves to {resolved}, outside the dataset folder {inside}; "
                        "paths must be relative to that folder and stay inside it (copy the file in)")
    return path


def check_scene_box(box, source) -> np.ndarray:
    """The scene box as float32 ``[2, 3]`` (min and max corners), refused unless finite with min < max.

    >>> check_scene_box([[-1, -1, -1], [1, 1, 1]], "t.json").dtype
    dtype('float32')
    """
    try:
        raw = np.asarray(box, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DataError(f"{source}: scene_box must be [[xmin, ymin, zmin], [xmax, ymax, zmax]] numbers "
                        f"({err})") from err
    if raw.shape != (2, 3):
        raise DataError(f"{source}: scene_box must be [[xmin, ymin, zmin], [xmax, ymax, zmax]], got shape {raw.shape}")
    with np.errstate(over="ignore"):
        cast = raw.astype(np.float32)
    if not np.isfinite(cast).all():
        raise DataError(f"{source}: scene_box {raw.tolist()} holds values that are not finite (in float32)")
    if not (cast[0] < cast[1]).all():
        raise DataError(f"{source}: scene_box {raw.tolist()}: every min corner value must be below the max one")
    return cast


# %% 01_Data_Loading.ipynb · cell c76
SCALE_MIN_OVERLAP = 0.5  # check_scene_scale: fraction of min(chord, far - near) inside [near, far]
SCALE_MIN_PIXELS = 2.0  # check_scene_scale: the box must span at least this many pixels in some view


def check_scene_scale(poses: np.ndarray, K: np.ndarray, H: int, W: int, near: float, far: float,
                      scene_box: np.ndarray, source, fix: str, grid: int = 5) -> float:
    """Refuse cameras, near/far and scene box that do not fit together; returns the overlap fraction.

    On a ``grid x grid`` set of rays per camera, each ray's chord through the box is compared with
    its part between ``near`` and ``far``: refused when that overlap is under half of
    ``min(chord, far - near)`` summed over the rays, when no ray meets the box, or when the box spans
    fewer than ``SCALE_MIN_PIXELS`` pixels in every view. ``poses [N,4,4]``, ``K [3,3]`` or ``[N,3,3]`` in pixels of ``H x W`` images; ``fix``
    says what to change.

    >>> from depthnerf.cameras import look_at
    >>> K, box = np.array([[100.0, 0, 50], [0, 100.0, 50], [0, 0, 1]]), np.array([[-1.0] * 3, [1.0] * 3])
    >>> round(check_scene_scale(look_at(np.array([0.0, -4, 1]))[None], K, 100, 100, 2.0, 6.0, box, "t.json", "fix"), 3)
    1.0
    """
    poses = np.asarray(poses, dtype=np.float64)
    K = np.broadcast_to(np.asarray(K, dtype=np.float64), (len(poses), 3, 3))
    box = np.asarray(scene_box, dtype=np.float64)
    centre, radius = box.mean(axis=0), 0.5 * np.linalg.norm(box[1] - box[0])
    distance = np.linalg.norm(poses[:, :3, 3] - centre, axis=1)
    where = (f"cameras {np.median(distance):.3g} from the box centre (median), box diagonal {2 * radius:.3g}, "
             f"near = {near:g}, far = {far:g}")
    focal = np.minimum(K[:, 0, 0], K[:, 1, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        pixels = np.where(distance > radius, 2 * focal * np.tan(np.arcsin(radius / distance)), np.inf)
    if pixels.max() < SCALE_MIN_PIXELS:
        raise DataError(f"{source}: the scene_box {np.round(box, 4).tolist()} spans at most {pixels.max():.2g} "
                        f"pixels in any view ({where}): far too small for the cameras' scale; {fix}")
    row, col = np.meshgrid(np.linspace(0, H - 1, grid).round(), np.linspace(0, W - 1, grid).round(), indexing="ij")
    pixels = (np.repeat(np.arange(len(poses)), grid * grid), np.tile(row.ravel(), len(poses)),
              np.tile(col.ravel(), len(poses)))
    rays = camera_rays(K, poses, H, W, pixels=pixels, dtype=torch.float64)  # grid^2 rays per camera
    t_in, t_out = (t.reshape(len(poses), -1).numpy() for t in ray_aabb_intersect(rays, torch.from_numpy(box)))
    start = np.maximum(t_in, 0.0)
    chord = np.clip(t_out - start, 0.0, None)
    overlap = np.clip(np.minimum(t_out, far) - np.maximum(start, near), 0.0, None)
    shorter = np.where(chord > 0, np.minimum(chord, far - near), 0.0)
    if shorter.sum() == 0:
        raise DataError(f"{source}: no camera ray meets the scene_box {np.round(box, 4).tolist()} ({where}): the "
                        f"cameras look away from it; {fix}")
    fraction = float(overlap.sum() / shorter.sum())
    if fraction < SCALE_MIN_OVERLAP:
        raise DataError(f"{source}: the scene scale does not fit the field: along the camera rays only {fraction:.0%} "
                        f"of the scene_box {np.round(box, 4).tolist()} lies between near and far ({where}); {fix}")
    return fraction


# %% 01_Data_Loading.ipynb · cell c79
DEPTH_FAR_FACTOR = 2.0  # depth beyond this many times far cannot be matched by any rendered sample
MAX_DEPTH_BEYOND_FAR = 0.01  # the share of such depth tolerated (outliers of sparse reconstructions)


def check_scene(data: SceneData) -> SceneData:
    """Every check of this module on a whole :class:`SceneData`, for scenes made or changed in code (``subset``,
    ``corrupt_depth``, a user's own arrays): the trainer calls it before it trains. Shapes must agree
    (``N`` views of ``H x W``), images must be finite and in ``[0, 1]``, depth finite and ``>= 0`` in
    float32 with a boolean mask of the same shape, and at most ``MAX_DEPTH_BEYOND_FAR`` of the valid depth
    beyond ``DEPTH_FAR_FACTOR * far`` (the renderer samples only up to ``far``: depth far beyond it is in
    other units, or the bounds are wrong).
    """
    source = f"scene {data.name or '?'}/{data.split or '?'}"
    n, H, W = len(data.images), data.H, data.W
    shapes = {"images": (n, H, W, 3), "poses": (n, 4, 4), "intrinsics": (n, 3, 3), "alphas": (n, H, W),
              "depth": (n, H, W), "depth_mask": (n, H, W), "depth_sigma": (n, H, W)}
    for name, shape in shapes.items():
        value = getattr(data, name)
        if value is not None and tuple(np.shape(value)) != shape:
            raise DataError(f"{source}: {name} has shape {tuple(np.shape(value))}, expected {shape}")
    if n == 0:
        raise DataError(f"{source}: has no views")
    check_bounds(data.near, data.far, source)
    box = check_scene_box(data.scene_box, source)
    check_poses(data.poses, source)
    for view, K in enumerate(data.intrinsics):
        check_intrinsics(np.asarray(K, np.float64), H, W, f"{source} view {view}")
    images = np.asarray(data.images)
    if not np.isfinite(images).all() or images.min() < 0 or images.max() > 1:
        raise DataError(f"{source}: images must be finite and in [0, 1] (min {np.nanmin(images):g}, "
                        f"max {np.nanmax(images):g})")
    if data.depth is not None:
        check_depth(np.asarray(data.depth).reshape(-1, W), source, dtype=np.float32)
        if data.depth_mask is None or np.asarray(data.depth_mask).dtype != bool:
            raise DataError(f"{source}: depth needs a boolean depth_mask of the same shape")
        valid = np.asarray(data.depth)[np.asarray(data.depth_mask)]
        beyond = float(np.mean(valid > DEPTH_FAR_FACTOR * data.far)) if valid.size else 0.0
        if beyond > MAX_DEPTH_BEYOND_FAR:
            raise DataError(f"{source}: {beyond:.1%} of the valid depth lies beyond {DEPTH_FAR_FACTOR:g} x far "
                            f"= {DEPTH_FAR_FACTOR * data.far:g} (largest {valid.max():.3g}), where nothing is "
                            f"rendered: check the depth's units (e.g. depth_unit_scale_factor) or near/far")
    check_scene_scale(data.poses, data.intrinsics, H, W, data.near, data.far, box, source,
                      "fix near/far, scene_box or the poses")
    return data
