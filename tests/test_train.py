"""The shared trainer: files, resume, loud failure without depth, evaluation around own depth, callbacks,
and a strategy registered outside the package training through it."""
import dataclasses
import json

import numpy as np
import pytest
import torch

from depthnerf.config import TrainConfig
from depthnerf.datasets import load_dataset
from depthnerf.rays import RayBundle
from depthnerf.rendering import render_rays
from depthnerf.runs import load_run
from depthnerf.samplers import StratifiedSampler
from depthnerf.strategies import hard, hybrid
from depthnerf.trainer import Trainer, train


@pytest.fixture(scope="module")
def tiny():
    train_data = load_dataset("embedded", "train", downscale=8, max_views=6)
    val_data = load_dataset("embedded", "val", downscale=8, max_views=1)
    return train_data, val_data


def tiny_config(strategy="baseline", iterations=24, **kw):
    settings = dict(strategy=strategy, iterations=iterations, batch_rays=256, n_samples=32,
                    field_params={"resolution": 24}, occupancy_resolution=16, occupancy_warmup=4,
                    occupancy_every=4, val_every=12, checkpoint_every=8)
    return TrainConfig(**{**settings, **kw})


def test_baseline_learns_and_writes_its_files(tiny, tmp_path):
    train_data, val_data = tiny
    result = train(train_data, tiny_config(iterations=60), tmp_path / "baseline", val_data=val_data,
                   progress=False)
    out = tmp_path / "baseline"
    for name in ("model_baseline.pth", "psnr_history.npy", "loss_history.npy", "config.json",
                 "metrics.jsonl", "summary.json", "checkpoint.pth"):
        assert (out / name).stat().st_size > 0, name
    psnr = np.load(out / "psnr_history.npy")
    assert len(psnr) == 60 and np.load(out / "loss_history.npy").shape == (60,)
    assert psnr[-10:].mean() > psnr[:5].mean() + 3, "training PSNR should rise"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["iterations"] == 60 and summary["train_seconds"] > 0
    assert summary["peak_memory_bytes"] > 0
    assert result.final_val_psnr == summary["val_psnr"][-1]["psnr"]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any("val_psnr" in r for r in records) and any("rgb" in r for r in records)

    run = load_run(out)
    rendered = run.render_views(val_data, [0])
    mse = np.mean((rendered["rgb"][0] - val_data.images[0]) ** 2)
    assert abs(-10 * np.log10(mse) - result.final_val_psnr) < 1e-3, "load_run renders what training validated"


