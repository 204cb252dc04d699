"""Bad input is refused where it enters, with a DataError naming the file, the frame or row and the field.

Every case builds a small broken copy of a valid scene in ``tmp_path``: a 16x16 embedded scene in the
Blender layout (``write_embedded_scene``, 3 train views) or a hand-made LLFF scene (3 views of 8x6 noise),
changes one thing, and checks the message. ``test_the_valid_copies_load`` makes sure the untouched
copies load, so every refusal below comes from the one change.
"""
import json
import math
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from depthnerf.datasets import load_dataset
from depthnerf.embedded import write_embedded_scene
from depthnerf.scene import DataError

VIEWS = {"train": 3, "val": 1, "test": 1}


@pytest.fixture(scope="module")
def blender_source(tmp_path_factory):
    return write_embedded_scene(tmp_path_factory.mktemp("source") / "scene", size=16, views=VIEWS)


@pytest.fixture
def blender(blender_source, tmp_path):
    """A fresh copy of the small Blender-layout scene, and a folder beside it (outside the scene)."""
    folder = shutil.copytree(blender_source, tmp_path / "scene")
    (tmp_path / "outside").mkdir()
    shutil.copy(folder / "train" / "r_1.png", tmp_path / "outside" / "r_1.png")
    shutil.copy(folder / "train" / "r_1_depth.npy", tmp_path / "outside" / "d.npy")
    return folder


def llff_row(centre, bounds=(2.0, 9.0), hwf=(48.0, 64.0, 50.0), rotation=np.eye(3)) -> np.ndarray:
    """One poses_bounds.npy row: LLFF's 3x5 [down, right, back, centre, hwf] of an OpenGL rotation."""
    right, up, back = rotation.T
    return np.concatenate([np.c_[-up, right, back, centre, hwf].ravel(), bounds])


def write_llff(folder: Path) -> Path:
    (folder / "images_8").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k in range(3):
        iio.imwrite(folder / "images_8" / f"im{k}.png", rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
    np.save(folder / "poses_bounds.npy", np.stack([llff_row([0.1 * k, 0.0, 0.0]) for k in range(3)]))
    return folder


def write_dsnerf(folder: Path, entries) -> None:
    array = np.empty(len(entries), dtype=object)
    array[:] = entries
    np.save(folder / "colmap_depth_1.npy", array, allow_pickle=True)


def dsnerf_entry(depth=(3.0, 4.0)) -> dict:
    return {"depth": np.array(depth), "coord": np.array([[10.0, 10.0], [20.0, 30.0]]), "error": np.array([1.0, 0.5])}


@pytest.fixture
def llff(tmp_path):
    folder = write_llff(tmp_path / "llff")
    write_dsnerf(folder, [dsnerf_entry() for _ in range(3)])
    return folder


def test_the_valid_copies_load(blender, llff):
    scene = load_dataset(blender, "train")
    assert scene.images.shape == (3, 16, 16, 3) and scene.depth is not None
    assert load_dataset(llff, "all", 8, sparse_depth="dsnerf").depth_mask.sum() == 6


# ---------------------------------------------------------------- Blender layout

def edit_meta(folder: Path, edit, split: str = "train") -> None:
    path = folder / f"transforms_{split}.json"
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))


def set_meta(**values):
    return lambda folder: edit_meta(folder, lambda meta: meta.update(values))


def edit_frame(index: int, edit):
    return lambda folder: edit_meta(folder, lambda meta: edit(meta["frames"][index]))


def edit_pose(index: int, edit):
    def change(frame):
        matrix = np.array(frame["transform_matrix"])
        frame["transform_matrix"] = edit(matrix).tolist()
    return edit_frame(index, change)


def scale_translations(factor: float):
    def change(meta):
        for frame in meta["frames"]:
            matrix = np.array(frame["transform_matrix"])
            matrix[:3, 3] *= factor
            frame["transform_matrix"] = matrix.tolist()
    return lambda folder: edit_meta(folder, change)


def turn_cameras_around(meta):
    for frame in meta["frames"]:
        matrix = np.array(frame["transform_matrix"])
        matrix[:3, 0] *= -1  # 180 degrees about the camera's y axis: looks away from the scene
        matrix[:3, 2] *= -1
        frame["transform_matrix"] = matrix.tolist()


def rewrite_image(name: str, edit):
    def change(folder):
        path = folder / "train" / name
        iio.imwrite(path, edit(iio.imread(path)))
    return change


def rewrite_depth(name: str, edit):
    def change(folder):
        path = folder / "train" / name
        np.save(path, edit(np.load(path)))
    return change


def with_value(array, index, value, dtype=np.float64):
    array = array.astype(dtype)
    array[index] = value
    return array


