"""Sweeps on Ray: trials land in their own folders, finished trials are skipped, failures are named,
results are read back from files; the study notebooks run headless in smoke."""
import json

import numpy as np
import pytest

from conftest import execute_notebook
from depthnerf.sweeps import (SweepError, Trial, collect, connect_ray, is_finished, paired_difference, run_sweep,
                              summarise, trial_dir)

pytestmark = pytest.mark.ray


def test_trial_id_is_stable_and_follows_every_field():
    a = Trial("soft", n_views=4, seed=1)
    assert a.trial_id == Trial("soft", n_views=4, seed=1).trial_id
    assert a.trial_id.startswith("soft-v4-s1-")
    variants = [Trial("soft", n_views=4, seed=2), Trial("soft", n_views=4, seed=1, corruption={"scale": 1.1}),
                Trial("soft", n_views=4, seed=1, strategy_params={"soft_weight": 0.1}),
                Trial("soft", n_views=4, seed=1, train={"iterations": 10})]
    assert len({a.trial_id, *(v.trial_id for v in variants)}) == 5


def test_trial_rejects_bad_fields():
    with pytest.raises(ValueError, match="depth_source"):
        Trial("soft", depth_source="lidar")
    with pytest.raises(ValueError, match="n_views"):
        Trial("soft", n_views=0)


@pytest.fixture(scope="module")
def ray_session():
    import ray

    connect_ray(num_cpus=2)
    yield
    ray.shutdown()


def test_sweep_runs_skips_finished_and_names_failures(tmp_path, ray_session, capsys):
    baseline = Trial("baseline", n_views=3, seed=0, profile="smoke")
    hybrid = Trial("hybrid", n_views=3, seed=0, profile="smoke")
    no_depth = Trial("soft", n_views=3, seed=0, profile="smoke", corruption={"keep_fraction": 0.0})

    records = run_sweep([baseline, hybrid], "t", tmp_path)
    assert [r["trial"]["strategy"] for r in records] == ["baseline", "hybrid"]
    for trial, record in zip((baseline, hybrid), records):
        folder = trial_dir(tmp_path, "t", trial)
        assert is_finished(folder, trial) and not (folder / "checkpoint.pth").exists()
        assert (folder / f"model_{trial.strategy}.pth").is_file()
        assert record["cost"]["iterations"] == 30 and len(record["depth"]["train_views"]) == 3
        assert np.isfinite(record["metrics"]["psnr"]) and np.isfinite(record["metrics"]["depth_absrel"])
    assert records[1]["depth"]["depth_fraction"] > 0.1  # the embedded scene's dense depth
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("evaluation.json")}

    capsys.readouterr()
    with pytest.raises(SweepError) as failure:
        run_sweep([baseline, hybrid, no_depth], "t", tmp_path)
    assert "2 already finished, 1 to run" in capsys.readouterr().out
    assert no_depth.trial_id in str(failure.value) and "needs depth" in str(failure.value)
    assert "needs depth" in (trial_dir(tmp_path, "t", no_depth) / "error.txt").read_text()
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("evaluation.json")} == stamps

    rows = collect(tmp_path, "t")
    assert sorted(r["strategy"] for r in rows) == ["baseline", "hybrid"]
    psnr = {r["strategy"]: r["psnr"] for r in rows}
    (gain,) = paired_difference(rows, "psnr")
    assert gain["strategy"] == "hybrid" and gain["n"] == 1
    assert gain["psnr_gain_mean"] == pytest.approx(psnr["hybrid"] - psnr["baseline"])


def test_a_changed_record_is_not_finished(tmp_path):
    trial = Trial("baseline", n_views=2)
    folder = trial_dir(tmp_path, "t", trial)
    folder.mkdir(parents=True)
    (folder / "evaluation.json").write_text(json.dumps({"trial": {**trial.to_dict(), "seed": 5}}))
    assert not is_finished(folder, trial)
    (folder / "evaluation.json").write_text("{ truncated")
    assert not is_finished(folder, trial)


def test_summarise_means_and_spread():
    rows = [{"strategy": "soft", "n_views": 2, "psnr": v} for v in (10.0, 12.0, 14.0)]
    (entry,) = summarise(rows, ("strategy", "n_views"), ("psnr",))
    assert entry["n"] == 3 and entry["psnr_mean"] == 12.0 and entry["psnr_std"] == pytest.approx(2.0)


@pytest.mark.slow
def test_sweeps_notebook_runs_twice_and_skips(tmp_path):
    text = execute_notebook("Analysis/sweeps.ipynb", tmp_path, {"DEPTHNERF_PROGRESS": "lines"})  # as make study runs it
    assert "2 trials, 0 already finished, 2 to run" in text and "2 trials, 2 already finished, 0 to run" in text
    assert "[sweep sweep_demo] 2/2 trials (100%)" in text  # headless: a line per finished trial
    assert "| baseline | 4 | 1 |" in text and "| soft | 4 | 1 |" in text


@pytest.mark.slow
def test_few_view_notebook_writes_its_table(tmp_path):
    execute_notebook("Analysis/few_view_study.ipynb", tmp_path,
                     {"DEPTHNERF_VIEWS": "2,3", "DEPTHNERF_SEEDS": "1", "DEPTHNERF_LEGO_VIEWS": ""})
    folder = tmp_path / "studies" / "few_view"
    table = (folder / "table.md").read_text()
    for strategy in ("baseline", "soft", "hard", "hybrid"):
        for n in (2, 3):
            assert f"| {n} | {strategy} | 1 |" in table
    summary = json.loads((folder / "summary.json").read_text())["summary"]
    assert len(summary) == 8 and all(np.isfinite(e["psnr_mean"]) for e in summary)
    assert all(np.isfinite(e["depth_absrel_object_mean"]) for e in summary) and "| depth_absrel_object |" in table
    assert (folder / "few_view.png").stat().st_size > 0


def test_an_interrupted_trial_is_recorded_as_interrupted_and_resumes(tmp_path, monkeypatch):
    """A trial whose training stops early (Ctrl-C / SIGTERM reach the trainer as a stop request) is
    reported as interrupted with its step, not as a missing model; the next run resumes it."""
    from depthnerf import sweeps

    trial = Trial("baseline", n_views=3, seed=0, profile="smoke")
    real_train = sweeps.train
    monkeypatch.setattr(sweeps, "train", lambda *a, **kw: real_train(*a, stop_at=7, **kw))
    with pytest.raises(sweeps.TrialInterrupted, match="interrupted after step 7 of 30"):
        sweeps.run_trial(trial, str(tmp_path), "t", ".")
    folder = trial_dir(tmp_path, "t", trial)
    assert (folder / "error.txt").read_text().startswith("interrupted:") and (folder / "checkpoint.pth").exists()
    monkeypatch.setattr(sweeps, "train", real_train)
    record = sweeps.run_trial(trial, str(tmp_path), "t", ".")
    assert record["cost"]["iterations"] == 30 and not (folder / "error.txt").exists()
    assert [json.loads(line)["step"] for line in (folder / "metrics.jsonl").read_text().splitlines()] == \
        list(range(1, 31, 10))
