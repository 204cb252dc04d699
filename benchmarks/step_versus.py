"""The trainer's step against the same step of an earlier revision, in one process; prints ONE JSON object.

    .venv/bin/python benchmarks/step_versus.py --against REV [--lego ../shared/data/nerf_synthetic/lego]
        [--warmup-steps 600] [--steps 8] [--rounds 5] [--rays 4096]

Performance changes are judged by this ratio, never by absolute times (machines here differ by up
to 2x from day to day, and within a day by tens of percent).

* ``REV``'s ``depthnerf/`` is taken with ``git archive`` into a temporary folder as the package
  ``depthnerf_before`` (its ``depthnerf`` imports renamed) and imported next to this checkout's.
* ``warmup``: this checkout's trainer trains ``config.LEGO_RECIPE`` ``--warmup-steps`` steps on the 100
  lego train views at 400x400 (coarse to fine: the 320 grid from 45 % of them on), so the occupancy grid
  and the weights decide the samples as in a real run.
* Both revisions' trainers are then built on the same data and config, given the same trained field
  weights and occupancy grid, and a fresh Adam each; ``--rounds`` rounds alternate ``--steps`` timed
  steps of each (after one untimed step per round). ``step_s``: the median over all timed steps;
  ``points_per_s``: evaluated samples (the sampler's mask) per second; ``speedup`` = before's median
  step / this checkout's. ``occupancy_update``: the median of ``--rounds`` occupancy-grid updates (the
  ``OccupancyGridUpdate`` callback's work, every ``occupancy_every`` steps) of each, and
  ``speedup_with_update`` the same ratio with each step charged its share of an update. ``first_batch``: both trainers' first step from the same generator state, so
  equal losses and sample counts say that both compute the same step.
"""
from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

# see benchmarks/throughput.py: passive OpenMP waiting keeps 2 threads fast when the cores are shared
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from depthnerf.config import LEGO_RECIPE, config_for_profile, merge_settings  # noqa: E402
from depthnerf.datasets import load_dataset  # noqa: E402
from depthnerf.io import atomic_json  # noqa: E402
from depthnerf.trainer import Trainer  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from lego import machine_record  # noqa: E402  (the same measurement as the lego benchmark's)

BEFORE = "depthnerf_before"


