# Generated from 00_Setup_and_Dependencies.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


from __future__ import annotations

import copy
import dataclasses
import importlib
import math
from dataclasses import dataclass
from typing import Any, Callable


# %% 00_Setup_and_Dependencies.ipynb · cell c03
def setting(default, doc: str):
    """A dataclass field with a default (copied per instance when mutable) and a one-line ``doc``."""
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata={"doc": doc})
    return dataclasses.field(default=default, metadata={"doc": doc})


def describe(settings_class) -> dict[str, str]:
    """``{name: "doc (default: value)"}`` of a settings dataclass (for ``--help`` and the notebooks).

    >>> describe(TensoRFParams)["resolution"]
    'grid points per axis of the planes and lines (default: 128)'
    """
    out = {}
    for f in dataclasses.fields(settings_class):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out[f.name] = f"{f.metadata.get('doc', '')} (default: {default!r})"
    return out


def build_settings(settings_class, values: dict | Any, where: str):
    """``settings_class(**values)``, refusing names the class does not have (listing the known ones)."""
    if isinstance(values, settings_class):
        return values
    if not isinstance(values, dict):
        raise ValueError(f"{where}: expected a dict of {settings_class.__name__} settings, got {values!r}")
    known = {f.name for f in dataclasses.fields(settings_class)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{where}: unknown settings {unknown}; {settings_class.__name__} has {sorted(known)}")
    return settings_class(**values)


# %% 00_Setup_and_Dependencies.ipynb · cell c05
@dataclass
class TensoRFParams:
    """TensoRF-VM grid field (notebook 02)."""

    resolution: int = setting(128, "grid points per axis of the planes and lines")
    density_components: int = setting(8, "channels of each density plane-line pair")
    app_components: int = setting(24, "channels of each appearance plane-line pair")
    app_dim: int = setting(27, "outputs of the linear appearance basis fed to the colour MLP")
    hidden: int = setting(64, "width of the colour MLP")
    hidden_layers: int = setting(2, "hidden layers of the colour MLP")
    view_freqs: int = setting(2, "positional-encoding frequencies of the view direction")
    density_shift: float = setting(-10.0, "added before the softplus: the field starts empty")
    density_scale: float = setting(25.0, "multiplies the softplus (TensoRF's distance_scale)")
    init_scale: float = setting(0.1, "standard deviation of the random initial factors")
    lr: float = setting(0.04, "Adam learning rate of the factors (TensoRF's lr_init)")
    network_lr_factor: float = setting(0.075, "the colour MLP learns at lr * this (TensoRF: 0.003 / 0.04)")
    density_l1: float = setting(0.0, "weight of the L1 penalty on the density factors")
    tv_weight: float = setting(0.0, "weight of the total-variation penalty on the planes")
    upsample: list = setting([], "coarse to fine: [[fraction of the iterations, new resolution], ...]")

    def __post_init__(self):
        if not all(isinstance(item, (list, tuple)) and len(item) == 2 for item in self.upsample):
            raise ValueError(f"TensoRFParams.upsample {self.upsample}: expected [[fraction, resolution], ...]")
        self.upsample = [[float(f), int(g)] for f, g in self.upsample]
        fractions = [f for f, _ in self.upsample]
        if fractions != sorted(set(fractions)) or not all(0 < f < 1 for f in fractions) or \
                not all(g >= 2 for _, g in self.upsample):
            raise ValueError(f"TensoRFParams.upsample {self.upsample}: needs strictly increasing fractions of the "
                             f"iterations in (0, 1) and resolutions >= 2")
        check_ranges(self, POSITIVE_INTS, ("resolution", "density_components", "app_components", "app_dim",
                                           "hidden", "view_freqs"))
        check_ranges(self, POSITIVE_NUMBERS, ("lr", "network_lr_factor", "density_scale", "init_scale"))
        check_ranges(self, NON_NEGATIVE_NUMBERS, ("density_l1", "tv_weight"))


@dataclass
class MLPParams:
    """The NeRF paper's MLP (notebook 02)."""

    depth: int = setting(8, "layers of the trunk")
    width: int = setting(256, "width of the trunk")
    pos_freqs: int = setting(10, "positional-encoding frequencies of the position")
    dir_freqs: int = setting(4, "positional-encoding frequencies of the view direction")
    skip: int = setting(4, "the input is concatenated again after this layer")
    lr: float = setting(5e-4, "Adam learning rate (the paper's)")

    def __post_init__(self):
        check_ranges(self, POSITIVE_INTS, ("depth", "width"))
        check_ranges(self, POSITIVE_NUMBERS, ("lr",))


# %% 00_Setup_and_Dependencies.ipynb · cell c07
@dataclass
class NoParams:
    """A strategy without parameters (the baseline)."""


@dataclass
class SoftParams:
    """Soft depth supervision: a depth loss on the rendered ray (notebook 04)."""

    soft_weight: float = setting(0.01, "weight of the depth loss")
    soft_weight_final: float = setting(1.0, "the weight decays exponentially to soft_weight * this (1: constant)")
    depth_loss: str = setting("dsnerf", "mse | l1 (expected depth), dsnerf (ray termination), urf (line of sight), "
                                     "gaussian_nll (Dense Depth Priors), pearson | ranking (scale-invariant)")
    eps: float = setting(0.3, "URF's window width around the depth, scene units")
    ds_sigma: float = setting(0.05, "depth standard deviation where the data gives none (DS-NeRF, Gaussian NLL), "
                                    "scene units")
    ranking_margin: float = setting(1e-4, "ranking loss: how much nearer the nearer ray must render, scene units")

    def __post_init__(self):
        if self.depth_loss not in DEPTH_LOSSES:
            raise ValueError(f"depth_loss = {self.depth_loss!r}: choose one of {DEPTH_LOSSES}")
        check_ranges(self, NON_NEGATIVE_NUMBERS, ("soft_weight", "ranking_margin"))
        check_ranges(self, POSITIVE_NUMBERS, ("eps", "ds_sigma", "soft_weight_final"))


@dataclass
class HardParams:
    """Hard depth supervision: depth-guided samples and free-space / surface losses (notebook 05)."""

    hard_weight: float = setting(0.05, "weight of the free-space + surface loss")
    hard_weight_final: float = setting(0.1, "the weight decays exponentially to hard_weight * this (1: constant)")
    guided_mode: str = setting("add", "add: guided samples added to the shared sampler's (Dense Depth Priors); "
                                      "replace: instead of them (the original project)")
    guided_samples: int = setting(16, "add mode: samples placed in the window around the depth, per ray")
    window_sigmas: float = setting(3.0, "add mode: the window is depth +- this many of the data's depth_sigma")
    cut_behind: bool = setting(False, "add mode: drop the shared sampler's samples behind the window (hidden by "
                                      "the surface)")
    eps: float = setting(0.3, "window width where the data gives no depth_sigma (and the free-space margin), "
                              "scene units")
    guided_fraction: float = setting(0.75, "replace mode: share of the samples in the window (the rest uniform)")
    surface_var_weight: float = setting(0.1, "weight of the weight spread around the rendered depth")

    def __post_init__(self):
        if not 0 <= self.guided_fraction <= 1:
            raise ValueError(f"guided_fraction = {self.guided_fraction}: must be in [0, 1]")
        if self.guided_mode not in ("add", "replace"):
            raise ValueError(f"guided_mode = {self.guided_mode!r}: choose 'add' or 'replace'")
        check_ranges(self, NON_NEGATIVE_NUMBERS, ("hard_weight", "surface_var_weight"))
        check_ranges(self, POSITIVE_NUMBERS, ("eps", "window_sigmas", "hard_weight_final"))
        check_ranges(self, POSITIVE_INTS, ("guided_samples",))
        check_ranges(self, BOOLEANS, ("cut_behind",))


@dataclass
class HybridParams(HardParams, SoftParams):
    """Soft's and hard's parameters together (notebook 06); its own defaults for the hard weight (chosen
    with soft's loss beside it, Analysis/hyperparameter_sweep)."""

    hard_weight: float = setting(0.02, "weight of the free-space + surface loss")
    hard_weight_final: float = setting(1.0, "the weight decays exponentially to hard_weight * this (1: constant)")

    def __post_init__(self):
        SoftParams.__post_init__(self)
        HardParams.__post_init__(self)

    def part(self, params_class):
        """The parameters of one of the two strategies it combines."""
        return params_class(**{f.name: getattr(self, f.name) for f in dataclasses.fields(params_class)})


DEPTH_LOSSES = ("mse", "l1", "dsnerf", "urf", "gaussian_nll", "pearson", "ranking")


# %% 00_Setup_and_Dependencies.ipynb · cell c09
@dataclass(frozen=True)
class Registered:
    """A registry entry: the parameters class and the builder (``"module:attribute"`` or a callable)."""

    params: type
    build: str | Callable

    def builder(self) -> Callable:
        if callable(self.build):
            return self.build
        module, _, name = self.build.partition(":")
        return getattr(importlib.import_module(module), name)


FIELDS: dict[str, Registered] = {
    "tensorf": Registered(TensoRFParams, "depthnerf.fields:TensoRFField"),
    "mlp": Registered(MLPParams, "depthnerf.fields:NeRFMLP"),
}
STRATEGIES: dict[str, Registered] = {
    "baseline": Registered(NoParams, "depthnerf.strategies:baseline"),
    "soft": Registered(SoftParams, "depthnerf.strategies:soft"),
    "hard": Registered(HardParams, "depthnerf.strategies:hard"),
    "hybrid": Registered(HybridParams, "depthnerf.strategies:hybrid"),
}
SAMPLERS = ("occupancy", "stratified", "hierarchical")
BATCHING = ("all_images", "one_image")


def register_strategy(name: str, params: type, build: str | Callable) -> None:
    """Make ``TrainConfig(strategy=name)`` build ``build(params_instance)`` (a ``strategies.Strategy``)."""
    STRATEGIES[name] = Registered(params, build)


def register_field(name: str, params: type, build: str | Callable) -> None:
    """Make ``TrainConfig(field=name)`` build ``build(aabb, params_instance)`` (see the field protocol, 02)."""
    FIELDS[name] = Registered(params, build)


# %% 00_Setup_and_Dependencies.ipynb · cell c11
@dataclass
class TrainConfig:
    """Every setting of one training run (written to ``config.json``); defaults: the ``quick`` profile."""

    strategy: str = setting("baseline", "which strategy trains: a name in STRATEGIES")
    strategy_params: Any = setting({}, "the strategy's parameters (a dict, made into its params class)")
    field: str = setting("tensorf", "which field: a name in FIELDS")
    field_params: Any = setting({}, "the field's parameters (a dict, made into its params class)")
    iterations: int = setting(800, "training steps; the learning-rate schedule spans them")
    batch_rays: int = setting(2048, "rays drawn uniformly over the training pixels per step")
    batching: str = setting("all_images", "all_images: rays over every training image; one_image: from one "
                                          "random image per step (the original NeRF's no_batching)")
    depth_rays: int = setting(0, "extra rays per step among pixels with depth (sparse depth, as DS-NeRF)")
    lr_final_factor: float = setting(0.1, "the learning rate decays exponentially to lr * this")
    adam_beta2: float = setting(0.99, "Adam's second-moment decay (TensoRF's 0.99; the NeRF paper's 0.999)")
    precrop_iters: int = setting(0, "steps that draw pixels from the central crop only")
    precrop_fraction: float = setting(0.5, "side of that crop, as a fraction of the image")
    random_background: bool = setting(True, "composite RGBA targets on a random colour per ray")
    seed: int = setting(0, "seeds the field's initialisation and the step generator")
    sampler: str = setting("occupancy", "the shared sampler: occupancy | stratified | hierarchical")
    n_samples: int = setting(64, "stratified / coarse samples per ray; guided samples per ray (hard)")
    n_importance: int = setting(128, "hierarchical sampler: fine samples per ray from the coarse weights")
    march_steps: int = setting(256, "occupancy sampler: marching step = (far - near) / march_steps")
    max_samples: int = setting(64, "occupancy sampler: at most this many kept samples per ray")
    over_cap: str = setting("merge", "occupancy sampler, a ray with more than max_samples occupied steps: merge "
                                     "joins consecutive steps so that max_samples intervals span all of them; "
                                     "nearest keeps its nearest max_samples (the first behaviour)")
    occupancy_resolution: int = setting(64, "cells per axis of the occupancy grid")
    carve_visual_hull: bool = setting(True, "restrict the occupancy grid to the alpha masks' visual hull (every strategy)")
    fit_field_to_hull: bool = setting(True, "where the hull is carved, the field's box is the hull's bounding box "
                                            "(plus one cell), not the scene box: its grid spends its resolution "
                                            "on the object (TensoRF's shrink)")
    depth_at_edges: str = setting("exclude", "exclude: no depth supervision on pixels whose footprint may mix "
                                             "surfaces (alpha in (0, 1), or a depth jump to a neighbour); keep: "
                                             "supervise them")
    occupancy_every: int = setting(16, "steps between occupancy-grid updates from the field's density")
    occupancy_warmup: int = setting(64, "steps before the first occupancy-grid update")
    color_threshold: float = setting(0.0, "colour only samples with weight above this (0: every sample)")
    val_every: int = setting(250, "steps between validation renders")
    val_views: int = setting(2, "validation views rendered each time")
    checkpoint_every: int = setting(250, "steps between checkpoints")
    log_every: int = setting(10, "steps between metrics.jsonl records")
    tensorboard: bool = setting(False, "also log losses, learning rate and validation images to out_dir/tensorboard")

    def __post_init__(self):
        for name, registry in (("strategy", STRATEGIES), ("field", FIELDS), ("sampler", SAMPLERS),
                               ("batching", BATCHING), ("depth_at_edges", ("exclude", "keep")),
                               ("over_cap", ("nearest", "merge"))):
            if getattr(self, name) not in registry:
                raise ValueError(f"TrainConfig.{name} = {getattr(self, name)!r}: choose one of {sorted(registry)}")
        self.strategy_params = build_settings(STRATEGIES[self.strategy].params, self.strategy_params,
                                              f"TrainConfig.strategy_params ({self.strategy})")
        self.field_params = build_settings(FIELDS[self.field].params, self.field_params,
                                           f"TrainConfig.field_params ({self.field})")
        check_ranges(self, POSITIVE_INTS, ("iterations", "batch_rays", "n_samples", "n_importance", "march_steps",
                                           "max_samples", "occupancy_resolution", "occupancy_every", "val_every",
                                           "val_views", "checkpoint_every", "log_every"))
        check_ranges(self, NON_NEGATIVE_INTS, ("depth_rays", "precrop_iters", "occupancy_warmup", "seed"))
        check_ranges(self, UNIT_INTERVAL, ("lr_final_factor", "precrop_fraction"))
        if not 0 < self.adam_beta2 < 1:
            raise ValueError(f"TrainConfig.adam_beta2 = {self.adam_beta2!r}: must be in (0, 1)")
        check_ranges(self, NON_NEGATIVE_NUMBERS, ("color_threshold",))
        check_ranges(self, BOOLEANS, ("random_background", "carve_visual_hull", "fit_field_to_hull", "tensorboard"))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# (test, what the value must be) of the ranges settings are checked against
POSITIVE_INTS = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "an integer >= 1")
NON_NEGATIVE_INTS = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "an integer >= 0")
POSITIVE_NUMBERS = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0,
                    "a finite number > 0")