def link_outside(folder: Path) -> None:
    (folder / "train" / "r_1.png").unlink()
    (folder / "train" / "r_1.png").symlink_to(folder.parent / "outside" / "r_1.png")


def mirror(matrix):
    matrix[:3, 0] *= -1
    return matrix


BLENDER_CASES = {
    # near / far
    "near above far": (set_meta(near=6.0, far=2.0), r"transforms_train\.json: near = 6 is not below far = 2"),
    "near equals far": (set_meta(near=4.0, far=4.0), r"transforms_train\.json: near = 4 equals far = 4"),
    "far infinite": (set_meta(far=math.inf), r"transforms_train\.json: far = inf is not finite"),
    "near NaN": (set_meta(near=math.nan), r"transforms_train\.json: near = nan is not finite"),
    "far beyond float32": (set_meta(far=1e39), r"transforms_train\.json: far = 1e\+39 is not finite"),
    "near negative": (set_meta(near=-1.0), r"transforms_train\.json: near = -1 is negative"),
    "near a string": (set_meta(near="2"), r"transforms_train\.json: near must be a number, got '2'"),
    # intrinsics
    "focal NaN": (set_meta(fl_x=math.nan), r"transforms_train\.json: fl_x gives the focal length fx = nan px"),
    "focal negative": (set_meta(fl_x=-20.0), r"transforms_train\.json: fl_x gives the focal length fx = -20 px"),
    "focal y zero": (set_meta(fl_x=20.0, fl_y=0.0), r"transforms_train\.json: fl_y gives the focal length fy = 0 px"),
    "field of view zero": (set_meta(camera_angle_x=0.0), r"transforms_train\.json: camera_angle_x = 0 must be"),
    "field of view in degrees": (set_meta(camera_angle_x=40.0), r"transforms_train\.json: camera_angle_x = 40 must be"),
    "principal point far outside": (set_meta(cx=1000.0),
                                    r"transforms_train\.json: cx gives the principal point cx = 1000 px, far outside"),
    "principal point NaN": (set_meta(cy=math.nan), r"transforms_train\.json: cy gives the principal point cy = nan"),
    # poses
    "rotation scaled": (edit_pose(1, lambda m: np.c_[2 * m[:, :3], m[:, 3]]),
                        r"transforms_train\.json: frame 1 transform_matrix: rotation is not orthonormal"),
    "rotation mirrored": (edit_pose(2, mirror),
                          r"transforms_train\.json: frame 2 transform_matrix: rotation has det -1"),
    "pose NaN": (edit_pose(0, lambda m: with_value(m, (0, 3), np.nan)),
                 r"transforms_train\.json: frame 0 transform_matrix holds NaN"),
    "pose last row": (edit_pose(1, lambda m: with_value(m, (3, 2), 1.0)),
                      r"transforms_train\.json: frame 1 transform_matrix: last row is \[0\.0, 0\.0, 1\.0, 1\.0\]"),
    "pose 3x4": (edit_pose(1, lambda m: m[:3]),
                 r"transforms_train\.json: frame 1 transform_matrix must be a 4x4 matrix, got shape \(3, 4\)"),
    "pose not numbers": (edit_frame(1, lambda f: f.update(transform_matrix="identity")),
                         r"transforms_train\.json: frame 1 transform_matrix must be a 4x4 matrix"),
    # paths
    "file_path ../": (edit_frame(1, lambda f: f.update(file_path="../outside/r_1")),
                      r"transforms_train\.json: frame 1 file_path '\.\./outside/r_1\.png' resolves to .*outside the "
                      r"dataset folder"),
    "file_path absolute": (edit_frame(0, lambda f: f.update(file_path="/etc/passwd")),
                           r"transforms_train\.json: frame 0 file_path '/etc/passwd\.png' resolves to "
                           r"/etc/passwd\.png, outside the dataset folder"),
    "depth_file_path ../": (edit_frame(2, lambda f: f.update(depth_file_path="../outside/d.npy")),
                            r"transforms_train\.json: frame 2 depth_file_path '\.\./outside/d\.npy' resolves to "
                            r".*outside the dataset folder"),
    "image symlinked outside": (link_outside, r"transforms_train\.json: frame 1 file_path 'train/r_1\.png' resolves to "
                                              r".*outside/r_1\.png, outside the dataset folder"),
    "file_path missing": (edit_frame(1, lambda f: f.pop("file_path")),
                          r"transforms_train\.json: frame 1 lacks file_path or transform_matrix"),
    # images
    "RGB among RGBA": (rewrite_image("r_1.png", lambda im: im[..., :3]),
                       r"r_1\.png: is RGB but the first image of transforms_train\.json is RGBA"),
    "grey + alpha": (rewrite_image("r_1.png", lambda im: im[..., 2:]), r"r_1\.png: has 2 channels"),
    "fully transparent": (rewrite_image("r_2.png", lambda im: with_value(im, (..., 3), 0, np.uint8)),
                          r"r_2\.png: is fully transparent"),
    "first view fully transparent": (rewrite_image("r_0.png", lambda im: with_value(im, (..., 3), 0, np.uint8)),
                                     r"r_0\.png: is fully transparent"),
    "constant image": (rewrite_image("r_1.png", lambda im: np.full_like(im, 128)), r"r_1\.png: is constant"),
    "another size": (rewrite_image("r_1.png", lambda im: im[:8]),
                     r"r_1\.png: is 16x8 but the first image of transforms_train\.json is 16x16"),
    # depth
    "depth overflows float32": (rewrite_depth("r_1_depth.npy", lambda d: with_value(d, (5, 5), 1e39)),
                                r"r_1_depth\.npy: depth holds 1 values that overflow to inf when cast to float32"),
    "depth unit scale overflows float32": (set_meta(depth_unit_scale_factor=1e38),
                                           r"r_0_depth\.npy: depth holds \d+ values that overflow to inf when cast "
                                           r"to float32"),
    "depth unit scale negative": (set_meta(depth_unit_scale_factor=-1.0),
                                  r"transforms_train\.json: frame 0 depth_unit_scale_factor = -1 must be"),
    "depth NaN": (rewrite_depth("r_2_depth.npy", lambda d: with_value(d, (3, 3), np.nan, np.float32)),
                  r"r_2_depth\.npy: depth holds 1 NaN or infinite values"),
    # scene box and scale
    "scene scaled by 1e-3": (scale_translations(1e-3),
                             r"transforms_train\.json: the scene scale does not fit the field: along the camera rays "
                             r"only 0% of the scene_box"),
    "scene scaled by 0.3": (scale_translations(0.3), r"transforms_train\.json: the scene scale does not fit the field"),
    "scene scaled by 1e3": (scale_translations(1e3), r"transforms_train\.json: the scene_box .* spans at most 0\.\d+ "
                                                     r"pixels in any view"),
    "cameras look away": (lambda folder: edit_meta(folder, turn_cameras_around),
                          r"transforms_train\.json: no camera ray meets the scene_box"),
    "scene_box inverted": (set_meta(scene_box=[[1, 1, 1], [-1, -1, -1]]),
                           r"transforms_train\.json: scene_box .*: every min corner value must be below the max one"),
    "scene_box NaN": (set_meta(scene_box=[[-1, -1, math.nan], [1, 1, 1]]),
                      r"transforms_train\.json: scene_box .* holds values that are not finite"),
    "scene_box flat list": (set_meta(scene_box=[-1, -1, -1, 1, 1, 1]),
                            r"transforms_train\.json: scene_box must be \[\[xmin, ymin, zmin\], \[xmax, ymax, "
                            r"zmax\]\], got shape \(6,\)"),
}


