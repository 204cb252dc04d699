"""Does depth buy speed? Training seconds for each depth strategy to reach the baseline's final PSNR; prints ONE JSON object.

    .venv/bin/python benchmarks/depth_speed.py [--views 8 100] [--profile quick] [--every 50] [--seed 0]

For each view count (the embedded scene, exact dense depth, farthest-point view selection), the four
strategies train with the profile's settings and their defaults (the project's trainer; one run at a
time, so their timings are comparable), and every ``--every`` steps a :class:`StepEvaluation`
callback renders the test views with the clock paused. Reported per
strategy: the PSNR curve, the final PSNR, and ``seconds_to_baseline_final`` = the training seconds of
the first evaluation at or above the baseline's final PSNR (null if never), with its ratio to the
baseline's own training seconds (DS-NeRF reports 2-3x faster training: a ratio of 0.33-0.5).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))
from lego import machine_record, write_report  # noqa: E402

from depthnerf.callbacks import Callback  # noqa: E402
from depthnerf.cli import parse_settings  # noqa: E402
from depthnerf.config import config_for_profile, profile_settings  # noqa: E402
from depthnerf.datasets import load_dataset, select_views  # noqa: E402
from depthnerf.metrics import psnr  # noqa: E402
from depthnerf.trainer import Trainer  # noqa: E402

STRATEGIES = ("baseline", "soft", "hard", "hybrid")


def test_psnr(test):
    def evaluate(trainer) -> dict:
        rendered = np.clip(trainer.render_views(test, range(len(test)))["rgb"], 0.0, 1.0)
        return {"psnr": float(np.mean([psnr(r, t) for r, t in zip(rendered, test.images)]))}
    return evaluate


class StepEvaluation(Callback):
    """``evaluate(trainer)`` every ``every`` steps and at the last one, with the trainer's clock paused."""

    def __init__(self, evaluate, every: int):
        self.evaluate, self.every, self.curve = evaluate, every, []

    def after_step(self, trainer, step, output):
        if (step + 1) % self.every == 0 or step + 1 == trainer.config.iterations:
            with trainer.clock.paused():
                self.curve.append({"seconds": round(trainer.clock.seconds, 2), "iterations": step + 1,
                                   **self.evaluate(trainer)})


def run(strategy: str, data, test, args, overrides: dict, work: Path) -> dict:
    config = config_for_profile(args.profile, strategy, seed=args.seed, val_every=10 ** 9, checkpoint_every=10 ** 9,
                                **overrides)
    evaluation = StepEvaluation(test_psnr(test), args.every)
    trainer = Trainer(data, config, work / strategy, resume=False, callbacks=[evaluation], progress=False)
    trainer.run()
    curve = evaluation.curve
    return {"curve": curve, "psnr": curve[-1]["psnr"], "train_seconds": round(trainer.clock.elapsed(), 2),
            "iterations": trainer.state.step, "config": config.to_dict()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, nargs="+", default=[8, 100])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--every", type=int, default=50, help="steps between evaluations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="TrainConfig overrides")
    parser.add_argument("--out", default="results/bench")
    args = parser.parse_args(argv)
    settings = profile_settings(args.profile)
    train_all = load_dataset("embedded", "train", settings.downscale)
    test = load_dataset("embedded", "test", settings.downscale, max_views=settings.max_test_views)
    overrides = parse_settings(args.set)
    report = {"benchmark": "depth speed", "command": " ".join(["benchmarks/depth_speed.py", *(sys.argv[1:] if argv is None else argv)]),
              "machine": machine_record(),
              "test_views": len(test), "resolution": f"{test.W}x{test.H}", "runs": {}}
    work = Path(tempfile.mkdtemp(prefix="depth_speed_"))
    for n in args.views:
        data = train_all if n >= len(train_all) else train_all.subset(select_views(train_all, n, seed=args.seed))
        runs = {s: run(s, data, test, args, overrides, work / f"v{n}") for s in args.strategies}
        if "baseline" in runs:
            target, base_seconds = runs["baseline"]["psnr"], runs["baseline"]["train_seconds"]
            for entry in runs.values():
                reach = next((p for p in entry["curve"] if p["psnr"] >= target), None)
                entry["seconds_to_baseline_final"] = reach["seconds"] if reach else None
                entry["iterations_to_baseline_final"] = reach["iterations"] if reach else None
                entry["ratio_to_baseline_seconds"] = round(reach["seconds"] / base_seconds, 3) if reach else None
        report["runs"][str(n)] = runs
        print(json.dumps({s: {k: e.get(k) for k in ("psnr", "train_seconds", "seconds_to_baseline_final",
                                                     "ratio_to_baseline_seconds")} for s, e in runs.items()}),
              file=sys.stderr, flush=True)
    return write_report(Path(args.out) / "depth_speed.json", report)


if __name__ == "__main__":
    sys.exit(main())
