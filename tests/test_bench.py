"""benchmarks/lego.py: the original project's configuration and its alpha handling, and the whole script
on a few real lego views, both configurations trained by the project's one trainer."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from depthnerf.datasets import load_dataset

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
    reference = bench.reference_data(lego, raw)
    assert reference.alphas is None and reference.images is raw


def test_benchmark_script_runs_both_configurations_and_reports_every_key(bench, tmp_path):
    """A seconds-long run of the whole script on 4 train views at 100x100: what it reports, not how fast."""
    assert bench.main(["--budget", "3", "--eval-every", "1.5", "--train-views", "4", "--test-views", "1", "--downscale", "8",
                       "--reference-budget", "2", "--reference-pixels", "64", "--iterations", "30",
                       "--set", "field_params.resolution=32", "--set", "field_params.upsample=[[0.2, 48], [0.4, 64]]",
                       "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "lego_baseline_tensorf.json").read_text())
    ours = report["ours"]
    assert ours["config"]["field_params"]["upsample"] == [[0.2, 48], [0.4, 64]]
    assert ours["config"]["color_threshold"] == 1e-4 and ours["config"]["batch_rays"] == 4096
    assert set(ours["time_to_psnr"]) == {f"{t:g}" for t in bench.THRESHOLDS} and len(ours["curve"]) >= 1
    point = ours["curve"][-1]
    assert np.isfinite(point["psnr"]) and 0 < point["ssim"] <= 1
    assert 0 <= point["coloured_per_ray"] <= point["samples_per_ray"] and point["samples_per_ray"] > 0
    assert point["grid_resolution"] in (32, 48, 64) and ours["stopped_by"] in ("budget", "iterations")
    assert abs(ours["reloaded_psnr_check"] - point["psnr"]) < 0.05  # the saved state renders what was measured
    assert ours["profile"]["points_per_s"] > 0 and report["machine"]["torch_threads"] >= 1
    for name in ("alpha_dropped", "alpha_composited"):
        reference = report["reference"][name]
        assert reference["config"]["field"] == "mlp" and reference["config"]["batching"] == "one_image"
        assert reference["config"]["adam_beta2"] == 0.999 and reference["iterations"] > 0
        assert np.isfinite(reference["curve"][-1]["psnr"])
    assert set(report["comparison"]["alpha_dropped"]["reference_time_over_ours"]) == set(ours["time_to_psnr"])


def test_depth_speed_benchmark_reports_the_time_to_the_baselines_final_psnr(tmp_path):
    spec = importlib.util.spec_from_file_location("depth_speed", ROOT / "benchmarks/depth_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--views", "3", "--profile", "smoke", "--every", "10", "--strategies", "baseline", "hard",
                        "--out", str(tmp_path)]) == 0
    runs = json.loads((tmp_path / "depth_speed.json").read_text())["runs"]["3"]
    base = runs["baseline"]
    assert [p["iterations"] for p in base["curve"]] == [10, 20, 30] and base["iterations"] == 30
    assert base["seconds_to_baseline_final"] <= base["train_seconds"] and base["ratio_to_baseline_seconds"] <= 1
    reach = runs["hard"]["seconds_to_baseline_final"]
    first = next((p for p in runs["hard"]["curve"] if p["psnr"] >= base["psnr"]), None)
    assert reach == (first["seconds"] if first else None)


def test_runtime_estimate_benchmark_puts_the_estimate_beside_a_real_run_of_the_same_config(tmp_path):
    spec = importlib.util.spec_from_file_location("runtime_estimate", ROOT / "benchmarks/runtime_estimate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--profile", "smoke", "--strategies", "baseline", "hard", "--set", "iterations=20",
                        "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "runtime_estimate.json").read_text())
    assert set(report["runs"]) == {"baseline", "hard"} and report["machine"]["matmul_4096_peak_gflop_per_s"] > 0
    for run in report["runs"].values():
        assert run["iterations"] == 20 and run["measured_seconds"] > 0 and run["estimate_seconds"] > 0
        assert run["stages"][0]["steps"][0] == 0 and run["stages"][-1]["steps"][1] == 20
        ratio = run["estimate_seconds"] / run["measured_seconds"]
        assert run["estimate_over_measured"] == pytest.approx(ratio, rel=0.05)
