# Generated from Experiments/custom_scenes.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


from __future__ import annotations

import shutil
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from depthnerf.images import read_image
from depthnerf.io import atomic_json
from depthnerf.scene import DataError


# %% Experiments/custom_scenes.ipynb · cell c30
PINHOLE_LIKE = ("SIMPLE_PINHOLE", "PINHOLE")


def colmap_to_poses_bounds(model_dir: Path | str) -> np.ndarray:
    """``poses_bounds [N, 17]`` (LLFF layout, images in sorted-name order) from a COLMAP model.

    One shared camera with one focal length and the principal point at the image centre (LLFF stores
    only ``H, W, f``): a PINHOLE camera whose ``fx, fy`` differ by more than 0.5% or whose principal
    point is more than a pixel off centre is an error; a model with distortion parameters is
    converted with a warning (LLFF ignores distortion: undistort first, as ``prepare`` does).
    """
    import pycolmap

    model = pycolmap.Reconstruction(str(model_dir))
    if len(model.cameras) != 1:
        raise DataError(f"{model_dir}: {len(model.cameras)} cameras; LLFF needs one shared camera")
    camera = next(iter(model.cameras.values()))
    name = camera.model.name
    if name == "PINHOLE":
        fx, fy, cx, cy = camera.params
        if abs(fx / fy - 1) > 5e-3 or abs(cx - camera.width / 2) > 1 or abs(cy - camera.height / 2) > 1:
            raise DataError(f"{model_dir}: PINHOLE camera fx {fx:.2f}, fy {fy:.2f}, cx {cx:.1f}, cy {cy:.1f} of a "
                            f"{camera.width}x{camera.height} image: LLFF needs fx = fy and the principal point at "
                            "the centre; use the nerfstudio layout (per-frame fl_x, fl_y, cx, cy) instead")
    elif name not in PINHOLE_LIKE:
        warnings.warn(f"{model_dir}: camera model {name} has lens distortion ({camera.params_to_string()}); the LLFF "
                      "layout ignores it: undistort first (pycolmap.undistort_images, or depthnerf prepare)",
                      stacklevel=2)
    xyz = {pid: p.xyz for pid, p in model.points3D.items()}
    rows = []
    for image in sorted(model.images.values(), key=lambda im: im.name):
        w2c = image.cam_from_world().matrix()
        R, t = w2c[:, :3], w2c[:, 3]
        c2w = np.c_[R.T, -R.T @ t]
        llff = np.c_[c2w[:, 1], c2w[:, 0], -c2w[:, 2], c2w[:, 3], [camera.height, camera.width, camera.params[0]]]
        points = np.array([xyz[p.point3D_id] for p in image.points2D if p.has_point3D()])
        if len(points) == 0:
            raise DataError(f"{model_dir}: image {image.name} observes no 3D point; cannot bound its depth")
        z = (points @ R.T + t)[:, 2]
        rows.append(np.r_[llff.ravel(), np.percentile(z, 0.1), np.percentile(z, 99.9)])
    return np.array(rows)


# %% Experiments/custom_scenes.ipynb · cell c32
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")


def fit_size(W: int, H: int, max_size: int | None) -> tuple[int, int]:
    """``(w, h)``: ``W x H`` scaled down (never up) so that its longer side is at most ``max_size``.

    >>> fit_size(1280, 720, 320), fit_size(640, 480, None), fit_size(100, 50, 400)
    ((320, 180), (640, 480), (100, 50))
    """
    if max_size is None or max(W, H) <= max_size:
        return W, H
    scale = max_size / max(W, H)
    return max(1, round(W * scale)), max(1, round(H * scale))


def _write_frame(rgb: np.ndarray, path: Path, max_size: int | None) -> Path:
    """Write an 8-bit ``[H,W,3]`` frame as PNG, resized (Lanczos) to fit ``max_size``."""
    image = Image.fromarray(rgb)
    size = fit_size(image.width, image.height, max_size)
    if size != image.size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    image.save(path)
    return path


def video_frames(video: Path | str, out_dir: Path | str, every: int = 10, max_size: int | None = None) -> list[Path]:
    """Every ``every``-th frame of ``video`` (the first one included), decoded by ffmpeg (imageio-ffmpeg),
    written as ``out_dir/frame_<index>.png`` (``index``: the frame's number in the video)."""
    import imageio_ffmpeg

    if int(every) != every or every < 1:
        raise ValueError(f"every must be a positive integer, got {every}")
    video, out_dir = Path(video), Path(out_dir)
    if not video.is_file():
        raise DataError(f"{video}: video file not found")
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        reader = imageio_ffmpeg.read_frames(str(video))
        W, H = next(reader)["size"]
        written = [_write_frame(np.frombuffer(raw, np.uint8).reshape(H, W, 3), out_dir / f"frame_{k:05d}.png",
                                max_size) for k, raw in enumerate(reader) if k % every == 0]
    except (OSError, RuntimeError, StopIteration) as err:
        raise DataError(f"{video}: ffmpeg cannot read it ({type(err).__name__}: {err})") from err
    if not written:
        raise DataError(f"{video}: holds no video frame")
    return written


