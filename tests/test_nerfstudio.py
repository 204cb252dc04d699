"""The nerfstudio loader (depthnerf.nerfstudio): a scene written in nerfstudio's layout loads back to the
same SceneData; OPENCV and OPENCV_FISHEYE images are undistorted so that points land where the pinhole
camera of the result sees them; splits, bounds, applied_transform and every refusal behave as documented."""
import json
import math
from dataclasses import replace

import cv2
import imageio.v3 as iio
import numpy as np
import pytest

from depthnerf.cameras import ray_depth_to_z_depth
from depthnerf.datasets import load_dataset
from depthnerf.embedded import EMBEDDED_SCENE_BOX
from depthnerf.nerfstudio import (is_nerfstudio_scene, load_nerfstudio, read_transforms, scene_bounds,
                                  write_nerfstudio)
from depthnerf.scene import DataError


@pytest.fixture(scope="module")
def embedded_splits():
    """The embedded scene at 25x25: 4 train, 2 val, 2 test views (RGBA, dense ray depth)."""
    return {split: load_dataset("embedded", split, 8, max_views=n) for split, n in
            (("train", 4), ("val", 2), ("test", 2))}


def test_a_written_scene_loads_back_the_same(tmp_path, embedded_splits):
    write_nerfstudio(tmp_path, embedded_splits)
    assert is_nerfstudio_scene(tmp_path)
    for split, original in embedded_splits.items():
        loaded = load_nerfstudio(tmp_path, split)
        assert len(loaded) == len(original) and (loaded.H, loaded.W) == (25, 25)
        np.testing.assert_array_equal(loaded.poses, original.poses)
        np.testing.assert_allclose(loaded.intrinsics, original.intrinsics, rtol=1e-6)
        # RGBA re-composited on white: 8-bit colour and alpha each add at most half a level
        assert np.abs(loaded.images - original.images).max() <= 1.0 / 255 + 1e-6
        assert np.abs(loaded.alphas - original.alphas).max() <= 0.5 / 255 + 1e-6
        assert (loaded.depth_mask == original.depth_mask).all()
        # 16-bit z-depth in mm: 0.5 mm rounding of z, a little more along oblique rays
        assert np.abs(loaded.depth - original.depth)[original.depth_mask].max() < 0.6e-3
    near, far, box, rule = scene_bounds(read_transforms(tmp_path))
    assert rule == "depth"
    train = embedded_splits["train"]
    t = train.depth[train.depth_mask]
    assert near == pytest.approx(0.9 * t.min(), rel=1e-3) and far == pytest.approx(1.1 * t.max(), rel=1e-3)
    assert (box[0] <= EMBEDDED_SCENE_BOX[0]).all() and (box[1] >= EMBEDDED_SCENE_BOX[1]).all()
    assert (box[1] - box[0]).max() < 1.3 * (EMBEDDED_SCENE_BOX[1] - EMBEDDED_SCENE_BOX[0]).max()
    assert load_nerfstudio(tmp_path, "test").near == near  # one set of bounds whichever split is loaded


def test_without_depth_the_bounds_come_from_the_cameras(tmp_path, embedded_splits):
    no_depth = {s: replace(d, depth=None, depth_mask=None) for s, d in embedded_splits.items()}
    write_nerfstudio(tmp_path, no_depth)
    data = load_nerfstudio(tmp_path, "train")
    assert data.depth is None
    near, far, box, rule = scene_bounds(read_transforms(tmp_path))
    assert rule == "cameras"
    # the embedded cameras orbit the origin at 4 units: the cube of half-side 2 around it, ray depths spanning it
    np.testing.assert_allclose(box, [[-2.0] * 3, [2.0] * 3], atol=1e-3)
    assert near == pytest.approx(4 - 2 * math.sqrt(3), abs=1e-3) and far == pytest.approx(4 + 2 * math.sqrt(3), abs=1e-3)


# ------------------------------------------------------------------ a small scene written by hand
K_FILE = np.array([[60.0, 0.0, 41.0], [0.0, 62.0, 29.5], [0.0, 0.0, 1.0]])  # an 80 x 60 camera
BLOBS = [(a, b) for a in (-0.4, 0.0, 0.4) for b in (-0.3, 0.0, 0.3)]  # normalised image coordinates
SIGMA = 0.025  # of each blob, in normalised coordinates (about 1.5 px)
PLANE_Z = 3.0  # the depth: a plane at camera z-depth 3


def distorted_blobs(model: str, D: np.ndarray) -> np.ndarray:
    """An 80x60 grey image of Gaussian blobs at ``BLOBS`` as the distorted camera (K_FILE, D) sees them."""
    row, col = np.mgrid[0:60, 0:80].astype(np.float64)
    pixels = np.stack([col.ravel(), row.ravel()], -1)[:, None]  # OpenCV coordinates: pixel centre at 0
    K_cv = K_FILE.copy()
    K_cv[:2, 2] -= 0.5
    undistort = cv2.fisheye.undistortPoints if model == "OPENCV_FISHEYE" else cv2.undistortPoints
    ab = undistort(pixels, K_cv, D)[:, 0]
    value = sum(np.exp(-((ab[:, 0] - a) ** 2 + (ab[:, 1] - b) ** 2) / (2 * SIGMA ** 2)) for a, b in BLOBS)
    return value.reshape(60, 80)


