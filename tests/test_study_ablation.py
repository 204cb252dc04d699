"""The ablation and depth-robustness study notebooks, executed headless in smoke with tiny grids.

Both notebooks join one local Ray instance started by this module (through ``RAY_ADDRESS``, the way a
study joins a cluster), so Ray starts once for the whole file.
"""
import json
import math

import pytest

from conftest import execute_notebook

pytestmark = pytest.mark.ray

ABLATION_ENV = {"DEPTHNERF_ABLATION_SEEDS": "1", "DEPTHNERF_ABLATION_SOFT_WEIGHT": "0.01,0.1",
                "DEPTHNERF_ABLATION_DEPTH_LOSS": "dsnerf,urf", "DEPTHNERF_ABLATION_HARD_WEIGHT": "0.005,0.05",
                "DEPTHNERF_ABLATION_EPS": "0.3,1.0", "DEPTHNERF_ABLATION_GUIDED_SAMPLES": "8,16"}
ROBUSTNESS_ENV = {"DEPTHNERF_ROBUSTNESS_SEEDS": "1", "DEPTHNERF_ROBUSTNESS_STRATEGIES": "soft,hard",
                  "DEPTHNERF_ROBUSTNESS_NOISE": "0,0.5", "DEPTHNERF_ROBUSTNESS_KEEP": "1,0.05",
                  "DEPTHNERF_ROBUSTNESS_SCALE": "1,1.2"}
GAIN_AND_METRICS = ("psnr", "ssim", "depth_absrel", "train_seconds", "psnr_gain", "depth_absrel_gain")


def execute(notebook: str, results, ray_address: str, env: dict) -> str:
    return execute_notebook(notebook, results, {"RAY_ADDRESS": ray_address, **env})


def assert_finite(entries: list[dict]) -> None:
    for entry in entries:
        for metric in GAIN_AND_METRICS:
            assert math.isfinite(entry[f"{metric}_mean"]) and math.isfinite(entry[f"{metric}_std"]), (metric, entry)


@pytest.mark.slow
def test_ablation_notebook_tables_every_knob_value_and_skips_finished_trials(tmp_path, ray_address):
    text = execute("Analysis/ablation_studies.ipynb", tmp_path, ray_address, ABLATION_ENV)
    assert "8 trials, 0 already finished, 8 to run" in text  # baseline, 2 shared defaults, 5 other values
    folder = tmp_path / "studies" / "ablation"
    table = (folder / "table.md").read_text()
    assert "| (reference) |  | baseline | 1 |" in table
    expected = {("soft_weight", "0.01"), ("soft_weight", "0.1"), ("depth_loss", "dsnerf"), ("depth_loss", "urf"),
                ("hard_weight", "0.005"), ("hard_weight", "0.05"), ("eps", "0.3"), ("eps", "1.0"),
                ("guided_samples", "8"), ("guided_samples", "16")}
    for knob, value in expected:
        strategy = "soft" if knob in ("soft_weight", "depth_loss") else "hard"
        assert f"| {knob} | {value} | {strategy} | 1 |" in table, (knob, value)
    record = json.loads((folder / "summary.json").read_text())
    summary = {(e["knob"], str(e["value"])): e for e in record["summary"]}
    assert set(summary) == expected
    assert_finite(record["summary"])
    assert summary[("soft_weight", "0.01")]["psnr_mean"] == summary[("depth_loss", "dsnerf")]["psnr_mean"]
    assert summary[("eps", "0.3")]["psnr_mean"] == summary[("guided_samples", "16")]["psnr_mean"]
    assert summary[("soft_weight", "0.1")]["psnr_mean"] != summary[("soft_weight", "0.01")]["psnr_mean"]
    assert (folder / "ablation.png").stat().st_size > 0

    finished = {p: p.stat().st_mtime_ns for p in folder.glob("*/evaluation.json")}
    assert len(finished) == 8
    text = execute("Analysis/ablation_studies.ipynb", tmp_path, ray_address, ABLATION_ENV)
    assert "8 trials, 8 already finished, 0 to run" in text
    assert {p: p.stat().st_mtime_ns for p in folder.glob("*/evaluation.json")} == finished


