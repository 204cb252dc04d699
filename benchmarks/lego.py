"""Lego time-to-PSNR: our trainer against the original project's configuration, same run; prints ONE JSON object.

    .venv/bin/python benchmarks/lego.py [--budget 900] [--strategies baseline soft hard hybrid] [--no-reference]
        [--test-data ../shared/data/nerf_synthetic/lego_test_every10] [--set key=value ...]

Both configurations are trained by the project's one trainer (``depthnerf.trainer.Trainer``, its own
step, optimizer and callbacks); a :class:`TimedEvaluation` callback evaluates on the test views about
every ``--eval-every`` seconds of TRAINING time, with the clock paused (evaluation, checkpoints and
set-up are off the clock), and ends the run at ``--budget``.

* ``ours``: ``config.LEGO_RECIPE`` on NeRF-Synthetic lego at 400x400 (downscale 2, all 100 train
  views; ``--device cuda``: ``config.LEGO_GPU_RECIPE`` at 800x800): TensoRF trained coarse to fine (64 -> 128 -> 192 -> 320 grid points per axis at 10 / 25 /
  45 % of the iterations), colours only of samples with weight above 1e-4, 4096 rays per step;
  ``--set key=value`` changes any ``TrainConfig`` setting (``field_params.upsample=[]`` style keys
  reach the field's parameters). Evaluated on whole test images (PSNR, SSIM). ``iterations`` (the
  learning-rate schedule's length) is ``--iterations`` or, when 0, the steps a throw-away 300-step
  run of the same recipe would make in ``--budget``; with several ``--strategies`` and
  ``--iterations``, the first strategy gets ``--iterations`` and each other one that schedule
  scaled by its step rate over the first's (both from such 300-step runs). At each evaluation point ``samples_per_ray`` is
  measured on one training batch of the strategy (``training_loss`` itself, depth rays included):
  evaluated samples per ray, and ``coloured_per_ray`` of them (weight above the threshold; all
  evaluated samples when it is 0). ``--strategies``: each is trained in turn with its own calibrated
  schedule; the first is ``ours``, the others go to ``strategies.<name>`` with ``versus`` (time to
  the first one's final PSNR, as a fraction of its training time; time ratio per threshold). Depth
  strategies use sparse depth triangulated once from the train images with their known poses
  (never test-split depth) and ``--depth-rays`` extra rays with depth per step.
* ``reference``: ``config.ORIGINAL_RECIPE``, the original project's setup: paper MLP, 64 stratified
  samples, no hierarchical pass, 1024 rays from ONE random image per step, Adam 5e-4 without decay,
  white background in the renderer. ``alpha_dropped``: targets are the PNGs' raw RGB channels
  (alpha ignored: the transparent background is black) as the original did; ``alpha_composited``:
  targets composited on white. Rendering a whole 400x400 view with the MLP takes minutes on a CPU,
  so the reference is evaluated on ``--reference-pixels`` random pixels of each test view (the same
  pixels at every point): its PSNR is that of the MSE over those pixels (an unbiased estimate of
  the image MSE); no SSIM.
* ``--eval-split val`` evaluates on the validation views instead (``--test-views`` of them): the
  split on which recipe settings are chosen; test views only report.
* ``time_to_psnr``: training seconds of the first evaluation point at or above each threshold (no
  interpolation); null when never reached. ``comparison``: reference time / our time per threshold,
  and our PSNR minus the reference's at each common evaluation time.
* ``profile``: torch.profiler over 5 of the trainer's own steps (top ops by self CPU time, points/s,
  matmul FLOP/s counted by the profiler) against a 4096x4096 float32 matmul measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

# OpenMP threads that spin while waiting collapse (5-10x slower steps) when other processes share
# the cores; passive waiting keeps 2 threads at least as fast as 1. Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from depthnerf.callbacks import Callback  # noqa: E402
from depthnerf.cli import parse_settings  # noqa: E402
from depthnerf.config import LEGO_GPU_RECIPE, LEGO_RECIPE, ORIGINAL_RECIPE, config_for_profile, merge_settings  # noqa: E402
from depthnerf.datasets import load_dataset  # noqa: E402
from depthnerf.env import select_device  # noqa: E402
from depthnerf.images import downscale_area, read_image  # noqa: E402
from depthnerf.io import atomic_json, read_saved  # noqa: E402
from depthnerf.metrics import psnr, ssim  # noqa: E402
from depthnerf.rays import camera_rays  # noqa: E402
from depthnerf.rendering import render_chunked  # noqa: E402
from depthnerf.runs import build_run  # noqa: E402
from depthnerf.scene import SceneData  # noqa: E402
from depthnerf.triangulation import triangulate_sparse_depth  # noqa: E402
from depthnerf.trainer import Trainer, peak_memory_bytes, train, training_loss  # noqa: E402

THRESHOLDS = (20.0, 22.5, 25.0, 28.0, 30.0, 32.0, 33.0, 34.0)


def default_data() -> str:
    for candidate in (ROOT.parent / "shared/data/nerf_synthetic/lego", ROOT / "data/nerf_synthetic/lego"):
        if candidate.is_dir():
            return str(candidate)
    return "data/nerf_synthetic/lego"


def time_to_psnr(curve: list[dict]) -> dict:
    """Seconds of the first point at or above each threshold (no interpolation), else None.

    >>> time_to_psnr([{"seconds": 10.0, "psnr": 21.0}, {"seconds": 20.0, "psnr": 26.0}])["25"]
    20.0
    """
    return {f"{t:g}": next((p["seconds"] for p in curve if p["psnr"] >= t), None) for t in THRESHOLDS}


def matmul_peak_gflops(n: int = 4096, repeats: int = 3) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def machine_record(**extra) -> dict:
    """The machine block of every benchmark's JSON: absolute times only hold beside the machine's speed."""
    return {"torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
            "load_avg_1min_at_start": round(os.getloadavg()[0], 2), "torch": torch.__version__,
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
            "matmul_4096_peak_gflop_per_s": round(matmul_peak_gflops(), 1), **extra}


def write_report(out: Path, report: dict) -> int:
    """Write ``report`` to ``out`` atomically, print it as ONE JSON object (with ``written``); exit status 0."""
    atomic_json(out, report)
    report["written"] = str(out)
    print(json.dumps(report, indent=1))
    return 0


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# ------------------------------------------------------------------------------- the callback
class TimedEvaluation(Callback):
    """Every ``every`` seconds of training time, with the trainer's clock paused: ``evaluate(trainer)``
    -> a dict with ``psnr`` becomes a curve point; the run ends at ``budget`` seconds, at the last
    iteration, or when ``target`` PSNR is reached (``trainer.stop_reason`` says which)."""

    def __init__(self, evaluate, every: float, budget: float, target: float | None, name: str):
        self.evaluate, self.every, self.budget, self.target, self.name = evaluate, every, budget, target, name
        self.next_eval, self.curve = every, []

    def after_step(self, trainer, step, output):
        seconds = trainer.clock.elapsed()
        stop = ("budget" if seconds >= self.budget else
                "iterations" if trainer.state.step >= trainer.config.iterations else None)
        if seconds < self.next_eval and stop is None:
            return
        with trainer.clock.paused():
            start = time.perf_counter()
            point = {"seconds": round(seconds, 2), "iterations": trainer.state.step, **self.evaluate(trainer)}
            point["eval_s"] = round(time.perf_counter() - start, 1)
        self.curve.append(point)
        print(f"{self.name} {point}", file=sys.stderr, flush=True)
        while self.next_eval <= seconds + 0.5:
            self.next_eval += self.every
        if self.target is not None and point["psnr"] >= self.target:
            stop = "target"
        if stop:
            trainer.stop_reason = stop


def samples_per_ray(trainer, n: int = 4096) -> tuple[float, float]:
    """Mean samples per ray the field evaluates on one training batch of the strategy (the trainer's
    own ``training_loss``, depth rays included), and how many of them get a colour."""
    generator = torch.Generator(device=trainer.device).manual_seed(1)
    config = replace(trainer.config, batch_rays=n)
    with torch.no_grad():
        _, _, out, _ = training_loss(trainer.field, trainer.strategy, trainer.train_sampler, trainer.tensors,
                                     config, generator, trainer.depth_pixels)
    mask = out["mask"] if out["mask"] is not None else torch.ones_like(out["weights"], dtype=torch.bool)
    coloured = mask & (out["weights"] > config.color_threshold) if config.color_threshold > 0 else mask
    return float(mask.sum(-1).float().mean()), float(coloured.sum(-1).float().mean())


def view_metrics(test: SceneData):
    """``evaluate(trainer)`` of our configuration: PSNR and SSIM of whole test views, samples per ray."""
    def evaluate(trainer) -> dict:
        rendered = np.clip(trainer.render_views(test, range(len(test.images)))["rgb"], 0.0, 1.0)
        per_ray, coloured = samples_per_ray(trainer)
        return {"psnr": float(np.mean([psnr(r, t) for r, t in zip(rendered, test.images)])),
                "ssim": float(np.mean([ssim(r, t) for r, t in zip(rendered, test.images)])),
                "grid_resolution": getattr(trainer.field, "resolution", None),
                "samples_per_ray": round(per_ray, 2), "coloured_per_ray": round(coloured, 2)}
    return evaluate


def pixel_metrics(test: SceneData, n: int, seed: int = 0):
    """``evaluate(trainer)`` of the reference: PSNR over ``n`` fixed random pixels per test view."""
    g = torch.Generator().manual_seed(seed)
    V = len(test.images)
    view = torch.arange(V).repeat_interleave(n)
    row, col = torch.randint(test.H, (V * n,), generator=g), torch.randint(test.W, (V * n,), generator=g)
    target = test.images[view.numpy(), row.numpy(), col.numpy()]

    def evaluate(trainer) -> dict:
        rays = camera_rays(test.intrinsics, test.poses, test.H, test.W, pixels=(view, row, col)).to(trainer.device)
        background = torch.as_tensor(test.background, dtype=torch.float32, device=trainer.device)
        rgb = render_chunked(trainer.field, trainer.eval_sampler, rays, background, chunk=4096)["rgb"]
        return {"psnr": psnr(np.clip(rgb.cpu().numpy(), 0.0, 1.0), target)}
    return evaluate


def run_timed(config, train_data: SceneData, evaluate, args, budget: float, name: str, work: Path, device):
    """One trainer run of ``config`` with a :class:`TimedEvaluation` callback; returns ``(trainer, callback)``."""
    timed = TimedEvaluation(evaluate, args.eval_every, budget, args.target, name)
    trainer = Trainer(train_data, config, work / name, device=device, resume=False, callbacks=[timed], progress=False)
    trainer.run()
    return trainer, timed


def run_ours(config, train_data: SceneData, test: SceneData, args, device, work: Path) -> dict:
    trainer, timed = run_timed(config, train_data, view_metrics(test), args, args.budget, config.strategy, work, device)
    curve = timed.curve
    report = {"config": config.to_dict(), "curve": curve, "time_to_psnr": time_to_psnr(curve),
              "iterations": trainer.state.step, "train_seconds": round(trainer.clock.elapsed(), 2),
              "stopped_by": trainer.stop_reason, "psnr": curve[-1]["psnr"], "ssim": curve[-1]["ssim"],
              "samples_per_ray": curve[-1]["samples_per_ray"], "coloured_per_ray": curve[-1]["coloured_per_ray"],
              "eval_resolution": f"{test.W}x{test.H}, whole images, {len(test.images)} test views"}
    trainer.save_checkpoint()
    run = build_run(read_saved(trainer.checkpoint_path, "checkpoint"), train_data.near, train_data.far, device)
    report["reloaded_psnr_check"] = round(float(np.mean([
        psnr(np.clip(r, 0, 1), t) for r, t in zip(run.render_views(test, range(len(test.images)))["rgb"], test.images)])), 4)
    report["profile"] = profile_steps(trainer)
    return report


def profile_steps(trainer, steps: int = 5) -> dict:
    """The trainer's own step (batch, sampler, render, loss, backward, its Adam) on the trained field, profiled."""
    from torch.profiler import ProfilerActivity, profile

    trainer.field.train()
    points = []
    first = trainer.state.step

    def step(k):
        output = trainer.step(k)
        points.append(int(output.out["mask"].sum()) if output.out["mask"] is not None else output.out["weights"].numel())

    step(first)  # warm-up
    points.clear()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if trainer.device.type == "cuda" else [])
    with profile(activities=activities, with_flops=True) as prof:
        start = time.perf_counter()
        for k in range(steps):
            step(first + 1 + k)
        elapsed = time.perf_counter() - start
    events = prof.key_averages()
    total_self = sum(e.self_cpu_time_total for e in events)
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:12]
    flops = sum(e.flops for e in events if e.flops)
    peak = matmul_peak_gflops()
    return {
        "steps": steps, "step_s_under_profiler": round(elapsed / steps, 4),
        "points_per_step": round(float(np.mean(points))), "points_per_s": round(sum(points) / elapsed),
        "counted_gflop_per_s": round(flops / elapsed / 1e9, 2),
        "counted_flops_note": "FLOPs torch.profiler counts (matmul/addmm/conv); gathers and grid_sample add none",
        "matmul_4096_peak_gflop_per_s": round(peak, 1),
        "fraction_of_peak": round(flops / elapsed / 1e9 / peak, 4),
        "top_ops_by_self_cpu": [{"op": e.key, "self_cpu_ms": round(e.self_cpu_time_total / 1e3 / steps, 2),
                                 "share": round(e.self_cpu_time_total / max(total_self, 1), 3),
                                 "calls_per_step": e.count / steps} for e in top],
    }


