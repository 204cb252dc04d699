# Generated from 03_Baseline_NeRF.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import dataclasses
import hashlib
import importlib
import json
import math
import os
import pickle
import resource
import secrets
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from depthnerf import core
from depthnerf.data import SceneData, check_scene
from depthnerf.env import profile_settings, select_device


# %% 03_Baseline_NeRF.ipynb · cell c03
@dataclass
class TrainConfig:
    """Every setting of one training run (written to ``config.json``)."""

    strategy: str = "baseline"
    strategy_params: dict = dataclasses.field(default_factory=dict)
    field: str = "tensorf"
    field_kwargs: dict = dataclasses.field(default_factory=dict)
    iterations: int = 1500
    batch_rays: int = 2048
    depth_rays: int = 0
    lr: float = 0.04
    lr_final_factor: float = 0.1
    precrop_iters: int = 0
    precrop_fraction: float = 0.5
    random_background: bool = True
    density_l1: float = 0.0
    seed: int = 0
    sampler: str = "occupancy"
    n_samples: int = 96
    march_steps: int = 512
    max_samples: int = 192
    occupancy_resolution: int = 64
    carve_visual_hull: bool = True
    occupancy_every: int = 16
    occupancy_warmup: int = 64
    val_every: int = 250
    val_views: int = 2
    checkpoint_every: int = 250
    log_every: int = 10
    grid_upsample: list = dataclasses.field(default_factory=list)
    color_threshold: float = 0.0

    def __post_init__(self):
        if not all(isinstance(item, (list, tuple)) and len(item) == 2 for item in self.grid_upsample):
            raise ValueError(f"grid_upsample {self.grid_upsample}: expected [[fraction, resolution], ...]")
        self.grid_upsample = [[float(f), int(g)] for f, g in self.grid_upsample]
        fractions = [f for f, _ in self.grid_upsample]
        if self.grid_upsample and (self.field != "tensorf" or fractions != sorted(set(fractions))
                                   or not all(0 < f < 1 for f in fractions)
                                   or not all(g >= 2 for _, g in self.grid_upsample)):
            raise ValueError(f"grid_upsample {self.grid_upsample}: needs field 'tensorf', strictly increasing "
                             f"fractions of the iterations in (0, 1) and resolutions >= 2")
        check_settings(self)

    def upsample_steps(self) -> dict[int, int]:
        """``{step: resolution}`` of ``grid_upsample``.

        >>> TrainConfig(iterations=1000, grid_upsample=[[0.1, 128], [0.3, 256]]).upsample_steps()
        {100: 128, 300: 256}
        """
        return {round(f * self.iterations): g for f, g in self.grid_upsample}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# (setting, test, what it must be): checked when a TrainConfig is made, so a bad value fails before training
SETTING_RULES = [
    (("iterations", "batch_rays", "n_samples", "march_steps", "max_samples", "occupancy_resolution",
      "occupancy_every", "val_every", "val_views", "checkpoint_every", "log_every"),
     lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "an integer >= 1"),
    (("depth_rays", "precrop_iters", "occupancy_warmup", "seed"),
     lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "an integer >= 0"),
    (("lr",), lambda v: isinstance(v, (int, float)) and math.isfinite(v) and v > 0, "a finite number > 0"),
    (("lr_final_factor", "precrop_fraction"),
     lambda v: isinstance(v, (int, float)) and 0 < v <= 1, "a number in (0, 1]"),
    (("density_l1", "color_threshold"),
     lambda v: isinstance(v, (int, float)) and math.isfinite(v) and v >= 0, "a finite number >= 0"),
    (("strategy_params", "field_kwargs"), lambda v: isinstance(v, dict), "a dict"),
    (("random_background", "carve_visual_hull"), lambda v: isinstance(v, bool), "True or False"),
]