NON_NEGATIVE_NUMBERS = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                        and v >= 0, "a finite number >= 0")
UNIT_INTERVAL = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1,
                 "a number in (0, 1]")
BOOLEANS = (lambda v: isinstance(v, bool), "True or False")


def check_ranges(settings, rule: tuple, names: tuple[str, ...]) -> None:
    """Refuse a setting outside its range, naming it.

    >>> TrainConfig(batch_rays=0)
    Traceback (most recent call last):
    ...
    ValueError: TrainConfig.batch_rays = 0: must be an integer >= 1
    """
    ok, what = rule
    for name in names:
        value = getattr(settings, name)
        if not ok(value):
            raise ValueError(f"{type(settings).__name__}.{name} = {value!r}: must be {what}")


# %% 00_Setup_and_Dependencies.ipynb · cell c13
@dataclass(frozen=True)
class Profile:
    """The size of every stage of one run of the pipeline."""

    doc: str = setting("", "what the profile is for")
    downscale: int = setting(2, "integer downscaling of the images (embedded 200 px -> 100 px)")
    max_train_views: int | None = setting(None, "at most this many training views (None: all)")
    max_test_views: int | None = setting(None, "at most this many test views (None: all)")
    val_views: int = setting(2, "validation views loaded for the training notebooks")
    render_frames: int = setting(40, "frames of the rendered camera path")
    render_downscale: int = setting(2, "downscaling of the rendered frames")
    train: dict = setting({}, "TrainConfig values this profile changes")
    study_train: dict = setting({}, "TrainConfig values of a study's trials (many runs: shorter)")
    few_views: int = setting(8, "views of the few-view run each training notebook adds at the study budget (0: none)")