def photo_frames(folder: Path | str, out_dir: Path | str, max_size: int | None = None) -> list[Path]:
    """The photos of ``folder`` (PNG/JPEG, sorted by name; one camera, so all of one size) as 8-bit RGB
    PNGs ``out_dir/<stem>.png`` fitted to ``max_size``."""
    folder, out_dir = Path(folder), Path(out_dir)
    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES) if folder.is_dir() else []
    if len(photos) < 2:
        raise DataError(f"{folder}: needs at least 2 photos (PNG or JPEG), found {len(photos)}")
    if len({p.stem for p in photos}) != len(photos):
        raise DataError(f"{folder}: two photos share a name ({[p.name for p in photos][:4]}...); rename one")
    out_dir.mkdir(parents=True, exist_ok=True)
    written, first = [], None
    for photo in photos:
        image = read_image(photo)
        if first is not None and image.shape[:2] != first:
            raise DataError(f"{photo}: is {image.shape[1]}x{image.shape[0]} but {photos[0].name} is {first[1]}x{first[0]}; "
                            "prepare assumes one camera: give photos of one size")
        first = image.shape[:2]
        rgb = np.repeat(image, 3, -1) if image.shape[-1] == 1 else image[..., :3]
        written.append(_write_frame(np.round(rgb * 255).astype(np.uint8), out_dir / f"{photo.stem}.png", max_size))
    return written


# %% Experiments/custom_scenes.ipynb · cell c33
MATCHERS = ("exhaustive", "sequential")


def reconstruct(frames_dir: Path | str, work_dir: Path | str, camera_model: str = "SIMPLE_RADIAL",
                matcher: str = "exhaustive", threads: int | None = None, seed: int = 0) -> tuple[Path, dict]:
    """Structure from motion with pycolmap: SIFT features of every frame (one shared camera of
    ``camera_model``, its intrinsics estimated), ``matcher`` matching (every pair, or neighbours in
    order: a video's), incremental mapping. Writes ``work_dir/database.db`` and the largest model to
    ``work_dir/model``; returns that folder and its statistics. Fewer than 3 registered frames is an error."""
    import pycolmap

    if matcher not in MATCHERS:
        raise ValueError(f"matcher = {matcher!r}: choose one of {MATCHERS}")
    frames_dir, work_dir = Path(frames_dir), Path(work_dir)
    names = sorted(p.name for p in frames_dir.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
    database = work_dir / "database.db"
    database.unlink(missing_ok=True)
    shutil.rmtree(work_dir / "models", ignore_errors=True)
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = camera_model
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.num_threads = threads or -1
    options = pycolmap.IncrementalPipelineOptions()
    options.num_threads, options.random_seed = threads or -1, seed
    level, pycolmap.logging.minloglevel = pycolmap.logging.minloglevel, 2  # COLMAP's INFO lines: off
    seconds = {}
    try:
        start = time.perf_counter()
        pycolmap.extract_features(database, frames_dir, image_names=names, camera_mode=pycolmap.CameraMode.SINGLE,
                                  reader_options=reader, extraction_options=extraction)
        seconds["features"] = time.perf_counter() - start
        start = time.perf_counter()
        (pycolmap.match_sequential if matcher == "sequential" else pycolmap.match_exhaustive)(database)
        seconds["matching"] = time.perf_counter() - start
        start = time.perf_counter()
        models = pycolmap.incremental_mapping(database, frames_dir, work_dir / "models", options)
        seconds["mapping"] = time.perf_counter() - start
    finally:
        pycolmap.logging.minloglevel = level
    if not models:
        raise DataError(f"{frames_dir}: COLMAP could not reconstruct the {len(names)} frames (too little overlap or "
                        "texture between them: take more, closer views, or keep more video frames)")
    model = max(models.values(), key=lambda m: m.num_reg_images())
    registered = sorted(im.name for im in model.images.values())
    if len(registered) < 3:
        raise DataError(f"{frames_dir}: COLMAP registered only {registered}; at least 3 frames are needed")
    (work_dir / "model").mkdir(parents=True, exist_ok=True)
    model.write(work_dir / "model")
    camera = next(iter(model.cameras.values()))
    return work_dir / "model", {
        "frames": len(names), "registered": len(registered), "unregistered": sorted(set(names) - set(registered)),
        "models": len(models), "points": model.num_points3D(),
        "mean_reprojection_error_px": model.compute_mean_reprojection_error(),
        "camera": f"{camera.model.name} {camera.width}x{camera.height} ({camera.params_to_string()})",
        "seconds": seconds}


def prepare(source: Path | str, out: Path | str, every: int = 10, max_size: int | None = 1600,
            camera_model: str = "SIMPLE_RADIAL", matcher: str | None = None, threads: int | None = None,
            seed: int = 0) -> dict:
    """Photos (a folder) or a video (a file) -> an LLFF scene ``out`` that ``load_dataset`` reads:
    ``images/`` (undistorted, registered frames), ``sparse/0`` (the undistorted COLMAP model: sparse depth
    with ``sparse_depth="colmap"``), ``poses_bounds.npy``; COLMAP's work in ``out/colmap`` and the
    statistics in ``out/prepare.json`` (returned). ``every``: keep every k-th video frame; ``max_size``:
    longest image side; ``matcher``: default ``sequential`` for a video, ``exhaustive`` for photos.
    Frames COLMAP could not register are left out and listed in the statistics."""
    import pycolmap

    source, out = Path(source), Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out}: exists and is not empty; give a new folder")
    start = time.perf_counter()
    frames_dir = out / "colmap" / "frames"
    is_video = source.is_file() and source.suffix.lower() in VIDEO_SUFFIXES
    if is_video:
        video_frames(source, frames_dir, every, max_size)
    elif source.is_dir():
        photo_frames(source, frames_dir, max_size)
    else:
        raise DataError(f"{source}: neither a folder of photos nor a video ({', '.join(VIDEO_SUFFIXES)})")
    model_dir, stats = reconstruct(frames_dir, out / "colmap", camera_model,
                                   matcher or ("sequential" if is_video else "exhaustive"), threads, seed)
    undistorted = out / "colmap" / "undistorted"
    level, pycolmap.logging.minloglevel = pycolmap.logging.minloglevel, 2
    try:
        pycolmap.undistort_images(undistorted, model_dir, frames_dir)
    finally:
        pycolmap.logging.minloglevel = level
    shutil.move(undistorted / "images", out / "images")
    (out / "sparse").mkdir()
    shutil.move(undistorted / "sparse", out / "sparse" / "0")
    shutil.rmtree(undistorted)
    np.save(out / "poses_bounds.npy", colmap_to_poses_bounds(out / "sparse" / "0"))
    stats = {"source": str(source), "video_every": every if is_video else None, "max_size": max_size, **stats,
             "total_seconds": time.perf_counter() - start}
    atomic_json(out / "prepare.json", stats)
    return stats