def check_settings(config: "TrainConfig") -> None:
    """Refuse a setting outside its range, naming it (``SETTING_RULES``), and unknown names.

    >>> TrainConfig(batch_rays=0)
    Traceback (most recent call last):
    ...
    ValueError: TrainConfig.batch_rays = 0: must be an integer >= 1
    """
    for names, ok, rule in SETTING_RULES:
        for name in names:
            value = getattr(config, name)
            if not ok(value):
                raise ValueError(f"TrainConfig.{name} = {value!r}: must be {rule}")
    for name, known in (("strategy", STRATEGY_MODULES), ("field", FIELD_LR), ("sampler", ("occupancy", "stratified"))):
        if getattr(config, name) not in known:
            raise ValueError(f"TrainConfig.{name} = {getattr(config, name)!r}: choose one of {sorted(known)}")


FIELD_LR = {"tensorf": 0.04, "mlp": 5e-4}


def config_for_profile(profile: str, strategy: str, **overrides) -> TrainConfig:
    """The training configuration of a run profile (``smoke``, ``quick``, ``full``).

    >>> config_for_profile("smoke", "soft").iterations
    30
    >>> config_for_profile("smoke", "baseline", field="mlp").lr
    0.0005
    """
    settings = profile_settings(profile)
    field_name = overrides.pop("field", settings["field"])
    base = dict(
        strategy=strategy, field=field_name, lr=FIELD_LR[field_name],
        field_kwargs={"resolution": settings["grid_resolution"]} if field_name == "tensorf" else {},
        **{key: settings[key] for key in ("iterations", "batch_rays", "n_samples", "march_steps",
                                          "max_samples", "val_every", "checkpoint_every")},
    )
    return TrainConfig(**{**base, **overrides})


# %% 03_Baseline_NeRF.ipynb · cell c05
@dataclass
class RaySampler:
    """The shared sampler: stratified intervals, or occupancy-grid marching when a grid is given."""

    near: float
    far: float
    n_samples: int
    occupancy: "core.OccupancyGrid | None" = None
    march_steps: int = 512
    max_samples: int = 192

    def __call__(self, rays: core.RayBundle, perturb: bool, generator: torch.Generator | None = None):
        if self.occupancy is None:
            t_starts, t_ends = core.stratified_samples(
                rays, self.near, self.far, self.n_samples, perturb=perturb, generator=generator)
            return t_starts, t_ends, torch.ones_like(t_starts, dtype=torch.bool)
        step = (self.far - self.near) / self.march_steps
        return self.occupancy.occupied_samples(rays, self.near, self.far, step, self.max_samples,
                                               perturb=perturb, generator=generator)

    def occupied(self, rays: core.RayBundle, t_starts: torch.Tensor, t_ends: torch.Tensor):
        """Mask of the intervals whose midpoint lies in an occupied cell (all True without a grid)."""
        if self.occupancy is None:
            return torch.ones_like(t_starts, dtype=torch.bool)
        mids = 0.5 * (t_starts + t_ends)
        points = rays.origins[:, None, :] + rays.directions[:, None, :] * mids[..., None]
        return self.occupancy.is_occupied(points.reshape(-1, 3)).reshape(mids.shape)


