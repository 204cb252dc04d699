# Generated from 01_Data_Loading.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from depthnerf.cameras import focal_from_fov, look_at, ray_grid
from depthnerf.scene import DataError


# %% 01_Data_Loading.ipynb · cell c07
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


# %% 01_Data_Loading.ipynb · cell c94
_NO_HIT = np.inf


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


# %% 01_Data_Loading.ipynb · cell c97
LIGHT_DIRECTION = np.array([0.4, 0.3, 0.85]) / np.linalg.norm([0.4, 0.3, 0.85])


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
    origins, dirs = ray_grid(pose, K, H, W)
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


# %% 01_Data_Loading.ipynb · cell c100
EMBEDDED_VIEWS = {"train": 100, "val": 10, "test": 10}
EMBEDDED_DISTANCE = 4.0


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


# %% 01_Data_Loading.ipynb · cell c102
EMBEDDED_VERSION = 1
# named after the module it had when the marker was introduced; kept, so existing scenes are recognised
EMBEDDED_GENERATOR = "depthnerf.data.write_embedded_scene"  # the marker: "<this> v<version>" in transforms_*.json
EMBEDDED_CAMERA_ANGLE_X = 0.6911112070083618  # the NeRF-Synthetic field of view
EMBEDDED_SIZE = 200


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
