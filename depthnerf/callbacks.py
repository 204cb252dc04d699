# Generated from 03_Baseline_NeRF.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import contextlib
import json
import os
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

    ``milestones``: the steps at which the callback changes what a step costs (a grid upsample); the
    runtime estimate (:func:`~depthnerf.runtime.estimate_training_seconds`) times each stage between them.
    """

    milestones: tuple[int, ...] = ()

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
        self.started_seconds = seconds  # the training seconds this clock started from (a resumed run's)

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


PROGRESS_ENV = "DEPTHNERF_PROGRESS"  # "lines": plain text lines (headless runs, logs); else a tqdm bar


class ProgressBar(Callback):
    """Live progress: a tqdm bar with the loss and PSNR, or, when ``$DEPTHNERF_PROGRESS=lines`` (headless
    runs: ``make pipeline`` sets it, so the terminal and the executed notebooks show readable text),
    one line at every tenth of the run: step, loss, PSNR, training seconds and the time left."""

    def __init__(self, every: int, lines: bool | None = None):
        self.every, self.bar = every, None
        self.lines = os.environ.get(PROGRESS_ENV) == "lines" if lines is None else lines

    def on_train_start(self, trainer):
        self.first, self.next_line = trainer.state.step, trainer.state.step
        if not self.lines:
            self.bar = tqdm(total=trainer.config.iterations, initial=trainer.state.step,
                            desc=f"train {trainer.config.strategy}")
        else:
            print(f"[train {trainer.config.strategy}] steps {trainer.state.step}..{trainer.last_step} of "
                  f"{trainer.config.iterations} on {trainer.device}", flush=True)

    def after_step(self, trainer, step, output):
        if self.bar is not None:
            self.bar.update(1)
            if step % self.every == 0 or step + 1 == trainer.last_step:
                self.bar.set_postfix(loss=f"{output.loss:.4f}", psnr=f"{output.psnr:.2f}")
            return
        done = step + 1
        if done >= self.next_line or done == trainer.last_step:
            seconds = trainer.clock.elapsed()
            rate = (done - self.first) / max(seconds - trainer.clock.started_seconds, 1e-9)
            left = (trainer.last_step - done) / max(rate, 1e-9)
            print(f"[train {trainer.config.strategy}] step {done}/{trainer.config.iterations} "
                  f"({done / trainer.config.iterations:.0%}) loss {output.loss:.4f} PSNR {output.psnr:.2f} dB, "
                  f"{seconds:.0f} s, about {left:.0f} s left", flush=True)
            self.next_line = done + max(1, (trainer.last_step - self.first) // 10)

    def on_train_end(self, trainer, finished):
        if self.bar is not None:
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


# %% 03_Baseline_NeRF.ipynb · cell c20tb
def depth_to_rgb(depth: np.ndarray, acc: np.ndarray, near: float, far: float, min_acc: float = 0.5) -> np.ndarray:
    """Ray depth ``[H,W]`` as a uint8 image ``[H,W,3]``: ``(depth - near) / (far - near)`` through the
    ``turbo`` colour map, pixels with accumulated opacity ``acc < min_acc`` (background) black.

    >>> depth_to_rgb(np.array([[2.0, 6.0, 4.0]]), np.array([[1.0, 1.0, 0.1]]), 2.0, 6.0).tolist()
    [[[48, 18, 59], [122, 4, 3], [0, 0, 0]]]
    """
    import matplotlib

    unit = np.clip((np.asarray(depth, np.float64) - near) / max(far - near, 1e-9), 0.0, 1.0)
    rgb = np.round(matplotlib.colormaps["turbo"](unit)[..., :3] * 255).astype(np.uint8)
    return np.where((np.asarray(acc) >= min_acc)[..., None], rgb, 0).astype(np.uint8)


class TensorBoardLog(Callback):
    """TensorBoard events in ``logdir``: scalars every ``every`` steps; with ``data`` (validation views),
    every ``val_every`` steps and at the end the validation PSNR and the first view's RGB and depth."""

    def __init__(self, logdir, every: int, data=None, val_every: int | None = None):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise ImportError(f"TrainConfig.tensorboard = True needs the tensorboard package ({err}): pip install "
                              "tensorboard (pinned in requirements.txt), or train with tensorboard=False") from err
        self.SummaryWriter, self.logdir, self.every = SummaryWriter, logdir, every
        self.data, self.val_every, self.writer = data, val_every or every, None

    def on_train_start(self, trainer):
        # a resumed run drops the events after its checkpoint, as metrics.jsonl drops its records
        self.writer = self.SummaryWriter(str(self.logdir), purge_step=trainer.state.step + 1 if trainer.state.step else None)

    def after_step(self, trainer, step, output):
        done = trainer.state.step
        with trainer.clock.paused():
            if step % self.every == 0 or done == trainer.last_step:
                self.writer.add_scalar("train/loss", output.loss, done)
                self.writer.add_scalar("train/psnr", output.psnr, done)
                for name, value in output.terms.items():
                    self.writer.add_scalar(f"loss/{name}", value, done)
                for k, group in enumerate(trainer.optimizer.param_groups):
                    self.writer.add_scalar(f"lr/group{k}", group["lr"], done)
            if self.data is not None and (done % self.val_every == 0 or done == trainer.config.iterations):
                self.log_validation(trainer, done)

    def log_validation(self, trainer, done: int) -> None:
        out = trainer.render_views(self.data, [0])
        rgb = np.clip(out["rgb"][0], 0.0, 1.0)
        recorded = [psnr for step, _, psnr in trainer.state.val if step == done]  # the Validation callback's
        psnr = recorded[-1] if recorded else psnr_from_mse(float(np.mean((rgb - self.data.images[0]) ** 2)))
        self.writer.add_scalar("val/psnr", psnr, done)
        self.writer.add_image("val/rgb", rgb, done, dataformats="HWC")
        depth = depth_to_rgb(out["depth"][0], out["acc"][0], self.data.near, self.data.far)
        self.writer.add_image("val/depth", depth, done, dataformats="HWC")
        self.writer.flush()

    def on_train_end(self, trainer, finished):
        if self.writer is not None:
            self.writer.close()