# %% 03_Baseline_NeRF.ipynb · cell c07
def photometric_loss(rgb: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over rays and channels, ``L_rgb = mean((C_hat - C)^2)``.

    >>> photometric_loss(torch.tensor([[0.5, 0.5, 0.5]]), torch.tensor([[0.5, 0.5, 0.6]])).item()
    0.0033333...
    """
    return torch.mean((rgb - target) ** 2)


def psnr_from_mse(mse: float) -> float:
    """``PSNR = -10 log10(MSE)`` for images in [0, 1].

    >>> psnr_from_mse(0.01)
    20.0
    """
    return float(-10.0 * math.log10(max(mse, 1e-12)))


class Strategy:
    """Baseline NeRF: the shared sampler and ``L = L_rgb``."""

    name = "baseline"
    needs_depth = False
    defaults: dict = {}

    def __init__(self, **params):
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ValueError(f"strategy {self.name!r} has no parameters {sorted(unknown)}; "
                             f"known: {sorted(self.defaults)}")
        self.params = {**self.defaults, **params}

    def train_samples(self, sampler: RaySampler, rays: core.RayBundle, batch: dict,
                      generator: torch.Generator | None):
        return sampler(rays, perturb=True, generator=generator)

    def eval_samples(self, sampler: RaySampler, field: torch.nn.Module, rays: core.RayBundle,
                     background: torch.Tensor):
        return sampler(rays, perturb=False)

    def losses(self, out: dict, batch: dict) -> dict[str, torch.Tensor]:
        return {"rgb": photometric_loss(out["rgb"], batch["rgb"])}


STRATEGY_MODULES = {"baseline": "depthnerf.train", "soft": "depthnerf.soft",
                    "hard": "depthnerf.hard", "hybrid": "depthnerf.hybrid"}


def make_strategy(name: str, **params) -> Strategy:
    """Build a strategy by name (its class lives in the module of its notebook)."""
    if name not in STRATEGY_MODULES:
        raise ValueError(f"unknown strategy {name!r}: choose one of {sorted(STRATEGY_MODULES)}")
    module = importlib.import_module(STRATEGY_MODULES[name])
    cls = next(obj for obj in vars(module).values()
               if isinstance(obj, type) and issubclass(obj, Strategy) and obj.name == name)
    return cls(**params)


def check_depth_available(strategy: Strategy, data: SceneData) -> None:
    """A depth strategy given data without depth fails loudly; it never trains as baseline."""
    if not strategy.needs_depth:
        return
    if data.depth is None or data.depth_mask is None or not data.depth_mask.any():
        source = data.image_paths[0] if data.image_paths else data.name
        raise ValueError(
            f"strategy {strategy.name!r} needs depth, but the {data.split!r} split of {data.name!r} "
            f"(e.g. {source}) has no valid depth. Give depth files (see 01_Data_Loading), sparse "
            f"COLMAP depth, or train the 'baseline' strategy.")


# %% 03_Baseline_NeRF.ipynb · cell c09
TMP_PREFIX = ".tmp-"


def atomic_write(path: Path | str, write) -> Path:
    """Call ``write(tmp_path)`` on a temporary file next to ``path`` (same suffix, so writers that
    pick the format from the extension work), then rename it over ``path``.

    The temporary file is created with mode ``0o666`` less the umask (as ``open`` does), so the
    result is as readable to others as any file the user writes; a write that dies leaves only a
    ``.tmp-*`` file, which :func:`remove_stale_temporaries` deletes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_PREFIX}{path.stem}-{secrets.token_hex(4)}{path.suffix}")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def remove_stale_temporaries(folder: Path | str) -> list[Path]:
    """Delete the ``.tmp-*`` files an interrupted :func:`atomic_write` left in ``folder``; return them."""
    stale = sorted(Path(folder).glob(f"{TMP_PREFIX}*")) if Path(folder).is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def atomic_json(path: Path, obj) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2)))


def atomic_torch_save(path: Path, obj) -> None:
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def atomic_npy(path: Path, array) -> None:
    def write(tmp):
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(array))
    atomic_write(path, write)


