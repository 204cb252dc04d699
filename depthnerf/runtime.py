# Generated from 03_Baseline_NeRF.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import tempfile
import time

import torch

from depthnerf.callbacks import TrainingClock, call_hooks
from depthnerf.config import TrainConfig, config_for_profile, profile_settings
from depthnerf.datasets import select_views
from depthnerf.scene import SceneData
from depthnerf.trainer import FEW_VIEW_DIR, Trainer


# %% 03_Baseline_NeRF.ipynb · cell c26est
def probe_starts(milestones, iterations: int, occupancy_warmup: int, length: int) -> list[tuple[int, int, int]]:
    """``(stage start, stage end, probe start)`` of each stage of a run of ``iterations`` steps cut at
    ``milestones``; the first stage's probe starts at ``occupancy_warmup`` when a ``length``-step probe
    still fits in that stage before the next milestone.

    >>> probe_starts([250, 625], 2500, 64, 35)
    [(0, 250, 64), (250, 625, 250), (625, 2500, 625)]
    >>> probe_starts([], 30, 64, 19)
    [(0, 30, 0)]
    """
    edges = [0, *sorted({m for m in milestones if 0 < m < iterations}), iterations]
    stages = [(a, b, a) for a, b in zip(edges, edges[1:])]
    first_start, first_end, _ = stages[0]
    if occupancy_warmup + length <= first_end:
        stages[0] = (first_start, first_end, occupancy_warmup)
    return stages


def estimate_training_seconds(data: SceneData, config: TrainConfig, device: torch.device | None = None,
                              warmup: int = 3, window: int | None = None) -> dict:
    """Training seconds of ``config`` on ``data`` here: each stage's measured seconds per step (a probe of
    ``window`` steps after ``warmup``, default window ``config.occupancy_every`` so that one grid update is
    in it) times its steps, summed: ``T = sum_s (e_s - b_s) * t_s`` for stage ``s`` = steps ``[b_s, e_s)`` and
    ``t_s`` its measured seconds per step. Returns ``{"seconds": total, "stages":
    [{"steps": [start, end], "seconds_per_step": t}, ...], "probe_seconds": wall time of the probing}``."""
    window = config.occupancy_every if window is None else window
    if warmup < 0 or window < 1:
        raise ValueError(f"estimate_training_seconds: warmup {warmup} must be >= 0 and window {window} >= 1")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="depthnerf-estimate-") as tmp:
        trainer = Trainer(data, config, tmp, device=device, resume=False, progress=False)
        milestones = [m for callback in trainer.callbacks for m in getattr(callback, "milestones", ())]
        stages = []
        for start, end, probe in probe_starts(milestones, config.iterations, config.occupancy_warmup,
                                              warmup + window):
            timed = min(window, end - probe)
            skip = min(warmup, end - probe - timed)
            trainer.state.step = probe
            for step in range(probe, probe + skip + timed):
                if step == probe + skip:
                    trainer.clock = TrainingClock()
                call_hooks(trainer.callbacks, "before_step", trainer, step)
                call_hooks(trainer.callbacks, "after_step", trainer, step, trainer.step(step))
            stages.append({"steps": [start, end], "seconds_per_step": trainer.clock.elapsed() / timed})
    total = sum((s["steps"][1] - s["steps"][0]) * s["seconds_per_step"] for s in stages)
    return {"seconds": total, "stages": stages, "probe_seconds": time.perf_counter() - started}


def estimate_profile_seconds(profile: str, train_data: SceneData, strategies, device: torch.device | None = None,
                             few_view: bool = True) -> dict:
    """Estimated training seconds of a profile's pipeline on ``train_data``: ``{run: seconds}`` for each of
    ``strategies`` and, with ``few_view``, its few-view run (``<strategy>/few_view``, as :func:`train_few_view`
    trains it in notebooks 03-06), each from :func:`estimate_training_seconds`."""
    settings = profile_settings(profile)
    runs = {strategy: (train_data, config_for_profile(profile, strategy)) for strategy in strategies}
    if few_view and 0 < settings.few_views < len(train_data):
        few = train_data.subset(select_views(train_data, settings.few_views, seed=0))
        runs |= {f"{strategy}/{FEW_VIEW_DIR}": (few, config_for_profile(profile, strategy, **settings.study_train))
                 for strategy in strategies}
    return {name: estimate_training_seconds(data, config, device)["seconds"] for name, (data, config) in runs.items()}