# ------------------------------------------------------------------------------------ reference
def raw_rgb(data: SceneData, downscale: int) -> np.ndarray:
    """The PNGs' RGB channels with alpha ignored (as the original project read them), area-downscaled."""
    return np.stack([downscale_area(read_image(p)[..., :3], downscale) for p in data.image_paths]).astype(np.float32)


def reference_data(data: SceneData, images: np.ndarray) -> SceneData:
    """``data`` with ``images`` as targets and no alpha (the original trained on RGB alone), white background."""
    return replace(data, images=images, alphas=None, depth=None, depth_mask=None, depth_sigma=None)


def run_reference(name: str, images: np.ndarray, train_data: SceneData, test: SceneData, args, device,
                  work: Path) -> dict:
    config = config_for_profile("quick", "baseline", iterations=10 ** 7, val_every=10 ** 9,
                                checkpoint_every=10 ** 9, **ORIGINAL_RECIPE)
    trainer, timed = run_timed(config, reference_data(train_data, images), pixel_metrics(test, args.reference_pixels),
                               args, args.reference_budget, f"reference_{name}", work, device)
    curve = timed.curve
    return {"targets": name, "config": config.to_dict(), "curve": curve, "time_to_psnr": time_to_psnr(curve),
            "iterations": trainer.state.step, "train_seconds": round(trainer.clock.elapsed(), 2),
            "psnr": curve[-1]["psnr"], "ssim": None, "samples_per_ray": config.n_samples,
            "eval_resolution": f"{args.reference_pixels} random pixels of each {test.W}x{test.H} test view "
                               f"({len(test.images)} views, the same pixels at every point); PSNR of their MSE; "
                               "no SSIM (whole MLP renders take minutes per view on a CPU)"}


