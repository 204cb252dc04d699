# Generated from 01_Data_Loading.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import imageio.v3 as iio
import numpy as np


# %% 01_Data_Loading.ipynb · cell c03
def camera_directions(H: int, W: int, K: np.ndarray) -> np.ndarray:
    """Unit camera-space ray directions through the pixel centres, ``[H, W, 3]``.

    Pixel (row i, col j) sits at ``u = j + 0.5, v = i + 0.5``; its direction is
    ``((u - cx) / fx, -(v - cy) / fy, -1)`` normalised to unit length (OpenGL: the camera looks along -z).

    >>> K = np.array([[1.0, 0, 1], [0, 1.0, 1], [0, 0, 1]])
    >>> np.round(camera_directions(2, 2, K)[0, 0], 4)  # u = v = 0.5: up-left of the centre
    array([-0.4082,  0.4082, -0.8165])
    """
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    v, u = np.meshgrid(np.arange(H) + 0.5, np.arange(W) + 0.5, indexing="ij")
    dirs = np.stack([(u - cx) / fx, -(v - cy) / fy, -np.ones_like(u)], axis=-1)
    return dirs / np.linalg.norm(dirs, axis=-1, keepdims=True)


def camera_rays(pose: np.ndarray, K: np.ndarray, H: int, W: int) -> tuple[np.ndarray, np.ndarray]:
    """World-space ray origins and unit directions of every pixel, each ``[H, W, 3]``.

    ``direction = R @ camera_direction`` with ``R = pose[:3, :3]``; ``origin = pose[:3, 3]``.

    >>> K = np.array([[1.0, 0, 0.5], [0, 1.0, 0.5], [0, 0, 1]])
    >>> o, d = camera_rays(np.eye(4), K, 1, 1)   # one pixel on the optical axis
    >>> d[0, 0], o[0, 0]
    (array([ 0.,  0., -1.]), array([0., 0., 0.]))
    """
    dirs = camera_directions(H, W, K) @ pose[:3, :3].T
    origins = np.broadcast_to(pose[:3, 3], dirs.shape)
    return origins, dirs