def write_scene(folder, meta: dict, frames: list[dict], images: list[np.ndarray], depths=None) -> None:
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for k, (frame, image) in enumerate(zip(frames, images)):
        frame.setdefault("file_path", f"images/{k:03d}.png")
        iio.imwrite(folder / frame["file_path"], np.round(np.clip(image, 0, 1) * 255).astype(np.uint8))
        if depths is not None:
            frame["depth_file_path"] = f"images/{k:03d}_depth.png"
            iio.imwrite(folder / frame["depth_file_path"], np.round(depths[k] * 1000).astype(np.uint16))
    (folder / "transforms.json").write_text(json.dumps({**meta, "frames": frames}))


def one_camera_meta(**camera) -> dict:
    """A camera at the origin looking down -z at a box around (0, 0, -3); the bounds are given."""
    return {"fl_x": K_FILE[0, 0], "fl_y": K_FILE[1, 1], "cx": K_FILE[0, 2], "cy": K_FILE[1, 2], "w": 80, "h": 60,
            "near": 1.0, "far": 5.0, "scene_box": [[-2.0, -2.0, -4.0], [2.0, 2.0, -2.0]],
            "train_filenames": ["images/000.png"], "test_filenames": ["images/000.png"],
            "val_filenames": ["images/000.png"], **camera}


@pytest.mark.parametrize("model, coefficients", [
    ("OPENCV", {"k1": -0.25, "k2": 0.06, "p1": 0.002, "p2": -0.003}),
    ("OPENCV_FISHEYE", {"k1": 0.08, "k2": -0.02, "k3": 0.01, "k4": -0.002}),
])
def test_undistortion_puts_points_where_the_pinhole_camera_sees_them(tmp_path, model, coefficients):
    keys = ("k1", "k2", "p1", "p2") if model == "OPENCV" else ("k1", "k2", "k3", "k4")
    D = np.array([coefficients[k] for k in keys])
    write_scene(tmp_path, one_camera_meta(camera_model=model, **coefficients),
                [{"transform_matrix": np.eye(4).tolist()}], [np.repeat(distorted_blobs(model, D)[..., None], 3, -1)],
                depths=[np.full((60, 80), PLANE_Z)])
    data = load_nerfstudio(tmp_path, "train")
    K = data.intrinsics[0].astype(np.float64)
    assert not np.allclose(K, K_FILE)  # the pinhole camera of the undistorted image, not the file's
    image = data.images[0, ..., 0]
    row, col = np.mgrid[0:60, 0:80]
    for a, b in BLOBS:
        expected = np.array([K[0, 2] + K[0, 0] * a, K[1, 2] + K[1, 1] * b])  # continuous, pixel centres at +0.5
        near = (np.abs(col + 0.5 - expected[0]) < 4) & (np.abs(row + 0.5 - expected[1]) < 4)
        weight = image * near
        found = np.array([(weight * (col + 0.5)).sum(), (weight * (row + 0.5)).sum()]) / weight.sum()
        assert np.abs(found - expected).max() < 0.15, (a, b, found, expected)
    # depth: z is unchanged by undistortion; the ray depth follows the new camera's rays
    valid = data.depth_mask[0]
    assert valid.mean() > 0.97
    z = ray_depth_to_z_depth(data.depth[0].astype(np.float64), K)
    np.testing.assert_allclose(z[valid], PLANE_Z, atol=1e-5)


def test_depth_of_another_resolution_is_resized(tmp_path):
    image = np.random.default_rng(0).uniform(size=(60, 80, 3))
    write_scene(tmp_path, one_camera_meta(), [{"transform_matrix": np.eye(4).tolist()}], [image],
                depths=[np.full((30, 40), PLANE_Z)])
    data = load_nerfstudio(tmp_path, "train")
    assert data.depth.shape == (1, 60, 80) and data.depth_mask.all()


def test_applied_transform_is_recorded_and_not_applied_again(tmp_path):
    applied = [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, -1.0, 0.0, 0.0]]  # ns-process-data's axes swap
    pose = np.eye(4)
    pose[:3, 3] = [0.1, -0.2, 0.3]
    write_scene(tmp_path, {**one_camera_meta(), "applied_transform": applied, "aabb_scale": 16},
                [{"transform_matrix": pose.tolist()}], [np.random.default_rng(1).uniform(size=(60, 80, 3))])
    transforms = read_transforms(tmp_path)
    np.testing.assert_array_equal(transforms.applied_transform, np.vstack([applied, [0, 0, 0, 1]]))
    assert transforms.aabb_scale == 16
    np.testing.assert_allclose(load_nerfstudio(tmp_path, "train").poses[0], pose, atol=1e-7)