# %% Experiments/custom_scenes.ipynb · cell c34
def similarity_transform(source: np.ndarray, target: np.ndarray,
                         rotation: np.ndarray | None = None) -> tuple[float, np.ndarray, np.ndarray]:
    """``(s, R, t)`` minimising ``sum |s R x_i + t - y_i|^2`` for points ``source [N,3]``, ``target [N,3]``
    (Umeyama 1991: SVD of the cross-covariance, a reflection excluded); with ``rotation`` given, only
    ``s`` and ``t`` are fitted (``s = sum (R x~_i) . y~_i / sum |x~_i|^2`` on the centred points).

    >>> x = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    >>> R = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
    >>> s, R_found, t = similarity_transform(x, 2 * x @ R.T + [1, 2, 3])
    >>> round(s, 6), np.allclose(R_found, R), np.round(t, 6).tolist()
    (2.0, True, [1.0, 2.0, 3.0])
    """
    mu_x, mu_y = source.mean(0), target.mean(0)
    x, y = source - mu_x, target - mu_y
    if rotation is None:
        U, S, Vt = np.linalg.svd(y.T @ x / len(x))
        sign = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
        rotation = U @ sign @ Vt
        s = float(np.trace(np.diag(S) @ sign) / (x ** 2).sum(1).mean())
    else:
        s = float(np.einsum("ni,ni->", x @ rotation.T, y) / (x ** 2).sum())
    return s, rotation, mu_y - s * rotation @ mu_x


def rotation_alignment(rotations: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The rotation ``R`` that best maps camera orientations ``rotations [N,3,3]`` onto ``reference [N,3,3]``
    (``R R_i ~ R_ref_i``; the chordal mean of ``R_ref_i R_i^T``, projected on the rotations by SVD)."""
    U, _, Vt = np.linalg.svd(np.einsum("nij,nkj->ik", reference, rotations))
    return U @ np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))]) @ Vt


def pose_errors(poses: np.ndarray, reference: np.ndarray) -> dict:
    """How far camera-to-world ``poses [N,4,4]`` are from ``reference [N,4,4]`` (the same cameras, the same
    axes convention) after the similarity that best aligns them: its rotation from the orientations
    (:func:`rotation_alignment`; cameras walked along a line leave the rotation about that line
    undetermined by their centres), its scale and translation from the centres
    (:func:`similarity_transform`). Per camera: ``rotation_deg`` (angle of ``R_ref^T R R_i``), ``centre``
    (reference units) and ``centre_relative`` (over the reference cameras' ``spread``, the RMS distance
    of their centres to their mean)."""
    R = rotation_alignment(poses[:, :3, :3], reference[:, :3, :3])
    s, R, t = similarity_transform(poses[:, :3, 3], reference[:, :3, 3], R)
    cos = (np.einsum("nji,nji->n", reference[:, :3, :3], R @ poses[:, :3, :3]) - 1) / 2
    centre = np.linalg.norm(s * poses[:, :3, 3] @ R.T + t - reference[:, :3, 3], axis=1)
    spread = float(np.sqrt(((reference[:, :3, 3] - reference[:, :3, 3].mean(0)) ** 2).sum(1).mean()))
    return {"rotation_deg": np.degrees(np.arccos(np.clip(cos, -1, 1))), "centre": centre,
            "centre_relative": centre / spread, "scale": s, "spread": spread}
