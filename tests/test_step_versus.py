"""benchmarks/step_versus.py: an earlier revision's package imported beside this one, both trainers timed on
the same trained state."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LEGO = ROOT.parent / "shared/data/nerf_synthetic/lego"
pytestmark = [pytest.mark.data,
              pytest.mark.skipif(not LEGO.is_dir(), reason=f"{LEGO} absent (shared real data)"),
              pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout (the benchmark reads a revision)")]


def test_step_versus_times_head_against_this_checkout_on_the_same_state(tmp_path):
    out = tmp_path / "step_versus.json"
    done = subprocess.run([sys.executable, "benchmarks/step_versus.py", "--against", "HEAD", "--lego", str(LEGO),
                           "--warmup-steps", "3", "--steps", "1", "--rounds", "1", "--rays", "256",
                           "--downscale", "8", "--train-views", "4", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert set(report["steps"]) == {"this_checkout", "before"}
    assert all(s["points_per_step"] > 0 and s["step_s"] > 0 for s in report["steps"].values())
    assert report["speedup"] > 0 and report["occupancy_update"]["before"]["update_s"] > 0
    changed = subprocess.run(["git", "status", "--porcelain", "depthnerf"], cwd=ROOT, capture_output=True, text=True)
    if not changed.stdout:  # HEAD's package is this checkout's: the same step, sample for sample
        assert report["first_batch"]["same_loss"] and report["first_batch"]["same_points"]
        assert "uncommitted" not in report["this_checkout"]