def peak_memory_bytes(device: torch.device) -> int:
    """CUDA: the most memory torch allocated; elsewhere the process's peak resident set size."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale)


# %% 03_Baseline_NeRF.ipynb · cell c11
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
                crop_fraction: float = 1.0):
    """``n`` random (view, row, col) triples across all views, within a central crop."""
    rows = max(1, int(round(H * crop_fraction)))
    cols = max(1, int(round(W * crop_fraction)))
    device = generator.device
    view = torch.randint(n_views, (n,), generator=generator, device=device)
    row = torch.randint(rows, (n,), generator=generator, device=device) + (H - rows) // 2
    col = torch.randint(cols, (n,), generator=generator, device=device) + (W - cols) // 2
    return view, row, col


def gather_batch(tensors: dict, view, row, col) -> dict:
    """Targets of the drawn pixels: ``rgb [R,3]`` and, when present, ``depth``/``depth_mask``/``depth_sigma [R]``."""
    return {key: tensors[key][view, row, col]
            for key in ("rgb", "alpha", "depth", "depth_mask", "depth_sigma") if key in tensors}


def swap_background(batch: dict, old: torch.Tensor, new: torch.Tensor) -> dict:
    """Targets composited on ``new [R,3]`` instead of ``old [3]``: ``rgb + (1 - alpha)(new - old)``.

    >>> swap_background({"rgb": torch.tensor([[1.0, 1.0, 1.0]]), "alpha": torch.tensor([0.0])},
    ...                 torch.ones(3), torch.tensor([[0.2, 0.4, 0.6]]))["rgb"]
    tensor([[0.2000, 0.4000, 0.6000]])
    """
    return {**batch, "rgb": batch["rgb"] + (1 - batch["alpha"])[:, None] * (new - old)}


NETWORK_LR_FACTOR = 0.075


def parameter_groups(field_: torch.nn.Module, lr: float) -> list[dict]:
    """Optimizer groups: a grid field's factors at ``lr`` and its small MLP at ``0.075 * lr``
    (TensoRF defaults: 0.04 and 0.003); any other field one group at ``lr``."""
    if isinstance(field_, core.TensoRFField):
        return [{"params": field_.grid_parameters(), "lr": lr},
                {"params": field_.network_parameters(), "lr": lr * NETWORK_LR_FACTOR}]
    return [{"params": list(field_.parameters()), "lr": lr}]


def make_optimizer(field_: torch.nn.Module, config: TrainConfig) -> torch.optim.Adam:
    """Adam over ``parameter_groups``; the fused kernel on CPU and CUDA (the same update in one pass
    over the parameters, which matters for the millions of factors of a fine TensoRF grid)."""
    device = next(field_.parameters()).device.type
    return torch.optim.Adam(parameter_groups(field_, config.lr), betas=(0.9, 0.99), fused=device in ("cpu", "cuda"))


def training_loss(field_, strategy: Strategy, sampler: RaySampler, tensors: dict, config: TrainConfig,
                  generator: torch.Generator, depth_pixels: torch.Tensor | None = None,
                  crop: float = 1.0) -> tuple[torch.Tensor, dict, dict]:
    """One training step before the update: draw pixels (plus ``depth_rays`` among ``depth_pixels``),
    build rays, sample, render, and return ``(loss, loss terms, render output)``."""
    n_views, H, W = tensors["rgb"].shape[:3]
    view, row, col = draw_pixels(n_views, H, W, config.batch_rays, generator, crop)
    if depth_pixels is not None:
        pick = depth_pixels[torch.randint(len(depth_pixels), (config.depth_rays,),
                                          generator=generator, device=generator.device)]
        view, row, col = (torch.cat([a, b]) for a, b in zip((view, row, col), pick.unbind(-1)))
    rays = core.camera_rays(tensors["intrinsics"], tensors["poses"], H, W, pixels=(view, row, col))
    batch = gather_batch(tensors, view, row, col)
    background = tensors["background"]
    if config.random_background and "alpha" in batch:
        background = torch.rand(len(rays), 3, generator=generator, device=generator.device)
        batch = swap_background(batch, tensors["background"], background)
    samples = strategy.train_samples(sampler, rays, batch, generator)
    out = core.render_rays(field_, rays, *samples, background=background, color_threshold=config.color_threshold)
    terms = strategy.losses(out, batch)
    loss = sum(terms.values())
    if isinstance(field_, core.TensoRFField):
        loss = loss + field_.regularization(l1_weight=config.density_l1)
    return loss, terms, out


def build_field(config: TrainConfig, scene_box, device: torch.device) -> torch.nn.Module:
    aabb = torch.as_tensor(np.asarray(scene_box), dtype=torch.float32)
    return core.make_field(config.field, aabb, **config.field_kwargs).to(device)


def build_sampler(config: TrainConfig, data: SceneData, device: torch.device) -> RaySampler:
    occupancy = None
    if config.sampler == "occupancy":
        aabb = torch.as_tensor(np.asarray(data.scene_box), dtype=torch.float32)
        occupancy = core.OccupancyGrid(aabb, config.occupancy_resolution).to(device)
        if config.carve_visual_hull and data.alphas is not None:
            occupancy.carve(data.alphas, data.intrinsics, data.poses)
    elif config.sampler != "stratified":
        raise ValueError(f"unknown sampler {config.sampler!r}: 'occupancy' or 'stratified'")
    return RaySampler(float(data.near), float(data.far), config.n_samples, occupancy,
                      config.march_steps, config.max_samples)


def render_rays_chunked(field, strategy: Strategy, sampler: RaySampler, rays: core.RayBundle,
                        background: torch.Tensor, chunk: int = 8192) -> dict:
    """Evaluation render of any number of rays, ``chunk`` rays at a time, without gradients."""
    outputs: dict[str, list] = {"rgb": [], "depth": [], "z_depth": [], "acc": []}
    with torch.no_grad():
        for start in range(0, len(rays), chunk):
            part = rays[start:start + chunk]
            samples = strategy.eval_samples(sampler, field, part, background)
            out = core.render_rays(field, part, *samples, background=background)
            for key in outputs:
                outputs[key].append(out[key])
    return {key: torch.cat(values) for key, values in outputs.items()}


def render_views(field, strategy: Strategy, sampler: RaySampler, data: SceneData,
                 views, device: torch.device, chunk: int = 8192) -> dict:
    """Render whole views of ``data``: ``rgb [V,H,W,3]``, ``depth``, ``z_depth``, ``acc [V,H,W]`` (numpy)."""
    views = list(views)
    rays = core.camera_rays(torch.from_numpy(data.intrinsics[views]).to(device),
                            torch.from_numpy(data.poses[views]).to(device), data.H, data.W)
    background = torch.as_tensor(data.background, dtype=torch.float32, device=device)
    out = render_rays_chunked(field, strategy, sampler, rays, background, chunk)
    shape = (len(views), data.H, data.W)
    return {key: value.reshape(*shape, *value.shape[1:]).cpu().numpy() for key, value in out.items()}


@dataclass
class TrainResult:
    out_dir: Path
    steps: int
    train_seconds: float
    final_val_psnr: float | None
    interrupted: bool


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


def data_fingerprint(tensors: dict) -> str:
    """SHA-256 (first 16 hex digits) of the training arrays a run sees: a checkpoint is only resumed
    on the data it was trained on."""
    digest = hashlib.sha256()
    for key in sorted(tensors):
        value = tensors[key].detach().cpu().contiguous()
        digest.update(f"{key}:{value.dtype}:{tuple(value.shape)}".encode())
        digest.update(value.numpy().tobytes())
    return digest.hexdigest()[:16]


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


def truncate_metrics(path: Path, step: int) -> None:
    """Keep the ``metrics.jsonl`` records of steps ``<= step`` (those the checkpoint has seen)."""
    if not path.exists():
        return
    kept = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
    atomic_write(path, lambda tmp: tmp.write_text("".join(line + "\n" for line in kept)))


def train(train_data: SceneData, config: TrainConfig, out_dir, val_data: SceneData | None = None,
          device: torch.device | None = None, resume: bool = True, stop_at: int | None = None,
          progress: bool = True) -> TrainResult:
    """Train ``config.strategy`` on ``train_data`` and write ``out_dir`` (see the files table above).

    ``resume``: continue from ``out_dir/checkpoint.pth`` when it exists (same config and data
    required). ``stop_at``: stop (with a checkpoint) after this many steps, as an interruption would.
    SIGINT (Ctrl-C) and SIGTERM stop after the current step with a checkpoint. A NaN or infinite loss
    raises :class:`NonFiniteLossError`; the model file and summary exist only for a finished run.
    """
    device = device or select_device()
    out_dir = Path(out_dir)
    strategy = make_strategy(config.strategy, **config.strategy_params)
    for scene in (train_data, val_data) if val_data is not None else (train_data,):
        check_scene(scene)
    check_depth_available(strategy, train_data)
    if train_data.ndc:
        raise ValueError(f"{train_data.name}/{train_data.split} was loaded with ndc=True, but the trainer renders "
                         f"world-space rays (which ray-depth supervision needs): load it with ndc=False")
    tensors = scene_tensors(train_data, device)
    fingerprint = data_fingerprint(tensors)

    torch.manual_seed(config.seed)
    field_ = build_field(config, train_data.scene_box, device)
    sampler = build_sampler(config, train_data, device)
    base_lrs = [group["lr"] for group in parameter_groups(field_, config.lr)]
    generator = torch.Generator(device=device).manual_seed(config.seed)
    state = {"step": 0, "seconds": 0.0, "loss": [], "psnr": [], "val": []}

    depth_pixels = None
    if strategy.needs_depth and config.depth_rays > 0:
        depth_pixels = torch.nonzero(tensors["depth_mask"])  # [P, 3] (view, row, col)

    remove_stale_temporaries(out_dir)
    checkpoint_path = out_dir / "checkpoint.pth"
    optimizer_state = None
    if resume and checkpoint_path.exists():
        state, optimizer_state = load_checkpoint(checkpoint_path, config, fingerprint, field_, sampler, generator)
    elif checkpoint_path.exists():
        checkpoint_path.unlink()
    optimizer = make_optimizer(field_, config)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    upsample_at = config.upsample_steps()
    out_dir.mkdir(parents=True, exist_ok=True)
    for finished in (out_dir / f"model_{config.strategy}.pth", out_dir / "summary.json"):
        finished.unlink(missing_ok=True)  # written again when this run finishes; never left from another
    atomic_json(out_dir / "config.json", config.to_dict())
    metrics_path = out_dir / "metrics.jsonl"
    truncate_metrics(metrics_path, state["step"])

    def save_checkpoint():
        atomic_torch_save(checkpoint_path, {
            "config": config.to_dict(), "data_fingerprint": fingerprint,
            "step": state["step"], "seconds": state["seconds"],
            "loss": state["loss"], "psnr": state["psnr"], "val": state["val"],
            "field": field_.state_dict(), "optimizer": optimizer.state_dict(),
            "occupancy": None if sampler.occupancy is None else sampler.occupancy.state_dict(),
            "generator": generator.get_state(),
        })

    def log(record: dict):
        with open(metrics_path, "a") as f:
            f.write(json.dumps(record) + "\n")

    last = stop_at if stop_at is not None else config.iterations
    bar = tqdm(range(state["step"], min(last, config.iterations)), initial=state["step"],
               total=config.iterations, desc=f"train {config.strategy}", disable=not progress)
    clock = time.perf_counter()
    with StopRequests() as stop:
        try:
            for step in bar:
                if step in upsample_at:
                    field_.upsample(upsample_at[step])
                    optimizer = make_optimizer(field_, config)
                for group, base_lr in zip(optimizer.param_groups, base_lrs):
                    group["lr"] = base_lr * config.lr_final_factor ** (step / config.iterations)
                if (sampler.occupancy is not None and step >= config.occupancy_warmup
                        and step % config.occupancy_every == 0):
                    sampler.occupancy.update(field_, generator=generator)
                crop = config.precrop_fraction if step < config.precrop_iters else 1.0
                loss, terms, _ = training_loss(field_, strategy, sampler, tensors, config, generator,
                                               depth_pixels, crop)
                check_finite_loss(step + 1, terms, loss)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()

                state["step"] = step + 1
                state["loss"].append(loss.item())
                state["psnr"].append(psnr_from_mse(terms["rgb"].item()))
                if progress and (step % config.log_every == 0 or step + 1 == last):
                    bar.set_postfix(loss=f"{state['loss'][-1]:.4f}", psnr=f"{state['psnr'][-1]:.2f}")
                if step % config.log_every == 0:
                    log({"step": step + 1, "seconds": state["seconds"] + time.perf_counter() - clock,
                         "psnr": state["psnr"][-1], **{k: v.item() for k, v in terms.items()}})
                if val_data is not None and (state["step"] % config.val_every == 0
                                             or state["step"] == config.iterations):
                    state["seconds"] += time.perf_counter() - clock
                    val_psnr = validate(field_, strategy, sampler, val_data, config.val_views, device)
                    state["val"].append((state["step"], state["seconds"], val_psnr))
                    log({"step": state["step"], "seconds": state["seconds"], "val_psnr": val_psnr})
                    clock = time.perf_counter()
                if state["step"] % config.checkpoint_every == 0:
                    state["seconds"] += time.perf_counter() - clock
                    save_checkpoint()
                    clock = time.perf_counter()
                if stop.received is not None:
                    break
        finally:
            bar.close()
        state["seconds"] += time.perf_counter() - clock
        save_checkpoint()
    interrupted = stop.received is not None
    if interrupted:
        print(f"train {config.strategy}: stopped by {signal.Signals(stop.received).name} after step "
              f"{state['step']}; checkpoint {checkpoint_path} (run again to resume)", file=sys.stderr)
    if interrupted or state["step"] < config.iterations:
        return TrainResult(out_dir, state["step"], state["seconds"], None, interrupted=True)

    warning = stalled_loss_warning(state["loss"])
    if warning:
        print(f"WARNING train {config.strategy}: {warning}", file=sys.stderr)
    write_results(out_dir, config, field_, sampler, state, device, fingerprint, [warning] if warning else [])
    final_val = state["val"][-1][2] if state["val"] else None
    return TrainResult(out_dir, state["step"], state["seconds"], final_val, interrupted=False)


def validate(field_, strategy, sampler, val_data: SceneData, n_views: int, device) -> float:
    """Mean PSNR over the first ``n_views`` validation views, rendered whole."""
    views = range(min(n_views, len(val_data.images)))
    rendered = render_views(field_, strategy, sampler, val_data, views, device)
    mse = np.mean((rendered["rgb"] - val_data.images[list(views)]) ** 2, axis=(1, 2, 3))
    return float(np.mean([psnr_from_mse(m) for m in mse]))


def match_grid_resolution(field_: torch.nn.Module, state_dict: dict) -> None:
    """Resample a TensoRF field to the resolution of ``state_dict`` (saved after a ``grid_upsample``)
    so that the state loads."""
    if isinstance(field_, core.TensoRFField):
        saved = state_dict["density_planes"].shape[-1]
        if saved != field_.resolution:
            field_.upsample(saved)


def read_saved(path: Path, what: str) -> dict:
    """Load a model or checkpoint with ``weights_only=True``: tensors and plain data only, so a file
    from someone else cannot run code when it is opened."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        refused = [line for line in str(err).splitlines() if "GLOBAL" in line]
        if isinstance(err, pickle.UnpicklingError) and refused:
            raise RuntimeError(f"refusing to load {what} {path}: it holds objects other than tensors and "
                               f"plain data, and unpickling them could run code ({refused[0].strip()})") from err
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RuntimeError(f"cannot read {what} {path}: not a readable torch file ({reason}); "
                           f"delete it to start over") from err
    if not isinstance(saved, dict) or "config" not in saved or "field" not in saved:
        raise RuntimeError(f"{path} is not a depthnerf {what} (no 'config' and 'field' entries)")
    return saved