# The lego benchmark's CPU recipe (benchmarks/lego.py, README): TensoRF coarse to fine, appearance mask
LEGO_RECIPE = dict(batch_rays=4096, march_steps=512, max_samples=128, color_threshold=1e-4, occupancy_resolution=128,
                   field_params={"resolution": 64, "upsample": [[0.1, 128], [0.25, 192], [0.45, 320]]})
# The same recipe sized for a GPU at 800x800 (benchmarks/lego.py --device cuda; untested here: no GPU was lent)
LEGO_GPU_RECIPE = dict(batch_rays=8192, march_steps=1024, max_samples=256, color_threshold=1e-4, occupancy_resolution=128,
                       field_params={"resolution": 64, "upsample": [[0.05, 128], [0.15, 192], [0.3, 256], [0.45, 300]]})

PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        doc="tests: seconds per notebook; models learn nothing", downscale=8, max_train_views=8, max_test_views=2,
        render_frames=3, render_downscale=8, few_views=4,
        train=dict(iterations=30, batch_rays=256, n_samples=32, march_steps=128, max_samples=48, val_every=15,
                   checkpoint_every=15, field_params={"resolution": 32})),
    "quick": Profile(doc="the CPU main job (minutes)", study_train=dict(iterations=500, batch_rays=1024)),
    "full": Profile(
        doc="paper scale for a GPU (refused on a CPU unless DEPTHNERF_ALLOW_CPU_FULL=1)", downscale=1,
        render_frames=120, render_downscale=1,
        train=dict(iterations=30000, batch_rays=8192, n_samples=128, march_steps=1024, max_samples=256,
                   occupancy_resolution=128, color_threshold=1e-4, val_every=2500, checkpoint_every=2500,
                   field_params={"resolution": 64, "upsample": [[0.05, 128], [0.15, 192], [0.3, 256], [0.45, 300]]})),
    "colab": Profile(
        doc="one Colab GPU session: full resolution, the lego benchmark's recipe and its 5800 steps with twice its "
            "marching steps (lego val views 0-19: 34.41 dB against 33.92; on a CPU's 900 s budget 512 steps win, "
            "33.59 against 33.01); the Colab notebook prints the measured runtime before training; refused on a CPU "
            "unless DEPTHNERF_ALLOW_CPU_FULL=1",
        downscale=1, render_frames=60, render_downscale=1,
        train={**LEGO_RECIPE, "march_steps": 1024, "iterations": 5800, "occupancy_every": 32, "val_every": 1000,
               "checkpoint_every": 500},
        study_train=dict(iterations=2000)),
}
GPU_PROFILES = ("full", "colab")  # too slow for a CPU: pipeline_data refuses them there unless DEPTHNERF_ALLOW_CPU_FULL=1