def test_the_field_box_is_the_visual_hulls_box_where_one_is_carved(tiny, tmp_path):
    """fit_field_to_hull: the field's box is the carved grid's allowed_box. The embedded scene's hull
    reaches every face of its box (its objects span it), so there it is the scene box exactly; with
    masks cut to the central quarter of each view it shrinks inside the scene box. Off, the field gets the scene box.
    Saved and reloaded with the run."""
    train_data, _ = tiny
    scene = torch.as_tensor(train_data.scene_box, dtype=torch.float32)
    same = Trainer(train_data, tiny_config(iterations=4), tmp_path / "same", progress=False)
    assert torch.equal(same.field.aabb, scene)
    alphas = np.zeros_like(train_data.alphas)
    H, W = alphas.shape[1:]
    alphas[:, H // 4:3 * H // 4, W // 4:3 * W // 4] = 1
    cut = dataclasses.replace(train_data, alphas=alphas)
    fitted = Trainer(cut, tiny_config(iterations=4), tmp_path / "fit", progress=False)
    box = fitted.field.aabb
    assert torch.equal(box, fitted.sampler.grid.allowed_box())
    assert (box[0] >= scene[0]).all() and (box[1] <= scene[1]).all()
    assert (box[1] - box[0]).prod() < 0.95 * (scene[1] - scene[0]).prod(), box  # 0.88 of it when written
    fitted.run()
    assert torch.equal(load_run(tmp_path / "fit").field.aabb, box)
    plain = Trainer(cut, tiny_config(iterations=4, fit_field_to_hull=False), tmp_path / "scene", progress=False)
    assert torch.equal(plain.field.aabb, scene)


def test_interrupted_run_resumes_to_identical_weights(tiny, tmp_path):
    train_data, _ = tiny
    config = tiny_config("hybrid", iterations=20)
    train(train_data, config, tmp_path / "straight", progress=False)
    first = train(train_data, config, tmp_path / "resumed", stop_at=10, progress=False)
    assert first.interrupted and first.steps == 10
    assert not (tmp_path / "resumed" / "model_hybrid.pth").exists()
    second = train(train_data, config, tmp_path / "resumed", progress=False)
    assert second.steps == 20 and not second.interrupted
    a = torch.load(tmp_path / "straight" / "model_hybrid.pth", weights_only=True)
    b = torch.load(tmp_path / "resumed" / "model_hybrid.pth", weights_only=True)
    for key in a["field"]:
        assert torch.equal(a["field"][key], b["field"][key]), key
    for key in a["occupancy"]:
        assert torch.equal(a["occupancy"][key], b["occupancy"][key]), key
    np.testing.assert_array_equal(np.load(tmp_path / "straight" / "loss_history.npy"),
                                  np.load(tmp_path / "resumed" / "loss_history.npy"))


def test_coarse_to_fine_run_resumes_across_an_upsample_and_loads_at_its_final_resolution(tiny, tmp_path):
    train_data, val_data = tiny
    config = tiny_config(iterations=20, field_params={"resolution": 24, "upsample": [[0.25, 32], [0.6, 40]]},
                         color_threshold=1e-4)
    train(train_data, config, tmp_path / "straight", progress=False)
    first = train(train_data, config, tmp_path / "resumed", stop_at=9, progress=False)  # between upsamples
    assert first.interrupted
    train(train_data, config, tmp_path / "resumed", progress=False)
    a = torch.load(tmp_path / "straight" / "model_baseline.pth", weights_only=True)
    b = torch.load(tmp_path / "resumed" / "model_baseline.pth", weights_only=True)
    assert a["field"]["density_planes"].shape[-1] == 40
    for key in a["field"]:
        assert torch.equal(a["field"][key], b["field"][key]), key
    run = load_run(tmp_path / "resumed")
    assert run.field.resolution == 40 and run.render_views(val_data, [0])["rgb"].shape[1:] == val_data.images.shape[1:]
    with pytest.raises(ValueError, match="upsample"):
        tiny_config(field_params={"upsample": [[0.6, 32], [0.25, 40]]})


def test_resume_refuses_a_checkpoint_of_other_settings(tiny, tmp_path):
    train_data, _ = tiny
    train(train_data, tiny_config(iterations=8), tmp_path / "run", stop_at=4, progress=False)
    other = TrainConfig(**{**tiny_config(iterations=8).to_dict(), "batch_rays": 64})
    with pytest.raises(ValueError, match="other settings.*batch_rays"):
        train(train_data, other, tmp_path / "run", progress=False)
    saved = torch.load(tmp_path / "run" / "checkpoint.pth", weights_only=True)
    del saved["config"]["depth_at_edges"]  # a checkpoint of a version without this setting names it too
    torch.save(saved, tmp_path / "run" / "checkpoint.pth")
    with pytest.raises(ValueError, match=r"other settings \(\['depth_at_edges'\]\)"):
        train(train_data, tiny_config(iterations=8), tmp_path / "run", progress=False)


@pytest.mark.parametrize("strategy", ["soft", "hard", "hybrid"])
def test_depth_strategy_without_depth_fails_loudly(tiny, tmp_path, strategy):
    train_data, _ = tiny
    no_depth = train_data.subset(range(len(train_data)))
    no_depth.depth, no_depth.depth_mask, no_depth.depth_sigma = None, None, None
    with pytest.raises(ValueError, match=f"strategy '{strategy}' needs depth"):
        train(no_depth, tiny_config(strategy), tmp_path / strategy, progress=False)
    assert not (tmp_path / strategy / f"model_{strategy}.pth").exists()


def test_missing_run_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model_<strategy>.pth"):
        load_run(tmp_path / "nothing")


class OpaqueSlab(torch.nn.Module):
    """Analytic field: an opaque slab |z| < 0.05 in grey, empty elsewhere."""

    def forward(self, points, directions):
        return torch.full_like(points, 0.5), self.density(points)

    def density(self, points):
        return torch.where(points[:, 2].abs() < 0.05, 200.0, 0.0)


@pytest.mark.parametrize("mode", ["add", "replace"])
def test_hard_evaluation_samples_around_its_own_depth(mode):
    """Without ground truth, the second pass places the guided samples around the predicted depth: in
    replace mode 75 % of them, in add mode the 16 window samples on top of the shared sampler's."""
    from depthnerf.config import HardParams

    origins = torch.tensor([[0.0, 0.0, 4.0], [0.3, 0.0, 4.0], [0.0, -0.2, 4.0]])
    directions = torch.nn.functional.normalize(torch.tensor([[0.0, 0.0, -1.0], [0.1, 0.0, -1.0],
                                                             [0.0, 0.2, -1.0]]), dim=-1)
    rays = RayBundle(origins, directions, torch.ones(3))
    truth = (4.0 - 0.05) / -directions[:, 2]
    base = StratifiedSampler(2.0, 6.0, 64)
    sampler = hard(HardParams(guided_mode=mode)).eval_sampler(base)
    t0, t1, mask = sampler(rays, field=OpaqueSlab())
    mids = 0.5 * (t0 + t1)
    near_truth = (((mids - truth[:, None]).abs() <= 0.15 + 0.05) & mask).sum(-1)
    if mode == "replace":
        assert torch.all(near_truth >= 0.7 * 64), near_truth
    else:
        assert torch.all(near_truth >= 16) and torch.all(mask.sum(-1) >= 64 + 16 - 1), (near_truth, mask.sum(-1))
        assert ((t1 - t0)[mask] > 0).all() and (t0[:, 1:] >= t1[:, :-1] - 1e-6)[mask[:, 1:]].all()  # no overlap
    out = render_rays(OpaqueSlab(), rays, t0, t1, mask, background=torch.ones(3))
    assert torch.allclose(out["depth"], truth, atol=0.02)
    assert type(hybrid().eval_sampler(base)) is type(sampler)


def test_added_guided_samples_keep_the_shared_samples_and_fill_the_window():
    from depthnerf.samplers import GuidedSampler

    rays = RayBundle(torch.zeros(2, 3), torch.tensor([[0.0, 0.0, -1.0]] * 2), torch.ones(2))
    base = StratifiedSampler(2.0, 6.0, 8)
    guided = GuidedSampler(base, eps=0.4, guided_fraction=0.75, mode="add", n_guided=4)
    t0, t1, mask = guided(rays, depth=torch.tensor([4.1, 0.0]), depth_mask=torch.tensor([True, False]),
                          depth_sigma=torch.tensor([0.0, 0.0]))
    kept = [sorted(round(x, 4) for x in t0[r][mask[r]].tolist()) for r in range(2)]
    assert kept[1] == [2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5]  # no depth: the shared samples as they are
    assert {3.9, 4.0, 4.1, 4.2} <= set(kept[0]) and len(kept[0]) == 8 + 4 + 1  # window cuts one interval
    assert torch.allclose((t1 - t0)[0][mask[0]].sum(), torch.tensor(4.0))  # still covers [near, far] once
    sigma = guided(rays, depth=torch.tensor([4.1, 0.0]), depth_mask=torch.tensor([True, False]),
                   depth_sigma=torch.tensor([0.01, 0.0]))  # a per-ray sigma: the window is +- 3 sigma
    edges = sorted(round(x, 4) for x in sigma[0][0][sigma[2][0]].tolist())
    assert 4.07 in edges and 4.085 in edges and 4.115 in edges


def test_sparse_depth_reaches_the_loss_through_depth_rays(tiny, tmp_path):
    """With 0.2 % of pixels holding depth, uniform pixels almost never carry depth; depth_rays do."""
    from depthnerf.datasets import corrupt_depth

    train_data, _ = tiny
    sparse = corrupt_depth(train_data, keep_fraction=0.002, seed=0)
    assert 0 < sparse.depth_mask.sum() < 0.01 * sparse.depth_mask.size

    def depth_terms(out, **kw):
        train(sparse, tiny_config("soft", iterations=10, log_every=1, **kw), out, progress=False)
        records = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
        return [r["depth"] for r in records if "depth" in r]

    assert all(v > 0 for v in depth_terms(tmp_path / "with", depth_rays=32))
    assert sum(v > 0 for v in depth_terms(tmp_path / "without")) <= 1


SIGTERM_CHILD = """
import sys
from depthnerf.config import TrainConfig
from depthnerf.datasets import load_dataset
from depthnerf.trainer import train
data = load_dataset("embedded", "train", downscale=8, max_views=6)
config = TrainConfig(**__import__("json").loads(sys.argv[2]))
result = train(data, config, sys.argv[1], progress=False)
print("STEPS", result.steps, "INTERRUPTED", result.interrupted)
"""


def read_metrics(out_dir):
    return [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]


def test_sigterm_mid_run_checkpoints_and_resumes_to_identical_weights(tiny, tmp_path):
    """SIGTERM (docker stop, Slurm, Ray) stops after the step in flight with a checkpoint; the resumed
    run ends with the uninterrupted run's weights and one metrics.jsonl record per step."""
    import signal
    import subprocess
    import sys
    import time

    from tools.export_notebooks import ROOT

    train_data, _ = tiny
    config = tiny_config("soft", iterations=240, log_every=1, checkpoint_every=1000, val_every=1000)
    train(train_data, config, tmp_path / "straight", progress=False)
    out = tmp_path / "killed"
    child = subprocess.Popen([sys.executable, "-c", SIGTERM_CHILD, str(out), json.dumps(config.to_dict())],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if (out / "metrics.jsonl").exists() and len((out / "metrics.jsonl").read_text().splitlines()) >= 20:
            break
        time.sleep(0.02)
    child.send_signal(signal.SIGTERM)
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 0, stderr
    steps = int(stdout.split("STEPS")[1].split()[0])
    assert "INTERRUPTED True" in stdout and 20 <= steps < 240, stdout
    assert "stopped by SIGTERM" in stderr and not (out / "model_soft.pth").exists()
    saved = torch.load(out / "checkpoint.pth", weights_only=True)
    assert saved["step"] == steps == len(saved["loss"]) and saved["optimizer"]["state"][0]["step"] == steps
    with open(out / "metrics.jsonl", "a") as f:  # a record written after the checkpoint (a SIGKILL)
        f.write(json.dumps({"step": steps + 1, "seconds": 0.0, "psnr": 0.0}) + "\n")
    result = train(train_data, config, out, progress=False)
    assert result.steps == 240 and not result.interrupted
    a = torch.load(tmp_path / "straight" / "model_soft.pth", weights_only=True)
    b = torch.load(out / "model_soft.pth", weights_only=True)
    for key in a["field"]:
        assert torch.equal(a["field"][key], b["field"][key]), key
    assert [r["step"] for r in read_metrics(out)] == list(range(1, 241))
    assert [r["depth"] for r in read_metrics(out)] == [r["depth"] for r in read_metrics(tmp_path / "straight")]


def test_non_finite_loss_stops_naming_the_step_and_term_and_writes_no_model(tiny, tmp_path):
    from depthnerf.trainer import NonFiniteLossError

    import dataclasses

    from depthnerf import config

    @dataclasses.dataclass
    class ToyParams:
        value: float = float("inf")  # a term that overflows, as an MSE of depth in the wrong units can

    config.register_strategy("toy", ToyParams, toy_strategy)
    try:
        train_data, _ = tiny
        with pytest.raises(NonFiniteLossError, match=r"step 1: loss term 'constant' is inf"):
            train(train_data, tiny_config("toy"), tmp_path / "toy", progress=False)
        assert not (tmp_path / "toy" / "model_toy.pth").exists() and not (tmp_path / "toy" / "summary.json").exists()
    finally:
        config.STRATEGIES.pop("toy")


def test_depth_far_beyond_far_is_refused_before_training(tiny, tmp_path):
    """Depth the renderer can never reach (here 1e30: what a units error or an overflowing file gives) would
    train on garbage, or silently under a loss that stays finite (DS-NeRF's): refused, naming the share."""
    from depthnerf.scene import DataError

    train_data, _ = tiny
    huge = train_data.subset(range(len(train_data)))
    huge.depth = np.where(huge.depth_mask, np.float32(1e30), 0).astype(np.float32)
    with pytest.raises(DataError, match=r"100.0% of the valid depth lies beyond 2 x far = .*largest 1e\+30"):
        train(huge, tiny_config("soft"), tmp_path / "soft", progress=False)
    assert not (tmp_path / "soft").exists() or not any((tmp_path / "soft").iterdir())
    few = train_data.subset(range(len(train_data)))
    rows, cols = np.nonzero(few.depth_mask[0])
    few.depth = few.depth.copy()
    few.depth[0, rows[:1], cols[:1]] = 1e30  # one outlier among thousands of pixels is tolerated
    train(few, tiny_config("soft", iterations=2), tmp_path / "outlier", progress=False)


def test_resume_refuses_a_checkpoint_written_for_other_data(tiny, tmp_path):
    train_data, _ = tiny
    train(train_data, tiny_config(iterations=8), tmp_path / "run", stop_at=4, progress=False)
    other = train_data.subset(range(len(train_data)))
    other.images = np.ascontiguousarray(other.images[:, ::-1])
    with pytest.raises(ValueError, match="written for other training data"):
        train(other, tiny_config(iterations=8), tmp_path / "run", progress=False)


def test_outputs_honour_the_umask_and_stale_temporaries_are_removed(tiny, tmp_path):
    import os
    import stat

    train_data, _ = tiny
    out = tmp_path / "run"
    out.mkdir()
    stale = out / ".tmp-checkpoint-dead.pth"
    stale.write_bytes(b"half a file")
    old = os.umask(0o022)
    try:
        train(train_data, tiny_config(iterations=8), out, progress=False)
    finally:
        os.umask(old)
    assert not stale.exists()
    for name in ("model_baseline.pth", "checkpoint.pth", "summary.json", "config.json", "psnr_history.npy"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644, name


def test_a_finished_model_is_never_left_from_an_earlier_run(tiny, tmp_path):
    train_data, _ = tiny
    train(train_data, tiny_config(iterations=8), tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "model_baseline.pth").exists()
    train(train_data, tiny_config(iterations=16), tmp_path / "run", resume=False, stop_at=4, progress=False)
    assert not (tmp_path / "run" / "model_baseline.pth").exists() and not (tmp_path / "run" / "summary.json").exists()


@pytest.mark.parametrize("setting, value, message", [
    ("iterations", 0, "iterations = 0: must be an integer >= 1"),
    ("batch_rays", 2.5, "batch_rays = 2.5: must be an integer >= 1"),
    ("lr_final_factor", 0.0, "lr_final_factor = 0.0: must be a number in"),
    ("strategy", "softer", "strategy = 'softer': choose one of"),
    ("sampler", "uniform", "sampler = 'uniform': choose one of"),
    ("batching", "some", "batching = 'some': choose one of"),
    ("adam_beta2", 1.0, "adam_beta2 = 1.0: must be in"),
    ("field_params", {"lr": float("nan")}, "TensoRFParams.lr = nan: must be a finite number > 0"),
    ("field_params", {"upsample": [[0.5]]}, "upsample .*expected"),
    ("field_params", {"upsample": [[0.5, 64], [0.5, 128]]}, "strictly increasing"),
    ("field_params", {"resolutoin": 64}, "unknown settings \\['resolutoin'\\]"),
    ("strategy_params", {"soft_weight": 1.0}, "unknown settings \\['soft_weight'\\]"),  # baseline has none
])
def test_bad_settings_are_refused_naming_the_setting(setting, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{setting: value})


def test_a_saved_model_with_unknown_settings_is_named(tiny, tmp_path):
    train_data, _ = tiny
    train(train_data, tiny_config(iterations=8), tmp_path / "run", progress=False)
    saved = torch.load(tmp_path / "run" / "model_baseline.pth", weights_only=True)
    saved["config"]["bogus_setting"] = 1
    torch.save(saved, tmp_path / "run" / "model_baseline.pth")
    with pytest.raises(ValueError, match=r"model_baseline.pth: its config has settings .* \['bogus_setting'\]"):
        load_run(tmp_path / "run")


def toy_strategy(params):
    """A strategy written outside the package: the baseline plus a constant loss term."""
    from depthnerf.strategies import RGB, LossTerm, Strategy

    return Strategy("toy", (RGB, LossTerm("constant", lambda out, batch: torch.tensor(params.value))))


def test_a_strategy_registered_outside_the_package_trains_through_the_unchanged_trainer(tiny, tmp_path):
    import dataclasses

    from depthnerf import config

    @dataclasses.dataclass
    class ToyParams:
        value: float = 0.25

    config.register_strategy("toy", ToyParams, toy_strategy)
    try:
        train_data, _ = tiny
        train(train_data, tiny_config("toy", iterations=10, log_every=1, strategy_params={"value": 0.5}),
              tmp_path / "toy", progress=False)
        records = [json.loads(line) for line in (tmp_path / "toy" / "metrics.jsonl").read_text().splitlines()]
        assert [r["constant"] for r in records] == [0.5] * 10
        assert all(abs(np.load(tmp_path / "toy" / "loss_history.npy")[i] - (records[i]["rgb"] + 0.5)) < 1e-6
                   for i in range(10))
        assert load_run(tmp_path / "toy").strategy.name == "toy"
    finally:
        config.STRATEGIES.pop("toy")


def test_callbacks_see_every_step_and_can_stop_a_run(tiny, tmp_path):
    from depthnerf.callbacks import Callback

    class StopAtFive(Callback):
        def __init__(self):
            self.seen = []

        def before_step(self, trainer, step):
            self.seen.append(("before", step))

        def after_step(self, trainer, step, output):
            self.seen.append(("after", step, round(output.loss, 6) == round(trainer.state.loss[-1], 6)))
            if trainer.state.step == 5:
                trainer.stop_reason = "enough"

    train_data, _ = tiny
    callback = StopAtFive()
    result = train(train_data, tiny_config(iterations=20), tmp_path / "run", progress=False, callbacks=[callback])
    assert result.interrupted and result.steps == 5
    assert callback.seen == [item for k in range(5) for item in (("before", k), ("after", k, True))]
    assert (tmp_path / "run" / "checkpoint.pth").exists() and not (tmp_path / "run" / "model_baseline.pth").exists()


def test_the_few_view_run_is_the_studys_seed_0_trial(tmp_path, monkeypatch):
    """`train_few_view`: the profile's few_views views chosen as the few-view study chooses them, the study
    budget, into results/<strategy>/few_view/; nothing when the data has no more views than that."""
    from depthnerf import trainer
    from depthnerf.config import config_for_profile, profile_settings
    from depthnerf.datasets import select_views

    scene = load_dataset("embedded", "train", downscale=8, max_views=12)
    calls = []
    monkeypatch.setattr(trainer, "train", lambda data, config, out_dir, **kw: calls.append((data, config, out_dir)) or "ran")
    assert trainer.train_few_view("quick", "hard", scene, None, tmp_path) == "ran"
    data, config, out_dir = calls.pop()
    n = profile_settings("quick").few_views
    assert n == 8 and len(data) == n and out_dir == tmp_path / "hard" / "few_view"
    chosen = select_views(scene, n, seed=0)
    assert data.image_paths == [scene.image_paths[i] for i in chosen]
    assert np.array_equal(data.depth, scene.depth[chosen])
    assert config == config_for_profile("quick", "hard", **profile_settings("quick").study_train)
    assert (config.iterations, config.batch_rays) == (500, 1024)
    assert trainer.train_few_view("quick", "hard", scene.subset(np.arange(n)), None, tmp_path) is None and not calls


def test_runtime_estimate_times_every_stage_at_its_grid_and_keeps_nothing(tiny, tmp_path, monkeypatch):
    """A fake clock charges each step its field's resolution in milliseconds: the estimate is then exactly
    sum(stage steps x that stage's cost), which it is only if the probe of the stage after the upsample ran on
    the upsampled grid. Its probe trains in a temporary folder that is gone afterwards."""
    import tempfile
    import time

    from depthnerf.runtime import estimate_training_seconds

    train_data, _ = tiny
    config = tiny_config(iterations=40, field_params={"resolution": 24, "upsample": [[0.5, 32]]}, occupancy_warmup=8)
    clock = {"t": 0.0}
    real_step = Trainer.step

    def charged_step(self, step):
        output = real_step(self, step)
        clock["t"] += self.field.resolution * 1e-3
        return output

    monkeypatch.setattr(time, "perf_counter", lambda: clock["t"])
    monkeypatch.setattr(Trainer, "step", charged_step)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    estimate = estimate_training_seconds(train_data, config, warmup=2, window=4)
    assert [s["steps"] for s in estimate["stages"]] == [[0, 20], [20, 40]]
    assert [round(s["seconds_per_step"], 6) for s in estimate["stages"]] == [0.024, 0.032]
    assert estimate["seconds"] == pytest.approx(20 * 0.024 + 20 * 0.032)
    assert not list(tmp_path.glob("depthnerf-estimate-*"))
    with pytest.raises(ValueError, match="window 0"):
        estimate_training_seconds(train_data, config, window=0)


def test_gpu_sized_profiles_are_refused_on_a_cpu_unless_asked(monkeypatch):
    from depthnerf.config import GPU_PROFILES
    from depthnerf.trainer import check_profile_device

    assert set(GPU_PROFILES) == {"full", "colab"}
    monkeypatch.delenv("DEPTHNERF_ALLOW_CPU_FULL", raising=False)
    for profile in GPU_PROFILES:
        with pytest.raises(RuntimeError, match=f"profile '{profile}' is sized for a GPU"):
            check_profile_device(profile, torch.device("cpu"))
    check_profile_device("quick", torch.device("cpu"))
    monkeypatch.setenv("DEPTHNERF_ALLOW_CPU_FULL", "1")
    check_profile_device("colab", torch.device("cpu"))
