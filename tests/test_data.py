"""depthnerf.data: the embedded scene, the loaders, depth conventions and bad input."""
import json
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from depthnerf import data as D

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
LEGO = SHARED / "nerf_synthetic" / "lego"
FERN = SHARED / "nerf_llff_data" / "fern"
POSTER = SHARED / "dsnerf_poster_less"


def needs(path: Path):
    return pytest.mark.skipif(not path.is_dir(), reason=f"real data not found at {path}")


@pytest.fixture(scope="module")
def embedded_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    D.ensure_embedded_scene(root)
    return root


def test_embedded_layout_and_metadata(embedded_root):
    folder = embedded_root / "embedded"
    for split, n in D.EMBEDDED_VIEWS.items():
        meta = json.loads((folder / f"transforms_{split}.json").read_text())
        assert len(meta["frames"]) == n and meta["depth_type"] == "ray"
        for frame in meta["frames"]:
            assert (folder / (frame["file_path"] + ".png")).is_file()
            assert (folder / frame["depth_file_path"]).is_file()
    rgba = iio.imread(folder / "train" / "r_0.png")
    assert rgba.shape == (200, 200, 4) and rgba.dtype == np.uint8
    assert (rgba[..., 3] == 0).any() and (rgba[..., 3] == 255).any()


def test_embedded_is_reused_and_deterministic(embedded_root, tmp_path):
    folder = embedded_root / "embedded"
    stamp = (folder / "train" / "r_0.png").stat().st_mtime_ns
    D.ensure_embedded_scene(embedded_root)
    assert (folder / "train" / "r_0.png").stat().st_mtime_ns == stamp
    again = D.write_embedded_scene(tmp_path / "again", views={"test": 10})
    assert (iio.imread(again / "test" / "r_7.png") == iio.imread(folder / "test" / "r_7.png")).all()
    assert (np.load(again / "test" / "r_7_depth.npy") == np.load(folder / "test" / "r_7_depth.npy")).all()
    assert not list(embedded_root.glob(".embedded-*")), "temporary folders left behind"


def test_embedded_loads_with_the_contract(embedded_root):
    s = D.load_dataset("embedded", "train", 2, root=embedded_root)
    assert s.images.shape == (100, 100, 100, 3) and s.images.dtype == np.float32
    assert s.poses.shape == (100, 4, 4) and s.intrinsics.shape == (100, 3, 3)
    assert s.depth.shape == s.depth_mask.shape == (100, 100, 100) and s.depth_mask.dtype == bool
    assert (s.near, s.far) == (2.0, 6.0)
    assert np.allclose(s.intrinsics[0, 0, 0], D.focal_from_fov(D.EMBEDDED_CAMERA_ANGLE_X, 200) / 2)
    assert np.allclose(np.linalg.norm(s.poses[:, :3, 3], axis=1), 4.0, atol=1e-5)
    assert (s.poses[:, 2, 3] > 0).all(), "cameras must be on the upper hemisphere"
    background = s.alphas < 1e-6
    assert np.allclose(s.images[background], 1.0) and not s.depth_mask[background].any()
    assert (s.depth[s.depth_mask] > s.near).all() and (s.depth[s.depth_mask] < s.far).all()


def test_embedded_test_views_differ_from_train(embedded_root):
    train = D.load_dataset("embedded", "train", 4, root=embedded_root)
    test = D.load_dataset("embedded", "test", 4, root=embedded_root)
    gaps = np.linalg.norm(test.poses[:, None, :3, 3] - train.poses[None, :, :3, 3], axis=-1).min(axis=1)
    assert (gaps > 0.05).all()


def _unproject(s, k):
    o, d = s.rays(k)
    m = s.depth_mask[k]
    return o[m] + s.depth[k][m][:, None] * d[m]


