"""Lego time-to-PSNR: our trainer against the original project's configuration, same run; prints ONE JSON object.

    .venv/bin/python benchmarks/lego.py [--budget 900] [--strategy baseline] [--field tensorf] [--no-reference]

* ``ours``: ``depthnerf.train.train`` on NeRF-Synthetic lego at 400x400 (downscale 2, all 100 train
  views), called repeatedly with a growing ``stop_at`` (it resumes bit-exactly from its checkpoint),
  so it is evaluated on held-out test views (whole 400x400 images: PSNR and SSIM) about every
  ``--eval-every`` seconds of TRAINING time; evaluation, checkpoints and set-up are off the clock.
  The recipe (defaults): TensoRF trained coarse to fine, 64 -> 128 -> 192 -> 320 grid points per
  axis at 10 / 25 / 45 % of the iterations (``--grid-upsample``), colours only of samples with weight
  above ``--color-threshold`` 1e-4. ``iterations`` (the learning-rate schedule's length) is
  ``--iterations`` or, when 0, the steps a throw-away run of the same recipe compressed into 300
  steps would make in ``--budget`` (an underestimate: later steps are faster as the occupancy grid
  empties; ``stopped_by`` says whether the budget, the iterations or the target ended the run). ``samples_per_ray`` is measured at each evaluation
  point: the strategy's training sampler on 4096 random training rays, counting evaluated samples
  (``mask.sum(-1)``), and ``coloured_per_ray`` of those, the samples whose colour is computed
  (weight above the threshold). Depth strategies (soft/hard/hybrid) use sparse depth triangulated from the
  train images with their known poses (never test-split depth).
* ``reference``: the original project's setup, written here with ``depthnerf.core`` primitives
  (the trainer draws rays across all images): paper MLP, 64 stratified samples, no hierarchical
  pass, 1024 rays from ONE random image per step, Adam 5e-4, white background in the renderer.
  ``alpha_dropped``: targets are the PNGs' raw RGB channels (alpha ignored: the transparent
  background is black) as the original did; ``alpha_composited``: targets composited on white.
  Rendering a whole 400x400 view with the MLP takes minutes on a CPU, so the reference is evaluated
  on ``--reference-pixels`` random pixels of each 400x400 test view (the same pixels at every point):
  its PSNR is that of the MSE over those pixels (an unbiased estimate of the image MSE); no SSIM.
* ``time_to_psnr``: training seconds of the first evaluation point at or above each threshold (no
  interpolation); null when never reached. ``comparison``: reference time / our time per threshold,
  and our PSNR minus the reference's at each common evaluation time.
* ``profile``: torch.profiler over 5 training steps of our configuration (top ops by self CPU
  time, points/s, matmul FLOP/s counted by the profiler) against a 4096x4096 float32 matmul measured
  in the same run.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

# OpenMP threads that spin while waiting collapse (5-10x slower steps) when other processes share
# the cores; passive waiting keeps 2 threads at least as fast as 1. Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from depthnerf import core  # noqa: E402
from depthnerf.data import SceneData, downscale_area, load_dataset, read_image, triangulate_sparse_depth  # noqa: E402
from depthnerf.env import select_device  # noqa: E402
from depthnerf.evaluate import psnr, ssim  # noqa: E402
from depthnerf.train import (  # noqa: E402
    TrainConfig, atomic_json, build_run, config_for_profile, draw_pixels, gather_batch, make_optimizer, peak_memory_bytes,
    read_saved, render_views, scene_tensors, train, training_loss,
)

THRESHOLDS = (20.0, 22.5, 25.0, 28.0, 30.0)
DOWNSCALE = 2  # 800x800 -> 400x400


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


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# ----------------------------------------------------------------------------------------- ours
def load_state(out_dir: Path, train_data: SceneData, device):
    """Field, sampler and strategy of the checkpoint in ``out_dir`` (no visual-hull carving)."""
    saved = read_saved(out_dir / "checkpoint.pth", "checkpoint")
    run = build_run(saved, float(train_data.near), float(train_data.far), device, out_dir,
                    source=out_dir / "checkpoint.pth")
    return run.field, run.sampler, run.strategy, saved


def samples_per_ray(field, strategy, sampler, tensors: dict, shape, device, color_threshold: float,
                    n: int = 4096) -> tuple[float, float]:
    """Mean samples per ray the field evaluates under the strategy's TRAINING sampler, and how many of
    them get a colour (weight above ``color_threshold``; all of them when it is 0)."""
    generator = torch.Generator(device=device).manual_seed(1)
    view, row, col = draw_pixels(*shape, n, generator)
    rays = core.camera_rays(tensors["intrinsics"], tensors["poses"], shape[1], shape[2], pixels=(view, row, col))
    with torch.no_grad():
        samples = strategy.train_samples(sampler, rays, gather_batch(tensors, view, row, col), generator)
        weights = core.render_rays(field, rays, *samples, background=tensors["background"],
                                   color_threshold=color_threshold)["weights"]
    mask = samples[2]
    coloured = mask & (weights > color_threshold)
    return float(mask.sum(-1).float().mean()), float(coloured.sum(-1).float().mean())


def evaluate_views(field, strategy, sampler, test: SceneData, device) -> dict:
    rendered = render_views(field, strategy, sampler, test, range(len(test.images)), device)["rgb"]
    return {"psnr": float(np.mean([psnr(r, t) for r, t in zip(rendered, test.images)])),
            "ssim": float(np.mean([ssim(r, t) for r, t in zip(rendered, test.images)]))}


def run_ours(config: TrainConfig, train_data: SceneData, test: SceneData, args, device, work: Path) -> dict:
    out_dir = work / "ours"
    tensors = scene_tensors(train_data, device)
    shape = train_data.images.shape[:3]
    curve, step, seconds, rate = [], 0, 0.0, None
    next_eval = args.eval_every
    while True:
        if rate is None:
            stop_at = 10
        else:
            target = min(next_eval, args.budget)
            stop_at = step + max(1, int(round(rate * (target - seconds))))
        stop_at = min(stop_at, config.iterations)
        result = train(train_data, config, out_dir, device=device, resume=True, stop_at=stop_at, progress=False)
        rate = (result.steps - step) / max(result.train_seconds - seconds, 1e-6) if step else \
            result.steps / max(result.train_seconds, 1e-6)
        step, seconds = result.steps, result.train_seconds
        stopped_by = ("budget" if seconds >= args.budget - 0.5 else
                      "iterations" if step >= config.iterations else None)
        if seconds < next_eval - 0.5 and stopped_by is None:
            continue
        field, sampler, strategy, _ = load_state(out_dir, train_data, device)
        start = time.perf_counter()
        per_ray, coloured = samples_per_ray(field, strategy, sampler, tensors, shape, device, config.color_threshold)
        point = {"seconds": round(seconds, 2), "iterations": step, "grid_resolution": field.resolution,
                 **evaluate_views(field, strategy, sampler, test, device),
                 "samples_per_ray": round(per_ray, 2), "coloured_per_ray": round(coloured, 2)}
        point["eval_s"] = round(time.perf_counter() - start, 1)
        curve.append(point)
        print(f"ours {point}", file=sys.stderr, flush=True)
        while next_eval <= seconds + 0.5:
            next_eval += args.eval_every
        if args.target is not None and point["psnr"] >= args.target:
            stopped_by = "target"
        if stopped_by:
            break
    field, sampler, strategy, saved = load_state(out_dir, train_data, device)
    report = {"config": config.to_dict(), "curve": curve, "time_to_psnr": time_to_psnr(curve),
              "iterations": step, "train_seconds": round(seconds, 2), "stopped_by": stopped_by,
              "psnr": curve[-1]["psnr"], "ssim": curve[-1]["ssim"],
              "samples_per_ray": curve[-1]["samples_per_ray"], "coloured_per_ray": curve[-1]["coloured_per_ray"],
              "eval_resolution": f"{test.W}x{test.H}, whole images, {len(test.images)} test views"}
    report["profile"] = profile_steps(field, sampler, strategy, config, tensors, shape, device)
    return report


def profile_steps(field, sampler, strategy, config: TrainConfig, tensors: dict, shape, device, steps: int = 5) -> dict:
    """The trainer's step (draw, sample, render, loss, backward, its Adam) on the trained field, profiled."""
    from torch.profiler import ProfilerActivity, profile

    field.train()
    optimizer = make_optimizer(field, config)  # the trainer's optimizer (fused Adam where available)
    generator = torch.Generator(device=device).manual_seed(2)
    depth_pixels = (torch.nonzero(tensors["depth_mask"])
                    if strategy.needs_depth and config.depth_rays > 0 else None)
    points = []

    def step():
        loss, _, out = training_loss(field, strategy, sampler, tensors, config, generator, depth_pixels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        points.append(int(out["mask"].sum()))

    step()  # warm-up
    points.clear()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities, with_flops=True) as prof:
        start = time.perf_counter()
        for _ in range(steps):
            step()
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


