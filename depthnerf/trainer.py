# Generated from 03_Baseline_NeRF.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import hashlib
import json
import math
import os
import resource
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from depthnerf.callbacks import (Checkpointing, LearningRateSchedule, MetricsLog, OccupancyGridUpdate, ProgressBar,
    TensorBoardLog, TrainingClock, Validation, call_hooks)
from depthnerf.config import GPU_PROFILES, TrainConfig, config_for_profile, profile_settings
from depthnerf.datasets import load_dataset, select_views
from depthnerf.env import select_device
from depthnerf.fields import make_field
from depthnerf.io import atomic_json, atomic_torch_save, atomic_write, read_saved, remove_stale_temporaries
from depthnerf.metrics import psnr_from_mse
from depthnerf.rays import camera_rays
from depthnerf.rendering import render_rays, render_views
from depthnerf.runs import write_results
from depthnerf.samplers import make_sampler
from depthnerf.scene import SceneData, check_scene
from depthnerf.strategies import make_strategy


# %% 03_Baseline_NeRF.ipynb · cell c14
def scene_tensors(data: SceneData, device: torch.device) -> dict:
    """The arrays the trainer indexes each step, as tensors on ``device``."""
    tensors = {
        "rgb": torch.from_numpy(data.images).to(device),
        "intrinsics": torch.from_numpy(data.intrinsics).to(device),
        "poses": torch.from_numpy(data.poses).to(device),
        "background": torch.as_tensor(data.background, dtype=torch.float32, device=device),
    }
    if data.alphas is not None:
        tensors["alpha"] = torch.from_numpy(data.alphas).to(device)
    if data.depth is not None and data.depth_mask is not None:
        tensors["depth"] = torch.from_numpy(data.depth).to(device)
        tensors["depth_mask"] = torch.from_numpy(data.depth_mask).to(device)
        if data.depth_sigma is not None:
            tensors["depth_sigma"] = torch.from_numpy(data.depth_sigma).to(device)
    return tensors


def draw_pixels(n_views: int, H: int, W: int, n: int, generator: torch.Generator,
                crop_fraction: float = 1.0, one_view: bool = False):
    """``n`` random (view, row, col) triples across all views (``one_view``: all in one random view),
    within a central crop."""
    rows = max(1, int(round(H * crop_fraction)))
    cols = max(1, int(round(W * crop_fraction)))
    device = generator.device
    if one_view:
        view = torch.randint(n_views, (1,), generator=generator, device=device).expand(n)
    else:
        view = torch.randint(n_views, (n,), generator=generator, device=device)
    row = torch.randint(rows, (n,), generator=generator, device=device) + (H - rows) // 2
    col = torch.randint(cols, (n,), generator=generator, device=device) + (W - cols) // 2
    return view, row, col


def gather_batch(tensors: dict, view, row, col) -> dict:
    """Targets of the drawn pixels: ``rgb [R,3]`` and, when present, ``alpha``/``depth``/``depth_mask``/``depth_sigma [R]``."""
    return {key: tensors[key][view, row, col]
            for key in ("rgb", "alpha", "depth", "depth_mask", "depth_sigma") if key in tensors}


def depth_edges(depth: torch.Tensor, depth_mask: torch.Tensor, alpha: torch.Tensor | None = None,
                rel: float = 0.05) -> torch.Tensor:
    """``[N,H,W]`` True at pixels whose footprint may mix surfaces: alpha strictly between 0 and 1, or a
    4-neighbour with depth whose depth differs by more than ``rel`` of the larger of the two (both pixels
    of such a pair are marked). Inputs ``[N,H,W]``.

    >>> d = torch.tensor([[[2.0, 2.0, 5.0, 5.0]]]); m = torch.ones_like(d, dtype=torch.bool)
    >>> depth_edges(d, m).int().tolist()
    [[[0, 1, 1, 0]]]
    """
    edge = torch.zeros_like(depth_mask)
    if alpha is not None:
        edge |= (alpha > 1e-3) & (alpha < 1 - 1e-3)
    for dim in (1, 2):
        a, b = depth.narrow(dim, 0, depth.shape[dim] - 1), depth.narrow(dim, 1, depth.shape[dim] - 1)
        both = depth_mask.narrow(dim, 0, depth.shape[dim] - 1) & depth_mask.narrow(dim, 1, depth.shape[dim] - 1)
        jump = both & ((a - b).abs() > rel * torch.maximum(a, b))
        edge.narrow(dim, 0, depth.shape[dim] - 1).logical_or_(jump)
        edge.narrow(dim, 1, depth.shape[dim] - 1).logical_or_(jump)
    return edge


