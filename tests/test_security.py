"""Nothing executes on load: files that could run code when read are refused, naming the file.

DS-NeRF sparse depth (``colmap_depth_*.npy``, a pickled object array) is read by
``depthnerf.io.load_npy_restricted``, whose unpickler admits only numpy arrays, dtypes and scalars
(plus the built-in containers and numbers). Each group of tests below is self-contained, so more
groups (e.g. torch checkpoints) can be added beside it.
"""
import os
import pickle
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from numpy.lib import format as npy_format

from depthnerf import datasets as D  # D.load_dataset
from depthnerf.io import load_npy_restricted
from depthnerf.scene import DataError
from depthnerf.sparse_depth import dsnerf_observations

POSTER = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "dsnerf_poster_less"


# ---------------------------------------------------------------- DS-NeRF colmap_depth_*.npy

class _OpensMarker:
    """Unpickling this object runs ``open(marker, "w")``: the file appears if the pickle is executed."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


class _RunsShell:
    """Unpickling this object runs ``os.system("touch marker")``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _llff_scene(folder: Path) -> Path:
    """A valid 3-view LLFF scene (8x6 noise images, forward-facing cameras) without sparse depth."""
    (folder / "images_8").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k in range(3):
        iio.imwrite(folder / "images_8" / f"im{k}.png", rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
    pose = np.array([[0, 1, 0, 0, 48], [-1, 0, 0, 0, 64], [0, 0, 1, 0, 50.0]])  # down, right, back, centre, hwf
    rows = [np.r_[(pose + np.c_[np.zeros((3, 3)), [0.1 * k, 0, 0], np.zeros(3)]).ravel(), 2.0, 9.0] for k in range(3)]
    np.save(folder / "poses_bounds.npy", np.stack(rows))
    return folder


def _entry(extra=None) -> dict:
    entry = {"depth": np.array([3.0, 4.0]), "coord": np.array([[1.0, 1.0], [2.0, 3.0]]), "error": np.array([1.0, 0.5])}
    return entry if extra is None else {**entry, "note": extra}


def _write_bare_pickle(path: Path, payload) -> None:
    """An object-array .npy header followed by the pickle of ``payload`` itself."""
    with open(path, "wb") as f:
        npy_format.write_array_header_1_0(f, {"descr": "|O", "fortran_order": False, "shape": (3,)})
        pickle.dump(payload, f, protocol=4)


def _write_nested(path: Path, payload) -> None:
    """A DS-NeRF-looking file (np.save of an object array of dicts) with ``payload`` inside one entry."""
    entries = np.empty(3, dtype=object)
    entries[:] = [_entry(), _entry(payload), _entry()]
    np.save(path, entries, allow_pickle=True)


@pytest.mark.parametrize("gadget, refused", [(_OpensMarker, r"io\.open"), (_RunsShell, r"posix\.system")],
                         ids=["open", "os.system"])
@pytest.mark.parametrize("write", [_write_bare_pickle, _write_nested], ids=["bare", "inside an entry"])
def test_dsnerf_depth_file_that_runs_code_on_load_is_refused(tmp_path, gadget, refused, write):
    scene = _llff_scene(tmp_path / "scene")
    marker = tmp_path / "unpickling_ran_code"
    write(scene / "colmap_depth_1.npy", gadget(marker))
    message = rf"colmap_depth_1\.npy: refusing to unpickle {refused}"
    with pytest.raises(DataError, match=message):
        D.load_dataset(scene, "all", 8, sparse_depth="dsnerf")
    with pytest.raises(DataError, match=message):
        dsnerf_observations(scene, 3)
    assert not marker.exists(), "the pickle ran code while the file was read"


@pytest.mark.parametrize("global_name", ["builtins.eval", "numpy.load", "subprocess.Popen",
                                         "numpy.core.multiarray.fromfile"])
def test_restricted_npy_reader_refuses_every_other_global(tmp_path, global_name):
    module, name = global_name.rsplit(".", 1)
    path = tmp_path / "colmap_depth_1.npy"
    with open(path, "wb") as f:
        npy_format.write_array_header_1_0(f, {"descr": "|O", "fortran_order": False, "shape": (1,)})
        f.write(b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"q\x00.")  # protocol 2: GLOBAL module name
    with pytest.raises(DataError, match=rf"colmap_depth_1\.npy: refusing to unpickle {global_name}"):
        load_npy_restricted(path)


def test_restricted_npy_reader_reads_numpy_2_pickles_and_plain_arrays(tmp_path):
    entries = np.empty(2, dtype=object)
    entries[:] = [_entry(), {"depth": np.float32(2.5), "list": [1, 2.0, "x", (3, None)], "flag": np.bool_(True)}]
    np.save(tmp_path / "objects.npy", entries, allow_pickle=True)  # this numpy names numpy._core.multiarray
    loaded = load_npy_restricted(tmp_path / "objects.npy")
    assert (loaded[0]["coord"] == entries[0]["coord"]).all() and loaded[1]["list"] == [1, 2.0, "x", (3, None)]
    assert loaded[1]["depth"] == np.float32(2.5) and loaded[1]["depth"].dtype == np.float32
    np.save(tmp_path / "plain.npy", np.arange(6.0).reshape(2, 3))
    assert (load_npy_restricted(tmp_path / "plain.npy") == np.arange(6.0).reshape(2, 3)).all()
    (tmp_path / "junk.npy").write_bytes(b"not an npy file")
    with pytest.raises(DataError, match=r"junk\.npy: cannot read"):
        load_npy_restricted(tmp_path / "junk.npy")


@pytest.mark.data
@pytest.mark.skipif(not POSTER.is_dir(), reason=f"real data not found at {POSTER}")
def test_the_real_dsnerf_file_written_by_numpy_1_still_loads():
    """DS-NeRF's own file (numpy 1.x pickles: numpy.core.multiarray._reconstruct) reads as np.load would."""
    path = POSTER / "colmap_depth_1.npy"
    ours = load_npy_restricted(path)
    theirs = np.load(path, allow_pickle=True)  # trusted: the shared data set, compared only
    assert len(ours) == len(theirs) == 14
    for a, b in zip(ours, theirs):
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)