def _bilinear(image, valid, u, v):
    """Bilinear sample of ``image`` at continuous pixel coords; ok only where all 4 taps are valid
    and agree within 1 % (no depth edge between them)."""
    x, y = u - 0.5, v - 0.5
    j0, i0 = np.floor(x).astype(int), np.floor(y).astype(int)
    inside = (j0 >= 0) & (j0 + 1 < image.shape[1]) & (i0 >= 0) & (i0 + 1 < image.shape[0])
    j0, i0, fx, fy = j0[inside], i0[inside], (x - np.floor(x))[inside], (y - np.floor(y))[inside]
    taps = np.stack([image[i0, j0], image[i0, j0 + 1], image[i0 + 1, j0], image[i0 + 1, j0 + 1]])
    ok = np.stack([valid[i0, j0], valid[i0, j0 + 1], valid[i0 + 1, j0], valid[i0 + 1, j0 + 1]]).all(0)
    ok &= taps.max(0) - taps.min(0) < 0.01 * taps.mean(0)
    value = (taps[0] * (1 - fx) * (1 - fy) + taps[1] * fx * (1 - fy) + taps[2] * (1 - fx) * fy
             + taps[3] * fx * fy)
    return inside, value, ok


def test_embedded_depth_reprojects_exactly_between_views(embedded_root):
    """Unproject view A with its depth, project into view B: where B sees the same surface, B's depth
    (interpolated at the projected position) equals the point's distance to B's centre."""
    s = D.load_dataset("embedded", "train", 1, root=embedded_root)
    errors = []
    centres = s.poses[:, :3, 3]
    for a in (0, 30, 60, 99):
        gaps = np.linalg.norm(centres - centres[a], axis=1)
        b = int(np.argsort(gaps)[1])  # the nearest other camera: they share most of the surface
        points = _unproject(s, a)
        w2c = np.linalg.inv(s.poses[b].astype(np.float64))
        cam = points @ w2c[:3, :3].T + w2c[:3, 3]
        K = s.intrinsics[b].astype(np.float64)
        u = K[0, 0] * cam[:, 0] / -cam[:, 2] + K[0, 2]
        v = -K[1, 1] * cam[:, 1] / -cam[:, 2] + K[1, 2]
        inside, depth_b, ok = _bilinear(s.depth[b].astype(np.float64), s.depth_mask[b], u, v)
        distance = np.linalg.norm(cam, axis=1)[inside]
        visible = ok & (np.abs(depth_b - distance) < 0.02 * distance)  # not occluded in B
        assert visible.sum() > 2000, f"views {a}->{b}: too few shared surface points"
        errors.append(np.abs(depth_b - distance)[visible] / distance[visible])
    errors = np.concatenate(errors)
    assert np.median(errors) < 1e-4 and np.percentile(errors, 95) < 1e-3, (np.median(errors), np.percentile(errors, 95))


def test_depth_of_unrelated_views_does_not_agree(embedded_root):
    """The check above can fail: with B's pose moved by 5 cm the agreement breaks."""
    s = D.load_dataset("embedded", "train", 1, root=embedded_root)
    points = _unproject(s, 0)
    moved = s.poses[1].astype(np.float64).copy()
    moved[:3, 3] += 0.05
    cam = points @ np.linalg.inv(moved)[:3, :3].T + np.linalg.inv(moved)[:3, 3]
    K = s.intrinsics[1].astype(np.float64)
    u, v = K[0, 0] * cam[:, 0] / -cam[:, 2] + K[0, 2], -K[1, 1] * cam[:, 1] / -cam[:, 2] + K[1, 2]
    inside, depth_b, ok = _bilinear(s.depth[1].astype(np.float64), s.depth_mask[1], u, v)
    distance = np.linalg.norm(cam, axis=1)[inside]
    close = ok & (np.abs(depth_b - distance) < 0.02 * distance)
    assert np.median(np.abs(depth_b - distance)[close] / distance[close]) > 1e-3


def test_embedded_scene_box_bounds_the_content(embedded_root):
    s = D.load_dataset("embedded", "val", 1, root=embedded_root)
    points = np.concatenate([_unproject(s, k) for k in range(len(s))])
    assert (points >= s.scene_box[0] - 1e-4).all() and (points <= s.scene_box[1] + 1e-4).all()
    extent = points.max(0) - points.min(0)
    assert (extent > 0.9 * (s.scene_box[1] - s.scene_box[0])).all(), "scene_box should be tight"