def swap_background(batch: dict, old: torch.Tensor, new: torch.Tensor) -> dict:
    """Targets composited on ``new [R,3]`` instead of ``old [3]``: ``rgb + (1 - alpha)(new - old)``.

    >>> swap_background({"rgb": torch.tensor([[1.0, 1.0, 1.0]]), "alpha": torch.tensor([0.0])},
    ...                 torch.ones(3), torch.tensor([[0.2, 0.4, 0.6]]))["rgb"]
    tensor([[0.2000, 0.4000, 0.6000]])
    """
    return {**batch, "rgb": batch["rgb"] + (1 - batch["alpha"])[:, None] * (new - old)}


def draw_batch(tensors: dict, config, generator: torch.Generator, depth_pixels: torch.Tensor | None = None,
               crop: float = 1.0) -> tuple:
    """One step's rays, targets and background: ``batch_rays`` uniform pixels, plus ``depth_rays``
    among ``depth_pixels [P,3]`` (view, row, col); returns ``(rays, batch, background)``."""
    n_views, H, W = tensors["rgb"].shape[:3]
    view, row, col = draw_pixels(n_views, H, W, config.batch_rays, generator, crop, config.batching == "one_image")
    if depth_pixels is not None:
        pick = depth_pixels[torch.randint(len(depth_pixels), (config.depth_rays,),
                                          generator=generator, device=generator.device)]
        view, row, col = (torch.cat([a, b]) for a, b in zip((view, row, col), pick.unbind(-1)))
    rays = camera_rays(tensors["intrinsics"], tensors["poses"], H, W, pixels=(view, row, col))
    batch = {**gather_batch(tensors, view, row, col), "view": view}
    background = tensors["background"]
    if config.random_background and "alpha" in batch:
        background = torch.rand(len(rays), 3, generator=generator, device=generator.device)
        batch = swap_background(batch, tensors["background"], background)
    return rays, batch, background


# %% 03_Baseline_NeRF.ipynb · cell c16
def training_loss(field, strategy, sampler, tensors: dict, config, generator: torch.Generator,
                  depth_pixels: torch.Tensor | None = None, crop: float = 1.0, progress: float = 0.0) -> tuple:
    """``(loss, loss terms, render output, batch)`` of one training batch (no update); ``progress`` =
    step / iterations reaches the loss terms (weight schedules) as ``batch["progress"]``."""
    rays, batch, background = draw_batch(tensors, config, generator, depth_pixels, crop)
    batch["progress"] = progress
    samples = sampler(rays, perturb=True, generator=generator, field=field, depth=batch.get("depth"),
                      depth_mask=batch.get("depth_mask"), depth_sigma=batch.get("depth_sigma"))
    out = render_rays(field, rays, *samples, background=background, color_threshold=config.color_threshold)
    terms = strategy.loss_terms(out, batch)
    loss = sum(terms.values())
    regularization = field.regularization()
    if regularization is not None:
        loss = loss + regularization
    return loss, terms, out, batch


# %% 03_Baseline_NeRF.ipynb · cell c22
class NonFiniteLossError(RuntimeError):
    """A loss term became NaN or infinite: the run stopped and wrote no model."""