def compare(ours: dict, reference: dict) -> dict:
    ratio = {}
    for key, t in ours["time_to_psnr"].items():
        r = reference["time_to_psnr"][key]
        ratio[key] = None if t is None or r is None else round(r / t, 2)
    ref_points = reference["curve"]
    at_equal = []
    for point in ours["curve"]:
        near = min(ref_points, key=lambda p: abs(p["seconds"] - point["seconds"]))
        if abs(near["seconds"] - point["seconds"]) <= 0.25 * max(point["seconds"], 1.0):
            at_equal.append({"ours_seconds": point["seconds"], "reference_seconds": near["seconds"],
                             "psnr_gain_db": round(point["psnr"] - near["psnr"], 2)})
    return {"reference_time_over_ours": ratio, "psnr_gain_at_equal_time": at_equal,
            "note": "gain matched to the reference point nearest in training time (within 25%)"}


def versus(run: dict, base: dict, base_name: str) -> dict:
    """``run`` against ``base`` (both ``run_ours`` reports): training seconds of ``run``'s first
    evaluation at or above ``base``'s final PSNR, as a fraction of ``base``'s training seconds, and
    ``run``'s time over ``base``'s per PSNR threshold.

    >>> base = {"psnr": 30.0, "train_seconds": 900.0, "time_to_psnr": {"25": 300.0, "30": 900.0}}
    >>> run = {"curve": [{"seconds": 200.0, "psnr": 26.0}, {"seconds": 500.0, "psnr": 30.1}],
    ...        "psnr": 30.1, "time_to_psnr": {"25": 200.0, "30": 500.0}}
    >>> versus(run, base, "baseline")["time_fraction_to_baseline_final"]
    0.56
    """
    reach = next((p["seconds"] for p in run["curve"] if p["psnr"] >= base["psnr"]), None)
    ratios = {key: None if t is None or base["time_to_psnr"].get(key) is None else round(t / base["time_to_psnr"][key], 2)
              for key, t in run["time_to_psnr"].items()}
    return {f"seconds_to_{base_name}_final": reach, f"{base_name}_final_psnr": base["psnr"],
            f"time_fraction_to_{base_name}_final": None if reach is None else round(reach / base["train_seconds"], 2),
            f"time_over_{base_name}_per_threshold": ratios, "psnr_minus_" + base_name: round(run["psnr"] - base["psnr"], 2)}