# The original project's configuration (the benchmark's reference): the paper's MLP, 64 stratified samples,
# no hierarchical pass, 1024 rays from one random image per step, Adam 5e-4 (beta2 0.999), no decay, no random background
ORIGINAL_RECIPE = dict(field="mlp", sampler="stratified", n_samples=64, batch_rays=1024, batching="one_image",
                       lr_final_factor=1.0, adam_beta2=0.999, random_background=False)


def profile_settings(profile: str) -> Profile:
    """The :class:`Profile` named ``profile`` (``smoke``, ``quick``, ``full`` or ``colab``).

    >>> profile_settings("smoke").train["iterations"], profile_settings("quick").downscale
    (30, 2)
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {sorted(PROFILES)}")
    return PROFILES[profile]


def merge_settings(base: dict, *overrides: dict) -> dict:
    """``base`` updated by each of ``overrides`` in turn; nested parameter dicts merge key by key.

    >>> merge_settings({"field_params": {"resolution": 32}}, {"field_params": {"lr": 0.02}, "seed": 1})
    {'field_params': {'resolution': 32, 'lr': 0.02}, 'seed': 1}
    """
    merged = copy.deepcopy(base)
    for override in overrides:
        for key, value in override.items():
            if key in ("field_params", "strategy_params") and isinstance(merged.get(key), dict) and isinstance(value, dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = copy.deepcopy(value)
    return merged


def config_for_profile(profile: str, strategy: str = "baseline", **overrides) -> TrainConfig:
    """The ``TrainConfig`` of ``strategy`` in ``profile``, with ``overrides`` (any TrainConfig setting;
    parameter dicts merge key by key). A study's trials pass the profile's ``study_train`` as overrides.

    >>> config_for_profile("smoke", "soft").iterations
    30
    >>> config_for_profile("quick", **profile_settings("quick").study_train).iterations
    500
    >>> config_for_profile("smoke", field="mlp").field_params.lr
    0.0005
    """
    train = dict(profile_settings(profile).train)
    if overrides.get("field", "tensorf") != "tensorf":  # a profile's field parameters are TensoRF's
        train.pop("field_params", None)
    return TrainConfig(**merge_settings({"strategy": strategy}, train, overrides))
