"""Rendering: camera paths with known geometry, videos read back, depth masked by opacity on one range, labels and
colorbar of the comparison video, the test-view stills, and a tiny model along a path."""
import imageio.v3 as iio
import numpy as np
import pytest

from depthnerf import figures, render
from depthnerf.cameras import average_pose, look_at
from depthnerf.config import TrainConfig
from depthnerf.datasets import load_dataset
from depthnerf.runs import load_run
from depthnerf.trainer import train


def test_orbit_looks_at_the_centre_on_the_cameras_circle():
    scene = load_dataset("embedded", "train", downscale=8, max_views=16)
    assert not render.is_forward_facing(scene.poses)
    path = render.camera_path(scene, 12)
    eyes = path[:, :3, 3].astype(np.float64)
    radius = np.median(np.linalg.norm(scene.poses[:, :3, 3], axis=1))
    np.testing.assert_allclose(np.linalg.norm(eyes, axis=1), radius, rtol=1e-5)  # embedded cameras: 4.0
    view_axes = -path[:, :3, 2]
    np.testing.assert_allclose(view_axes, -eyes / np.linalg.norm(eyes, axis=1, keepdims=True), atol=1e-5)
    elevation = np.median(np.arcsin(scene.poses[:, 2, 3] / np.linalg.norm(scene.poses[:, :3, 3], axis=1)))
    np.testing.assert_allclose(eyes[:, 2], radius * np.sin(elevation), atol=1e-5)  # z is up
    azimuth = np.unwrap(np.arctan2(eyes[:, 1], eyes[:, 0]))
    np.testing.assert_allclose(np.abs(np.diff(azimuth)), 2 * np.pi / 12, atol=1e-5)  # a full turn, evenly
    np.testing.assert_allclose(path[:, :3, :3] @ path[:, :3, :3].transpose(0, 2, 1), np.eye(3)[None].repeat(12, 0),
                               atol=1e-5)


def test_spiral_stays_near_the_average_pose_of_a_forward_facing_rig():
    rng = np.random.default_rng(0)
    eyes = np.stack([rng.uniform(-0.3, 0.3, 20), rng.uniform(-0.2, 0.2, 20), 3 + rng.uniform(-0.1, 0.1, 20)], -1)
    rig = np.stack([look_at(eye, target=(0.0, 0.0, -2.0), up=(0.0, 1.0, 0.0)) for eye in eyes])
    assert render.is_forward_facing(rig)
    path = render.camera_path(type("Scene", (), {"poses": rig, "near": 1.0, "far": 8.0})(), 30)
    center = average_pose(rig)
    offsets = (path[:, :3, 3] - center[:3, 3]) @ center[:3, :3]
    limit = np.percentile(np.abs((eyes - center[:3, 3]) @ center[:3, :3]), 90, axis=0)
    assert np.all(np.abs(offsets) <= limit + 1e-5), "inside the rig's spread"
    assert np.ptp(offsets[:, 0]) > limit[0], "and it moves"
    cos_to_average_axis = -path[:, :3, 2] @ -center[:3, 2]
    assert np.all(cos_to_average_axis > np.cos(np.radians(10)))