class StopRequests:
    """SIGINT and SIGTERM during training set a flag that the loop reads after each whole step.

    The step in flight completes (its update, the step counter and the histories stay consistent),
    then the loop checkpoints and returns. A second signal raises ``KeyboardInterrupt`` at once.
    Outside the main thread (where Python cannot install handlers) signals keep their default.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.received: int | None = None
        self._previous: dict = {}

    def _handle(self, signum, frame):
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signum

    def __enter__(self) -> "StopRequests":
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)


def check_finite_loss(step: int, terms: dict, loss: torch.Tensor) -> None:
    """Stop at the first NaN/inf, naming the step (1-based) and the loss term that went bad first."""
    if math.isfinite(loss.item()):
        return
    bad = [name for name, value in terms.items() if not math.isfinite(value.item())] or ["regularization"]
    raise NonFiniteLossError(
        f"step {step}: loss term {bad[0]!r} is {terms[bad[0]].item() if bad[0] in terms else loss.item()} "
        f"(non-finite terms: {bad}); the run stopped and wrote no model. Check the inputs of that term "
        f"(depth values, near/far, learning rate)")


def stalled_loss_warning(losses: list[float]) -> str | None:
    """A warning when the loss never moved off its start (median of the last tenth >= 0.95 x the median
    of the first ten steps): the data or the settings give the field nothing to learn.

    >>> stalled_loss_warning([0.1] * 100)
    'the loss did not decrease (first steps 0.1, last steps 0.1): check the images, poses, near/far and scene box'
    >>> stalled_loss_warning([0.1] * 10 + [0.01] * 90) is None
    True
    """
    if len(losses) < 20:
        return None
    first, last = float(np.median(losses[:10])), float(np.median(losses[-max(1, len(losses) // 10):]))
    if last >= 0.95 * first:
        return (f"the loss did not decrease (first steps {first:.3g}, last steps {last:.3g}): "
                f"check the images, poses, near/far and scene box")
    return None


def data_fingerprint(tensors: dict) -> str:
    """SHA-256 (first 16 hex digits) of the training arrays a run sees: a checkpoint is only resumed
    on the data it was trained on."""
    digest = hashlib.sha256()
    for key in sorted(tensors):
        value = tensors[key].detach().cpu().contiguous()
        digest.update(f"{key}:{value.dtype}:{tuple(value.shape)}".encode())
        digest.update(value.numpy().tobytes())
    return digest.hexdigest()[:16]


def truncate_metrics(path: Path, step: int) -> None:
    """Keep the ``metrics.jsonl`` records of steps ``<= step`` (those the checkpoint has seen)."""
    if not path.exists():
        return
    kept = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
    atomic_write(path, lambda tmp: tmp.write_text("".join(line + "\n" for line in kept)))


def check_depth_available(strategy, data: SceneData) -> None:
    """A depth strategy given data without depth fails loudly; it never trains as baseline."""
    if not strategy.needs_depth:
        return
    if data.depth is None or data.depth_mask is None or not data.depth_mask.any():
        source = data.image_paths[0] if data.image_paths else data.name
        raise ValueError(
            f"strategy {strategy.name!r} needs depth, but the {data.split!r} split of {data.name!r} "
            f"(e.g. {source}) has no valid depth. Give depth files (see 01_Data_Loading), sparse "
            f"COLMAP depth, or train the 'baseline' strategy.")


# %% 03_Baseline_NeRF.ipynb · cell c26
@dataclass
class TrainState:
    """What the loop has done: steps, training seconds, per-step loss and PSNR, validation points."""

    step: int = 0
    seconds: float = 0.0
    loss: list = field(default_factory=list)
    psnr: list = field(default_factory=list)
    val: list = field(default_factory=list)  # (step, seconds, psnr)


@dataclass
class StepOutput:
    """What one step gives its callbacks: the loss, the PSNR of its rgb term, every (weighted) term,
    and the render output and targets of its batch."""

    loss: float
    psnr: float
    terms: dict
    out: dict
    batch: dict


@dataclass
class TrainResult:
    out_dir: Path
    steps: int
    train_seconds: float
    final_val_psnr: float | None
    interrupted: bool


def make_optimizer(field_, config: TrainConfig) -> torch.optim.Adam:
    """Adam over the field's own parameter groups; the fused kernel on CPU and CUDA (the same update
    in one pass over the parameters, which matters for the millions of factors of a fine grid)."""
    device = next(field_.parameters()).device.type
    return torch.optim.Adam(field_.param_groups(), betas=(0.9, config.adam_beta2), fused=device in ("cpu", "cuda"))


def peak_memory_bytes(device: torch.device) -> int:
    """CUDA: the most memory torch allocated; elsewhere the process's peak resident set size."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale)


