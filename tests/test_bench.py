"""benchmarks/lego.py: the original project's loop and its alpha handling, on a few real lego views."""
import importlib.util
import json
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


def test_benchmark_script_runs_the_coarse_to_fine_recipe_and_reports_every_key(bench, tmp_path):
    """A seconds-long run of the whole script on 4 train views: what it reports, not how fast."""
    assert bench.main(["--budget", "3", "--eval-every", "1.5", "--train-views", "4", "--test-views", "1",
                       "--no-reference", "--grid-upsample", "0.2:48,0.4:64", "--grid-resolution", "32",
                       "--iterations", "30",
                       "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "lego_baseline_tensorf.json").read_text())
    ours = report["ours"]
    assert ours["config"]["grid_upsample"] == [[0.2, 48], [0.4, 64]] and ours["config"]["color_threshold"] == 1e-4
    assert set(ours["time_to_psnr"]) == {"20", "22.5", "25", "28", "30"} and len(ours["curve"]) >= 1
    point = ours["curve"][-1]
    assert np.isfinite(point["psnr"]) and 0 < point["ssim"] <= 1
    assert 0 <= point["coloured_per_ray"] <= point["samples_per_ray"] and point["samples_per_ray"] > 0
    assert point["grid_resolution"] in (32, 48, 64) and ours["stopped_by"] in ("budget", "iterations")
    assert ours["profile"]["points_per_s"] > 0 and report["machine"]["torch_threads"] >= 1
