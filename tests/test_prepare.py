"""`prepare`: photos or a video -> frames -> pycolmap (features, matching, mapping, undistortion) -> an
LLFF scene that load_dataset reads with sparse depth; the poses are checked against the poster scene's
shipped poses after a similarity alignment. Tolerances: over runs here the largest rotation error was
0.46-0.63 deg and the largest centre error 2.3-3.6% of the cameras' spread at 320 px (photos and
video), so 1.5 deg and 6%. (At 640 px this nearly planar scene fails: see Experiments/custom_scenes.)"""
import shutil
from pathlib import Path

import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from depthnerf.datasets import load_dataset
from depthnerf.env import available_datasets
from depthnerf.llff import llff_to_opengl
from depthnerf.prepare import photo_frames, pose_errors, prepare, similarity_transform, video_frames
from depthnerf.scene import DataError
from tools.export_notebooks import ROOT

POSTER = available_datasets(ROOT)["dsnerf_poster_less"]
needs_poster = pytest.mark.skipif(POSTER is None, reason="dsnerf_poster_less not found in data/ or ../shared/data/")
MAX_ROTATION_DEG, MAX_CENTRE_RELATIVE = 1.5, 0.06
SIZE = 320  # longest side of the frames COLMAP sees: 320 x 180 from the 1280 x 720 photographs


def write_video(path, frames, fps=10):
    H, W = frames[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(str(path), (W, H), fps=fps, quality=9, macro_block_size=2)
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame))
    writer.close()


def test_video_frames_keeps_every_kth_frame_from_the_first(tmp_path):
    frames = [np.full((48, 64, 3), 20 + 10 * k, np.uint8) for k in range(20)]
    write_video(tmp_path / "v.mp4", frames)
    written = video_frames(tmp_path / "v.mp4", tmp_path / "out", every=6, max_size=32)
    assert [p.name for p in written] == [f"frame_{k:05d}.png" for k in (0, 6, 12, 18)]
    for path, k in zip(written, (0, 6, 12, 18)):
        image = iio.imread(path)
        assert image.shape == (24, 32, 3) and abs(float(image.mean()) - (20 + 10 * k)) < 4
    with pytest.raises(DataError, match="video file not found"):
        video_frames(tmp_path / "missing.mp4", tmp_path / "out")


def test_photos_of_two_sizes_are_refused(tmp_path):
    (tmp_path / "photos").mkdir()
    rng = np.random.default_rng(0)
    iio.imwrite(tmp_path / "photos" / "a.png", rng.integers(0, 255, (20, 30, 3), np.uint8))
    iio.imwrite(tmp_path / "photos" / "b.png", rng.integers(0, 255, (30, 20, 3), np.uint8))
    with pytest.raises(DataError, match="b.png: is 20x30 but a.png is 30x20"):
        photo_frames(tmp_path / "photos", tmp_path / "out")


def test_pose_errors_see_through_a_similarity_and_find_a_perturbed_camera():
    rng = np.random.default_rng(0)
    reference = np.tile(np.eye(4), (6, 1, 1))
    reference[:, :3, :3] = Rotation.random(6, random_state=1).as_matrix()
    reference[:, :3, 3] = rng.normal(size=(6, 3))
    R, s, t = Rotation.random(random_state=2).as_matrix(), 0.3, np.array([1.0, -2.0, 0.5])
    moved = reference.copy()  # the same cameras in another frame: x' = (R^T (x - t)) / s
    moved[:, :3, :3] = R.T @ reference[:, :3, :3]
    moved[:, :3, 3] = (reference[:, :3, 3] - t) @ R / s
    errors = pose_errors(moved, reference)
    assert errors["rotation_deg"].max() < 1e-5 and errors["centre"].max() < 1e-9
    assert errors["scale"] == pytest.approx(s)
    moved[2, :3, :3] = Rotation.from_euler("x", 2.0, degrees=True).as_matrix() @ moved[2, :3, :3]
    errors = pose_errors(moved, reference)
    assert errors["rotation_deg"].argmax() == 2 and 1.5 < errors["rotation_deg"][2] < 2.01
    s_found, R_found, t_found = similarity_transform(moved[:, :3, 3], reference[:, :3, 3])
    assert np.allclose(R_found, R) and s_found == pytest.approx(s) and np.allclose(t_found, t)


def compare_with_shipped(out, names_of_shipped_rows) -> dict:
    shipped = np.load(f"{POSTER}/poses_bounds.npy")
    ours = llff_to_opengl(np.load(out / "poses_bounds.npy"))[0]
    return pose_errors(ours, llff_to_opengl(shipped[names_of_shipped_rows])[0])


@pytest.mark.data
@needs_poster
def test_prepare_from_photos_gives_the_shipped_poses_and_sparse_depth(tmp_path):
    stats = prepare(f"{POSTER}/images", tmp_path / "scene", max_size=SIZE, threads=2)
    assert stats["registered"] == stats["frames"] == 14 and stats["unregistered"] == []
    assert stats["mean_reprojection_error_px"] < 1.0 and stats["points"] > 300
    names = sorted(p.name for p in (tmp_path / "scene" / "images").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "scene" / "colmap" / "frames").iterdir())
    errors = compare_with_shipped(tmp_path / "scene", list(range(14)))
    assert errors["rotation_deg"].max() < MAX_ROTATION_DEG, errors["rotation_deg"]
    assert errors["centre_relative"].max() < MAX_CENTRE_RELATIVE, errors["centre_relative"]
    train = load_dataset(tmp_path / "scene", "train", 1, sparse_depth="colmap")
    assert len(train) == 12 and max(train.H, train.W) <= SIZE
    assert (train.depth_mask.sum(axis=(1, 2)) > 100).all()
    assert (train.depth[train.depth_mask] >= train.near).mean() > 0.99  # the points lie inside the bounds
    with pytest.raises(FileExistsError):
        prepare(f"{POSTER}/images", tmp_path / "scene")


@pytest.mark.data
@needs_poster
def test_prepare_from_a_video_with_sequential_matching(tmp_path):
    frames = []
    for path in sorted(Path(POSTER, "images").iterdir()):
        small = iio.imread(path)[::4, ::4, :3]  # 320 x 180
        frames += [small, small]  # each photograph twice: every=2 keeps one of each
    write_video(tmp_path / "walk.mp4", frames)
    stats = prepare(tmp_path / "walk.mp4", tmp_path / "scene", every=2, max_size=SIZE, threads=2)
    assert stats["frames"] == 14 and stats["registered"] >= 12 and stats["video_every"] == 2
    kept = sorted(p.name for p in (tmp_path / "scene" / "images").iterdir())
    rows = [int(name[len("frame_"):-len(".png")]) // 2 for name in kept]
    errors = compare_with_shipped(tmp_path / "scene", rows)
    assert errors["rotation_deg"].max() < MAX_ROTATION_DEG, errors["rotation_deg"]
    assert errors["centre_relative"].max() < MAX_CENTRE_RELATIVE, errors["centre_relative"]
    shutil.rmtree(tmp_path / "scene" / "colmap")  # the scene does not need COLMAP's work files
    assert len(load_dataset(tmp_path / "scene", "test", 1)) >= 2