class Trainer:
    """One training run of ``config`` on ``data``, written to ``out_dir`` (see the files table).

    ``resume``: continue from ``out_dir/checkpoint.pth`` when it exists (same config and data
    required). ``callbacks`` run after the built-in ones.
    """

    def __init__(self, data: SceneData, config: TrainConfig, out_dir, val_data: SceneData | None = None,
                 device: torch.device | None = None, resume: bool = True, callbacks=(), progress: bool = True):
        self.device = device or select_device()
        self.data, self.config, self.out_dir, self.val_data = data, config, Path(out_dir), val_data
        self.strategy = make_strategy(config)
        for scene in (data, val_data) if val_data is not None else (data,):
            check_scene(scene)
        check_depth_available(self.strategy, data)
        self.tensors = scene_tensors(data, self.device)
        if config.depth_at_edges == "exclude" and "depth_mask" in self.tensors:
            edges = depth_edges(self.tensors["depth"], self.tensors["depth_mask"], self.tensors.get("alpha"))
            self.tensors["depth_mask"] = self.tensors["depth_mask"] & ~edges
        self.fingerprint = data_fingerprint(self.tensors)

        self.sampler = make_sampler(config, data.near, data.far, data.scene_box, self.device)
        grid = getattr(self.sampler, "grid", None)
        field_box = data.scene_box
        if grid is not None and config.carve_visual_hull and data.alphas is not None:
            grid.carve(data.alphas, data.intrinsics, data.poses)
            if config.fit_field_to_hull:
                field_box = grid.allowed_box().cpu()
        torch.manual_seed(config.seed)
        self.field = make_field(config.field, field_box, config.field_params).to(self.device)
        self.train_sampler = self.strategy.train_sampler(self.sampler)
        self.eval_sampler = self.strategy.eval_sampler(self.sampler)
        base_lrs = [group["lr"] for group in self.field.param_groups()]
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.state = TrainState()
        self.depth_pixels = None
        if self.strategy.needs_depth and config.depth_rays > 0:
            self.depth_pixels = torch.nonzero(self.tensors["depth_mask"])  # [P, 3] (view, row, col)

        remove_stale_temporaries(self.out_dir)
        self.checkpoint_path = self.out_dir / "checkpoint.pth"
        optimizer_state = None
        if resume and self.checkpoint_path.exists():
            optimizer_state = self.restore(read_saved(self.checkpoint_path, "checkpoint"))
        elif self.checkpoint_path.exists():
            self.checkpoint_path.unlink()
        self.rebuild_optimizer()
        if optimizer_state is not None:
            self.optimizer.load_state_dict(optimizer_state)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for finished in (self.out_dir / f"model_{config.strategy}.pth", self.out_dir / "summary.json"):
            finished.unlink(missing_ok=True)  # written again when this run finishes; never left from another
        atomic_json(self.out_dir / "config.json", config.to_dict())
        metrics_path = self.out_dir / "metrics.jsonl"
        truncate_metrics(metrics_path, self.state.step)

        log = MetricsLog(metrics_path, config.log_every)
        self.callbacks = [*self.field.training_callbacks(config.iterations),
                          LearningRateSchedule(base_lrs, config.lr_final_factor, config.iterations),
                          OccupancyGridUpdate(config.occupancy_every, config.occupancy_warmup),
                          *([ProgressBar(config.log_every)] if progress else []), log,
                          *([Validation(val_data, config.val_every, config.val_views, log)] if val_data else []),
                          *([TensorBoardLog(self.out_dir / "tensorboard", config.log_every, val_data,
                                            config.val_every)] if config.tensorboard else []),
                          Checkpointing(config.checkpoint_every), *callbacks]
        self.clock = TrainingClock(self.state.seconds)
        self.last_step = config.iterations
        self.stop_reason: str | None = None  # a callback sets it to end the run after the current step

    def rebuild_optimizer(self) -> None:
        """A fresh Adam over the field's current parameters (after a field replaced them, e.g. upsampled)."""
        self.optimizer = make_optimizer(self.field, self.config)

    def restore(self, saved: dict) -> dict:
        """Load a checkpoint (refusing one of other settings or data); return its optimizer state."""
        if saved["config"] != self.config.to_dict():
            now = self.config.to_dict()
            changed = sorted(k for k in saved["config"].keys() | now.keys() if saved["config"].get(k) != now.get(k))
            raise ValueError(f"{self.checkpoint_path} was written by a run with other settings ({changed}); "
                             f"pass resume=False or delete it to start over")
        if saved.get("data_fingerprint") != self.fingerprint:
            raise ValueError(f"{self.checkpoint_path} was written for other training data (fingerprint "
                             f"{saved.get('data_fingerprint')} vs {self.fingerprint} now); pass resume=False or "
                             f"delete it to start over")
        self.field.load_state(saved["field"])
        grid = getattr(self.sampler, "grid", None)
        if grid is not None:
            grid.load_state_dict(saved["occupancy"])
        self.generator.set_state(saved["generator"])
        self.state = TrainState(saved["step"], saved["seconds"], saved["loss"], saved["psnr"], saved["val"])
        return saved["optimizer"]

    def save_checkpoint(self) -> None:
        grid = getattr(self.sampler, "grid", None)
        self.state.seconds = self.clock.elapsed()
        checkpoint = {
            "config": self.config.to_dict(), "data_fingerprint": self.fingerprint,
            "step": self.state.step, "seconds": self.state.seconds,
            "loss": self.state.loss, "psnr": self.state.psnr, "val": self.state.val,
            "field": self.field.state_dict(), "optimizer": self.optimizer.state_dict(),
            "occupancy": None if grid is None else grid.state_dict(), "generator": self.generator.get_state(),
        }
        call_hooks(self.callbacks, "on_checkpoint", self, checkpoint)
        atomic_torch_save(self.checkpoint_path, checkpoint)

    def render_views(self, data: SceneData, views, chunk: int = 8192) -> dict:
        """Whole views rendered with the strategy's evaluation sampler (numpy arrays)."""
        return render_views(self.field, self.eval_sampler, data, views, chunk)

    def step(self, step: int) -> StepOutput:
        """One training step: the loss of a batch, a finite check, backward, Adam."""
        crop = self.config.precrop_fraction if step < self.config.precrop_iters else 1.0
        loss, terms, out, batch = training_loss(self.field, self.strategy, self.train_sampler, self.tensors,
                                                self.config, self.generator, self.depth_pixels, crop,
                                                step / self.config.iterations)
        check_finite_loss(step + 1, terms, loss)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.state.step = step + 1
        self.state.loss.append(loss.item())
        self.state.psnr.append(psnr_from_mse(terms["rgb"].item()))
        return StepOutput(self.state.loss[-1], self.state.psnr[-1], {k: v.item() for k, v in terms.items()},
                          out, batch)

    def run(self, stop_at: int | None = None) -> TrainResult:
        """Train to the last iteration (or ``stop_at`` steps); checkpoint; write the results of a finished run."""
        self.last_step = min(stop_at if stop_at is not None else self.config.iterations, self.config.iterations)
        call_hooks(self.callbacks, "on_train_start", self)
        self.clock = TrainingClock(self.state.seconds)
        finished = False
        with StopRequests() as stop:
            try:
                for step in range(self.state.step, self.last_step):
                    call_hooks(self.callbacks, "before_step", self, step)
                    output = self.step(step)
                    call_hooks(self.callbacks, "after_step", self, step, output)
                    if stop.received is not None or self.stop_reason is not None:
                        break
                finished = stop.received is None and self.state.step >= self.config.iterations
            finally:
                call_hooks(self.callbacks, "on_train_end", self, finished)
            self.save_checkpoint()
        if stop.received is not None:
            print(f"train {self.config.strategy}: stopped by {signal.Signals(stop.received).name} after step "
                  f"{self.state.step}; checkpoint {self.checkpoint_path} (run again to resume)", file=sys.stderr)
        if not finished:
            return TrainResult(self.out_dir, self.state.step, self.state.seconds, None, interrupted=True)
        warning = stalled_loss_warning(self.state.loss)
        if warning:
            print(f"WARNING train {self.config.strategy}: {warning}", file=sys.stderr)
        write_results(self.out_dir, self.config, self.field, self.sampler, self.state, self.fingerprint,
                      peak_memory_bytes(self.device), str(self.device), [warning] if warning else [])
        final_val = self.state.val[-1][2] if self.state.val else None
        return TrainResult(self.out_dir, self.state.step, self.state.seconds, final_val, interrupted=False)


