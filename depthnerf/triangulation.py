# Generated from 01_Data_Loading.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import tempfile
from dataclasses import replace
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from depthnerf.images import read_image
from depthnerf.scene import DataError, SceneData
from depthnerf.sparse_depth import colmap_observations, rasterise_sparse_depth


# %% 01_Data_Loading.ipynb · cell c137
OPENGL_TO_COLMAP = np.diag([1.0, -1.0, -1.0, 1.0])  # COLMAP cameras look along +z with y down


def colmap_cam_from_world(poses: np.ndarray) -> np.ndarray:
    """COLMAP's world-to-camera ``[N,4,4]`` of OpenGL camera-to-world poses ``[N,4,4]``."""
    return np.linalg.inv(np.asarray(poses, np.float64) @ OPENGL_TO_COLMAP)


def pixel_rays(xy: np.ndarray, K: np.ndarray, cam_from_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Camera centre ``[3]`` and unit world directions ``[M,3]`` of pixels ``xy [M,2]`` (COLMAP's
    convention: the top-left pixel spans ``[0,1]^2``, so its centre is ``(0.5, 0.5)``)."""
    R, t = cam_from_world[:3, :3], cam_from_world[:3, 3]
    d = np.c_[(xy - K[:2, 2]) / np.diag(K)[:2], np.ones(len(xy))] @ R  # R^T d_cam, row-wise
    return -R.T @ t, d / np.linalg.norm(d, axis=1, keepdims=True)


def project(X: np.ndarray, K: np.ndarray, cam_from_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels ``[...,2]`` and camera z ``[...]`` of world points ``X [...,3]`` (COLMAP's pixel convention)."""
    c = X @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
    z = c[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = c[..., :2] / z[..., None] * np.diag(K)[:2] + K[:2, 2]
    return xy, z


def pose_fundamental(K1: np.ndarray, cam1: np.ndarray, K2: np.ndarray, cam2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Essential and fundamental matrices ``(E, F)`` of two views with known poses (``cam_from_world``
    ``[4,4]``, COLMAP axes): ``E = [t]x R`` for ``cam2_from_cam1 = (R, t)``, ``x2^T F x1 = 0``.

    >>> K = np.array([[100.0, 0, 50], [0, 100.0, 40], [0, 0, 1]])
    >>> cam1 = np.eye(4); cam2 = np.eye(4); cam2[:3, 3] = [-1.0, 0.2, 0.1]
    >>> X = np.array([[0.3, -0.2, 4.0]]); x1, _ = project(X, K, cam1); x2, _ = project(X, K, cam2)
    >>> E, F = pose_fundamental(K, cam1, K, cam2)
    >>> abs(float(np.r_[x2[0], 1] @ F @ np.r_[x1[0], 1])) < 1e-9
    True
    """
    R = cam2[:3, :3] @ cam1[:3, :3].T
    t = cam2[:3, 3] - R @ cam1[:3, 3]
    E = np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]]) @ R
    return E, np.linalg.inv(K2).T @ E @ np.linalg.inv(K1)


def ray_box_range(origin: np.ndarray, dirs: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Entry and exit ray depth ``[M,2]`` of rays ``origin [3] + t dirs [M,3]`` through the box ``[2,3]``
    (exit < entry: the ray misses it).

    >>> ray_box_range(np.zeros(3), np.array([[0.0, 0, 1]]), np.array([[-1.0, -1, 2], [1, 1, 3]])).tolist()
    [[2.0, 3.0]]
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = (box[0] - origin) / dirs, (box[1] - origin) / dirs
    lo, hi = np.fmin(a, b), np.fmax(a, b)  # fmin/fmax skip the NaN of a zero direction inside the slab
    return np.c_[np.nanmax(lo, axis=1), np.nanmin(hi, axis=1)]


def dilate(masks: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation of ``masks [..., H, W]`` by a ``(2 radius + 1)`` square.

    >>> m = np.zeros((1, 4, 4), bool); m[0, 0, 0] = True  # a corner: nothing wraps to the far side
    >>> dilate(m, 1)[0].astype(int).tolist()
    [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    """
    out = masks.copy()
    for axis in (-2, -1):
        grown = out.copy()
        for shift in range(1, radius + 1):
            for sign in (1, -1):
                moved = np.roll(out, sign * shift, axis=axis)
                index = [slice(None)] * out.ndim
                index[axis] = slice(0, shift) if sign == 1 else slice(-shift, None)
                moved[tuple(index)] = False  # np.roll wraps around: clear what came in from the other side
                grown |= moved
        out = grown
    return out


def silhouette_depth_range(origin: np.ndarray, dirs: np.ndarray, t_range: np.ndarray, masks: np.ndarray,
                           cams: np.ndarray, K: np.ndarray, samples: int = 256) -> np.ndarray:
    """Where rays ``origin + t dirs [M,3]`` (``t`` within ``t_range [M,2]``) lie inside the visual hull of
    ``masks [V,H,W]`` (views ``cams [V,4,4]``, intrinsics ``K``): a point counts as inside when it
    projects into every mask whose frame it falls in. Returns the first and last such depth ``[M,2]``
    (NaN where the ray never enters the hull), sampled ``samples`` times per ray."""
    out = np.full((len(dirs), 2), np.nan)
    H, W = masks.shape[1:]
    steps = np.linspace(0.0, 1.0, samples)
    ray, k = np.divmod(np.arange(len(dirs) * samples), samples)  # every (ray, sample), shrunk view by view
    ray, k = ray[t_range[ray, 1] > t_range[ray, 0]], k[t_range[ray, 1] > t_range[ray, 0]]
    t = t_range[ray, 0] + steps[k] * (t_range[ray, 1] - t_range[ray, 0])
    for mask, cam in zip(masks, cams):
        xy, z = project(origin + t[:, None] * dirs[ray], K, cam)
        col, row = np.floor(xy[:, 0]), np.floor(xy[:, 1])
        frame = (z > 0) & (col >= 0) & (col < W) & (row >= 0) & (row < H)
        keep = ~frame
        keep[frame] = mask[row[frame].astype(np.int64), col[frame].astype(np.int64)]
        ray, t = ray[keep], t[keep]
    if len(ray):
        first = np.r_[True, ray[1:] != ray[:-1]]  # samples stay sorted by ray, then depth
        last = np.r_[ray[1:] != ray[:-1], True]
        out[ray[first], 0], out[ray[last], 1] = t[first], t[last]
    return out


def epipolar_segments(xy: np.ndarray, K1: np.ndarray, cam1: np.ndarray, K2: np.ndarray, cam2: np.ndarray,
                      t_range: np.ndarray, min_z: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """The segment ``[M,2,2]`` (end points, pixels of view 2) onto which the points of each view-1 ray
    through ``xy [M,2]`` with ray depth within ``t_range [M,2]`` project, clipped to the part in front of
    camera 2, and whether it exists ``[M]``."""
    origin, dirs = pixel_rays(xy, K1, cam1)
    a = cam2[:3, :3] @ origin + cam2[:3, 3]   # camera-2 coordinates of the view-1 centre
    b = dirs @ cam2[:3, :3].T                 # and of the directions: point = a + t b
    lo, hi = t_range[:, 0].copy(), t_range[:, 1].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = (min_z - a[2]) / b[:, 2]      # depth at which the ray passes camera 2's image plane
    lo = np.where(b[:, 2] > 0, np.fmax(lo, cross), lo)
    hi = np.where(b[:, 2] < 0, np.fmin(hi, cross), hi)
    ok = np.isfinite(lo) & np.isfinite(hi) & (hi >= lo) & ((b[:, 2] != 0) | (a[2] > min_z))
    lo, hi = np.where(ok, lo, 1.0), np.where(ok, hi, 1.0)
    ends = [a + t[:, None] * b for t in (lo, hi)]
    ends = np.stack([p[:, :2] / np.where(ok, p[:, 2], 1.0)[:, None] * np.diag(K2)[:2] + K2[:2, 2] for p in ends], 1)
    return ends, ok


def _best_per_group(key: np.ndarray, distance: np.ndarray, max_ratio: float, max_distance: float) -> np.ndarray:
    """Boolean ``[C]``: candidate is the nearest of its ``key`` group, within ``max_distance`` and below
    ``max_ratio`` times the group's second nearest (a group of one passes the ratio test)."""
    order = np.lexsort((distance, key))
    grouped = key[order]
    first = np.r_[True, grouped[1:] != grouped[:-1]]
    second = np.r_[False, first[:-1]] & ~first
    best = distance[order[first]]
    runner_up = np.full(len(best), np.inf)
    runner_up[np.cumsum(first)[second] - 1] = distance[order[second]]
    flag = np.zeros(len(key), bool)
    flag[order[first][(best <= max_distance) & (best < max_ratio * runner_up)]] = True
    return flag


def guided_matches(desc1: np.ndarray, desc2: np.ndarray, xy2: np.ndarray, segments: np.ndarray, ok: np.ndarray,
                   max_error: float = 4.0, max_ratio: float = 0.8, max_distance: float = 0.7,
                   chunk: int = 1024) -> np.ndarray:
    """Matches ``[m,2]`` (indices into view 1, view 2) of SIFT descriptors ``desc1 [M1,128]``,
    ``desc2 [M2,128]`` searched only among the view-2 keypoints ``xy2 [M2,2]`` within ``max_error``
    pixels of each view-1 keypoint's epipolar segment (``segments [M1,2,2]``, used where ``ok``).

    A match is the nearest candidate both ways (mutual), its descriptor angle is at most
    ``max_distance`` radians and below ``max_ratio`` times the second nearest candidate's (Lowe's
    ratio test, among the candidates on the segment only).

    >>> d = np.eye(3, 128, dtype=np.float32); xy2 = np.array([[10.0, 5.0], [10.0, 50.0], [90.0, 5.0]])
    >>> seg = np.array([[[0.0, 5.0], [100.0, 5.0]]] * 3)  # every view-1 keypoint: the row y = 5
    >>> guided_matches(d, d, xy2, seg, np.ones(3, bool)).tolist()  # keypoint 1 is off its line
    [[0, 0], [2, 2]]
    """
    f1 = desc1.astype(np.float32)
    f2 = desc2.astype(np.float32)
    f1 /= np.maximum(np.linalg.norm(f1, axis=1, keepdims=True), 1e-12)
    f2 /= np.maximum(np.linalg.norm(f2, axis=1, keepdims=True), 1e-12)
    a, b = segments[:, 0], segments[:, 1]
    length = np.linalg.norm(b - a, axis=1)
    along = np.where(length[:, None] > 1e-9, (b - a) / np.maximum(length, 1e-9)[:, None], [1.0, 0.0])
    normal = np.c_[-along[:, 1], along[:, 0]]
    offset_n, offset_a = (a * normal).sum(1), (a * along).sum(1)
    rows, cols = [], []
    for start in range(0, len(f1), chunk):
        part = slice(start, start + chunk)
        near_line = np.abs(normal[part] @ xy2.T - offset_n[part, None]) <= max_error
        i, j = np.nonzero(near_line & ok[part, None])
        i += start
        s = (along[i] * xy2[j]).sum(1) - offset_a[i]
        inside = (s >= -max_error) & (s <= length[i] + max_error)
        rows.append(i[inside]), cols.append(j[inside])
    i, j = np.concatenate(rows), np.concatenate(cols)
    angle = np.arccos(np.clip(np.einsum("cd,cd->c", f1[i], f2[j]), -1.0, 1.0))
    keep = _best_per_group(i, angle, max_ratio, max_distance) & _best_per_group(j, angle, max_ratio, max_distance)
    return np.c_[i[keep], j[keep]].astype(np.int64)


def view_pairs(poses: np.ndarray, neighbours: int) -> list[tuple[int, int]]:
    """Pairs ``(a, b)``, ``a < b``, to match: all of them when there are at most ``neighbours + 1`` views,
    else each view with its ``neighbours`` nearest camera centres (union, sorted).

    >>> poses = np.tile(np.eye(4), (4, 1, 1)); poses[:, 0, 3] = [0.0, 1.0, 2.0, 10.0]
    >>> view_pairs(poses, 3), view_pairs(poses, 1)
    ([(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)], [(0, 1), (1, 2), (2, 3)])
    """
    n = len(poses)
    if n <= neighbours + 1:
        return [(a, b) for a in range(n) for b in range(a + 1, n)]
    centres = poses[:, :3, 3].astype(np.float64)
    gap = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    np.fill_diagonal(gap, np.inf)
    near = np.argsort(gap, axis=1, kind="stable")[:, :neighbours]
    return sorted({(min(a, b), max(a, b)) for a in range(n) for b in near[a].tolist()})


# %% 01_Data_Loading.ipynb · cell c21
def blender_world(data: SceneData, factor: int = 1) -> dict:
    """The ``world`` dict of :func:`rasterise_sparse_depth` for a scene already in scene units, whose
    observations are in pixels of images ``factor`` times the size of ``data``'s."""
    K = data.intrinsics[0].astype(np.float64)
    if not np.allclose(data.intrinsics, data.intrinsics[0]) or not np.isclose(K[0, 0], K[1, 1]):
        raise ValueError("triangulation needs one pinhole camera with square pixels shared by all views")
    n = len(data)
    return dict(poses=data.poses.astype(np.float64),
                hwf=np.tile([factor * data.H, factor * data.W, factor * K[0, 0]], (n, 1)),
                bounds=np.tile([0.0, data.far], (n, 1)), scale=1.0, recentre=np.eye(4))


def feature_images(data: SceneData, full_resolution: bool = True) -> tuple[list, list | None, int]:
    """The images to extract features from: ``(rgb, alpha, factor)``, ``rgb`` a list of ``[fH,fW,3]``
    uint8 images composited on ``data.background``, ``alpha`` their ``[fH,fW]`` coverage (None unless
    every file has transparent pixels) and ``factor`` their size over ``data``'s.

    With ``full_resolution`` the files of ``data.image_paths`` are read when they are an integer
    factor larger than ``data`` (a downscaled load: DS-NeRF ran COLMAP on the full-size photographs);
    otherwise, or without paths, ``data.images`` themselves (factor 1).
    """
    paths = list(data.image_paths) if full_resolution else []
    if len(paths) == len(data) and all(Path(p).is_file() for p in paths):
        first = read_image(paths[0])
        factor = first.shape[1] // data.W
        if factor >= 1 and first.shape[0] // factor == data.H and first.shape[1] // factor == data.W:
            rgb, alpha = [], []
            for k, path in enumerate(paths):
                image = first if k == 0 else read_image(path)
                if image.shape != first.shape:
                    raise DataError(f"{path}: {image.shape[1]}x{image.shape[0]}, but {paths[0]} is "
                                    f"{first.shape[1]}x{first.shape[0]}; triangulation needs one image size")
                colour = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]
                if image.shape[-1] == 4:
                    a = image[..., 3:]
                    colour = colour * a + np.asarray(data.background, np.float32) * (1 - a)
                    alpha.append(image[..., 3])
                rgb.append(np.round(np.clip(colour, 0, 1) * 255).astype(np.uint8))
            masked = len(alpha) == len(rgb) and all((a < 1).any() for a in alpha)
            return rgb, (alpha if masked else None), factor
    rgb = [np.round(np.clip(image, 0, 1) * 255).astype(np.uint8) for image in data.images]
    alpha = list(data.alphas) if data.alphas is not None and (data.alphas < 1).any() else None
    return rgb, alpha, 1


def triangulate_sparse_depth(data: SceneData, work_dir: Path | str | None = None, *,
                             full_resolution: bool = True, max_features: int = 8192,
                             domain_size_pooling: bool = True, max_epipolar_error: float = 4.0,
                             max_ratio: float = 0.8, max_distance: float = 0.7, silhouettes: bool = True,
                             neighbours: int = 10) -> tuple[SceneData, dict]:
    """Sparse depth for posed images without depth, triangulated from these views alone, rasterised
    into a copy of ``data``. Returns ``(scene, stats)``.

    SIFT features (pycolmap, on the full-resolution files with ``full_resolution``, see
    :func:`feature_images`; up to ``max_features`` per image, DSP-SIFT descriptors with
    ``domain_size_pooling``) are matched with the known poses (:func:`guided_matches`): a keypoint is
    compared only with those within ``max_epipolar_error`` pixels (full resolution) of its epipolar
    segment, the part of the epipolar line that points between ``near`` and ``far`` inside the
    ``scene_box`` project to, shortened with ``silhouettes`` to the points inside every view's alpha
    silhouette (RGBA images only, :func:`silhouette_depth_range`); ``max_ratio``/``max_distance``: the
    ratio test and the largest descriptor angle (radians). Views are paired exhaustively up to
    ``neighbours + 1`` views, else each with its ``neighbours`` nearest (:func:`view_pairs`). The
    matches are written as calibrated two-view geometries (``E`` and ``F`` from the poses) and
    triangulated by ``pycolmap.triangulate_points`` with the poses fixed, two-view tracks kept.

    ``stats``: ``points``, ``points_per_view [N]`` (depth pixels), ``mean_reprojection_error``
    (pixels of the feature images), ``feature_scale`` (feature image size / ``data``'s),
    ``keypoints [N]``, ``pairs`` (matched), ``matches``. Deterministic up to pycolmap's bundle
    adjustment of the points (multi-threaded: the last digits can differ between runs).
    """
    import pycolmap

    rgb, alpha, factor = feature_images(data, full_resolution)
    world = blender_world(data, factor)
    K_full = data.intrinsics[0].astype(np.float64).copy()
    K_full[:2] *= factor
    options = dict(max_features=max_features, domain_size_pooling=domain_size_pooling,
                   max_epipolar_error=max_epipolar_error, max_ratio=max_ratio, max_distance=max_distance,
                   neighbours=neighbours)
    masks = dilate(np.stack(alpha) > 0, 2) if silhouettes and alpha is not None else None
    log_level, pycolmap.logging.minloglevel = pycolmap.logging.minloglevel, 2  # COLMAP's INFO lines: off
    try:
        obs, info = _triangulate_with_known_poses(data, rgb, masks, K_full, work_dir, **options)
    finally:
        pycolmap.logging.minloglevel = log_level
    if len(obs["xyz"]) == 0:
        raise DataError(f"{data.name}/{data.split}: triangulation found no points in {len(data)} views "
                        f"({info['matches']} guided matches over {info['pairs']} of {info['pairs_tried']} view "
                        f"pairs; keypoints per view {info['keypoints'].tolist()}): views far apart share "
                        "little surface; add views or lower the downscale")
    depth = rasterise_sparse_depth(obs, world, np.arange(len(data)), data.intrinsics[0].astype(np.float64),
                                   data.H, data.W)
    stats = dict(points=len(obs["xyz"]), points_per_view=depth["depth_mask"].sum(axis=(1, 2)),
                 mean_reprojection_error=float(obs["error"].mean()), feature_scale=factor, **info)
    return replace(data, **depth), stats


def match_with_known_poses(keypoints: list, descriptors: list, cams: np.ndarray, K: np.ndarray, data: SceneData,
                           pairs: list, masks: np.ndarray | None = None, max_epipolar_error: float = 4.0,
                           max_ratio: float = 0.8, max_distance: float = 0.7) -> dict:
    """Guided matches ``{(a, b): [m,2]}`` (non-empty pairs only) of each view's ``keypoints [M,2]`` and
    ``descriptors [M,128]`` (pixels of intrinsics ``K``; views ``cams [N,4,4]``, COLMAP's
    ``cam_from_world``): each view-``a`` keypoint is searched along the part of its epipolar line in view
    ``b`` where points of its ray between ``data.near`` and ``data.far``, inside ``data.scene_box`` (and
    inside the visual hull of ``masks [N,H,W]``, when given) project; see :func:`guided_matches`."""
    depth_range = []
    for k, xy in enumerate(keypoints):  # where each keypoint's ray may meet the scene
        origin, dirs = pixel_rays(xy, K, cams[k])
        box = ray_box_range(origin, dirs, np.asarray(data.scene_box, np.float64))
        t_range = np.c_[np.maximum(box[:, 0], data.near), np.minimum(box[:, 1], data.far)]
        if masks is not None:
            t_range = silhouette_depth_range(origin, dirs, t_range, masks, cams, K)
        depth_range.append(t_range)
    matches = {}
    for a, b in pairs:
        t_range = depth_range[a]
        usable = np.isfinite(t_range).all(axis=1) & (t_range[:, 1] >= t_range[:, 0])
        segments, ok = epipolar_segments(keypoints[a], K, cams[a], K, cams[b], np.nan_to_num(t_range))
        pair = guided_matches(descriptors[a], descriptors[b], keypoints[b], segments, ok & usable,
                              max_epipolar_error, max_ratio, max_distance)
        if len(pair):
            matches[(a, b)] = pair
    return matches


def extract_sift(rgb: list, K: np.ndarray, folder: Path, max_features: int = 8192,
                 domain_size_pooling: bool = True, affine_shape: bool = False) -> dict:
    """SIFT features of the uint8 images ``rgb`` (one PINHOLE camera ``K``) by pycolmap, into
    ``folder/database.db`` (the images are written to ``folder/images``). Returns the ``database``
    path, image ``names`` and ``ids``, ``keypoints`` (list of ``[M,2]``, COLMAP's pixel convention) and
    ``descriptors`` (list of ``[M,128]`` uint8). CPU SIFT: the same images give the same features."""
    import pycolmap

    (folder / "images").mkdir()
    names = [f"{k:04d}.png" for k in range(len(rgb))]
    for name, image in zip(names, rgb):
        iio.imwrite(folder / "images" / name, image)
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model, reader.camera_params = "PINHOLE", f"{K[0, 0]},{K[1, 1]},{K[0, 2]},{K[1, 2]}"
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.sift.max_num_features = max_features
    extraction.sift.domain_size_pooling = domain_size_pooling
    extraction.sift.estimate_affine_shape = affine_shape
    database = folder / "database.db"
    pycolmap.extract_features(database, folder / "images", image_names=names, camera_mode=pycolmap.CameraMode.SINGLE,
                              reader_options=reader, extraction_options=extraction, device=pycolmap.Device.cpu)
    db = pycolmap.Database.open(str(database))
    try:
        image_id = {image.name: image.image_id for image in db.read_all_images()}
        ids = [image_id[name] for name in names]
        keypoints = [db.read_keypoints(i)[:, :2].astype(np.float64) for i in ids]
        descriptors = [db.read_descriptors(i).data for i in ids]
    finally:
        db.close()
    return dict(database=database, names=names, ids=ids, keypoints=keypoints, descriptors=descriptors)


def _triangulate_with_known_poses(data: SceneData, rgb: list, masks, K: np.ndarray, work_dir, *, max_features,
                                  domain_size_pooling, max_epipolar_error, max_ratio, max_distance,
                                  neighbours) -> tuple[dict, dict]:
    import pycolmap

    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        tmp = Path(tmp)
        features = extract_sift(rgb, K, tmp, max_features, domain_size_pooling)
        names, ids, keypoints = features["names"], features["ids"], features["keypoints"]
        cams = colmap_cam_from_world(data.poses)
        db = pycolmap.Database.open(str(features["database"]))
        try:
            # COLMAP stores a pair with the smaller image id first
            pairs = [(a, b) if ids[a] < ids[b] else (b, a) for a, b in view_pairs(data.poses, neighbours)]
            matches = match_with_known_poses(keypoints, features["descriptors"], cams, K, data, pairs, masks,
                                             max_epipolar_error, max_ratio, max_distance)
            for (a, b), pair in matches.items():
                geometry = pycolmap.TwoViewGeometry()
                geometry.config = pycolmap.TwoViewGeometryConfiguration.CALIBRATED
                geometry.E, geometry.F = pose_fundamental(K, cams[a], K, cams[b])
                geometry.inlier_matches = pair.astype(np.uint32)
                db.write_matches(ids[a], ids[b], pair.astype(np.uint32))
                db.write_two_view_geometry(ids[a], ids[b], geometry)
            camera = db.read_all_cameras()[0]
        finally:
            db.close()
        model = pycolmap.Reconstruction()
        model.add_camera_with_trivial_rig(camera)
        for k, name in enumerate(names):
            model.add_image_with_trivial_frame(
                pycolmap.Image(name=name, keypoints=keypoints[k], camera_id=camera.camera_id, image_id=ids[k]),
                pycolmap.Rigid3d(pycolmap.Rotation3d(cams[k][:3, :3]), cams[k][:3, 3]))
        triangulation = pycolmap.IncrementalPipelineOptions()
        triangulation.min_num_matches = 1             # guided matches need no RANSAC support
        triangulation.triangulation.ignore_two_view_tracks = False  # with 2 views every track has 2 views
        (tmp / "model").mkdir()
        model = pycolmap.triangulate_points(model, features["database"], tmp / "images", tmp / "model", options=triangulation)
        model.write(tmp / "model")
        info = dict(keypoints=np.array([len(xy) for xy in keypoints]), pairs=len(matches), pairs_tried=len(pairs),
                    matches=sum(len(m) for m in matches.values()))
        return colmap_observations(tmp / "model", names), info
