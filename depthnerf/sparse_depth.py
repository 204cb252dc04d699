# Generated from 01_Data_Loading.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


from __future__ import annotations

from pathlib import Path

import numpy as np

from depthnerf.io import load_npy_restricted
from depthnerf.scene import TRAINING_DTYPE, DataError, check_depth


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


# %% 01_Data_Loading.ipynb · cell c120
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


# %% 01_Data_Loading.ipynb · cell c126
def dsnerf_observations(folder: Path | str, n_images: int) -> dict:
    """DS-NeRF's ``colmap_depth_{factor}.npy``: per image z-depth (scene units), coords and weights.

    Read with :func:`load_npy_restricted` (its pickle never executed); each entry must be a dict of
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


# %% 01_Data_Loading.ipynb · cell c129
def _triangulation_angle(xyz: np.ndarray, tracks: list, centres: np.ndarray) -> np.ndarray:
    """Widest angle (radians) between the rays from a point's track cameras to the point, ``[P]``."""
    angles = np.zeros(len(xyz))
    for k, views in enumerate(tracks):
        rays = xyz[k] - centres[np.unique(views)]
        rays /= np.linalg.norm(rays, axis=1, keepdims=True)
        angles[k] = np.arccos(np.clip((rays @ rays.T).min(), -1.0, 1.0))
    return angles


def rasterise_sparse_depth(obs: dict, world: dict, chosen: np.ndarray, K: np.ndarray, H: int, W: int) -> dict:
    """Dense ``depth``/``depth_mask``/``depth_sigma`` ``[N,H,W]`` of the views ``chosen`` from sparse
    observations: each observation marks the pixel its keypoint (or projection) falls in; the largest weight
    (``2 exp(-(error / mean error)^2)``) wins a shared pixel."""
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
    out = dict(depth=np.zeros(shape, np.float32), depth_mask=np.zeros(shape, bool))
    out["depth"][index], out["depth_mask"][index] = t[order], True
    if sigma is not None:
        out["depth_sigma"] = np.zeros(shape, np.float32)
        out["depth_sigma"][index] = sigma[order]
    return out
