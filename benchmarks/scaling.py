"""How the TensoRF training step scales on lego: rays per step, grid size, image size; prints ONE JSON object.

    .venv/bin/python benchmarks/scaling.py [--lego ../shared/data/nerf_synthetic/lego] [--warmup-steps 600]

Every step timed is the project's trainer's own (``Trainer.step``: batch, occupancy sampler, field,
compositing, loss, backward, fused Adam) with ``config.LEGO_RECIPE``.

* ``warmup``: the recipe trained ``--warmup-steps`` steps on the 100 train views at 400x400 (coarse to
  fine, the 320 grid from 45 % of them on), so the occupancy grid and the weights (which decide
  how many samples are evaluated and coloured) are those of a model that has learnt the object.
* ``rays``: at the 320 grid, the median of ``--steps`` steps (after one untimed step) for each
  number of rays per step; ``points`` = evaluated samples (the sampler's mask), ``coloured`` = those
  with weight above the recipe's ``color_threshold``. All in this one process, so the ratios hold
  on this machine even when its absolute speed differs from another's.
* ``grid``: the same at 4096 rays, the trained factors resampled to each resolution (bilinear).
* ``lookup``: the field's plane/line lookup alone (``TensoRFField._vm_features``: ``grid_sample`` in
  groups of 4 channels) against candidates, on the sample points of one real training batch at the
  320 grid, forward + backward, best of ``--steps``: ``grid_sample`` in groups of 8 and 2; a
  hand-written bilinear lookup (corner indices and weights, ``index_select`` forward,
  ``index_add_`` backward); the same written as plain indexing and compiled by ``torch.compile``
  (inductor; its first call, the compilation, reported apart). Each with its largest difference to
  the field's own values and gradients. ``group_steps``: whole trainer steps with groups of 8, 4
  and 2 channels, interleaved in rounds.
* ``render``: seconds to render test view 0 at each image size with the eval sampler (no grad).
* ``memory``: peak resident memory of a child process (``--child``) that loads the train views at
  each image size, builds the trainer with the field at each grid resolution and trains
  ``--memory-steps`` steps from scratch (alpha-carved occupancy grid); ``fits_24_gib`` answers whether
  800x800 training fits this machine's 24 GiB.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

# see benchmarks/throughput.py: passive OpenMP waiting keeps 2 threads fast when the cores are shared
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from depthnerf.config import LEGO_RECIPE, config_for_profile, merge_settings  # noqa: E402
from depthnerf.datasets import load_dataset  # noqa: E402
from depthnerf.fields import TensoRFField  # noqa: E402
from depthnerf.rendering import render_rays  # noqa: E402
from depthnerf.trainer import Trainer, draw_batch, peak_memory_bytes  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from lego import machine_record, write_report  # noqa: E402  (the same measurement as the lego benchmark's)

GIB = 2 ** 30
PLANE_WIDTH, PLANE_HEIGHT, LINE_AXIS = torch.tensor([0, 0, 1]), torch.tensor([1, 2, 2]), torch.tensor([2, 1, 0])


def bilinear_corners(x: torch.Tensor, G: int):
    """``x [M,3]`` in ``[-1,1]`` (``align_corners=True``) -> the lower and upper grid index per axis
    (clamped) and their weights, zero for a corner outside the grid (``grid_sample``'s zero padding)."""
    u = (x + 1) * (0.5 * (G - 1))
    lower = u.floor()
    frac = u - lower
    i0 = lower.long()
    w0 = torch.where((i0 >= 0) & (i0 < G), 1 - frac, 0)
    w1 = torch.where((i0 >= -1) & (i0 < G - 1), frac, 0)
    return i0.clamp(0, G - 1), (i0 + 1).clamp(0, G - 1), w0, w1


class GatherBilinear(torch.autograd.Function):
    """``sum_k w[k] * table[:, idx[k]]``: ``table [C,N]``, ``idx, w [K,M,P]`` -> ``[C,M,P]``; the
    backward is one ``index_add_`` (no gradient for the points)."""

    @staticmethod
    def forward(ctx, table, idx, w):
        gathered = table.index_select(1, idx.reshape(-1)).view(table.shape[0], *idx.shape)
        ctx.save_for_backward(idx, w)
        ctx.n = table.shape[1]
        return (gathered * w).sum(1)

    @staticmethod
    def backward(ctx, grad):
        idx, w = ctx.saved_tensors
        per_corner = (grad[:, None] * w).reshape(grad.shape[0], -1)
        return grad.new_zeros(grad.shape[0], ctx.n).index_add_(1, idx.reshape(-1), per_corner), None, None


def gather_lookup(planes: torch.Tensor, lines: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``TensoRFField._vm_features`` written as gathers: ``[3, C, M]``."""
    C, G = planes.shape[1], planes.shape[2]
    i0, i1, w0, w1 = bilinear_corners(x, G)
    a0, a1, b0, b1 = i0[:, PLANE_WIDTH], i1[:, PLANE_WIDTH], i0[:, PLANE_HEIGHT] * G, i1[:, PLANE_HEIGHT] * G
    wa0, wa1, wb0, wb1 = w0[:, PLANE_WIDTH], w1[:, PLANE_WIDTH], w0[:, PLANE_HEIGHT], w1[:, PLANE_HEIGHT]
    offsets = torch.arange(3) * (G * G)
    idx = torch.stack([b0 + a0, b0 + a1, b1 + a0, b1 + a1]) + offsets  # [4, M, 3]
    w = torch.stack([wb0 * wa0, wb0 * wa1, wb1 * wa0, wb1 * wa1])
    p = GatherBilinear.apply(planes.permute(1, 0, 2, 3).reshape(C, -1), idx, w)
    lidx = torch.stack([i0[:, LINE_AXIS], i1[:, LINE_AXIS]]) + torch.arange(3) * G
    v = GatherBilinear.apply(lines.permute(1, 0, 2, 3).reshape(C, -1), lidx,
                             torch.stack([w0[:, LINE_AXIS], w1[:, LINE_AXIS]]))
    return (p * v).permute(2, 0, 1)


def indexing_lookup(planes: torch.Tensor, lines: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The same lookup as plain indexing (autograd's own backward), for ``torch.compile``."""
    C, G = planes.shape[1], planes.shape[2]
    i0, i1, w0, w1 = bilinear_corners(x, G)
    out = []
    for p, (a, b, c) in enumerate(zip(PLANE_WIDTH.tolist(), PLANE_HEIGHT.tolist(), LINE_AXIS.tolist())):
        table, line = planes[p].reshape(C, G * G), lines[p].reshape(C, G)
        plane = (table[:, i0[:, b] * G + i0[:, a]] * (w0[:, b] * w0[:, a]) + table[:, i0[:, b] * G + i1[:, a]] * (w0[:, b] * w1[:, a])
                 + table[:, i1[:, b] * G + i0[:, a]] * (w1[:, b] * w0[:, a]) + table[:, i1[:, b] * G + i1[:, a]] * (w1[:, b] * w1[:, a]))
        out.append(plane * (line[:, i0[:, c]] * w0[:, c] + line[:, i1[:, c]] * w1[:, c]))
    return torch.stack(out)


def batch_points(trainer: Trainer) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised sample points of one training batch: all evaluated ones and the coloured ones
    (weight above ``color_threshold``)."""
    generator = torch.Generator().manual_seed(3)
    rays, _, background = draw_batch(trainer.tensors, trainer.config, generator)
    with torch.no_grad():
        samples = trainer.train_sampler(rays, perturb=True, generator=generator, field=trainer.field)
        out = render_rays(trainer.field, rays, *samples, background=background)
    points = rays.origins[:, None] + rays.directions[:, None] * out["t_mids"][..., None]
    coloured = out["mask"] & (out["weights"] > trainer.config.color_threshold)
    return trainer.field.normalize(points[out["mask"]]), trainer.field.normalize(points[coloured])


def lookup_table(trainer: Trainer, repeats: int) -> dict:
    """The candidates of ``lookup`` (module docstring) on one batch's points, density and appearance factors."""
    field = trainer.field
    density_points, colour_points = batch_points(trainer)
    candidates = {"grid_sample_group4": field._vm_features,
                  "grid_sample_group8": functools.partial(field._vm_features, group=8),
                  "grid_sample_group2": functools.partial(field._vm_features, group=2),
                  "gather_index_add": gather_lookup}
    compiled = torch.compile(indexing_lookup, dynamic=True)
    report = {"grid": field.resolution}
    for name, planes, lines, x in (("density", field.density_planes, field.density_lines, density_points),
                                   ("appearance", field.app_planes, field.app_lines, colour_points)):
        if len(x) == 0:
            report[name] = {"points": 0, "note": "no such sample in the batch (an untrained field)"}
            continue
        planes, lines = planes.detach().clone().requires_grad_(), lines.detach().clone().requires_grad_()
        probe = torch.randn(3, planes.shape[1], len(x), generator=torch.Generator().manual_seed(0))

        def run(fn):
            planes.grad = lines.grad = None
            start = time.perf_counter()
            (fn(planes, lines, x) * probe).sum().backward()
            return time.perf_counter() - start

        run(field._vm_features)
        truth = (field._vm_features(planes, lines, x).detach(), planes.grad.clone(), lines.grad.clone())
        rows = {}
        fns = dict(candidates)
        try:
            rows["compiled_indexing_first_call_s"] = round(run(compiled), 2)
            fns["compiled_indexing"] = compiled
        except Exception as error:  # no C++ compiler, or inductor refuses: say so, keep the rest
            rows["compiled_indexing_error"] = f"{type(error).__name__}: {str(error)[:200]}"
        for key, fn in fns.items():
            best = min(run(fn) for _ in range(repeats))
            value = fn(planes, lines, x).detach()
            diffs = [float((value - truth[0]).abs().max())]
            run(fn)
            diffs += [float((planes.grad - truth[1]).abs().max()), float((lines.grad - truth[2]).abs().max())]
            rows[key] = {"forward_backward_ms": round(1000 * best, 2), "max_abs_diff_value_plane_grad_line_grad":
                         [float(f"{d:.2g}") for d in diffs]}
        base = rows["grid_sample_group4"]["forward_backward_ms"]
        for key, row in rows.items():
            if isinstance(row, dict):
                row["time_over_field_lookup"] = round(row["forward_backward_ms"] / base, 2)
        report[name] = {"points": len(x), "channels": planes.shape[1], **rows}
    return report


def group_steps(trainer: Trainer, steps: int, rounds: int = 3) -> dict:
    """Median trainer step with ``_vm_features`` in groups of 8, 4 and 2 channels, interleaved."""
    original = TensoRFField._vm_features
    times: dict[int, list] = {8: [], 4: [], 2: []}
    try:
        for _ in range(rounds):
            for group in times:
                TensoRFField._vm_features = staticmethod(functools.partial(original, group=group))
                times[group].append(timed_steps(trainer, steps)["step_s"])
    finally:
        TensoRFField._vm_features = staticmethod(original)
    best = {group: float(np.median(t)) for group, t in times.items()}
    return {"step_s": {f"group{g}": t for g, t in times.items()},
            "median_step_s": {f"group{g}": round(t, 4) for g, t in best.items()},
            "group8_over_group4": round(best[8] / best[4], 3)}


def lego_trainer(data, out_dir: Path, iterations: int, **field_params) -> Trainer:
    settings = merge_settings(LEGO_RECIPE, dict(iterations=iterations, val_every=10 ** 9, checkpoint_every=10 ** 9),
                              {"field_params": field_params} if field_params else {})
    return Trainer(data, config_for_profile("quick", "baseline", **settings), out_dir, resume=False, progress=False)


def timed_steps(trainer: Trainer, steps: int) -> dict:
    """Median wall time of ``steps`` trainer steps after one untimed step, with the evaluated and
    coloured samples per step."""
    trainer.step(trainer.state.step)
    times, points, coloured = [], [], []
    for _ in range(steps):
        start = time.perf_counter()
        out = trainer.step(trainer.state.step).out
        times.append(time.perf_counter() - start)
        points.append(int(out["mask"].sum()))
        coloured.append(int((out["mask"] & (out["weights"] > trainer.config.color_threshold)).sum()))
    step_s = float(np.median(times))
    return {"step_s": round(step_s, 4), "points_per_step": round(float(np.mean(points))),
            "coloured_per_step": round(float(np.mean(coloured))),
            "points_per_s": round(float(np.mean(points)) / step_s), "rays_per_s": round(trainer.config.batch_rays / step_s)}


def child(args) -> int:
    """One memory measurement: load, build, train ``--memory-steps`` steps; print the peak RSS."""
    data = load_dataset(args.lego, "train", args.downscale)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = lego_trainer(data, Path(tmp), 10 ** 6, resolution=args.grid, upsample=[])
        for _ in range(args.memory_steps):
            trainer.step(trainer.state.step)
    print(json.dumps({"image": f"{data.W}x{data.H}", "grid": args.grid, "steps": args.memory_steps,
                      "peak_rss_bytes": peak_memory_bytes(torch.device("cpu"))}))
    return 0


def memory_table(args) -> list[dict]:
    rows = []
    for downscale, grid in ((2, 64), (2, 128), (2, 320), (1, 128), (1, 320)):
        cmd = [sys.executable, __file__, "--child", "--lego", args.lego, "--downscale", str(downscale),
               "--grid", str(grid), "--memory-steps", str(args.memory_steps)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["peak_rss_gib"] = round(row.pop("peak_rss_bytes") / GIB, 2)
        rows.append(row)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lego", default=str(ROOT.parent / "shared/data/nerf_synthetic/lego"))
    parser.add_argument("--warmup-steps", type=int, default=600)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per configuration")
    parser.add_argument("--rays", type=int, nargs="+", default=[1024, 2048, 4096, 8192, 16384])
    parser.add_argument("--grids", type=int, nargs="+", default=[64, 128, 192, 256, 320])
    parser.add_argument("--render-sizes", type=int, nargs="+", default=[100, 200, 400, 800])
    parser.add_argument("--memory-steps", type=int, default=5)
    parser.add_argument("--no-memory", dest="memory", action="store_false", help="skip the child processes")
    parser.add_argument("--out", default="results/bench/scaling.json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--downscale", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--grid", type=int, default=320, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    wall = time.perf_counter()
    torch.manual_seed(0)
    report = {"benchmark": "TensoRF step scaling on lego", "command": " ".join(["benchmarks/scaling.py", *(argv or sys.argv[1:])]),
              "machine": machine_record()}
    data = load_dataset(args.lego, "train", 2)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = lego_trainer(data, Path(tmp), args.warmup_steps)
        start = time.perf_counter()
        trainer.run()
        report["warmup"] = {"steps": trainer.state.step, "seconds": round(time.perf_counter() - start, 1),
                            "grid": trainer.field.resolution, "image": f"{data.W}x{data.H}",
                            "train_psnr_last_100": round(float(np.mean(trainer.state.psnr[-100:])), 2)}
        trained = {k: v.clone() for k, v in trainer.field.state_dict().items()}
        report["lookup"] = lookup_table(trainer, args.steps)
        report["group_steps"] = group_steps(trainer, args.steps)
        trainer.field.load_state(trained)
        base = trainer.config
        report["rays"] = []
        for n in args.rays:
            trainer.config = replace(base, batch_rays=n)
            report["rays"].append({"rays": n, "grid": trainer.field.resolution, **timed_steps(trainer, args.steps)})
        trainer.config = base
        report["grid"] = []
        for grid in args.grids:
            trainer.field.load_state(trained)
            trainer.field.upsample(grid)
            trainer.rebuild_optimizer()
            report["grid"].append({"grid": grid, "rays": base.batch_rays, **timed_steps(trainer, args.steps)})
        trainer.field.load_state(trained)
        report["render"] = []
        for size in args.render_sizes:
            view = load_dataset(args.lego, "test", max(1, 800 // size), max_views=1)
            trainer.render_views(view, [0])  # warm-up
            start = time.perf_counter()
            trainer.render_views(view, [0])
            report["render"].append({"image": f"{view.W}x{view.H}", "seconds": round(time.perf_counter() - start, 2)})
    if args.memory:
        report["memory"] = memory_table(args)
        big = [row for row in report["memory"] if row["image"] == "800x800"]
        report["fits_24_gib"] = {"800x800": all(row["peak_rss_gib"] < 24 for row in big),
                                 "largest_gib": max(row["peak_rss_gib"] for row in big)} if big else None
    report["total_s"] = round(time.perf_counter() - wall, 1)
    return write_report(Path(args.out), report)


if __name__ == "__main__":
    sys.exit(main())