@pytest.mark.parametrize("case", list(BLENDER_CASES))
def test_bad_blender_input(blender, case):
    breakage, message = BLENDER_CASES[case]
    breakage(blender)
    with pytest.raises(DataError, match=message):
        load_dataset(blender, "train")


# ---------------------------------------------------------------- LLFF layout and DS-NeRF depth

def edit_rows(edit):
    def change(folder):
        rows = np.load(folder / "poses_bounds.npy")
        edit(rows)
        np.save(folder / "poses_bounds.npy", rows)
    return change


def replace_row(index, **kwargs):
    return edit_rows(lambda rows: rows.__setitem__(index, llff_row([0.1 * index, 0.0, 0.0], **kwargs)))


def rewrite_llff_image(name: str, image):
    return lambda folder: iio.imwrite(folder / "images_8" / name, image)


def replace_dsnerf(entries):
    return lambda folder: write_dsnerf(folder, entries)


def _opaque_rgba():
    return np.concatenate([np.random.default_rng(1).integers(0, 256, (6, 8, 3), dtype=np.uint8),
                           np.full((6, 8, 1), 255, np.uint8)], axis=-1)


def _half_transparent():
    image = _opaque_rgba()
    image[..., 3] = 128
    return image


LLFF_CASES = {
    "bounds swapped in a row": (replace_row(1, bounds=(9.0, 2.0)),
                                r"poses_bounds\.npy: row 1: the near bound 9 is not below the far bound 2"),
    "bound zero": (replace_row(0, bounds=(0.0, 9.0)), r"poses_bounds\.npy: near/far bounds must be positive; row 0"),
    "focal zero": (replace_row(0, hwf=(48.0, 64.0, 0.0)),
                   r"poses_bounds\.npy: row 0: H, W, focal \(columns 4, 9, 14\) must be positive"),
    "focal NaN": (replace_row(0, hwf=(48.0, 64.0, np.nan)),
                  r"poses_bounds\.npy: expected a finite \[N, 17\] array; row 0 column 14 is nan"),
    "rotation scaled": (replace_row(2, rotation=1.5 * np.eye(3)),
                        r"poses_bounds\.npy: row 2 \(its 3x4 camera-to-world pose\): rotation is not orthonormal"),
    "rotation mirrored": (replace_row(1, rotation=np.diag([1.0, 1.0, -1.0])),
                          r"poses_bounds\.npy: row 1 \(its 3x4 camera-to-world pose\): rotation has det -1"),
    "constant image": (rewrite_llff_image("im1.png", np.zeros((6, 8, 3), np.uint8)), r"im1\.png: is constant"),
    "another size": (rewrite_llff_image("im2.png", np.random.default_rng(2).integers(0, 256, (6, 10, 3), np.uint8)),
                     r"im2\.png: is 10x6 but the first image of images_8 is 8x6"),
    "RGBA among RGB": (rewrite_llff_image("im1.png", _opaque_rgba()), r"im1\.png: is RGBA but the first image of "
                                                                     r"images_8 is RGB"),
    "transparent photograph": (lambda folder: [rewrite_llff_image(f"im{k}.png", _half_transparent())(folder)
                                               for k in range(3)], r"im0\.png: has transparent pixels"),
    "DS-NeRF entry without coord": (replace_dsnerf([{"depth": np.ones(2), "error": np.ones(2)}] * 3),
                                    r"colmap_depth_1\.npy: entry 0 must be a dict with 'depth', 'coord' and 'error'"),
    "DS-NeRF coord shape": (replace_dsnerf([dsnerf_entry(), dsnerf_entry(), {**dsnerf_entry(), "coord": np.ones(2)}]),
                            r"colmap_depth_1\.npy: entry 2: 'depth' must be \[P\], 'coord' \[P, 2\] and 'error' \[P\]"),
    "DS-NeRF depth overflows float32": (replace_dsnerf([dsnerf_entry(), dsnerf_entry((3.0, 1e39)), dsnerf_entry()]),
                                        r"colmap_depth_1\.npy: depth holds 1 values that overflow to inf when cast to "
                                        r"float32"),
    "DS-NeRF negative depth": (replace_dsnerf([dsnerf_entry((3.0, -1.0))] * 3),
                               r"colmap_depth_1\.npy: depth holds 3 negative values"),
    "DS-NeRF one entry missing": (replace_dsnerf([dsnerf_entry()] * 2), r"colmap_depth_1\.npy: 2 entries for 3 images"),
}