def test_splits_lists_and_the_nerfstudio_rule(tmp_path, embedded_splits):
    scene = embedded_splits["train"]
    write_nerfstudio(tmp_path, {"train": scene})
    meta = json.loads((tmp_path / "transforms.json").read_text())
    del meta["train_filenames"]  # no lists: ceil(0.9 * 4) = 4 train frames, none left to test
    (tmp_path / "transforms.json").write_text(json.dumps(meta))
    assert len(load_nerfstudio(tmp_path, "train")) == 4
    with pytest.raises(DataError, match="leave no test frame"):
        load_nerfstudio(tmp_path, "test")
    meta["train_filenames"] = [meta["frames"][0]["file_path"], "images/elsewhere.png"]
    (tmp_path / "transforms.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="train_filenames names 1 files that no frame has"):
        load_nerfstudio(tmp_path, "train")
    meta["train_filenames"] = meta["train_filenames"][:1]
    (tmp_path / "transforms.json").write_text(json.dumps(meta))
    assert len(load_nerfstudio(tmp_path, "train")) == 1
    with pytest.raises(DataError, match="not val_filenames"):
        load_nerfstudio(tmp_path, "val")


def refused(folder, meta_change: dict | None = None, frame_change: dict | None = None, **load) -> str:
    image = np.random.default_rng(2).uniform(size=(60, 80, 3))
    write_scene(folder, {**one_camera_meta(), **(meta_change or {})},
                [{"transform_matrix": np.eye(4).tolist(), **(frame_change or {})}], [image])
    with pytest.raises(DataError) as err:
        load_nerfstudio(folder, "train", **load)
    return str(err.value)


def test_what_the_loader_cannot_use_is_refused_with_the_field_named(tmp_path):
    assert "camera_model 'EQUIRECTANGULAR' is not supported" in refused(tmp_path / "a", {"camera_model": "EQUIRECTANGULAR"})
    message = refused(tmp_path / "b", {"camera_model": "OPENCV", "k1": 0.1, "k4": 0.01})
    assert "no distortion coefficient k4" in message and "r^8" in message
    assert "PINHOLE has no distortion coefficient k1" in refused(tmp_path / "c", {"camera_model": "PINHOLE", "k1": 0.1})
    assert "fl_x" in refused(tmp_path / "d", {"fl_x": "60"})
    assert "mask_path" in refused(tmp_path / "e", frame_change={"mask_path": "images/000.png"})
    assert "w, h = 40x60 but the image file is 80x60" in refused(tmp_path / "f", frame_change={"w": 40})


def test_masks_become_the_alpha_when_asked(tmp_path):
    image = np.random.default_rng(3).uniform(size=(60, 80, 3))
    mask = np.zeros((60, 80))
    mask[10:50, 20:60] = 1.0
    (tmp_path / "masks").mkdir()
    iio.imwrite(tmp_path / "masks" / "000.png", (mask * 255).astype(np.uint8))
    write_scene(tmp_path, one_camera_meta(), [{"transform_matrix": np.eye(4).tolist(), "mask_path": "masks/000.png"}],
                [image])
    data = load_nerfstudio(tmp_path, "train", masks="alpha")
    np.testing.assert_array_equal(data.alphas[0], mask)
    assert (data.images[0][mask == 0] == 1.0).all()  # masked pixels are the (white) background
    assert load_nerfstudio(tmp_path, "train", masks="ignore").alphas is None


def test_forward_facing_cameras_without_depth_or_bounds_are_refused(tmp_path):
    frames, images = [], []
    for k in range(3):
        pose = np.eye(4)
        pose[0, 3] = 0.1 * k
        frames.append({"transform_matrix": pose.tolist()})
        images.append(np.random.default_rng(k).uniform(size=(60, 80, 3)))
    meta = {key: v for key, v in one_camera_meta().items() if key not in ("near", "far", "scene_box")}
    del meta["train_filenames"], meta["val_filenames"], meta["test_filenames"]
    write_scene(tmp_path, meta, frames, images)
    with pytest.raises(DataError, match="forward-facing capture"):
        load_nerfstudio(tmp_path, "train")


def test_some_frames_with_depth_and_unknown_keys(tmp_path, embedded_splits):
    write_nerfstudio(tmp_path, embedded_splits)
    meta = json.loads((tmp_path / "transforms.json").read_text())
    meta["frames"][1].pop("depth_file_path")
    meta["sharpness"] = 3
    (tmp_path / "transforms.json").write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match=r"ignored: \['sharpness'\]"), \
            pytest.raises(DataError, match="7 of 8 frames have a depth_file_path"):
        read_transforms(tmp_path)


def test_load_dataset_dispatches_a_nerfstudio_folder(tmp_path, embedded_splits):
    write_nerfstudio(tmp_path, embedded_splits)
    data = load_dataset(tmp_path, "test")
    assert len(data) == 2 and data.depth is not None
