"""The data modules of notebook 01: the embedded scene, the loaders, depth conventions and bad input."""
import json
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from depthnerf import cameras, embedded, images, llff, sparse_depth, triangulation
from depthnerf.datasets import corrupt_depth, load_dataset, select_views
from depthnerf.scene import DataError

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
LEGO = SHARED / "nerf_synthetic" / "lego"
FERN = SHARED / "nerf_llff_data" / "fern"
POSTER = SHARED / "dsnerf_poster_less"


def needs(path: Path):
    return pytest.mark.skipif(not path.is_dir(), reason=f"real data not found at {path}")


@pytest.fixture(scope="module")
def embedded_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    embedded.ensure_embedded_scene(root)
    return root


def test_embedded_layout_and_metadata(embedded_root):
    folder = embedded_root / "embedded"
    for split, n in embedded.EMBEDDED_VIEWS.items():
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
    embedded.ensure_embedded_scene(embedded_root)
    assert (folder / "train" / "r_0.png").stat().st_mtime_ns == stamp
    again = embedded.write_embedded_scene(tmp_path / "again", views={"test": 10})
    assert (iio.imread(again / "test" / "r_7.png") == iio.imread(folder / "test" / "r_7.png")).all()
    assert (np.load(again / "test" / "r_7_depth.npy") == np.load(folder / "test" / "r_7_depth.npy")).all()
    assert not list(embedded_root.glob(".embedded-*")), "temporary folders left behind"


def test_embedded_loads_with_the_contract(embedded_root):
    s = load_dataset("embedded", "train", 2, root=embedded_root)
    assert s.images.shape == (100, 100, 100, 3) and s.images.dtype == np.float32
    assert s.poses.shape == (100, 4, 4) and s.intrinsics.shape == (100, 3, 3)
    assert s.depth.shape == s.depth_mask.shape == (100, 100, 100) and s.depth_mask.dtype == bool
    assert (s.near, s.far) == (2.0, 6.0)
    assert np.allclose(s.intrinsics[0, 0, 0], cameras.focal_from_fov(embedded.EMBEDDED_CAMERA_ANGLE_X, 200) / 2)
    assert np.allclose(np.linalg.norm(s.poses[:, :3, 3], axis=1), 4.0, atol=1e-5)
    assert (s.poses[:, 2, 3] > 0).all(), "cameras must be on the upper hemisphere"
    background = s.alphas < 1e-6
    assert np.allclose(s.images[background], 1.0) and not s.depth_mask[background].any()
    assert (s.depth[s.depth_mask] > s.near).all() and (s.depth[s.depth_mask] < s.far).all()


def test_embedded_test_views_differ_from_train(embedded_root):
    train = load_dataset("embedded", "train", 4, root=embedded_root)
    test = load_dataset("embedded", "test", 4, root=embedded_root)
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
    s = load_dataset("embedded", "train", 1, root=embedded_root)
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
    s = load_dataset("embedded", "train", 1, root=embedded_root)
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
    s = load_dataset("embedded", "val", 1, root=embedded_root)
    points = np.concatenate([_unproject(s, k) for k in range(len(s))])
    assert (points >= s.scene_box[0] - 1e-4).all() and (points <= s.scene_box[1] + 1e-4).all()
    extent = points.max(0) - points.min(0)
    assert (extent > 0.9 * (s.scene_box[1] - s.scene_box[0])).all(), "scene_box should be tight"


def _copy_split(src: Path, dst: Path, split: str, n: int) -> Path:
    """A small Blender-layout copy of ``n`` frames of one split (for the depth/bad-input tests)."""
    meta = json.loads((src / f"transforms_{split}.json").read_text())
    meta["frames"] = meta["frames"][:n]
    (dst / split).mkdir(parents=True, exist_ok=True)
    for frame in meta["frames"]:
        shutil.copy(src / (frame["file_path"] + ".png"), dst / (frame["file_path"] + ".png"))
        if "depth_file_path" in frame:
            shutil.copy(src / frame["depth_file_path"], dst / frame["depth_file_path"])
    (dst / f"transforms_{split}.json").write_text(json.dumps(meta))
    return dst


@pytest.fixture
def small_scene(embedded_root, tmp_path):
    return _copy_split(embedded_root / "embedded", tmp_path / "scene", "train", 3)