@pytest.mark.parametrize("case", list(LLFF_CASES))
def test_bad_llff_input(llff, case):
    breakage, message = LLFF_CASES[case]
    breakage(llff)
    with pytest.raises(DataError, match=message):
        load_dataset(llff, "all", 8, sparse_depth="dsnerf")


# ---------------------------------------------------------------- the embedded scene's folder

def users_folder(root: Path) -> Path:
    (root / "embedded").mkdir(parents=True)
    (root / "embedded" / "my_render.png").write_bytes(b"a user's file")
    return root / "embedded" / "my_render.png"


def users_json_without_marker(root: Path) -> Path:
    keep = users_folder(root)
    (root / "embedded" / "transforms_test.json").write_text(json.dumps({"camera_angle_x": 0.7, "frames": []}))
    return keep


def users_broken_json(root: Path) -> Path:
    keep = users_folder(root)
    (root / "embedded" / "transforms_test.json").write_text("{ not json")
    return keep


def users_file(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "embedded").write_text("a file, not a folder")
    return root / "embedded"


def another_generator(root: Path) -> Path:
    keep = users_folder(root)
    (root / "embedded" / "transforms_test.json").write_text(json.dumps({"generator": "my own tool v1", "frames": []}))
    return keep


@pytest.mark.parametrize("make", [users_folder, users_json_without_marker, users_broken_json, users_file,
                                  another_generator], ids=lambda f: f.__name__)
def test_a_folder_depthnerf_did_not_create_is_never_deleted(tmp_path, make):
    keep = make(tmp_path / "data")
    before = keep.read_bytes()
    with pytest.raises(DataError, match=r"data/embedded: exists but was not created by depthnerf .* will not be "
                                        r"deleted or replaced: move it away, or pass another root"):
        load_dataset("embedded", "train", root=tmp_path / "data")
    assert keep.read_bytes() == before
    assert not list((tmp_path / "data").glob(".embedded-*")), "nothing generated or left behind"