@pytest.mark.slow
def test_robustness_notebook_tables_every_level_and_where_strategies_break(tmp_path, ray_address):
    text = execute("Analysis/depth_robustness.ipynb", tmp_path, ray_address, ROBUSTNESS_ENV)
    assert "9 trials, 0 already finished, 9 to run" in text  # baseline + 2 strategies x (clean + 3 levels)
    folder = tmp_path / "studies" / "depth_robustness"
    table = (folder / "table.md").read_text()
    assert "| (reference) |  | baseline | 1 |" in table and "## Where each strategy breaks" in table
    record = json.loads((folder / "summary.json").read_text())
    levels = {"noise_std": (0.0, 0.5), "keep_fraction": (0.05, 1.0), "scale": (1.0, 1.2)}
    expected = {(kind, level, s) for kind, pair in levels.items() for level in pair for s in ("soft", "hard")}
    assert {(e["corruption"], e["level"], e["strategy"]) for e in record["summary"]} == expected
    for kind, level, strategy in expected:
        assert f"| {kind} | {level} | {strategy} | 1 |" in table
    assert_finite(record["summary"])
    entry = {(e["corruption"], e["level"], e["strategy"]): e for e in record["summary"]}
    for strategy in ("soft", "hard"):  # the clean trial is shared by the three kinds
        assert (entry[("noise_std", 0.0, strategy)]["psnr_mean"] == entry[("keep_fraction", 1.0, strategy)]["psnr_mean"]
                == entry[("scale", 1.0, strategy)]["psnr_mean"])
        assert entry[("noise_std", 0.5, strategy)]["psnr_mean"] != entry[("noise_std", 0.0, strategy)]["psnr_mean"]
    breaks = record["breaks"]
    assert {(b["strategy"], b["corruption"]) for b in breaks} == {
        (s, c) for s in ("soft", "hard") for c in ("noise", "sparsity", "scale > 1")}
    for b in breaks:  # the reported level is the first, from clean to worst, whose paired gain is negative
        gains = [entry[(b["kind"], level, b["strategy"])]["psnr_gain_mean"] for level in b["levels"]]
        first = next((level for level, gain in zip(b["levels"], gains) if gain < 0), None)
        assert b["psnr_breaks_at"] == first, b
    assert "PSNR below baseline from" in text
    assert (folder / "robustness.png").stat().st_size > 0


@pytest.mark.slow
def test_hyperparameter_sweep_scores_on_validation_views_and_writes_its_choice(tmp_path, ray_address):
    text = execute("Analysis/hyperparameter_sweep.ipynb", tmp_path, ray_address, {"DEPTHNERF_SWEEP_VIEWS": "3,6"})
    assert "8 trials: 4 candidates x 2 view counts x 1 seeds" in text
    folder = tmp_path / "studies" / "hyperparameter_sweep"
    records = [json.loads(p.read_text()) for p in folder.glob("*/evaluation.json")]
    assert len(records) == 8 and {r["trial"]["eval_split"] for r in records} == {"val"}
    assert {r["trial"]["n_views"] for r in records} == {3, 6}
    table = (folder / "table.md").read_text()
    assert "validation split" in table and table.count("| baseline |") == 2
    chosen = json.loads((folder / "chosen.json").read_text())
    assert set(chosen) <= {"soft", "hard", "hybrid"}  # smoke models learn little: a candidate may fail the rule
    for entry in chosen.values():
        assert math.isfinite(entry["mean_psnr_gain"]) and entry["candidate"].split()[0] in chosen
    assert "4 trials: 1 strategies x 2 over_cap values x 2 view counts x 1 seeds" in text  # the sampler stage
    sampler = tmp_path / "studies" / "hyperparameter_sweep_sampler"
    records = [json.loads(p.read_text()) for p in sampler.glob("*/evaluation.json")]
    assert sorted((r["trial"]["train"]["over_cap"], r["trial"]["n_views"]) for r in records) == [
        ("merge", 3), ("merge", 6), ("nearest", 3), ("nearest", 6)]
    assert {json.loads(p.read_text())["over_cap"] for p in sampler.glob("*/config.json")} == {"merge", "nearest"}
    picked = json.loads((sampler / "chosen.json").read_text())
    best = max(picked["means"], key=lambda v: picked["means"][v]["psnr_mean"])
    assert picked["over_cap"] == best and picked["means"][best]["n"] == 2
    assert "validation split" in (sampler / "table.md").read_text()


def test_hyperparameter_sweep_refuses_a_misspelt_stage(tmp_path, ray_address):
    with pytest.raises(Exception, match="DEPTHNERF_SWEEP_STAGES = 'sampel': choose one or more of"):
        execute("Analysis/hyperparameter_sweep.ipynb", tmp_path, ray_address, {"DEPTHNERF_SWEEP_STAGES": "sampel"})
    assert not (tmp_path / "studies").exists()