def train(train_data: SceneData, config: TrainConfig, out_dir, val_data: SceneData | None = None,
          device: torch.device | None = None, resume: bool = True, stop_at: int | None = None,
          progress: bool = True, callbacks=()) -> TrainResult:
    """Train ``config.strategy`` on ``train_data`` into ``out_dir``: ``Trainer(...).run(stop_at)``."""
    trainer = Trainer(train_data, config, out_dir, val_data, device, resume, callbacks, progress)
    return trainer.run(stop_at)


def check_profile_device(profile: str, device: torch.device | None = None) -> None:
    """Refuse a GPU-sized profile (``GPU_PROFILES``) on a CPU, where it would run for days: a CUDA
    install that does not match the driver makes ``torch.cuda.is_available()`` False and would
    otherwise train on the CPU without a word. ``DEPTHNERF_ALLOW_CPU_FULL=1`` allows it."""
    device = device or select_device()
    if profile in GPU_PROFILES and device.type == "cpu" and os.environ.get("DEPTHNERF_ALLOW_CPU_FULL") != "1":
        raise RuntimeError(f"profile {profile!r} is sized for a GPU ({config_for_profile(profile).iterations} steps of "
                           f"{config_for_profile(profile).batch_rays} rays), but no CUDA/MPS device is usable here "
                           f"(torch {torch.__version__}, torch.cuda.is_available() = {torch.cuda.is_available()}); "
                           f"use PROFILE=quick, fix the CUDA install, or set DEPTHNERF_ALLOW_CPU_FULL=1")