def _edit_meta(folder, split, edit):
    path = folder / f"transforms_{split}.json"
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))


def test_z_depth_png_in_millimetres_is_converted_to_ray_depth(small_scene):
    """nerfstudio's convention: 16-bit PNG of z-depth in mm, times depth_unit_scale_factor."""
    exact = load_dataset(small_scene, "train")
    for k, path in enumerate(exact.image_paths):
        z_mm = np.round(exact.z_depth()[k] * 1000).astype(np.uint16)
        iio.imwrite(Path(path).with_name(f"z_{k}.png"), z_mm)

    def to_png(meta):
        meta.pop("depth_type")
        for k, frame in enumerate(meta["frames"]):
            frame["depth_file_path"] = f"./train/z_{k}.png"
    _edit_meta(small_scene, "train", to_png)
    loaded = load_dataset(small_scene, "train")
    assert (loaded.depth_mask == exact.depth_mask).all()
    error = np.abs(loaded.depth - exact.depth)[exact.depth_mask]
    assert error.max() < 0.0006 / 0.9 and error.max() > 0  # half a millimetre of rounding, over cos
    off_axis = exact.depth_mask & (np.abs(exact.z_depth() - exact.depth) > 0.01)
    assert off_axis.any(), "the test needs pixels where z-depth and ray depth differ"
    _edit_meta(small_scene, "train", lambda m: m.update(depth_type="ray"))
    assert np.abs(load_dataset(small_scene, "train").depth - exact.depth)[off_axis].min() > 0.009


def test_float_depth_as_z_depth_npz(small_scene):
    exact = load_dataset(small_scene, "train")
    for k, path in enumerate(exact.image_paths):
        np.savez(Path(path).with_name(f"z_{k}.npz"), depth=exact.z_depth()[k])
    _edit_meta(small_scene, "train", lambda m: [f.update(depth_file_path=f"./train/z_{k}.npz")
                                                 for k, f in enumerate(m["frames"])])
    loaded = load_dataset(small_scene, "train", depth_type="z")
    assert np.allclose(loaded.depth, exact.depth, atol=1e-5)


def test_downscaled_depth_never_mixes_surfaces(embedded_root):
    full = load_dataset("embedded", "val", 1, root=embedded_root)
    half = load_dataset("embedded", "val", 4, root=embedded_root)
    assert half.depth.shape == (10, 50, 50)
    blocks = full.depth.reshape(10, 50, 4, 50, 4)
    lo = np.where(full.depth_mask.reshape(blocks.shape), blocks, np.inf).min(axis=(2, 4))
    hi = blocks.max(axis=(2, 4))
    m = half.depth_mask
    assert (half.depth[m] >= lo[m] - 1e-5).all() and (half.depth[m] <= hi[m] + 1e-5).all()
    assert ((hi - lo)[m] <= 0.05 * half.depth[m] + 1e-6).all()
    assert not m[half.alphas < 0.5].any(), "mostly-background pixels must not carry depth"
    assert 0.3 < m.mean() < full.depth_mask.mean()


# ---------------------------------------------------------------- bad input

def test_missing_transforms_json_names_the_file(tmp_path):
    (tmp_path / "transforms_train.json").write_text(json.dumps({"camera_angle_x": 0.7, "frames": []}))
    with pytest.raises(DataError, match="transforms_val.json"):
        load_dataset(tmp_path, "val")
    with pytest.raises(DataError, match="has no frames"):
        load_dataset(tmp_path, "train")


def test_missing_image_names_the_file(small_scene):
    (small_scene / "train" / "r_1.png").unlink()
    with pytest.raises(DataError, match=r"r_1\.png: image file is missing"):
        load_dataset(small_scene, "train")