def load_checkpoint(path: Path, config: TrainConfig, fingerprint: str, field_, sampler,
                    generator) -> tuple[dict, dict]:
    """Restore a run from its checkpoint; refuse one written by other settings or for other data.

    Loads the field (resampled to the saved resolution), occupancy grid and generator; returns the
    loop's state and the optimizer's state (the optimizer is built for the restored field).
    """
    saved = read_saved(path, "checkpoint")
    if saved["config"] != config.to_dict():
        changed = sorted(k for k in saved["config"] if saved["config"][k] != config.to_dict().get(k))
        raise ValueError(f"{path} was written by a run with other settings ({changed}); "
                         f"pass resume=False or delete it to start over")
    if saved.get("data_fingerprint") != fingerprint:
        raise ValueError(f"{path} was written for other training data (fingerprint "
                         f"{saved.get('data_fingerprint')} vs {fingerprint} now); pass resume=False or delete "
                         f"it to start over")
    match_grid_resolution(field_, saved["field"])
    field_.load_state_dict(saved["field"])
    if sampler.occupancy is not None:
        sampler.occupancy.load_state_dict(saved["occupancy"])
    generator.set_state(saved["generator"])
    return {key: saved[key] for key in ("step", "seconds", "loss", "psnr", "val")}, saved["optimizer"]


