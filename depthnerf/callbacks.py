# Generated from 03_Baseline_NeRF.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import contextlib
import json
import time

import numpy as np
from tqdm.auto import tqdm

from depthnerf.metrics import psnr_from_mse


# %% 03_Baseline_NeRF.ipynb · cell c18
class Callback:
    """Hooks of the training loop, each optional (subclass and override, or any object with some of them).

    * ``on_train_start(trainer)``: the state is built or restored, before the first step of this call;
    * ``before_step(trainer, step)``: before step ``step`` (0-based) draws its batch;
    * ``after_step(trainer, step, output)``: after the update (``output``: :class:`StepOutput`);
    * ``on_checkpoint(trainer, checkpoint)``: ``checkpoint`` (a dict) is about to be written;
    * ``on_train_end(trainer, finished)``: after the last step of this call (``finished``: every iteration done).
    """

    def on_train_start(self, trainer) -> None: ...
    def before_step(self, trainer, step: int) -> None: ...
    def after_step(self, trainer, step: int, output) -> None: ...
    def on_checkpoint(self, trainer, checkpoint: dict) -> None: ...
    def on_train_end(self, trainer, finished: bool) -> None: ...


HOOKS = ("on_train_start", "before_step", "after_step", "on_checkpoint", "on_train_end")


def call_hooks(callbacks, hook: str, *args) -> None:
    """Call ``hook`` on every callback that has it, in order."""
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is not None:
            method(*args)


class TrainingClock:
    """Training seconds: runs while steps run, stands still inside :meth:`paused` (validation,
    checkpoints, a benchmark's evaluation)."""

    def __init__(self, seconds: float = 0.0):
        self.seconds, self.started, self.running = seconds, time.perf_counter(), True

    def elapsed(self) -> float:
        return self.seconds + (time.perf_counter() - self.started if self.running else 0.0)

    @contextlib.contextmanager
    def paused(self):
        self.seconds, self.running = self.elapsed(), False
        try:
            yield
        finally:
            self.started, self.running = time.perf_counter(), True


# %% 03_Baseline_NeRF.ipynb · cell c20
class LearningRateSchedule(Callback):
    """``lr(step) = lr_0 * lr_final_factor ** (step / iterations)`` for each parameter group."""

    def __init__(self, base_lrs: list[float], final_factor: float, iterations: int):
        self.base_lrs, self.final_factor, self.iterations = base_lrs, final_factor, iterations

    def before_step(self, trainer, step):
        for group, base_lr in zip(trainer.optimizer.param_groups, self.base_lrs):
            group["lr"] = base_lr * self.final_factor ** (step / self.iterations)


class OccupancyGridUpdate(Callback):
    """Refresh the shared sampler's occupancy grid from the field's density."""

    def __init__(self, every: int, warmup: int):
        self.every, self.warmup = every, warmup

    def before_step(self, trainer, step):
        grid = getattr(trainer.sampler, "grid", None)
        if grid is not None and step >= self.warmup and step % self.every == 0:
            grid.update(trainer.field, generator=trainer.generator)


class ProgressBar(Callback):
    """tqdm over the run's iterations with the live loss and PSNR."""

    def __init__(self, every: int):
        self.every, self.bar = every, None

    def on_train_start(self, trainer):
        self.bar = tqdm(total=trainer.config.iterations, initial=trainer.state.step,
                        desc=f"train {trainer.config.strategy}")

    def after_step(self, trainer, step, output):
        self.bar.update(1)
        if step % self.every == 0 or step + 1 == trainer.last_step:
            self.bar.set_postfix(loss=f"{output.loss:.4f}", psnr=f"{output.psnr:.2f}")

    def on_train_end(self, trainer, finished):
        self.bar.close()


class MetricsLog(Callback):
    """One ``metrics.jsonl`` record every ``every`` steps, and one per validation."""

    def __init__(self, path, every: int):
        self.path, self.every = path, every

    def write(self, record: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def after_step(self, trainer, step, output):
        if step % self.every == 0:
            self.write({"step": step + 1, "seconds": trainer.clock.elapsed(), "psnr": output.psnr, **output.terms})


class Validation(Callback):
    """Mean PSNR of the first ``n_views`` validation views every ``every`` steps and at the end."""

    def __init__(self, data, every: int, n_views: int, log: MetricsLog):
        self.data, self.every, self.n_views, self.log = data, every, n_views, log

    def after_step(self, trainer, step, output):
        done = trainer.state.step
        if done % self.every == 0 or done == trainer.config.iterations:
            with trainer.clock.paused():
                psnr = self.psnr(trainer)
            trainer.state.val.append((done, trainer.clock.seconds, psnr))
            self.log.write({"step": done, "seconds": trainer.clock.seconds, "val_psnr": psnr})

    def psnr(self, trainer) -> float:
        views = range(min(self.n_views, len(self.data.images)))
        rendered = trainer.render_views(self.data, views)
        mse = np.mean((rendered["rgb"] - self.data.images[list(views)]) ** 2, axis=(1, 2, 3))
        return float(np.mean([psnr_from_mse(m) for m in mse]))


class Checkpointing(Callback):
    """``checkpoint.pth`` every ``every`` steps (and, by the trainer, when a run stops)."""

    def __init__(self, every: int):
        self.every = every

    def after_step(self, trainer, step, output):
        if trainer.state.step % self.every == 0:
            with trainer.clock.paused():
                trainer.save_checkpoint()