# ----------------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=900.0, help="training seconds of our configuration")
    parser.add_argument("--strategies", nargs="+", default=["baseline"], choices=("baseline", "soft", "hard", "hybrid"),
                        help="trained one after another in this run; the first is `ours`, the others are compared "
                             "with it (time to its final PSNR)")
    parser.add_argument("--reference", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the original project's configuration (two alpha handlings)")
    parser.add_argument("--reference-budget", type=float, default=None, help="default: --budget")
    parser.add_argument("--data", default=default_data())
    parser.add_argument("--test-data", default=None, help="take the test views from this folder (default: --data)")
    parser.add_argument("--eval-every", type=float, default=60.0, help="training seconds between evaluations")
    parser.add_argument("--test-views", type=int, default=None, help="at most this many test views (default: all)")
    parser.add_argument("--eval-split", default="test", choices=("test", "val"),
                        help="the split evaluated: val to choose settings (never on the test views)")
    parser.add_argument("--target", type=float, default=None, help="stop a configuration at this test PSNR")
    parser.add_argument("--out", default="results/bench")
    parser.add_argument("--iterations", type=int, default=0,
                        help="length of our learning-rate schedule (0: calibrated by a 300-step run of the recipe)")
    parser.add_argument("--depth-rays", type=int, default=1024, help="extra rays with depth per step (depth strategies)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a TrainConfig setting of our configuration (JSON values; a.b=v for parameters)")
    parser.add_argument("--reference-pixels", type=int, default=1024, help="evaluated pixels per test view")
    parser.add_argument("--train-views", type=int, default=None, help="default: all 100 (fewer only to develop)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                        help="cuda: the GPU preset (800x800, config.LEGO_GPU_RECIPE); auto: CUDA when present")
    parser.add_argument("--downscale", type=int, default=None, help="image downscale (default 2 on a CPU, 1 on a GPU)")
    args = parser.parse_args(argv)
    args.reference_budget = args.budget if args.reference_budget is None else args.reference_budget
    wall = time.perf_counter()
    device = select_device(None if args.device == "auto" else args.device)
    gpu = device.type == "cuda"
    downscale = args.downscale or (1 if gpu else 2)
    recipe = LEGO_GPU_RECIPE if gpu else LEGO_RECIPE

    start = time.perf_counter()
    train_data = load_dataset(args.data, "train", downscale, max_views=args.train_views)
    test = load_dataset(args.test_data or args.data, args.eval_split, downscale, max_views=args.test_views)
    load_s = time.perf_counter() - start
    report = {"benchmark": "lego time-to-PSNR", "scene": args.data, "test_data": args.test_data or args.data,
              "command": " ".join(["benchmarks/lego.py", *(sys.argv[1:] if argv is None else argv)]),
              "resolution": f"{train_data.W}x{train_data.H}", "train_views": len(train_data.images),
              "eval_split": args.eval_split, "test_views": len(test.images), "test_images": [Path(p).name for p in test.image_paths],
              "budget_s": args.budget, "reference_budget_s": args.reference_budget,
              "eval_every_s": args.eval_every, "target_psnr": args.target,
              "machine": machine_record(device=str(device)),
              "load_s": round(load_s, 1)}

    depth_strategies = [name for name in args.strategies if name != "baseline"]
    if depth_strategies:
        start = time.perf_counter()
        depth_data, stats = triangulate_sparse_depth(train_data)
        report["depth"] = {"source": "sparse depth triangulated from the train images with their known poses "
                                     "(pycolmap SIFT, pose-guided matching); no test-split depth",
                           "points": stats["points"], "pixels_with_depth": int(depth_data.depth_mask.sum()),
                           "mean_reprojection_error_px": round(stats["mean_reprojection_error"], 3),
                           "triangulation_s": round(time.perf_counter() - start, 1)}

    work = Path(tempfile.mkdtemp(prefix="lego_bench_"))
    try:
        runs, rates = {}, {}
        for strategy in args.strategies:
            data = train_data if strategy == "baseline" else depth_data
            overrides = merge_settings(recipe, dict(val_every=10 ** 9, checkpoint_every=10 ** 9,
                                                    depth_rays=args.depth_rays if strategy != "baseline" else 0),
                                       parse_settings(args.set))
            calibration = None
            if not args.iterations or len(args.strategies) > 1:
                # the whole recipe compressed into 300 steps: this strategy's steps per second
                probe = config_for_profile("quick", strategy, **merge_settings(overrides, {"iterations": 300}))
                result = train(data, probe, work / f"calibrate_{strategy}", device=device, resume=False, progress=False)
                rates[strategy] = result.steps / result.train_seconds
                calibration = {"steps": result.steps, "seconds": round(result.train_seconds, 2)}
            if not args.iterations:  # a lower bound: the real run's grid empties further with training
                iterations = max(20, int(rates[strategy] * args.budget))
                calibration["note"] = "a throw-away 300-step run of the same recipe; its rate x budget sets the schedule"
            elif strategy == args.strategies[0]:
                iterations = args.iterations
            else:  # the first strategy's schedule scaled by the measured step rates
                iterations = max(20, round(args.iterations * rates[strategy] / rates[args.strategies[0]]))
                calibration["note"] = (f"--iterations x this strategy's rate / {args.strategies[0]}'s rate in "
                                       "throw-away 300-step runs of the same recipe")
            config = config_for_profile("quick", strategy, **merge_settings(overrides, {"iterations": iterations}))
            runs[strategy] = run_ours(config, data, test, args, device, work)
            if calibration:
                runs[strategy]["iterations_calibration"] = calibration
        first, *others = args.strategies
        report["ours"] = runs[first]
        if others:
            report["strategies"] = {name: {**runs[name], "versus": versus(runs[name], runs[first], first)}
                                    for name in others}

        if args.reference:
            if train_data.background.tolist() != [1.0, 1.0, 1.0]:
                raise ValueError(f"{args.data}: expected train images composited on white")
            report["reference"] = {
                "setup": "paper MLP (8x256, PE 10/4), 64 stratified samples, no hierarchical pass, "
                         "1024 rays from one random image per step, Adam 5e-4 without decay, white background",
                "alpha_dropped": run_reference("alpha_dropped", raw_rgb(train_data, downscale), train_data, test, args,
                                               device, work),
                "alpha_composited": run_reference("alpha_composited", train_data.images, train_data, test, args,
                                                  device, work),
            }
            report["comparison"] = {name: compare(report["ours"], report["reference"][name])
                                    for name in ("alpha_dropped", "alpha_composited")}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    report["peak_memory_bytes"] = peak_memory_bytes(device)
    report["total_s"] = round(time.perf_counter() - wall, 1)
    return write_report(Path(args.out) / f"lego_{args.strategies[0]}_{report['ours']['config']['field']}.json", report)


if __name__ == "__main__":
    sys.exit(main())