def test_unreadable_png_names_the_file(small_scene):
    (small_scene / "train" / "r_2.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DataError, match=r"r_2\.png: cannot read image"):
        load_dataset(small_scene, "train")


def test_image_size_mismatch_names_the_file(small_scene):
    iio.imwrite(small_scene / "train" / "r_1.png", np.zeros((100, 100, 4), np.uint8))
    with pytest.raises(DataError, match=r"r_1\.png: is 100x100 but the first image"):
        load_dataset(small_scene, "train")


@pytest.mark.parametrize("bad, message", [
    (np.nan, "NaN or infinite"), (-1.0, "negative values"), ("shape", "does not match the image shape")])
def test_bad_depth_names_the_file(small_scene, bad, message):
    path = small_scene / "train" / "r_1_depth.npy"
    depth = np.load(path)
    if bad == "shape":
        depth = depth[:-1]
    else:
        depth[5, 5] = bad
    np.save(path, depth)
    with pytest.raises(DataError, match=rf"r_1_depth\.npy: .*{message}"):
        load_dataset(small_scene, "train")


def test_depth_on_some_frames_only_is_an_error(small_scene):
    _edit_meta(small_scene, "train", lambda m: m["frames"][2].pop("depth_file_path"))
    with pytest.raises(DataError, match="transforms_train.json: 2 of 3 frames have a depth_file_path"):
        load_dataset(small_scene, "train")


def test_llff_pose_and_image_count_mismatch_names_the_files(tmp_path):
    (tmp_path / "images_8").mkdir()
    for k in range(3):
        iio.imwrite(tmp_path / "images_8" / f"im{k}.png", np.zeros((6, 8, 3), np.uint8))
    # columns down, right, back = (0,-1,0), (1,0,0), (0,0,1): a proper rotation (det +1), as check_poses needs
    row = np.concatenate([np.array([[0, 1, 0, 0, 48], [-1, 0, 0, 0, 64], [0, 0, 1, 0, 50.0]]).ravel(), [2, 9]])
    np.save(tmp_path / "poses_bounds.npy", np.stack([row, row]))
    with pytest.raises(DataError, match=r"images_8: 3 images but .*poses_bounds.npy has 2 poses"):
        load_dataset(tmp_path, "all", 8)
    with pytest.raises(DataError, match=r"no image folder for downscale 2"):
        load_dataset(tmp_path, "all", 2)


# ---------------------------------------------------------------- study helpers

def test_select_views_is_deterministic_and_spread(embedded_root):
    s = load_dataset("embedded", "train", 8, root=embedded_root)
    picked = select_views(s, 8, seed=3)
    assert (picked == select_views(s, 8, seed=3)).all() and len(set(picked.tolist())) == 8
    centres = s.poses[:, :3, 3]

    def min_gap(idx):
        g = np.linalg.norm(centres[idx, None] - centres[None, idx], axis=-1)
        return g[~np.eye(len(idx), dtype=bool)].min()
    rng = np.random.default_rng(0)
    random_gaps = [min_gap(rng.choice(len(s), 8, replace=False)) for _ in range(50)]
    assert min_gap(picked) > max(random_gaps)


def test_corrupt_depth(embedded_root):
    s = load_dataset("embedded", "val", 4, root=embedded_root)
    noisy = corrupt_depth(s, noise_std=0.05, seed=1)
    diff = (noisy.depth - s.depth)[s.depth_mask]
    assert abs(diff.std() - 0.05) < 0.005 and abs(diff.mean()) < 0.005
    assert np.allclose(noisy.depth_sigma[noisy.depth_mask], 0.05)
    sparse = corrupt_depth(s, keep_fraction=0.1, seed=1)
    assert sparse.depth_mask.sum() == round(0.1 * s.depth_mask.sum())
    assert not (sparse.depth_mask & ~s.depth_mask).any() and (sparse.depth[~sparse.depth_mask] == 0).all()
    biased = corrupt_depth(s, scale=1.2)
    assert np.allclose(biased.depth[s.depth_mask], 1.2 * s.depth[s.depth_mask], rtol=1e-6)
    assert (corrupt_depth(s, noise_std=0.05, seed=1).depth == noisy.depth).all()
    assert s.depth_sigma is None, "the input must not be modified"


# ---------------------------------------------------------------- real data

@pytest.mark.data
@needs(LEGO)
def test_lego_train_half_resolution():
    s = load_dataset(LEGO, "train", 2)
    assert s.images.shape == (100, 400, 400, 3) and s.images.dtype == np.float32
    meta = json.loads((LEGO / "transforms_train.json").read_text())
    focal = 0.5 * 800 / np.tan(0.5 * meta["camera_angle_x"])
    assert np.allclose(s.intrinsics[:, 0, 0], focal / 2) and np.allclose(s.intrinsics[:, :2, 2], 200)
    assert np.allclose(s.images[s.alphas == 0], 1.0), "background must be composited on white"
    assert 0.05 < s.alphas.mean() < 0.5 and s.depth is None
    assert np.allclose(s.poses[0], np.array(meta["frames"][0]["transform_matrix"], np.float32))
    black = load_dataset(LEGO, "train", 8, background=(0, 0, 0), max_views=5)
    assert black.images.shape == (5, 100, 100, 3) and np.allclose(black.images[black.alphas == 0], 0.0)


@pytest.mark.data
@needs(LEGO)
def test_lego_test_depth_is_consistent_across_views():
    s = load_dataset(LEGO, "test", 2)
    assert s.depth.shape == (10, 400, 400)
    assert not s.depth_mask[s.alphas == 0].any()
    t = s.depth[s.depth_mask]
    assert 2.5 < t.min() and t.max() < 5.5
    a, b = 0, 6
    o, d = s.rays(a)
    points = o[s.depth_mask[a]] + s.depth[a][s.depth_mask[a]][:, None] * d[s.depth_mask[a]]
    w2c = np.linalg.inv(s.poses[b].astype(np.float64))
    cam = points @ w2c[:3, :3].T + w2c[:3, 3]
    K = s.intrinsics[b]
    j = np.floor(K[0, 0] * cam[:, 0] / -cam[:, 2] + K[0, 2]).astype(int)
    i = np.floor(-K[1, 1] * cam[:, 1] / -cam[:, 2] + K[1, 2]).astype(int)
    ok = (j >= 0) & (j < s.W) & (i >= 0) & (i < s.H)
    ok[ok] &= s.depth_mask[b][i[ok], j[ok]]
    residual = s.depth[b][i[ok], j[ok]] - np.linalg.norm(cam[ok], axis=1)
    assert np.median(np.abs(residual)) < 0.03  # about one quantisation step (8/255)


@pytest.mark.data
@needs(FERN)
def test_fern_llff():
    s = load_dataset(FERN, "all", 8)
    assert len(s) == 20 and s.images.shape == (20, 378, 504, 3)
    raw = np.load(FERN / "poses_bounds.npy")
    assert np.isclose(s.intrinsics[0, 0, 0], raw[0, 14] / 8, rtol=1e-5)
    R = s.poses[:, :3, :3].astype(np.float64)
    assert np.allclose(R @ R.transpose(0, 2, 1), np.eye(3), atol=1e-5)
    assert np.allclose(s.poses[:, :3, 3].mean(0), 0, atol=1e-5), "recentred"
    assert np.isclose(s.near, 0.9 / 0.75, rtol=1e-5)
    assert s.poses[:, 2, 2].mean() > 0.9, "forward-facing cameras look along -z of the average pose"
    assert [len(load_dataset(FERN, split, 8)) for split in ("train", "test")] == [17, 3]
    quarter = load_dataset(FERN, "test", 16)
    assert quarter.images.shape[1:3] == (189, 252)


# ---------------------------------------------------------------- download_example_data.sh

SCRIPT = Path(__file__).resolve().parents[1] / "download_example_data.sh"


def _run_script(tmp_path, **env):
    import os
    import subprocess
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DATA_DIR": str(tmp_path / "data"), **env})


@pytest.fixture
def lego_mirror(tmp_path):
    """A small mirror: lego's train JSON and the first 3 test views (RGB + depth), copied from the
    shared data (its transforms_test.json is trimmed to 10 views, so it is not the official file)."""
    scene = tmp_path / "mirror" / "nerf_synthetic" / "lego"
    (scene / "test").mkdir(parents=True)
    shutil.copy(LEGO / "transforms_train.json", scene / "transforms_train.json")
    for k in range(3):
        for suffix in (".png", "_depth_0001.png"):
            shutil.copy(LEGO / "test" / f"r_{k}{suffix}", scene / "test" / f"r_{k}{suffix}")
    return tmp_path / "mirror"


@pytest.mark.data
@needs(LEGO)
def test_download_script_copies_and_verifies_a_mirror(tmp_path, lego_mirror):
    proc = _run_script(tmp_path, NERF_DATA_MIRROR=str(lego_mirror))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "nerf_synthetic/lego: verified 7 files" in proc.stdout
    assert (tmp_path / "data" / "nerf_synthetic" / "lego" / "test" / "r_2_depth_0001.png").is_file()
    again = _run_script(tmp_path, NERF_DATA_MIRROR=str(lego_mirror))
    assert again.returncode == 0 and "verified 7 files" in again.stdout


@pytest.mark.data
@needs(LEGO)
def test_download_script_rejects_a_corrupted_file(tmp_path, lego_mirror):
    victim = lego_mirror / "nerf_synthetic" / "lego" / "test" / "r_1.png"
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")  # same size, different content
    proc = _run_script(tmp_path, NERF_DATA_MIRROR=str(lego_mirror))
    assert proc.returncode == 1
    assert "CHECKSUM MISMATCH" in proc.stdout and "lego/test/r_1.png" in proc.stdout


def test_download_script_offline_generates_the_embedded_scene(tmp_path, embedded_root):
    shutil.copytree(embedded_root / "embedded", tmp_path / "data" / "embedded")  # reused: keeps the test fast
    proc = _run_script(tmp_path, NERF_EXAMPLE_URL="https://127.0.0.1:9/unreachable.zip")  # the script refuses plain http
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "generating the embedded scene" in proc.stdout
    assert len(json.loads((tmp_path / "data" / "embedded" / "transforms_train.json").read_text())["frames"]) == 100


# ---------------------------------------------------------------- sparse depth

@pytest.mark.data
@needs(POSTER)
def test_poster_sparse_depth_matches_dsnerf_file():
    ours = load_dataset(POSTER, "all", 1, sparse_depth="colmap", max_views=5)
    theirs = load_dataset(POSTER, "all", 1, sparse_depth="dsnerf", max_views=5)
    assert ours.images.shape == (5, 720, 1280, 3) and ours.image_paths == theirs.image_paths
    # The same pixels hold depth, but for boundary cases: the model read by pycolmap 4.2 lists a
    # keypoint that DS-NeRF's export does not (image 005172.png, pixel (692, 451)), and a keypoint
    # on a pixel border can floor to the neighbouring pixel in one float path and not the other. At
    # most 0.1 % of the marked pixels may differ; depth is compared exactly on the common pixels.
    differ = ours.depth_mask ^ theirs.depth_mask
    assert differ.sum() <= 1e-3 * theirs.depth_mask.sum(), f"{differ.sum()} of {theirs.depth_mask.sum()} pixels differ"
    m = ours.depth_mask & theirs.depth_mask
    relative = np.abs(ours.depth[m] - theirs.depth[m]) / theirs.depth[m]
    assert np.median(relative) < 5e-4 and relative.max() < 5e-3  # keypoint vs exact point: sub-pixel
    assert (ours.depth_sigma[m] > 0).all() and theirs.depth_sigma is None
    assert (ours.depth[m] > ours.near).all() and (ours.depth[m] < 1.5 * ours.far).all()
    half = load_dataset(POSTER, "test", 2, sparse_depth="colmap")
    assert half.depth.shape == (2, 360, 640) and half.depth_mask.sum() > 500


@pytest.mark.data
@needs(FERN)
def test_fern_sparse_depth_from_points3d_tracks():
    """No images.bin: points are projected with the poses; the image-id mapping (sorted names) is
    verified by reproducing LLFF's per-view bounds from the same points."""
    world = llff.llff_world_transform(FERN)
    names = sorted(p.name for p in (FERN / "images_8").iterdir())
    obs = sparse_depth.colmap_observations(FERN / "sparse" / "0", names)
    assert len(obs["xyz"]) == 10091 and np.isnan(obs["xy"]).all()
    assert np.allclose(sparse_depth.llff_bounds_from_points(obs, world), world["bounds"], rtol=1e-9)
    shifted = {**obs, "view": (obs["view"] + 1) % 20}
    assert not np.allclose(sparse_depth.llff_bounds_from_points(shifted, world), world["bounds"], rtol=1e-3)
    s = load_dataset(FERN, "train", 8, sparse_depth="colmap")
    per_view = s.depth_mask.sum(axis=(1, 2))
    assert len(per_view) == 17 and per_view.min() > 500
    assert (s.depth[s.depth_mask] >= s.near / 0.9 - 1e-5).all()  # z >= the smallest bound, t >= z


def test_points3d_reader_rejects_a_truncated_file(tmp_path):
    path = tmp_path / "points3D.bin"
    path.write_bytes(np.array([2], "<u8").tobytes() + b"\x00" * 20)
    with pytest.raises(DataError, match="points3D.bin: truncated"):
        sparse_depth.read_points3d_binary(path)


def test_triangulated_sparse_depth_matches_the_exact_depth(embedded_root):
    """SIFT + matching + triangulation with known poses on 15 neighbouring embedded views; the
    triangulated ray depth is compared with the exact depth at the same pixels."""
    from dataclasses import replace
    s = load_dataset("embedded", "train", 1, root=embedded_root)
    centres = s.poses[:, :3, 3]
    s = s.subset(np.sort(np.argsort(np.linalg.norm(centres - centres[40], axis=1))[:15]))
    tri, stats = triangulation.triangulate_sparse_depth(replace(s, depth=None, depth_mask=None))
    assert stats["points"] > 30 and stats["mean_reprojection_error"] < 2.0
    both = tri.depth_mask & s.depth_mask
    assert both.sum() > 0.9 * tri.depth_mask.sum(), "triangulated points must lie on the objects"
    relative = np.abs(tri.depth[both] - s.depth[both]) / s.depth[both]
    assert np.median(relative) < 0.03
    assert (tri.depth_sigma[tri.depth_mask] > 0).all()


def _write_png_16bit(path, array):
    """A minimal 16-bit PNG writer (Pillow cannot write 16-bit RGBA)."""
    import struct
    import zlib
    h, w, c = array.shape
    rows = b"".join(b"\x00" + array[i].astype(">u2").tobytes() for i in range(h))

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    header = struct.pack(">IIBBBBB", w, h, 16, {3: 2, 4: 6}[c], 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))


