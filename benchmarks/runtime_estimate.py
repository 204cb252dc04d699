"""How close is the printed runtime estimate? Estimated vs measured training seconds; prints ONE JSON object.

    .venv/bin/python benchmarks/runtime_estimate.py [--profile quick] [--data embedded] [--strategies baseline hard]
                                                    [--set KEY=VALUE ...] [--out results/bench]

For each strategy, :func:`depthnerf.runtime.estimate_training_seconds` (what the Colab notebook and
``depthnerf train --estimate`` print before training) is computed on the profile's training views, then
the same configuration trains for real (validation and checkpoints off, one run at a time) and its
trainer clock gives the measured training seconds. Reported per strategy: both, their ratio
(estimate / measured; above 1 = the estimate is pessimistic) and the estimate's per-stage step times.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))
from lego import machine_record, write_report  # noqa: E402

from depthnerf.cli import parse_settings  # noqa: E402
from depthnerf.config import config_for_profile, profile_settings  # noqa: E402
from depthnerf.datasets import load_dataset  # noqa: E402
from depthnerf.runtime import estimate_training_seconds  # noqa: E402
from depthnerf.trainer import Trainer  # noqa: E402


def measure(strategy: str, data, args, overrides: dict, work: Path) -> dict:
    config = config_for_profile(args.profile, strategy, val_every=10 ** 9, checkpoint_every=10 ** 9, **overrides)
    estimate = estimate_training_seconds(data, config)
    trainer = Trainer(data, config, work / strategy, resume=False, progress=False)
    trainer.run()
    measured = trainer.clock.elapsed()
    return {"estimate_seconds": round(estimate["seconds"], 2), "measured_seconds": round(measured, 2),
            "estimate_over_measured": round(estimate["seconds"] / measured, 3),
            "probe_seconds": round(estimate["probe_seconds"], 2), "stages": estimate["stages"],
            "iterations": trainer.state.step}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--data", default="embedded")
    parser.add_argument("--strategies", nargs="+", default=["baseline", "hard"])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="TrainConfig overrides")
    parser.add_argument("--out", default="results/bench")
    args = parser.parse_args(argv)
    settings = profile_settings(args.profile)
    data = load_dataset(args.data, "train", downscale=settings.downscale, max_views=settings.max_train_views)
    overrides = parse_settings(args.set)
    report = {"benchmark": "runtime estimate",
              "command": " ".join(["benchmarks/runtime_estimate.py", *(sys.argv[1:] if argv is None else argv)]),
              "machine": machine_record(),
              "views": len(data), "resolution": f"{data.W}x{data.H}", "runs": {}}
    with tempfile.TemporaryDirectory(prefix="runtime_estimate_") as work:
        for strategy in args.strategies:
            report["runs"][strategy] = measure(strategy, data, args, overrides, Path(work))
            print(json.dumps({strategy: {k: v for k, v in report["runs"][strategy].items() if k != "stages"}}),
                  file=sys.stderr, flush=True)
    return write_report(Path(args.out) / "runtime_estimate.json", report)


if __name__ == "__main__":
    sys.exit(main())