def write_results(out_dir: Path, config: TrainConfig, field_, sampler, state: dict, device,
                  fingerprint: str, warnings: list[str]) -> None:
    """The files of a finished run (the original project's layout plus config, metrics, summary)."""
    atomic_torch_save(out_dir / f"model_{config.strategy}.pth", {
        "config": config.to_dict(), "field": field_.state_dict(),
        "occupancy": None if sampler.occupancy is None else sampler.occupancy.state_dict(),
        "near": sampler.near, "far": sampler.far, "data_fingerprint": fingerprint,
    })
    atomic_npy(out_dir / "psnr_history.npy", np.asarray(state["psnr"], dtype=np.float32))
    atomic_npy(out_dir / "loss_history.npy", np.asarray(state["loss"], dtype=np.float32))
    atomic_json(out_dir / "summary.json", {
        "strategy": config.strategy, "iterations": state["step"], "train_seconds": state["seconds"],
        "peak_memory_bytes": peak_memory_bytes(device), "device": str(device),
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "val_psnr": [{"step": s, "seconds": t, "psnr": p} for s, t, p in state["val"]],
        "data_fingerprint": fingerprint, "warnings": warnings,
    })


# %% 03_Baseline_NeRF.ipynb · cell c13
@dataclass
class TrainedRun:
    strategy: Strategy
    field: torch.nn.Module
    sampler: RaySampler
    config: TrainConfig
    out_dir: Path

    def render_views(self, data: SceneData, views, chunk: int = 8192) -> dict:
        device = next(self.field.parameters()).device
        return render_views(self.field, self.strategy, self.sampler, data, views, device, chunk)


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
    """Field, sampler (with its occupancy grid) and strategy of a saved model or checkpoint dict."""
    config = saved_config(saved, source)
    field_ = core.make_field(config.field, torch.zeros(2, 3), **config.field_kwargs)
    match_grid_resolution(field_, saved["field"])
    field_.load_state_dict(saved["field"])
    field_.to(device).eval()
    occupancy = None
    if saved["occupancy"] is not None:
        occupancy = core.OccupancyGrid(torch.zeros(2, 3), config.occupancy_resolution)
        occupancy.load_state_dict(saved["occupancy"])
        occupancy.to(device)
    sampler = RaySampler(near, far, config.n_samples, occupancy, config.march_steps, config.max_samples)
    strategy = make_strategy(config.strategy, **config.strategy_params)
    return TrainedRun(strategy, field_, sampler, config, out_dir)


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