# ---------------------------------------------------------------- torch models and checkpoints

def _tiny_trained_run(out_dir: Path, stop_at=None):
    import torch  # noqa: F401  (the trainer needs it; imported here to keep the npy tests light)

    from depthnerf.config import TrainConfig
    from depthnerf.trainer import train

    data = D.load_dataset("embedded", "train", downscale=8, max_views=3)
    config = TrainConfig(iterations=6, batch_rays=64, n_samples=16, field_params={"resolution": 16},
                         occupancy_resolution=16, val_every=100, checkpoint_every=3)
    train(data, config, out_dir, stop_at=stop_at, progress=False)
    return data, config


def _poison(path: Path, marker: Path) -> None:
    """Rewrite a saved torch file so that loading it with pickle would run ``open(marker, "w")``."""
    import torch

    saved = torch.load(path, weights_only=True)
    saved["field"]["density_planes"] = _OpensMarker(marker)
    torch.save(saved, path)


def test_a_model_that_runs_code_on_load_is_refused(tmp_path):
    from depthnerf.evaluate import evaluate_all
    from depthnerf.runs import load_run

    marker = tmp_path / "MARKER"
    data, _ = _tiny_trained_run(tmp_path / "baseline")
    _poison(tmp_path / "baseline" / "model_baseline.pth", marker)
    with pytest.raises(RuntimeError, match=r"refusing to load model .*model_baseline.pth.*could run code"):
        load_run(tmp_path / "baseline")
    evaluation, _ = evaluate_all(tmp_path, data.subset([0]), strategies=("baseline",), progress=False)
    assert "refusing to load model" in evaluation["baseline"]["missing"]
    assert not marker.exists()


def test_a_checkpoint_that_runs_code_on_load_is_refused(tmp_path):
    from depthnerf.io import read_saved
    from depthnerf.trainer import train

    marker = tmp_path / "MARKER"
    data, config = _tiny_trained_run(tmp_path / "run", stop_at=3)
    _poison(tmp_path / "run" / "checkpoint.pth", marker)
    with pytest.raises(RuntimeError, match=r"refusing to load checkpoint .*checkpoint.pth.*could run code"):
        train(data, config, tmp_path / "run", progress=False)
    with pytest.raises(RuntimeError, match="refusing to load checkpoint"):
        read_saved(tmp_path / "run" / "checkpoint.pth", "checkpoint")  # the benchmarks' loader
    assert not marker.exists()