def import_revision(rev: str, folder: Path):
    """``rev``'s ``depthnerf`` package, imported as :data:`BEFORE` from ``folder``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, "depthnerf"],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    package = folder / BEFORE
    (folder / "depthnerf").rename(package)
    for path in package.glob("*.py"):
        text = re.sub(r"\bdepthnerf\.", f"{BEFORE}.", path.read_text())
        text = re.sub(r"^(\s*)from depthnerf import\b", rf"\1from {BEFORE} import", text, flags=re.M)
        path.write_text(re.sub(r"^(\s*)import depthnerf\b", rf"\1import {BEFORE}", text, flags=re.M))
    sys.path.insert(0, str(folder))
    return importlib.import_module(f"{BEFORE}.trainer"), importlib.import_module(f"{BEFORE}.config")


def build(trainer_module, config_module, data, out_dir: Path, iterations: int, batch_rays: int):
    settings = merge_settings(LEGO_RECIPE, dict(iterations=iterations, batch_rays=batch_rays, val_every=10 ** 9,
                                                checkpoint_every=10 ** 9))
    config = config_module.config_for_profile("quick", "baseline", **settings)
    return trainer_module.Trainer(data, config, out_dir, resume=False, progress=False)


def load_trained(trainer, field_state: dict, grid_state: dict, generator_state: torch.Tensor) -> None:
    trainer.field.load_state(field_state)
    trainer.sampler.grid.load_state_dict(grid_state)
    trainer.rebuild_optimizer()
    trainer.generator.set_state(generator_state)


def timed(trainer, steps: int) -> tuple[list[float], list[int]]:
    trainer.step(trainer.state.step)
    times, points = [], []
    for _ in range(steps):
        start = time.perf_counter()
        out = trainer.step(trainer.state.step).out
        times.append(time.perf_counter() - start)
        points.append(int(out["mask"].sum()))
    return times, points


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, help="the git revision to time against (e.g. a commit)")
    parser.add_argument("--lego", default=str(ROOT.parent / "shared/data/nerf_synthetic/lego"))
    parser.add_argument("--warmup-steps", type=int, default=600)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per revision per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rays", type=int, default=4096, help="rays per step")
    parser.add_argument("--out", default="results/bench/step_versus.json")
    parser.add_argument("--downscale", type=int, default=2, help=argparse.SUPPRESS)  # the test's small run
    parser.add_argument("--train-views", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    wall = time.perf_counter()
    torch.manual_seed(0)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "depthnerf"], capture_output=True, text=True)
    report = {"benchmark": "trainer step against an earlier revision",
              "command": " ".join(["benchmarks/step_versus.py", *(sys.argv[1:] if argv is None else argv)]),
              "this_checkout": head.stdout.strip() + (" with uncommitted changes in depthnerf/" if dirty.stdout else ""),
              "against": args.against,
              "machine": machine_record()}
    data = load_dataset(args.lego, "train", args.downscale, max_views=args.train_views)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        before_trainer, before_config = import_revision(args.against, tmp / "code")
        now = build(sys.modules["depthnerf.trainer"], sys.modules["depthnerf.config"], data, tmp / "now",
                    args.warmup_steps, args.rays)
        start = time.perf_counter()
        now.run()
        report["warmup"] = {"steps": now.state.step, "seconds": round(time.perf_counter() - start, 1),
                            "grid": now.field.resolution, "image": f"{data.W}x{data.H}",
                            "train_psnr_last_100": round(float(np.mean(now.state.psnr[-100:])), 2)}
        field_state = {k: v.clone() for k, v in now.field.state_dict().items()}
        grid_state = {k: v.clone() for k, v in now.sampler.grid.state_dict().items()}
        generator_state = now.generator.get_state()
        before = build(before_trainer, before_config, data, tmp / "before", args.warmup_steps, args.rays)
        trainers = {"this_checkout": now, "before": before}
        first = {}
        for name, trainer in trainers.items():
            load_trained(trainer, field_state, grid_state, generator_state)
            trainer.state.step = args.warmup_steps  # past the coarse-to-fine schedule: no upsampling
            output = trainer.step(trainer.state.step)
            first[name] = {"loss": output.loss, "points": int(output.out["mask"].sum())}
        report["first_batch"] = {**first, "same_loss": first["this_checkout"]["loss"] == first["before"]["loss"],
                                 "same_points": first["this_checkout"]["points"] == first["before"]["points"]}
        times = {name: [] for name in trainers}
        points = {name: [] for name in trainers}
        for _ in range(args.rounds):
            for name, trainer in trainers.items():
                t, p = timed(trainer, args.steps)
                times[name] += t
                points[name] += p
        updates = {name: [] for name in trainers}  # the OccupancyGridUpdate callback's work, on each grid
        for _ in range(args.rounds):
            for name, trainer in trainers.items():
                start = time.perf_counter()
                trainer.sampler.grid.update(trainer.field, generator=trainer.generator)
                updates[name].append(time.perf_counter() - start)
    medians = {name: float(np.median(t)) for name, t in times.items()}
    every = now.config.occupancy_every
    update_s = {name: float(np.median(t)) for name, t in updates.items()}
    report["occupancy_update"] = {name: {"update_s": round(update_s[name], 4),
                                         "step_s_with_update_every": round(medians[name] + update_s[name] / every, 4)}
                                  for name in trainers}
    report["occupancy_every"] = every
    report["speedup_with_update"] = round((medians["before"] + update_s["before"] / every)
                                          / (medians["this_checkout"] + update_s["this_checkout"] / every), 3)
    report["steps"] = {name: {"step_s": round(medians[name], 4), "points_per_step": round(float(np.mean(points[name]))),
                              "points_per_s": round(float(np.mean(points[name])) / medians[name]),
                              "step_s_all": [round(x, 4) for x in times[name]]} for name in trainers}
    report["speedup"] = round(medians["before"] / medians["this_checkout"], 3)
    report["points_per_s_ratio"] = round(report["steps"]["this_checkout"]["points_per_s"]
                                         / report["steps"]["before"]["points_per_s"], 3)
    report["total_s"] = round(time.perf_counter() - wall, 1)
    atomic_json(Path(args.out), report)
    report["written"] = args.out
    print(json.dumps({k: v for k, v in report.items() if k != "steps"} | {
        "steps": {n: {k: v for k, v in s.items() if k != "step_s_all"} for n, s in report["steps"].items()}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