def pipeline_data(profile: str, data: str) -> tuple[SceneData, SceneData]:
    """The training views and the validation views a training notebook (03-06) uses in ``profile``."""
    check_profile_device(profile)
    settings = profile_settings(profile)
    train_data = load_dataset(data, "train", downscale=settings.downscale, max_views=settings.max_train_views)
    val_data = load_dataset(data, "val", downscale=settings.downscale, max_views=settings.val_views)
    return train_data, val_data


FEW_VIEW_DIR = "few_view"  # results/<strategy>/few_view/: the few-view run of that strategy


def train_few_view(profile: str, strategy: str, train_data: SceneData, val_data: SceneData | None, results,
                   progress: bool = True) -> TrainResult | None:
    """The pipeline's second regime: ``strategy`` trained on ``profile.few_views`` of ``train_data``'s views
    (spread over the cameras: ``select_views(..., seed=0)``, with their depth) at a study trial's budget
    (``profile.study_train``), into ``results/<strategy>/few_view/``. It is the few-view study's seed-0 trial
    at that view count. None (nothing trained) when the profile has no few-view run or the data no more views."""
    n_views = profile_settings(profile).few_views
    if not 0 < n_views < len(train_data):
        return None
    few = train_data.subset(select_views(train_data, n_views, seed=0))
    config = config_for_profile(profile, strategy, **profile_settings(profile).study_train)
    return train(few, config, Path(results) / strategy / FEW_VIEW_DIR, val_data=val_data, progress=progress)