def reference_eval_pixels(test: SceneData, n: int, seed: int = 0):
    """``n`` random pixels per test view (fixed): rays and their white-composited targets."""
    g = torch.Generator().manual_seed(seed)
    V = len(test.images)
    view = torch.arange(V).repeat_interleave(n)
    row, col = torch.randint(test.H, (V * n,), generator=g), torch.randint(test.W, (V * n,), generator=g)
    rays = core.camera_rays(test.intrinsics, test.poses, test.H, test.W, pixels=(view, row, col))
    return rays, torch.from_numpy(test.images)[view, row, col]


def reference_render(field, rays: core.RayBundle, near: float, far: float, n_samples: int,
                     chunk: int = 4096) -> torch.Tensor:
    with torch.no_grad():
        parts = []
        for start in range(0, len(rays), chunk):
            part = rays[start:start + chunk]
            s, e = core.stratified_samples(part, near, far, n_samples, perturb=False)
            parts.append(core.render_rays(field, part, s, e, background=torch.ones(3))["rgb"])
    return torch.cat(parts)


def reference_train(images: np.ndarray, data: SceneData, budget: float, eval_every: float | None = None,
                    evaluate=None, steps: int | None = None, n_rays: int = 1024, n_samples: int = 64,
                    seed: int = 0, target: float | None = None) -> dict:
    """The original loop: paper MLP, ``n_rays`` rays from ONE random image per step, ``n_samples``
    stratified samples, no hierarchical pass, Adam 5e-4, white background in the renderer.

    Stops after ``budget`` training seconds or ``steps`` steps; ``evaluate(field) -> psnr`` runs off
    the clock every ``eval_every`` seconds and at the end.
    """
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    field = core.NeRFMLP()
    optimizer = torch.optim.Adam(field.parameters(), lr=5e-4)
    targets = torch.from_numpy(images)
    intrinsics, poses = torch.from_numpy(data.intrinsics), torch.from_numpy(data.poses)
    n_views, H, W = images.shape[:3]
    white = torch.ones(3)
    curve, seconds, step = [], 0.0, 0
    next_eval = eval_every if eval_every else math.inf
    while True:
        start = time.perf_counter()
        view = torch.randint(n_views, (1,), generator=g).expand(n_rays)
        pixel = torch.randperm(H * W, generator=g)[:n_rays]
        row, col = pixel // W, pixel % W
        rays = core.camera_rays(intrinsics, poses, H, W, pixels=(view, row, col))
        s, e = core.stratified_samples(rays, data.near, data.far, n_samples, perturb=True, generator=g)
        out = core.render_rays(field, rays, s, e, background=white)
        loss = torch.mean((out["rgb"] - targets[view, row, col]) ** 2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seconds += time.perf_counter() - start
        step += 1
        done = seconds >= budget or (steps is not None and step >= steps)
        if evaluate is not None and (seconds >= next_eval or done):
            start = time.perf_counter()
            curve.append({"seconds": round(seconds, 2), "iterations": step, "psnr": evaluate(field)})
            curve[-1]["eval_s"] = round(time.perf_counter() - start, 1)
            print(f"reference {curve[-1]}", file=sys.stderr, flush=True)
            while next_eval <= seconds:
                next_eval += eval_every
            done = done or (target is not None and curve[-1]["psnr"] >= target)
        if done:
            return {"field": field, "curve": curve, "iterations": step, "train_seconds": round(seconds, 2),
                    "last_loss": loss.item()}


def run_reference(name: str, images: np.ndarray, train_data: SceneData, test: SceneData, args) -> dict:
    rays, target = reference_eval_pixels(test, args.reference_pixels)
    near, far = float(train_data.near), float(train_data.far)

    def evaluate(field):
        return psnr(reference_render(field, rays, near, far, 64).numpy(), target.numpy())

    out = reference_train(images, train_data, args.reference_budget, args.eval_every, evaluate, target=args.target)
    curve = out["curve"]
    return {"targets": name, "curve": curve, "time_to_psnr": time_to_psnr(curve), "iterations": out["iterations"],
            "train_seconds": out["train_seconds"], "psnr": curve[-1]["psnr"], "ssim": None,
            "samples_per_ray": 64,
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


# ----------------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=900.0, help="training seconds of our configuration")
    parser.add_argument("--strategy", default="baseline", choices=("baseline", "soft", "hard", "hybrid"))
    parser.add_argument("--field", default="tensorf", choices=("tensorf", "mlp"))
    parser.add_argument("--reference", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the original project's configuration (two alpha handlings)")
    parser.add_argument("--reference-budget", type=float, default=None, help="default: --budget")
    parser.add_argument("--data", default=default_data())
    parser.add_argument("--eval-every", type=float, default=60.0, help="training seconds between evaluations")
    parser.add_argument("--test-views", type=int, default=10)
    parser.add_argument("--target", type=float, default=None, help="stop a configuration at this test PSNR")
    parser.add_argument("--out", default="results/bench")
    parser.add_argument("--iterations", type=int, default=0,
                        help="length of our learning-rate schedule (0: calibrated by a 300-step run of the recipe)")
    parser.add_argument("--batch-rays", type=int, default=4096)
    parser.add_argument("--grid-upsample", default="0.1:128,0.25:192,0.45:320",
                        help="FRACTION:RESOLUTION,... coarse-to-fine TensoRF schedule ('' for none)")
    parser.add_argument("--color-threshold", type=float, default=1e-4,
                        help="colour only samples with a larger weight (0: all samples)")
    parser.add_argument("--depth-rays", type=int, default=1024, help="extra rays with depth per step (depth strategies)")
    parser.add_argument("--march-steps", type=int, default=512)
    parser.add_argument("--max-samples", type=int, default=128)
    parser.add_argument("--occupancy-resolution", type=int, default=128)
    parser.add_argument("--occupancy-every", type=int, default=16, help="steps between occupancy-grid updates")
    parser.add_argument("--grid-resolution", type=int, default=64, help="TensoRF resolution at the start")
    parser.add_argument("--reference-pixels", type=int, default=1024, help="evaluated pixels per test view")
    parser.add_argument("--train-views", type=int, default=None, help="default: all 100 (fewer only to develop)")
    args = parser.parse_args(argv)
    args.reference_budget = args.budget if args.reference_budget is None else args.reference_budget
    wall = time.perf_counter()
    device = select_device()

    start = time.perf_counter()
    train_data = load_dataset(args.data, "train", DOWNSCALE, max_views=args.train_views)
    test = load_dataset(args.data, "test", DOWNSCALE, max_views=args.test_views)
    load_s = time.perf_counter() - start
    report = {"benchmark": "lego time-to-PSNR", "scene": args.data,
              "command": " ".join(["benchmarks/lego.py", *(sys.argv[1:] if argv is None else argv)]),
              "resolution": f"{train_data.W}x{train_data.H}", "train_views": len(train_data.images),
              "test_views": len(test.images), "budget_s": args.budget, "reference_budget_s": args.reference_budget,
              "eval_every_s": args.eval_every, "target_psnr": args.target,
              "machine": {"device": str(device), "torch_threads": torch.get_num_threads(),
                          "cpu_count": os.cpu_count(), "load_avg_1min_at_start": round(os.getloadavg()[0], 2),
                          "torch": torch.__version__, "OMP_WAIT_POLICY": os.environ["OMP_WAIT_POLICY"]},
              "load_s": round(load_s, 1)}

    if args.strategy != "baseline":
        start = time.perf_counter()
        train_data, stats = triangulate_sparse_depth(train_data)
        report["depth"] = {"source": "sparse depth triangulated from the train images with their known poses "
                                     "(pycolmap SIFT, exhaustive matching); no test-split depth",
                           "points": stats["points"], "pixels_with_depth": int(train_data.depth_mask.sum()),
                           "mean_reprojection_error_px": round(stats["mean_reprojection_error"], 3),
                           "triangulation_s": round(time.perf_counter() - start, 1)}

    field_kwargs = {"resolution": args.grid_resolution} if args.field == "tensorf" else {}
    upsample = [[float(f), int(g)] for f, g in (item.split(":") for item in args.grid_upsample.split(",") if item)]
    if upsample and args.field != "tensorf":
        raise ValueError("--grid-upsample needs --field tensorf (pass --grid-upsample '' for the MLP)")
    overrides = dict(field=args.field, field_kwargs=field_kwargs, batch_rays=args.batch_rays,
                     grid_upsample=upsample, color_threshold=args.color_threshold,
                     march_steps=args.march_steps, max_samples=args.max_samples,
                     occupancy_resolution=args.occupancy_resolution, occupancy_every=args.occupancy_every,
                     val_every=10 ** 9, checkpoint_every=10 ** 9,
                     depth_rays=args.depth_rays if args.strategy != "baseline" else 0)
    work = Path(tempfile.mkdtemp(prefix="lego_bench_"))
    try:
        iterations = args.iterations
        if not iterations:  # calibrate the schedule's length: the whole recipe compressed into 300 steps
            probe = config_for_profile("quick", args.strategy, iterations=300, **overrides)
            result = train(train_data, probe, work / "calibrate", device=device, resume=False, progress=False)
            # a lower bound on the real run's rate: its occupancy grid empties further with training;
            # stopped_by says which limit ended the run
            iterations = max(20, int(result.steps / result.train_seconds * args.budget))
            report["iterations_calibration"] = {
                "steps": result.steps, "seconds": round(result.train_seconds, 2),
                "note": "a throw-away run of the same recipe with a 300-step schedule; sets the schedule's length"}
        config = config_for_profile("quick", args.strategy, iterations=iterations, **overrides)
        report["ours"] = run_ours(config, train_data, test, args, device, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    if args.reference:
        white = train_data.images if train_data.background.tolist() == [1.0, 1.0, 1.0] else None
        if white is None:
            raise ValueError(f"{args.data}: expected train images composited on white")
        report["reference"] = {
            "setup": "paper MLP (8x256, PE 10/4), 64 stratified samples, no hierarchical pass, "
                     "1024 rays from one random image per step, Adam 5e-4, white background in the renderer",
            "alpha_dropped": run_reference("raw RGB, alpha ignored (black background), as the original",
                                           raw_rgb(train_data, DOWNSCALE), train_data, test, args),
            "alpha_composited": run_reference("RGB composited on white (the alpha fix)", white, train_data, test, args),
        }
        report["comparison"] = {name: compare(report["ours"], report["reference"][name])
                                for name in ("alpha_dropped", "alpha_composited")}

    report["peak_memory_bytes"] = peak_memory_bytes(device)
    report["total_s"] = round(time.perf_counter() - wall, 1)
    out = Path(args.out) / f"lego_{args.strategy}_{args.field}.json"
    atomic_json(out, report)
    report["written"] = str(out)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
