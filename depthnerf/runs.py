# Generated from 03_Baseline_NeRF.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from depthnerf.config import TrainConfig
from depthnerf.env import select_device
from depthnerf.fields import make_field
from depthnerf.io import atomic_json, atomic_npy, atomic_torch_save, read_saved
from depthnerf.rendering import render_views
from depthnerf.samplers import make_sampler
from depthnerf.strategies import Strategy, make_strategy


# %% 03_Baseline_NeRF.ipynb · cell c28
def write_results(out_dir: Path, config: TrainConfig, field, sampler, state, fingerprint: str,
                  peak_memory: int, device: str, warnings: list[str]) -> None:
    """The files of a finished run (the original project's layout plus config, metrics, summary)."""
    grid = getattr(sampler, "grid", None)
    atomic_torch_save(out_dir / f"model_{config.strategy}.pth", {
        "config": config.to_dict(), "field": field.state_dict(),
        "occupancy": None if grid is None else grid.state_dict(),
        "near": sampler.near, "far": sampler.far, "data_fingerprint": fingerprint,
    })
    atomic_npy(out_dir / "psnr_history.npy", np.asarray(state.psnr, dtype=np.float32))
    atomic_npy(out_dir / "loss_history.npy", np.asarray(state.loss, dtype=np.float32))
    atomic_json(out_dir / "summary.json", {
        "strategy": config.strategy, "iterations": state.step, "train_seconds": state.seconds,
        "peak_memory_bytes": peak_memory, "device": device,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "val_psnr": [{"step": s, "seconds": t, "psnr": p} for s, t, p in state.val],
        "data_fingerprint": fingerprint, "warnings": warnings,
    })


@dataclass
class TrainedRun:
    """A trained strategy ready to render: its field, shared sampler, evaluation sampler and config."""

    strategy: Strategy
    field: torch.nn.Module
    sampler: object
    eval_sampler: object
    config: TrainConfig
    out_dir: Path | None

    def render_views(self, data, views, chunk: int = 8192) -> dict:
        """Whole views of ``data`` rendered with the strategy's evaluation sampler (numpy arrays)."""
        return render_views(self.field, self.eval_sampler, data, views, chunk)


def saved_config(saved: dict, source: Path | str) -> TrainConfig:
    """The ``TrainConfig`` of a saved model or checkpoint; settings this version does not know (a file
    from another version of depthnerf) or out of range are an error naming the file."""
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(saved["config"]) - known)
    if unknown:
        raise ValueError(f"{source}: its config has settings this version of depthnerf does not know: {unknown} "
                         f"(written by another version?); retrain it or load it with that version")
    try:
        return TrainConfig(**saved["config"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{source}: invalid config ({err})") from err


def build_run(saved: dict, near: float, far: float, device: torch.device,
              out_dir: Path | None = None, source: Path | str = "saved run") -> TrainedRun:
    """Field, shared sampler (with its occupancy grid) and strategy of a saved model or checkpoint."""
    config = saved_config(saved, source)
    field = make_field(config.field, torch.zeros(2, 3), config.field_params)
    field.load_state(saved["field"])
    field.to(device).eval()
    sampler = make_sampler(config, near, far, torch.zeros(2, 3), device)
    grid = getattr(sampler, "grid", None)
    if grid is not None:
        grid.load_state_dict(saved["occupancy"])
    strategy = make_strategy(config)
    return TrainedRun(strategy, field, sampler, strategy.eval_sampler(sampler), config, out_dir)


def load_run(out_dir, device: torch.device | None = None) -> TrainedRun:
    """Load a finished run from ``out_dir`` (its ``model_<strategy>.pth``)."""
    device = device or select_device()
    out_dir = Path(out_dir)
    models = sorted(out_dir.glob("model_*.pth"))
    if not models:
        raise FileNotFoundError(f"no model_<strategy>.pth in {out_dir}: train that strategy first "
                                f"(notebooks 03-06) or check the results folder")
    saved = read_saved(models[0], "model")
    return build_run(saved, saved["near"], saved["far"], device, out_dir, source=models[0])


def read_summary(out_dir: Path | str) -> dict:
    """``summary.json`` of a finished run ({} when absent)."""
    path = Path(out_dir) / "summary.json"
    return json.loads(path.read_text()) if path.exists() else {}