def z_depth_to_ray_depth(z_depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Convert camera z-depth ``[H, W]`` to ray depth: ``t = z / z_scale``, ``z_scale = -d_z``.

    ``z_scale`` is the cosine between the pixel's unit ray and the optical axis, so off-axis rays
    travel further than their z-depth. Zeros (invalid) stay zero.

    >>> K = np.array([[1.0, 0, 1], [0, 1.0, 1], [0, 0, 1]])
    >>> np.round(z_depth_to_ray_depth(np.full((2, 2), 2.0), K), 4)  # every ray 35 deg off-axis
    array([[2.4495, 2.4495],
           [2.4495, 2.4495]])
    """
    H, W = z_depth.shape
    return z_depth / -camera_directions(H, W, K)[..., 2]


def ray_depth_to_z_depth(ray_depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Inverse of :func:`z_depth_to_ray_depth`: ``z = t * z_scale``.

    >>> K = np.array([[1.0, 0, 1], [0, 1.0, 1], [0, 0, 1]])
    >>> float(np.round(ray_depth_to_z_depth(np.full((2, 2), 2.4495), K)[0, 0], 4))
    2.0
    """
    H, W = ray_depth.shape
    return ray_depth * -camera_directions(H, W, K)[..., 2]


def focal_from_fov(camera_angle_x: float, W: int) -> float:
    """Focal length in pixels from the horizontal field of view: ``f = 0.5 W / tan(0.5 fov_x)``.

    >>> round(float(focal_from_fov(0.6911112070083618, 800)), 3)   # NeRF-Synthetic at full resolution
    1111.111
    """
    return 0.5 * W / np.tan(0.5 * camera_angle_x)


def look_at(eye: np.ndarray, target=(0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Camera-to-world ``[4, 4]`` (OpenGL axes) of a camera at ``eye`` looking at ``target``.

    Columns: right ``x = up x z``, up ``y = z x x``, back ``z = (eye - target) / |eye - target|``.

    >>> np.round(look_at(np.array([0.0, -4.0, 0.0]))[:3], 3) + 0.0   # on -y, looking along +y, z up
    array([[ 1.,  0.,  0.,  0.],
           [ 0.,  0., -1., -4.],
           [ 0.,  1.,  0.,  0.]])
    """
    eye = np.asarray(eye, dtype=np.float64)
    back = eye - np.asarray(target, dtype=np.float64)
    back /= np.linalg.norm(back)
    right = np.cross(np.asarray(up, dtype=np.float64), back)
    right /= np.linalg.norm(right)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, np.cross(back, right), back, eye
    return pose


# %% 01_Data_Loading.ipynb · cell c05
@dataclass
class SceneData:
    """A loaded split of one scene (numpy arrays; shapes with ``N`` views of ``H x W`` pixels).

    images ``[N,H,W,3]`` float32 in [0, 1], composited on ``background``; alphas ``[N,H,W]`` or None;
    poses ``[N,4,4]`` camera-to-world (OpenGL axes); intrinsics ``[N,3,3]`` in pixels of this
    resolution; near/far along the ray (scene units); background ``[3]``; scene_box ``[2,3]``
    (min, max corners of the content); depth ``[N,H,W]`` ray depth (0 = invalid) or None;
    depth_mask ``[N,H,W]`` bool or None; depth_sigma ``[N,H,W]`` or None; ndc: the renderer should map
    rays with :func:`ndc_rays`; depth_weight ``[N,H,W]`` DS-NeRF's per-point weight for sparse depth or None.
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
    ndc: bool = False
    depth_weight: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices) -> "SceneData":
        """The views at ``indices`` (a new SceneData; arrays are copied)."""
        idx = np.asarray(indices, dtype=np.int64)
        pick = lambda a: None if a is None else a[idx].copy()  # noqa: E731
        return replace(
            self, images=pick(self.images), poses=pick(self.poses), intrinsics=pick(self.intrinsics),
            alphas=pick(self.alphas), depth=pick(self.depth), depth_mask=pick(self.depth_mask),
            depth_sigma=pick(self.depth_sigma), depth_weight=pick(self.depth_weight),
            image_paths=[self.image_paths[i] for i in idx],
        )

    def rays(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """World-space origins and unit directions ``[H, W, 3]`` of view ``index``."""
        return camera_rays(self.poses[index], self.intrinsics[index], self.H, self.W)

    def z_depth(self) -> np.ndarray | None:
        """Camera z-depth ``[N,H,W]`` (``ray depth * z_scale``), or None without depth."""
        if self.depth is None:
            return None
        return np.stack([ray_depth_to_z_depth(d, K) for d, K in zip(self.depth, self.intrinsics)])


# %% 01_Data_Loading.ipynb · cell c07
EMBEDDED_VERSION = 1
EMBEDDED_GENERATOR = "depthnerf.data.write_embedded_scene"  # the marker: "<this> v<version>" in transforms_*.json
EMBEDDED_CAMERA_ANGLE_X = 0.6911112070083618  # the NeRF-Synthetic field of view
EMBEDDED_SIZE = 200
EMBEDDED_VIEWS = {"train": 100, "val": 10, "test": 10}
EMBEDDED_DISTANCE = 4.0
LIGHT_DIRECTION = np.array([0.4, 0.3, 0.85]) / np.linalg.norm([0.4, 0.3, 0.85])
_NO_HIT = np.inf
_Z_SHIFT = 0.25  # centres the content vertically on the origin

# Every solid: (kind, geometry, texture). Units are scene units; z is up.
EMBEDDED_SOLIDS = [
    ("box", dict(center=(0.0, 0.0, -0.9 + _Z_SHIFT), half=(1.0, 1.0, 0.1), angle=0.0), "plinth"),
    ("sphere", dict(center=(-0.45, -0.35, -0.3 + _Z_SHIFT), radius=0.5), "bands"),
    ("box", dict(center=(0.42, 0.3, -0.45 + _Z_SHIFT), half=(0.32, 0.32, 0.35), angle=np.pi / 6), "checker"),
    ("sphere", dict(center=(0.42, 0.3, 0.18 + _Z_SHIFT), radius=0.28), "sphere_checker"),
    ("cylinder", dict(center=(-0.4, 0.55), radius=0.25, z=(-0.8 + _Z_SHIFT, 0.35 + _Z_SHIFT)), "stripes"),
]
EMBEDDED_SCENE_BOX = np.array([[-1.05, -1.05, -0.75], [1.05, 1.05, 0.75]], dtype=np.float32)


def intersect_sphere(o: np.ndarray, d: np.ndarray, center, radius: float):
    """Nearest positive hit of rays ``o + t d`` (``[R,3]``, unit ``d``) with a sphere: ``(t [R], n [R,3])``.

    Solves ``|o + t d - c|^2 = r^2``: ``t = -b - sqrt(b^2 - |o-c|^2 + r^2)``, ``b = d.(o-c)``; misses get inf.

    >>> t, n = intersect_sphere(np.array([[0.0, 0, 5]]), np.array([[0.0, 0, -1]]), (0, 0, 0), 1.0)
    >>> float(t[0]), n[0].tolist()
    (4.0, [0.0, 0.0, 1.0])
    """
    oc = o - np.asarray(center)
    b = np.einsum("ij,ij->i", oc, d)
    disc = b * b - (np.einsum("ij,ij->i", oc, oc) - radius**2)
    sq = np.sqrt(np.maximum(disc, 0.0))
    t = np.where(-b - sq > 1e-9, -b - sq, -b + sq)
    t = np.where((disc >= 0) & (t > 1e-9), t, _NO_HIT)
    n = (oc + np.where(np.isfinite(t), t, 0.0)[:, None] * d) / radius
    return t, n


def _rotation_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def intersect_box(o: np.ndarray, d: np.ndarray, center, half, angle: float = 0.0):
    """Nearest positive hit with a box turned by ``angle`` about z (slab method): ``(t [R], n [R,3])``.

    >>> t, n = intersect_box(np.array([[0.0, 0, 5]]), np.array([[0.0, 0, -1]]), (0, 0, 0), (1, 1, 1))
    >>> float(t[0]), n[0].tolist()
    (4.0, [0.0, 0.0, 1.0])
    """
    R = _rotation_z(angle)
    lo, ld = (o - np.asarray(center)) @ R, d @ R  # world -> box frame (R^T x, row-vector form)
    half = np.asarray(half, dtype=np.float64)
    safe = np.where(np.abs(ld) < 1e-12, 1e-12, ld)
    t1, t2 = (-half - lo) / safe, (half - lo) / safe
    t_near, t_far = np.minimum(t1, t2), np.maximum(t1, t2)
    t_enter, t_exit = t_near.max(axis=1), t_far.min(axis=1)
    hit = (t_exit >= t_enter) & (t_enter > 1e-9)
    axis = t_near.argmax(axis=1)
    n_local = np.zeros_like(lo)
    n_local[np.arange(len(lo)), axis] = -np.sign(ld[np.arange(len(lo)), axis])
    return np.where(hit, t_enter, _NO_HIT), n_local @ R.T


def intersect_cylinder(o: np.ndarray, d: np.ndarray, center, radius: float, z):
    """Nearest positive hit with a capped cylinder along z: ``(t [R], n [R,3])``.

    Side: ``|(o + t d - c)_xy|^2 = r^2`` with the hit inside ``z``; caps: planes ``z0`` and ``z1`` inside ``r``.

    >>> t, n = intersect_cylinder(np.array([[5.0, 0, 0]]), np.array([[-1.0, 0, 0]]), (0, 0), 1.0, (-1, 1))
    >>> float(t[0]), n[0].tolist()
    (4.0, [1.0, 0.0, 0.0])
    """
    px, py = o[:, 0] - center[0], o[:, 1] - center[1]
    a = d[:, 0] ** 2 + d[:, 1] ** 2
    b = 2 * (d[:, 0] * px + d[:, 1] * py)
    c = px**2 + py**2 - radius**2
    disc = b * b - 4 * a * c
    with np.errstate(divide="ignore", invalid="ignore"):
        t_side = (-b - np.sqrt(np.maximum(disc, 0.0))) / (2 * a)
    z_side = o[:, 2] + t_side * d[:, 2]
    t_side = np.where((disc >= 0) & (a > 1e-12) & (t_side > 1e-9) & (z_side >= z[0]) & (z_side <= z[1]),
                      t_side, _NO_HIT)
    candidates, normals = [t_side], [np.stack([(px + t_side * d[:, 0]) / radius,
                                               (py + t_side * d[:, 1]) / radius, np.zeros_like(px)], -1)]
    for z_cap, sign in ((z[1], 1.0), (z[0], -1.0)):
        with np.errstate(divide="ignore", invalid="ignore"):
            t_cap = (z_cap - o[:, 2]) / d[:, 2]
            inside = (px + t_cap * d[:, 0]) ** 2 + (py + t_cap * d[:, 1]) ** 2 <= radius**2
        candidates.append(np.where(np.isfinite(t_cap) & (t_cap > 1e-9) & inside, t_cap, _NO_HIT))
        normals.append(np.broadcast_to(np.array([0.0, 0.0, sign]), o.shape))
    t_all = np.stack(candidates)
    best = t_all.argmin(axis=0)
    n = np.stack(normals)[best, np.arange(len(o))]
    return t_all[best, np.arange(len(o))], np.nan_to_num(n)


def _checker(p: np.ndarray, period: float) -> np.ndarray:
    return (np.floor(p / period).sum(axis=-1) % 2).astype(np.float64)


def _albedo(texture: str, p: np.ndarray, geometry: dict) -> np.ndarray:
    """Procedural albedo ``[R,3]`` at surface points ``p`` (smooth bands, checkers, stripes)."""
    if texture == "plinth":
        r = np.linalg.norm(p[:, :2], axis=-1)
        w = (0.5 + 0.5 * np.cos(4.0 * np.pi * r))[:, None]
        return w * np.array([0.85, 0.8, 0.7]) + (1 - w) * np.array([0.45, 0.4, 0.38])
    if texture == "bands":
        q = (p - np.asarray(geometry["center"])) / geometry["radius"]
        lon = np.arctan2(q[:, 1], q[:, 0])
        w = (0.5 + 0.5 * np.sin(3 * lon) * np.cos(5 * q[:, 2]))[:, None]
        return w * np.array([0.95, 0.55, 0.15]) + (1 - w) * np.array([0.25, 0.1, 0.55])
    if texture == "checker":
        local = (p - np.asarray(geometry["center"])) @ _rotation_z(geometry["angle"])
        w = _checker(local + 1e-4, 0.2133)[:, None]
        return w * np.array([0.15, 0.35, 0.85]) + (1 - w) * np.array([0.95, 0.85, 0.2])
    if texture == "sphere_checker":
        q = (p - np.asarray(geometry["center"])) / geometry["radius"]
        lon, lat = np.arctan2(q[:, 1], q[:, 0]), np.arcsin(np.clip(q[:, 2], -1, 1))
        w = ((np.floor(lon / (np.pi / 4)) + np.floor(lat / (np.pi / 4))) % 2)[:, None]
        return w * np.array([0.9, 0.15, 0.15]) + (1 - w) * np.array([0.95, 0.95, 0.95])
    if texture == "stripes":
        w = (0.5 + 0.5 * np.sin(2 * np.pi * p[:, 2] / 0.25))[:, None]
        return w * np.array([0.1, 0.6, 0.3]) + (1 - w) * np.array([0.8, 0.95, 0.6])
    raise ValueError(f"unknown texture {texture!r}")


_INTERSECT = {"sphere": intersect_sphere, "box": intersect_box, "cylinder": intersect_cylinder}


def render_embedded(pose: np.ndarray, K: np.ndarray, H: int, W: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ray-trace the embedded scene from one camera: ``(rgb [H,W,3], alpha [H,W], ray depth [H,W])``.

    Background pixels have alpha 0, rgb 0 and depth 0.
    """
    origins, dirs = camera_rays(pose, K, H, W)
    o, d = origins.reshape(-1, 3), dirs.reshape(-1, 3)
    hits = [_INTERSECT[kind](o, d, **geometry) for kind, geometry, _ in EMBEDDED_SOLIDS]
    t_all = np.stack([t for t, _ in hits])
    nearest = t_all.argmin(axis=0)
    t = t_all[nearest, np.arange(len(o))]
    hit = np.isfinite(t)
    rgb = np.zeros_like(o)
    for k, (_, geometry, texture) in enumerate(EMBEDDED_SOLIDS):
        sel = hit & (nearest == k)
        p = o[sel] + t[sel, None] * d[sel]
        shade = 0.3 + 0.7 * np.clip(hits[k][1][sel] @ LIGHT_DIRECTION, 0.0, None)
        rgb[sel] = _albedo(texture, p, geometry) * shade[:, None]
    depth = np.where(hit, t, 0.0)
    return rgb.reshape(H, W, 3), hit.reshape(H, W).astype(np.float64), depth.reshape(H, W)


def embedded_camera_positions(split: str, n: int, distance: float = EMBEDDED_DISTANCE) -> np.ndarray:
    """Deterministic camera centres ``[n, 3]`` on the upper hemisphere (elevation 10..75 deg).

    train: Fibonacci spiral; val: uniform at random (seed 1); test: a ring at 30 deg elevation.
    """
    if split == "train":
        k = np.arange(n) + 0.5
        elevation = np.arcsin(np.sin(np.radians(10)) + (np.sin(np.radians(75)) - np.sin(np.radians(10))) * k / n)
        azimuth = np.pi * (3 - np.sqrt(5)) * k
    elif split == "val":
        rng = np.random.default_rng(1)
        elevation = np.arcsin(rng.uniform(np.sin(np.radians(10)), np.sin(np.radians(75)), n))
        azimuth = rng.uniform(0, 2 * np.pi, n)
    elif split == "test":
        elevation = np.full(n, np.radians(30.0))
        azimuth = 2 * np.pi * (np.arange(n) + 0.37) / n
    else:
        raise ValueError(f"unknown split {split!r}: choose train, val or test")
    return distance * np.stack([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth),
                                np.sin(elevation)], axis=-1)


def write_embedded_scene(folder: Path | str, size: int = EMBEDDED_SIZE, views: dict | None = None) -> Path:
    """Render the embedded scene into ``folder`` in the Blender layout (RGBA PNGs + ray-depth .npy)."""
    folder = Path(folder)
    views = views or EMBEDDED_VIEWS
    focal = focal_from_fov(EMBEDDED_CAMERA_ANGLE_X, size)
    K = np.array([[focal, 0, size / 2], [0, focal, size / 2], [0, 0, 1]])
    for split, n in views.items():
        (folder / split).mkdir(parents=True, exist_ok=True)
        frames = []
        for i, eye in enumerate(embedded_camera_positions(split, n)):
            pose = look_at(eye)
            rgb, alpha, depth = render_embedded(pose, K, size, size)
            rgba = np.concatenate([rgb, alpha[..., None]], axis=-1)
            iio.imwrite(folder / split / f"r_{i}.png", np.round(rgba * 255).astype(np.uint8))
            np.save(folder / split / f"r_{i}_depth.npy", depth.astype(np.float32))
            frames.append({"file_path": f"./{split}/r_{i}", "depth_file_path": f"./{split}/r_{i}_depth.npy",
                           "transform_matrix": pose.tolist()})
        meta = {"camera_angle_x": EMBEDDED_CAMERA_ANGLE_X, "near": 2.0, "far": 6.0,
                "scene_box": EMBEDDED_SCENE_BOX.tolist(), "depth_type": "ray",
                "generator": f"{EMBEDDED_GENERATOR} v{EMBEDDED_VERSION}", "frames": frames}
        (folder / f"transforms_{split}.json").write_text(json.dumps(meta, indent=1))
    return folder


def embedded_marker(folder: Path | str) -> str | None:
    """The ``generator`` recorded in ``folder/transforms_test.json``; None when there is no such file,
    it is not readable JSON or it names no generator."""
    try:
        meta = json.loads((Path(folder) / "transforms_test.json").read_text())
    except (OSError, ValueError):
        return None
    marker = meta.get("generator") if isinstance(meta, dict) else None
    return marker if isinstance(marker, str) else None


def _refuse_foreign_folder(target: Path) -> None:
    """DataError unless ``target`` is absent or carries the embedded generator's marker (any version)."""
    if not (target.exists() or target.is_symlink()):
        return
    if not (embedded_marker(target) or "").startswith(f"{EMBEDDED_GENERATOR} v"):
        raise DataError(f"{target}: exists but was not created by depthnerf (its transforms_test.json names no "
                        f"'{EMBEDDED_GENERATOR} v<N>' generator), so it will not be deleted or replaced: move it "
                        "away, or pass another root (load_dataset('embedded', ..., root=...))")


def ensure_embedded_scene(root: Path | str = "data") -> Path:
    """``root/embedded``, generated on first use (into a temporary folder, then renamed: atomic).

    An existing folder is used when its marker (``generator`` in ``transforms_test.json``) names this
    generator version, replaced when it names another version of the same generator, and never
    touched otherwise: a folder without the marker (a user's own data) is a :class:`DataError`.
    """
    target = Path(root) / "embedded"
    expected = f"{EMBEDDED_GENERATOR} v{EMBEDDED_VERSION}"

    def current() -> bool:
        return embedded_marker(target) == expected

    if current():
        return target
    _refuse_foreign_folder(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".embedded-", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the scene is as readable as any folder of the user's
    write_embedded_scene(tmp)
    if current():  # another process finished meanwhile: keep its copy (it may be read right now)
        shutil.rmtree(tmp, ignore_errors=True)
        return target
    try:
        _refuse_foreign_folder(target)  # checked again right before anything is moved
    except DataError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists() or target.is_symlink():
        stale = Path(tempfile.mkdtemp(prefix=".embedded-stale-", dir=target.parent))
        os.replace(target, stale / "embedded")
        shutil.rmtree(stale, ignore_errors=True)
    try:
        os.replace(tmp, target)
    except OSError:  # another process finished first: keep its copy
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# %% 01_Data_Loading.ipynb · cell c09
class DataError(ValueError):
    """A dataset file is missing, unreadable or inconsistent (the message names the file)."""


def _png_bit_depth_and_colour(path: Path) -> tuple[int, int] | None:
    """``(bit depth, colour type)`` from a PNG's IHDR chunk, or None for other files."""
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def _read_png_16bit_colour(path: Path, channels: int) -> np.ndarray:
    """16-bit RGB/RGBA PNG via ffmpeg: Pillow would silently keep only the high byte of each value."""
    import imageio_ffmpeg

    frames = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgba64le" if channels == 4 else "rgb48le",
                                        bits_per_pixel=16 * channels)
    try:
        width, height = next(frames)["size"]
        return np.frombuffer(next(frames), "<u2").reshape(height, width, channels).copy()
    finally:
        frames.close()


def read_image(path: Path | str) -> np.ndarray:
    """Read an 8- or 16-bit image as float32 ``[H, W, C]`` in [0, 1] (C = 1, 3 or 4)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: image file is missing")
    try:
        header = _png_bit_depth_and_colour(path)
        if header is not None and header[0] == 16 and header[1] in (2, 6):  # 16-bit RGB or RGBA
            raw = _read_png_16bit_colour(path, 3 if header[1] == 2 else 4)
        else:
            raw = iio.imread(path)
    except Exception as err:  # imageio raises many kinds of errors for corrupt files
        raise DataError(f"{path}: cannot read image ({type(err).__name__}: {err})") from err
    if raw.dtype not in (np.uint8, np.uint16):
        raise DataError(f"{path}: expected an 8- or 16-bit image, got dtype {raw.dtype}")
    image = raw.astype(np.float32) / np.iinfo(raw.dtype).max
    return image[..., None] if image.ndim == 2 else image


def read_image_raw(path: Path | str) -> np.ndarray:
    """Read an image's integer values unchanged (for depth PNGs), naming the file on failure."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file is missing")
    try:
        return iio.imread(path)
    except Exception as err:
        raise DataError(f"{path}: cannot read image ({type(err).__name__}: {err})") from err


def downscale_area(image: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor x factor`` blocks of ``[H, W, ...]`` (a remainder at the bottom/right is cropped).

    >>> downscale_area(np.arange(16.0).reshape(4, 4), 2)
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    if factor == 1:
        return image
    H, W = image.shape[0] // factor * factor, image.shape[1] // factor * factor
    blocks = image[:H, :W].reshape(H // factor, factor, W // factor, factor, *image.shape[2:])
    return blocks.mean(axis=(1, 3))


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


# %% 01_Data_Loading.ipynb · cell c41
SCALE_MIN_OVERLAP = 0.5  # check_scene_scale: fraction of min(chord, far - near) inside [near, far]
SCALE_MIN_PIXELS = 2.0  # check_scene_scale: the box must span at least this many pixels in some view
ROTATION_TOLERANCE = 1e-3


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


def check_poses(poses: np.ndarray, source, labels: list[str] | None = None,
                tol: float = ROTATION_TOLERANCE) -> np.ndarray:
    """Camera-to-world ``[N,4,4]`` (float64), refused unless finite with last row ``(0, 0, 0, 1)`` and a
    rotation ``R = pose[:3, :3]`` that is orthonormal (``max |R^T R - I| <= tol``) with ``det R = +1``
    (within ``tol``): a rigid motion, no scale, shear or mirror. ``labels[i]`` names pose ``i``.

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


def _ray_box_interval(origins: np.ndarray, dirs: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entry and exit depths ``(t_in, t_out)`` of rays ``o + t d`` (``[..., 3]``) through an axis-aligned
    ``box [2, 3]`` (slab method; ``t_out < t_in`` is a miss)."""
    safe = np.where(np.abs(dirs) < 1e-12, 1e-12, dirs)
    ta, tb = (box[0] - origins) / safe, (box[1] - origins) / safe
    return np.minimum(ta, tb).max(axis=-1), np.maximum(ta, tb).min(axis=-1)


def check_scene_scale(poses: np.ndarray, K: np.ndarray, H: int, W: int, near: float, far: float,
                      scene_box: np.ndarray, source, fix: str, grid: int = 5) -> float:
    """Refuse cameras, near/far and scene box that do not fit together (see the rules above); returns the
    overlap fraction. ``poses [N,4,4]``, ``K [3,3]`` or ``[N,3,3]`` in pixels of ``H x W`` images; ``fix``
    says what to change.

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
    v, u = np.meshgrid(np.linspace(0.5, H - 0.5, grid), np.linspace(0.5, W - 0.5, grid), indexing="ij")
    x = (u.ravel()[None] - K[:, 0, 2, None]) / K[:, 0, 0, None]  # [N, grid^2] camera-space directions
    y = -(v.ravel()[None] - K[:, 1, 2, None]) / K[:, 1, 1, None]
    d = np.stack([x, y, -np.ones_like(x)], axis=-1)
    d = np.einsum("nij,nrj->nri", poses[:, :3, :3], d / np.linalg.norm(d, axis=-1, keepdims=True))
    t_in, t_out = _ray_box_interval(poses[:, None, :3, 3], d, box)
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


def check_scene(data: SceneData) -> SceneData:
    """Every check above on a whole :class:`SceneData`, for scenes made or changed in code (``subset``,
    ``corrupt_depth``, a user's own arrays): the trainer calls it before it trains. Shapes must agree
    (``N`` views of ``H x W``), images must be finite and in ``[0, 1]``, depth finite and ``>= 0`` in
    float32 with a boolean mask of the same shape.
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
    check_scene_scale(data.poses, data.intrinsics, H, W, data.near, data.far, box, source,
                      "fix near/far, scene_box or the poses")
    return data


# %% 01_Data_Loading.ipynb · cell c11
NERF_SYNTHETIC_DEPTH_MAX = 8.0  # t = 8 (1 - v / 255), derived and checked above


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


def nerf_synthetic_depth_check(folder: Path | str, scale: float = 1.0, train_views: int = 20,
                               stride: int = 3, downscale: int = 1) -> dict:
    """Consistency of a scene's test depth (times ``scale``) with its cameras: cross-view residuals
    between test views at least 3 apart, and the fraction of points inside train silhouettes."""
    test = load_blender(folder, "test", downscale)
    train = load_blender(folder, "train", downscale, max_views=train_views)
    if test.depth is None:
        raise DataError(f"{folder}: the test split has no depth maps")
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


# %% 01_Data_Loading.ipynb · cell c15
BLENDER_NEAR, BLENDER_FAR = 2.0, 6.0
BLENDER_SCENE_BOX = np.array([[-1.5, -1.5, -1.5], [1.5, 1.5, 1.5]], dtype=np.float32)


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


# %% 01_Data_Loading.ipynb · cell c17
LLFF_BOUND_FACTOR = 0.75
LLFF_HOLDOUT = 8


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


def average_pose(poses: np.ndarray) -> np.ndarray:
    """The mean camera ``[4,4]``: mean centre, mean back axis, mean up (re-orthonormalised)."""
    back = poses[:, :3, 2].sum(0)
    back /= np.linalg.norm(back)
    right = np.cross(poses[:, :3, 1].sum(0), back)
    right /= np.linalg.norm(right)
    mean = np.eye(4)
    mean[:3, 0], mean[:3, 1], mean[:3, 2], mean[:3, 3] = right, np.cross(back, right), back, poses[:, :3, 3].mean(0)
    return mean


def frustum_box(poses: np.ndarray, intrinsics: np.ndarray, H: int, W: int, near: float, far: float) -> np.ndarray:
    """Axis-aligned box ``[2,3]`` around every view's frustum between ray depths ``near`` and ``far``."""
    corners = []
    for pose, K in zip(poses, intrinsics):
        origins, dirs = camera_rays(pose, K, H, W)
        rim = dirs[[0, 0, -1, -1], [0, -1, 0, -1]]
        corners += [origins[0, 0] + t * rim for t in (near, far)]
    corners = np.concatenate(corners)
    return np.stack([corners.min(0), corners.max(0)]).astype(np.float32)


def ndc_rays(origins: np.ndarray, dirs: np.ndarray, K: np.ndarray, H: int, W: int, near_plane: float = 1.0):
    """NeRF's NDC mapping of rays (given in the frame of the average camera, looking along -z).

    Origins are moved to the plane ``z = -near_plane``; then
    ``o' = (-fx/(W/2) ox/oz, -fy/(H/2) oy/oz, 1 + 2 near/oz)`` and
    ``d' = (-fx/(W/2) (dx/dz - ox/oz), -fy/(H/2) (dy/dz - oy/oz), -2 near/oz)``; NDC depth runs 0..1.

    >>> o, d = ndc_rays(np.array([[0.0, 0, 0]]), np.array([[0.0, 0, -1]]), np.diag([1.0, 1, 1]), 2, 2)
    >>> (o + 0.0).tolist(), (d + 0.0).tolist()
    ([[0.0, 0.0, -1.0]], [[0.0, 0.0, 2.0]])
    """
    t = -(near_plane + origins[..., 2]) / dirs[..., 2]
    o = origins + t[..., None] * dirs
    ax, ay = -K[0, 0] / (W / 2), -K[1, 1] / (H / 2)
    ox, oy, oz = o[..., 0], o[..., 1], o[..., 2]
    o_ndc = np.stack([ax * ox / oz, ay * oy / oz, 1 + 2 * near_plane / oz], -1)
    d_ndc = np.stack([ax * (dirs[..., 0] / dirs[..., 2] - ox / oz), ay * (dirs[..., 1] / dirs[..., 2] - oy / oz),
                      -2 * near_plane / oz], -1)
    return o_ndc, d_ndc


def _llff_image_folder(folder: Path, downscale: int) -> tuple[Path, int]:
    for k in sorted((d for d in range(1, downscale + 1) if downscale % d == 0), reverse=True):
        candidate = folder / ("images" if k == 1 else f"images_{k}")
        if candidate.is_dir():
            return candidate, downscale // k
    available = sorted(p.name for p in folder.glob("images*") if p.is_dir())
    raise DataError(f"{folder}: no image folder for downscale {downscale} (need images_k with k dividing "
                    f"{downscale}); found {available}")


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


def load_llff(folder: Path | str, split: str = "train", downscale: int = 8, ndc: bool = False,
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
    box = np.array([[-1, -1, -1], [1, 1, 1]], np.float32) if ndc else frustum_box(poses, intrinsics, H, W, near, far)
    if not ndc:  # in NDC the renderer maps every ray's [near, far] onto the cube: nothing to check
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
        H=H, W=W, near=0.0 if ndc else float(near), far=1.0 if ndc else float(far),
        background=np.asarray(background, np.float32), scene_box=box,
        image_paths=[str(files[i]) for i in chosen], name=folder.name, split=split, ndc=ndc, **depth,
    )


# %% 01_Data_Loading.ipynb · cell c19
def read_points3d_binary(path: Path | str) -> dict:
    """Parse COLMAP's ``points3D.bin``: ``xyz [P,3]``, ``error [P]`` (pixels) and ``tracks`` (list of
    ``[L,2]`` int arrays of image id, 2D point index). Used when ``images.bin`` is missing."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: missing")
    buffer = path.read_bytes()
    head = np.dtype([("id", "<u8"), ("xyz", "<f8", 3), ("rgb", "u1", 3), ("error", "<f8"), ("length", "<u8")])
    count = int(np.frombuffer(buffer, "<u8", 1)[0]) if len(buffer) >= 8 else -1
    if count < 0 or count * head.itemsize > len(buffer) - 8:  # checked before anything is allocated
        raise DataError(f"{path}: truncated or corrupt (the header says {count} points, the file has "
                        f"{len(buffer)} bytes)")
    offset = 8
    xyz, error, tracks = np.empty((count, 3)), np.empty(count), []
    try:
        for k in range(count):
            record = np.frombuffer(buffer, head, 1, offset)[0]
            offset += head.itemsize
            length = int(record["length"])
            tracks.append(np.frombuffer(buffer, "<i4", 2 * length, offset).reshape(length, 2))
            offset += 8 * length
            xyz[k], error[k] = record["xyz"], record["error"]
    except ValueError as err:
        raise DataError(f"{path}: truncated or corrupt ({err})") from err
    return dict(xyz=xyz, error=error, tracks=tracks)


def colmap_observations(model_dir: Path | str, image_names: list[str]) -> dict:
    """Which 3D point each view observes, from a COLMAP model (``model_dir`` = ``sparse/0``).

    Returns ``xyz [P,3]`` and ``error [P]`` per point, ``tracks`` (view indices per point), and one
    entry per observation: ``view [O]`` (index into ``image_names``), ``point [O]``, ``xy [O,2]``
    (keypoint in full-resolution pixels, NaN when only ``points3D.bin`` exists: then projected).
    """
    model_dir = Path(model_dir)
    index = {name: k for k, name in enumerate(image_names)}
    if (model_dir / "images.bin").is_file():
        import pycolmap

        try:
            model = pycolmap.Reconstruction(str(model_dir))
        except Exception as err:
            raise DataError(f"{model_dir}: pycolmap cannot read the model ({err})") from err
        unknown = sorted(im.name for im in model.images.values() if im.name not in index)
        if unknown:
            raise DataError(f"{model_dir / 'images.bin'}: images {unknown[:3]} are not among the image files")
        point_ids = sorted(model.points3D)
        row = {pid: k for k, pid in enumerate(point_ids)}
        xyz = np.array([model.points3D[pid].xyz for pid in point_ids])
        error = np.array([model.points3D[pid].error for pid in point_ids])
        view_of = {im_id: index[im.name] for im_id, im in model.images.items()}
        tracks = [np.array([view_of[e.image_id] for e in model.points3D[pid].track.elements]) for pid in point_ids]
        view, point, xy = [], [], []
        for im_id, image in model.images.items():
            for p2d in image.points2D:
                if p2d.has_point3D():
                    view.append(view_of[im_id]); point.append(row[p2d.point3D_id]); xy.append(p2d.xy)
        return dict(xyz=xyz, error=error, tracks=tracks, view=np.array(view), point=np.array(point),
                    xy=np.array(xy, dtype=np.float64))
    points = read_points3d_binary(model_dir / "points3D.bin")
    ids = np.concatenate([t[:, 0] for t in points["tracks"]])
    if ids.min() < 1 or ids.max() > len(image_names):
        raise DataError(f"{model_dir / 'points3D.bin'}: image ids {ids.min()}..{ids.max()} do not map onto "
                        f"the {len(image_names)} images (without images.bin we assume id k = k-th sorted name)")
    tracks = [np.unique(t[:, 0] - 1) for t in points["tracks"]]
    view = np.concatenate(tracks)
    point = np.repeat(np.arange(len(tracks)), [len(t) for t in tracks])
    return dict(xyz=points["xyz"], error=points["error"], tracks=tracks, view=view, point=point,
                xy=np.full((len(view), 2), np.nan))


_RECONSTRUCT, _SCALAR = np.empty(0).__reduce__()[0], np.float64(0).__reduce__()[0]
# The only globals a pickled numpy object array needs: numpy 1.x names them numpy.core.multiarray.*,
# numpy 2.x numpy._core.multiarray.*. Everything else (dicts, lists, tuples, str, numbers) needs none.
_NPY_PICKLE_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
    **{(module, name): function for module in ("numpy.core.multiarray", "numpy._core.multiarray")
       for name, function in (("_reconstruct", _RECONSTRUCT), ("scalar", _SCALAR))},
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that admits only numpy arrays, dtypes and scalars (and the built-in containers and
    numbers, which need no global): any other global is refused before it is looked up."""

    def __init__(self, file, path):
        super().__init__(file, encoding="ASCII", fix_imports=True)  # np.load's settings
        self.path = path

    def find_class(self, module: str, name: str):
        try:
            return _NPY_PICKLE_GLOBALS[(module, name)]
        except KeyError:
            raise DataError(f"{self.path}: refusing to unpickle {module}.{name}: only numpy arrays, dicts, lists "
                            "and numbers are read from a .npy file (other globals could run code on load)") from None

    def persistent_load(self, pid):
        raise DataError(f"{self.path}: refusing to unpickle a persistent id {pid!r}")


def load_npy_restricted(path: Path | str) -> np.ndarray:
    """Read a ``.npy`` file without running anything in it: the header with ``numpy.lib.format``
    (``read_magic`` + ``read_array_header_1_0/2_0``); an object array's pickle with an unpickler that
    admits only numpy arrays/dtypes/scalars, dicts, lists, tuples, str and numbers (the replacement of
    ``np.load(allow_pickle=True)``); any other array with ``allow_pickle=False``.

    >>> import io; buffer = io.BytesIO(); np.save(buffer, np.array([{"depth": np.ones(2)}], dtype=object))
    >>> _ = buffer.seek(0); load_npy_restricted(buffer)[0]["depth"].tolist()
    [1.0, 1.0]
    """
    from numpy.lib import format as npy_format

    def read(f):
        version = npy_format.read_magic(f)
        if version == (1, 0):
            _, _, dtype = npy_format.read_array_header_1_0(f)
        elif version == (2, 0):
            _, _, dtype = npy_format.read_array_header_2_0(f)
        else:
            raise DataError(f"{path}: .npy format version {version} is not supported (1.0 and 2.0 are)")
        if not dtype.hasobject:
            f.seek(0)
            return np.load(f, allow_pickle=False)
        array = _NumpyOnlyUnpickler(f, path).load()
        if not isinstance(array, np.ndarray):
            raise DataError(f"{path}: the pickle holds a {type(array).__name__}, not an array")
        return array

    try:
        if hasattr(path, "read"):
            return read(path)
        with open(path, "rb") as f:
            return read(f)
    except DataError:
        raise
    except Exception as err:
        raise DataError(f"{path}: cannot read ({type(err).__name__}: {err})") from err


def dsnerf_observations(folder: Path | str, n_images: int) -> dict:
    """DS-NeRF's ``colmap_depth_{factor}.npy``: per image z-depth (scene units), coords and weights.

    Read with :func:`load_npy_restricted` (never ``allow_pickle=True``); each entry must be a dict of
    ``depth [P]``, ``coord [P,2]`` and ``error [P]`` (DS-NeRF's weight), z-depth finite in float32.
    """
    folder = Path(folder)
    files = sorted(folder.glob("colmap_depth_*.npy"))
    if not files:
        raise DataError(f"{folder}: no colmap_depth_*.npy (DS-NeRF's sparse depth file)")
    path = files[0]
    try:
        factor = float(path.stem.rsplit("_", 1)[1])
    except ValueError:
        raise DataError(f"{path}: the name must end in the image downscale factor, colmap_depth_<factor>.npy") from None
    entries = load_npy_restricted(path)
    if entries.ndim != 1:
        raise DataError(f"{path}: expected one entry per image, got an array of shape {entries.shape}")
    if len(entries) != n_images:
        raise DataError(f"{path}: {len(entries)} entries for {n_images} images (DS-NeRF drops images without "
                        "points; the view order would be ambiguous)")
    for k, e in enumerate(entries):
        if not isinstance(e, dict) or not {"depth", "coord", "error"} <= set(e):
            raise DataError(f"{path}: entry {k} must be a dict with 'depth', 'coord' and 'error', got "
                            f"{sorted(map(str, e)) if isinstance(e, dict) else type(e).__name__}")
        shapes = [np.shape(e[key]) for key in ("depth", "coord", "error")]
        if len(shapes[0]) != 1 or shapes[1:] != [(shapes[0][0], 2), shapes[0]]:
            raise DataError(f"{path}: entry {k}: 'depth' must be [P], 'coord' [P, 2] and 'error' [P]; got shapes "
                            f"{shapes}")
        if not np.isfinite(np.asarray(e["coord"], dtype=np.float64)).all():
            raise DataError(f"{path}: entry {k}: 'coord' (pixel coordinates) holds NaN or infinite values")
    view = np.concatenate([np.full(len(e["depth"]), k) for k, e in enumerate(entries)])
    z = np.concatenate([e["depth"] for e in entries]).astype(np.float64)
    check_depth(z[None], path)
    check_depth(z[None], path, dtype=TRAINING_DTYPE)
    weight = np.concatenate([e["error"] for e in entries]).astype(np.float64)
    if not (np.isfinite(weight).all() and (weight >= 0).all()):
        raise DataError(f"{path}: 'error' (DS-NeRF's per-point weight) must be finite and >= 0")
    return dict(view=view, z_depth=z, xy=np.concatenate([e["coord"] for e in entries]) * factor, weight=weight)


def observation_geometry(obs: dict, world: dict) -> dict:
    """Per observation, in scene units: camera z-depth ``z [O]``, ray depth ``t [O]`` and the projected
    pixel ``xy [O,2]`` (full resolution) of each observed point, using the loader's poses.

    Used to check a model against the poses: keypoint reprojection error, and the per-view bounds
    LLFF derived from the same points (see :func:`llff_bounds_from_points`).
    """
    full_h, full_w, full_f = world["hwf"][0]
    xyz = (world["recentre"] @ np.c_[world["scale"] * obs["xyz"], np.ones(len(obs["xyz"]))].T).T[:, :3]
    poses = world["poses"][obs["view"]]
    rel = xyz[obs["point"]] - poses[:, :3, 3]
    cam = np.einsum("oji,oj->oi", poses[:, :3, :3], rel)  # R^T (X - C): camera coordinates
    z = -cam[:, 2]
    xy = np.c_[full_f * cam[:, 0] / z + full_w / 2, -full_f * cam[:, 1] / z + full_h / 2]
    return dict(xyz=xyz, z=z, t=np.linalg.norm(rel, axis=1), xy=xy)


def llff_bounds_from_points(obs: dict, world: dict) -> np.ndarray:
    """Per-view near/far ``[N,2]`` recomputed the way LLFF's ``imgs2poses`` did: the 0.1 and 99.9
    percentiles of the z-depths of the points each view observes (scene units)."""
    z = observation_geometry(obs, world)["z"]
    return np.array([np.percentile(z[obs["view"] == v], [0.1, 99.9]) for v in range(len(world["poses"]))])


def _triangulation_angle(xyz: np.ndarray, tracks: list, centres: np.ndarray) -> np.ndarray:
    """Widest angle (radians) between the rays from a point's track cameras to the point, ``[P]``."""
    angles = np.zeros(len(xyz))
    for k, views in enumerate(tracks):
        rays = xyz[k] - centres[np.unique(views)]
        rays /= np.linalg.norm(rays, axis=1, keepdims=True)
        angles[k] = np.arccos(np.clip((rays @ rays.T).min(), -1.0, 1.0))
    return angles


def rasterise_sparse_depth(obs: dict, world: dict, chosen: np.ndarray, K: np.ndarray, H: int, W: int) -> dict:
    """Dense ``depth``/``depth_mask``/``depth_sigma``/``depth_weight`` ``[N,H,W]`` of the views ``chosen``
    from sparse observations (see the markdown above); the largest weight wins a shared pixel."""
    full_h, full_w, full_f = world["hwf"][0]
    poses = world["poses"]
    if "z_depth" in obs:  # DS-NeRF file: z-depth in scene units at the given coordinates
        x, y = obs["xy"][:, 0] * W / full_w, obs["xy"][:, 1] * H / full_h
        to_ray = np.sqrt(((x - K[0, 2]) / K[0, 0]) ** 2 + ((y - K[1, 2]) / K[1, 1]) ** 2 + 1.0)
        view, t, weight, sigma = obs["view"], obs["z_depth"] * to_ray, obs["weight"], None
    else:
        geometry = observation_geometry(obs, world)
        view, point, t, z = obs["view"], obs["point"], geometry["t"], geometry["z"]
        xy = np.where(np.isnan(obs["xy"]), geometry["xy"], obs["xy"])
        x, y = xy[:, 0] * W / full_w, xy[:, 1] * H / full_h
        bounds = world["bounds"][view]
        keep = (z >= bounds[:, 0]) & (z <= bounds[:, 1])
        error = obs["error"][point]
        weight = 2 * np.exp(-((error / obs["error"].mean()) ** 2))
        angle = _triangulation_angle(geometry["xyz"], obs["tracks"], poses[:, :3, 3])[point]
        sigma = t * (error / full_f) / np.maximum(np.sin(angle), np.sin(np.radians(2.0)))
        view, t, weight, sigma, x, y = view[keep], t[keep], weight[keep], sigma[keep], x[keep], y[keep]
    position = {int(v): k for k, v in enumerate(chosen)}
    row, col = np.floor(y).astype(np.int64), np.floor(x).astype(np.int64)
    keep = np.isin(view, chosen) & (row >= 0) & (row < H) & (col >= 0) & (col < W) & (t > 0)
    order = np.flatnonzero(keep)[np.argsort(weight[keep], kind="stable")]  # ascending: the best writes last
    index = (np.array([position[int(v)] for v in view[order]], dtype=np.int64), row[order], col[order])
    shape = (len(chosen), H, W)
    out = dict(depth=np.zeros(shape, np.float32), depth_mask=np.zeros(shape, bool),
               depth_weight=np.zeros(shape, np.float32))
    out["depth"][index], out["depth_mask"][index], out["depth_weight"][index] = t[order], True, weight[order]
    if sigma is not None:
        out["depth_sigma"] = np.zeros(shape, np.float32)
        out["depth_sigma"][index] = sigma[order]
    return out


# %% 01_Data_Loading.ipynb · cell c21
def blender_world(data: SceneData) -> dict:
    """The ``world`` dict of :func:`rasterise_sparse_depth` for a scene already in scene units."""
    K = data.intrinsics[0].astype(np.float64)
    if not np.allclose(data.intrinsics, data.intrinsics[0]) or not np.isclose(K[0, 0], K[1, 1]):
        raise ValueError("triangulation needs one pinhole camera with square pixels shared by all views")
    n = len(data)
    return dict(poses=data.poses.astype(np.float64), hwf=np.tile([data.H, data.W, K[0, 0]], (n, 1)),
                bounds=np.tile([0.0, data.far], (n, 1)), scale=1.0, recentre=np.eye(4))


def triangulate_sparse_depth(data: SceneData, work_dir: Path | str | None = None) -> tuple[SceneData, dict]:
    """Sparse depth for posed images without depth: SIFT + exhaustive matching + triangulation with
    the known poses (pycolmap), rasterised into a copy of ``data``. Returns ``(scene, stats)`` with
    ``stats``: ``points``, ``points_per_view [N]`` and ``mean_reprojection_error`` (pixels)."""
    import pycolmap

    world = blender_world(data)
    K = data.intrinsics[0]
    log_level, pycolmap.logging.minloglevel = pycolmap.logging.minloglevel, 2  # COLMAP's INFO lines: off
    try:
        obs = _triangulate_with_known_poses(data, world, K, work_dir)
    finally:
        pycolmap.logging.minloglevel = log_level
    if len(obs["xyz"]) == 0:
        raise DataError(f"{data.name}/{data.split}: triangulation found no points")
    depth = rasterise_sparse_depth(obs, world, np.arange(len(data)), K.astype(np.float64), data.H, data.W)
    stats = dict(points=len(obs["xyz"]), points_per_view=depth["depth_mask"].sum(axis=(1, 2)),
                 mean_reprojection_error=float(obs["error"].mean()))
    return replace(data, **depth), stats


def _triangulate_with_known_poses(data: SceneData, world: dict, K: np.ndarray, work_dir) -> dict:
    import pycolmap

    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        tmp = Path(tmp)
        (tmp / "images").mkdir()
        names = [f"{k:04d}.png" for k in range(len(data))]
        for name, image in zip(names, data.images):
            iio.imwrite(tmp / "images" / name, np.round(image * 255).astype(np.uint8))
        reader = pycolmap.ImageReaderOptions()
        reader.camera_model, reader.camera_params = "PINHOLE", f"{K[0, 0]},{K[1, 1]},{K[0, 2]},{K[1, 2]}"
        database = tmp / "database.db"
        pycolmap.extract_features(database, tmp / "images", image_names=names,
                                  camera_mode=pycolmap.CameraMode.SINGLE, reader_options=reader)
        pycolmap.match_exhaustive(database)
        db = pycolmap.Database.open(str(database))
        camera = db.read_all_cameras()[0]
        model = pycolmap.Reconstruction()
        model.add_camera_with_trivial_rig(camera)
        opengl_to_colmap = np.diag([1.0, -1.0, -1.0, 1.0])  # COLMAP cameras look along +z, y down
        for image in db.read_all_images():
            w2c = np.linalg.inv(world["poses"][names.index(image.name)] @ opengl_to_colmap)
            keypoints = db.read_keypoints(image.image_id)[:, :2].astype(np.float64)
            model.add_image_with_trivial_frame(
                pycolmap.Image(name=image.name, keypoints=keypoints, camera_id=camera.camera_id, image_id=image.image_id),
                pycolmap.Rigid3d(pycolmap.Rotation3d(w2c[:3, :3]), w2c[:3, 3]))
        db.close()
        (tmp / "model").mkdir()
        model = pycolmap.triangulate_points(model, database, tmp / "images", tmp / "model")
        model.write(tmp / "model")
        return colmap_observations(tmp / "model", names)


def load_dataset(data: str | Path, split: str = "train", downscale: int = 1, *, root: Path | str = "data",
                 **options) -> SceneData:
    """Load ``data``: ``"embedded"`` (generated into ``root/embedded`` on first use) or a folder holding a
    Blender-layout scene (``transforms_{split}.json``) or an LLFF scene (``poses_bounds.npy``).

    ``options`` go to the loader (:func:`load_blender`: background, max_views, view_subset, ...).
    """
    if str(data) == "embedded":
        return load_blender(ensure_embedded_scene(root), split, downscale, **options)
    folder = Path(data)
    if not folder.is_dir():
        raise DataError(f"{folder}: dataset folder not found (expected 'embedded' or a scene folder)")
    if (folder / f"transforms_{split}.json").exists() or any(folder.glob("transforms_*.json")):
        return load_blender(folder, split, downscale, **options)
    if (folder / "poses_bounds.npy").exists():
        return load_llff(folder, split, downscale, **options)
    raise DataError(f"{folder}: neither transforms_{split}.json (Blender layout) nor poses_bounds.npy (LLFF) found")


# %% 01_Data_Loading.ipynb · cell c23
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