def test_read_image_keeps_16_bits(tmp_path):
    values = (np.arange(2 * 3 * 4).reshape(2, 3, 4) * 2000 + 7).astype(np.uint16)
    _write_png_16bit(tmp_path / "x.png", values)
    assert np.array_equal(np.round(images.read_image(tmp_path / "x.png") * 65535).astype(np.uint16), values)


def test_16_bit_rgba_and_explicit_intrinsics(small_scene):
    eight = load_dataset(small_scene, "train", 2)
    for k in range(3):
        path = small_scene / "train" / f"r_{k}.png"
        wide = iio.imread(path).astype(np.uint32) * 257 + (k == 0)  # +1: more than the 8 bits could hold
        _write_png_16bit(path, np.minimum(wide, 65535).astype(np.uint16))
    _edit_meta(small_scene, "train", lambda m: m.update(fl_x=300.0, fl_y=310.0, cx=90.0, cy=101.0, w=200, h=200))
    sixteen = load_dataset(small_scene, "train", 2)
    assert np.allclose(sixteen.images, eight.images, atol=1e-4)
    assert np.array_equal(sixteen.images[1:], eight.images[1:]) and not np.array_equal(sixteen.images[0], eight.images[0])
    assert np.allclose(sixteen.intrinsics[0], [[150, 0, 45], [0, 155, 50.5], [0, 0, 1]])
    _edit_meta(small_scene, "train", lambda m: m.update(w=640))
    with pytest.raises(DataError, match="transforms_train.json: says images are 640x200 but they are 200x200"):
        load_dataset(small_scene, "train")


def test_a_stale_embedded_scene_is_regenerated(tmp_path):
    """A folder marked by an older version of the generator is replaced (a folder without the marker is
    refused: tests/test_bad_input.py)."""
    folder = embedded.write_embedded_scene(tmp_path / "embedded", views={"train": 2, "val": 1, "test": 1})
    meta = json.loads((folder / "transforms_test.json").read_text())
    (folder / "transforms_test.json").write_text(json.dumps({**meta, "generator": f"{embedded.EMBEDDED_GENERATOR} v0"}))
    embedded.ensure_embedded_scene(tmp_path)
    assert len(json.loads((folder / "transforms_train.json").read_text())["frames"]) == 100
    assert not list(tmp_path.glob(".embedded-*")), "temporary and stale folders are removed"
