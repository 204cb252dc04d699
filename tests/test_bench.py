"""benchmarks/lego.py: the original project's loop and its alpha handling, on a few real lego views."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from depthnerf.data import load_dataset

ROOT = Path(__file__).resolve().parent.parent
LEGO = ROOT.parent / "shared/data/nerf_synthetic/lego"
pytestmark = [pytest.mark.data,
              pytest.mark.skipif(not LEGO.is_dir(), reason=f"{LEGO} absent (shared real data)")]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("lego_bench", ROOT / "benchmarks/lego.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lego():
    return load_dataset(LEGO, "train", downscale=8, max_views=4)


def test_alpha_dropped_targets_are_black_where_transparent(bench, lego):
    raw = bench.raw_rgb(lego, 8)
    assert raw.shape == lego.images.shape
    empty, solid = lego.alphas == 0, lego.alphas == 1
    assert empty.any() and solid.any()
    assert raw[empty].max() < 0.05 and lego.images[empty].min() == 1.0  # black, where the fix is white
    np.testing.assert_allclose(raw[solid], lego.images[solid], atol=1e-6)


def test_reference_loop_trains_one_image_per_step_and_evaluates(bench, lego):
    test = load_dataset(LEGO, "test", downscale=8, max_views=1)
    rays, target = bench.reference_eval_pixels(test, 64)
    seen = []

    def evaluate(field):
        rgb = bench.reference_render(field, rays, float(lego.near), float(lego.far), 8)
        seen.append(rgb)
        return bench.psnr(rgb.numpy(), target.numpy())

    out = bench.reference_train(lego.images, lego, budget=1e9, evaluate=evaluate, eval_every=1e9, steps=2,
                                n_rays=64, n_samples=8)
    assert out["iterations"] == 2 and len(out["curve"]) == 1 and np.isfinite(out["curve"][0]["psnr"])
    assert seen[0].shape == (64, 3) and 0 <= float(seen[0].min()) and float(seen[0].max()) <= 1
    assert bench.time_to_psnr([{"seconds": 5.0, "psnr": 23.0}]) == {
        "20": 5.0, "22.5": 5.0, "25": None, "28": None, "30": None}