def test_videos_read_back_with_their_frames_and_size(tmp_path):
    frames = np.stack([np.full((9, 11, 3), 40 * k, np.uint8) for k in range(4)])
    gif = iio.imread(render.write_gif(tmp_path / "a.gif", frames), index=None)
    mp4 = iio.imread(render.write_mp4(tmp_path / "a.mp4", frames), index=None)
    assert gif.shape == (4, 9, 11, 3) and np.array_equal(gif[:, 0, 0, 0], [0, 40, 80, 120])
    assert mp4.shape == (4, 10, 12, 3), "odd sizes padded to even for yuv420p"
    assert np.all(np.abs(mp4[:, 4, 5, 0].astype(int) - [0, 40, 80, 120]) <= 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif", "a.mp4"], "no temporary files left"


def test_depth_colours_share_one_range_across_strategies():
    near_only = {"depth": np.full((1, 2, 2), 2.0), "acc": np.ones((1, 2, 2))}
    far_only = {"depth": np.full((1, 2, 2), 5.0), "acc": np.ones((1, 2, 2))}
    lo, hi = render.depth_range({"a": near_only, "b": far_only}, 1.0, 9.0)
    assert (lo, hi) == (2.0, 5.0), "one range spanning both strategies"
    assert not np.array_equal(render.colorize_depth(near_only["depth"], lo, hi),
                              render.colorize_depth(far_only["depth"], lo, hi))
    assert render.depth_range({"a": {"depth": np.ones(3), "acc": np.zeros(3)}}, 1.0, 9.0) == (1.0, 9.0)


def test_side_by_side_labels_each_column():
    frames = np.zeros((2, 10, 20, 3), np.uint8) + 128
    tiled = render.side_by_side({"baseline": [frames, frames], "soft": [frames, frames]}, min_width=40)
    assert render.banner_height(40) == 20 and tiled.shape == (2, 20 + 2 * 10 * 2, 2 * 40 + 2, 3)
    banner = tiled[0, :20]
    assert banner.min() < 100 and banner.max() == 255, "dark text on a white banner"


def test_comparison_video_keeps_native_tiles_with_legible_labels_and_a_depth_colorbar():
    frames = np.zeros((1, 200, 200, 3), np.uint8) + 128
    bar = render.depth_colorbar(200, 3.0, 5.0)
    tiled = render.side_by_side({"baseline": [frames, frames], "soft": [frames, frames]}, min_width=0, colorbar=bar)
    banner = render.banner_height(200)
    assert banner == 28 and tiled.shape == (1, banner + 400, 2 * 200 + 2 + bar.shape[1], 3), "no upscaling"
    text_rows = np.flatnonzero((tiled[0, :banner, :200] < 100).any(axis=(1, 2)))
    assert text_rows.max() - text_rows.min() >= 12, "label glyphs at least 12 px tall (Pillow's default is ~8)"
    strip = tiled[0, :, 402:]
    assert (strip[:banner + 200] == 255).all(), "the colorbar sits beside the depth row, not the colour row"
    top, bottom = strip[banner + 200 + 20, 10], strip[banner + 400 - 20, 10]  # inside the bar: hi on top, lo below
    lut = (np.array([figures.depth_colors(np.array([v]), None, 3.0, 5.0)[0] for v in np.linspace(3, 5, 101)]) * 255)
    assert np.abs(lut - top).sum(1).argmin() > 80 and np.abs(lut - bottom).sum(1).argmin() < 20
    assert (bar < 100).all(axis=-1).sum() > 200, "tick labels and the units are written"


def test_video_depth_is_grey_where_nothing_is_rendered():
    depth = np.full((1, 2, 2), 4.0)
    acc = np.array([[[1.0, 0.0], [0.6, 0.4]]])
    colors = render.colorize_depth(depth, 3.0, 5.0, acc=acc)
    grey = np.round(np.asarray(figures.NO_SURFACE) * 255)
    assert (colors[0, 0, 1] == grey).all() and (colors[0, 1, 1] == grey).all()
    assert not (colors[0, 0, 0] == grey).all() and (colors[0, 0, 0] == colors[0, 1, 0]).all()
    assert (render.colorize_depth(depth, 3.0, 5.0) == colors[0, 0, 0]).all(), "without acc: every pixel coloured"


def test_video_settings_render_the_embedded_scene_at_native_resolution_within_the_profiles_budget():
    assert render.video_settings(200, 2, 40) == (1, 16)   # quick: 100 px upscaled before, now 200 px tiles
    assert render.video_settings(800, 2, 40) == (2, 40)   # lego at 400 px: already wide enough
    assert render.video_settings(200, 8, 3) == (8, 3)     # smoke: a code check, kept cheap
    assert render.video_settings(4032, 8, 120) == (8, 120)


def test_differing_crop_finds_where_the_images_disagree():
    rng = np.random.default_rng(0)
    base = rng.uniform(size=(40, 40, 3))
    other = base.copy()
    other[22:30, 5:13] = 1 - other[22:30, 5:13]
    row, col = render.differing_crop([base, other, base], 10)
    assert 20 <= row <= 22 and 3 <= col <= 5


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results") / "baseline"
    scene = load_dataset("embedded", "train", downscale=8, max_views=4)
    config = TrainConfig(iterations=20, batch_rays=256, n_samples=32, sampler="stratified",
                         field_params={"resolution": 24}, checkpoint_every=20)
    train(scene, config, out, progress=False)
    return load_run(out), scene


def test_a_tiny_model_renders_a_three_frame_path_to_videos(tiny_run, tmp_path):
    run, scene = tiny_run
    path = render.camera_path(scene, 3)
    frames = render.render_path(run, path, scene.intrinsics[0], scene.H, scene.W, scene.background, progress=False)
    assert frames["rgb"].shape == (3, 25, 25, 3) and frames["depth"].shape == (3, 25, 25)
    assert frames["acc"].shape == frames["depth_normalized"].shape == (3, 25, 25)
    lo, hi = render.depth_range({"baseline": frames}, scene.near, scene.far)
    written = render.write_strategy_videos(frames, tmp_path / "renders", lo, hi)
    assert sorted(written) == ["acc.npy", "depth.gif", "depth.mp4", "depth.npy", "rgb.gif", "rgb.mp4"]
    for name in ("rgb.mp4", "depth.mp4"):
        assert iio.imread(written[name], index=None).shape == (3, 26, 26, 3)
    for name in ("rgb.gif", "depth.gif"):
        assert iio.imread(written[name], index=None).shape[1:] == (25, 25, 3)
    shown = np.load(written["depth.npy"])
    np.testing.assert_allclose(shown, np.where(frames["acc"] > 0.5, frames["depth_normalized"], frames["depth"]), rtol=1e-6)
    np.testing.assert_array_equal(np.load(written["acc.npy"]), frames["acc"].astype(np.float32))
    first = iio.imread(written["depth.gif"], index=0)[..., :3]  # (a GIF may merge identical frames)
    empty = frames["acc"][0] <= 0.5
    assert empty.any(), "20 steps: the background at least renders transparent"
    grey = np.round(np.asarray(figures.NO_SURFACE) * 255)
    assert np.abs(first[empty].astype(int) - grey).max() <= 8, "the predicted background: grey, not the colour of 'nearest'"


def test_the_video_appearance_mask_changes_colours_by_little_and_depth_not_at_all(tiny_run):
    run, scene = tiny_run
    pose = scene.poses[1:2]
    exact = render.render_path(run, pose, scene.intrinsics[1], scene.H, scene.W, scene.background, progress=False)
    masked = render.render_path(run, pose, scene.intrinsics[1], scene.H, scene.W, scene.background, progress=False,
                                color_threshold=render.VIDEO_COLOR_THRESHOLD)
    np.testing.assert_allclose(masked["depth"], exact["depth"], atol=1e-5)
    np.testing.assert_allclose(masked["acc"], exact["acc"], atol=1e-6)
    assert np.abs(masked["rgb"] - exact["rgb"]).max() <= 32 * render.VIDEO_COLOR_THRESHOLD + 1e-6  # samples x threshold


def test_test_view_stills_are_written(tiny_run, tmp_path):
    run, _ = tiny_run
    test = load_dataset("embedded", "test", downscale=8, max_views=1)
    views = {"baseline": run.render_views(test, [0]), "copy": run.render_views(test, [0])}
    lo, hi = figures.scene_depth_range(test)
    paths = render.plot_test_view(test, views, tmp_path / "comparison.png", tmp_path / "depth_comparison.png", lo, hi)
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)


def test_path_renderer_matches_the_view_renderer_at_a_dataset_pose(tiny_run):
    run, scene = tiny_run
    frames = render.render_path(run, scene.poses[2:3], scene.intrinsics[2], scene.H, scene.W, scene.background,
                                chunk=100, progress=False)
    views = run.render_views(scene, [2])
    np.testing.assert_allclose(frames["rgb"][0], np.clip(views["rgb"][0], 0, 1), atol=1e-5)
    np.testing.assert_allclose(frames["depth"][0], views["depth"][0], atol=1e-4)
