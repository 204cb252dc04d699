# Generated from 03_Baseline_NeRF.ipynb, 04_Soft_Depth_Supervision.ipynb, 05_Hard_Depth_Sampling.ipynb, 06_Hybrid_Strategy.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import torch

from depthnerf.config import STRATEGIES, HardParams, HybridParams, NoParams, SoftParams, TrainConfig
from depthnerf.losses import depth_loss, free_space_loss, photometric_loss, surface_loss
from depthnerf.samplers import GuidedSampler, OwnDepthSampler


# %% 03_Baseline_NeRF.ipynb · cell c06
@dataclass(frozen=True)
class LossTerm:
    """One named term of a strategy's loss: ``weight * final ** progress * fn(out, batch)``, where ``out`` is
    the output of ``render_rays``, ``batch`` the rays' targets (``rgb [R,3]``, ``view [R]``; ``depth``,
    ``depth_mask``, ``depth_sigma [R]`` when the data has depth) and ``progress`` = step / iterations
    (``batch["progress"]``): ``final < 1`` decays the weight exponentially to ``weight * final``.

    >>> term = LossTerm("x", lambda out, batch: torch.tensor(2.0), weight=0.5, final=0.1)
    >>> float(term({}, {"progress": 0.0})), round(float(term({}, {"progress": 1.0})), 6)
    (1.0, 0.1)
    """

    name: str
    fn: Callable[[dict, dict], torch.Tensor]
    weight: float = 1.0
    final: float = 1.0

    def __call__(self, out: dict, batch: dict) -> torch.Tensor:
        value = self.fn(out, batch)
        weight = self.weight if self.final == 1.0 else self.weight * self.final ** batch.get("progress", 0.0)
        return value if weight == 1.0 else weight * value


def shared(base):
    """The sampler factory that keeps the trainer's shared sampler."""
    return base


@dataclass(frozen=True)
class Strategy:
    """``(train sampler, eval sampler, loss terms)``: where a strategy samples and what it minimises.

    ``train_sampler`` / ``eval_sampler`` map the shared sampler to the one used for training rays /
    rendered views; ``needs_depth``: the trainer refuses data without depth instead of training a
    baseline in disguise.
    """

    name: str
    losses: tuple[LossTerm, ...]
    train_sampler: Callable = shared
    eval_sampler: Callable = shared
    needs_depth: bool = False
    params: object = field(default=None, compare=False)

    def loss_terms(self, out: dict, batch: dict) -> dict[str, torch.Tensor]:
        """``{term name: weighted value}`` of a rendered batch."""
        return {term.name: term(out, batch) for term in self.losses}


def compose(name: str, *parts: Strategy) -> Strategy:
    """One strategy with the loss terms of all ``parts`` (each name once) and the samplers of the part
    whose samplers are not ``shared`` (at most one may change them).

    >>> rgb_only = Strategy("a", (RGB,))
    >>> [t.name for t in compose("b", rgb_only, Strategy("c", (RGB, LossTerm("zero", lambda o, b: 0.0)))).losses]
    ['rgb', 'zero']
    """
    terms: dict[str, LossTerm] = {}
    for part in parts:
        for term in part.losses:
            if terms.setdefault(term.name, term) != term:
                raise ValueError(f"compose {name!r}: two different loss terms named {term.name!r}")
    samplers = {(p.train_sampler, p.eval_sampler) for p in parts if (p.train_sampler, p.eval_sampler) != (shared, shared)}
    if len(samplers) > 1:
        raise ValueError(f"compose {name!r}: more than one part changes the samplers")
    train_sampler, eval_sampler = samplers.pop() if samplers else (shared, shared)
    return Strategy(name, tuple(terms.values()), train_sampler, eval_sampler, any(p.needs_depth for p in parts))


RGB = LossTerm("rgb", lambda out, batch: photometric_loss(out["rgb"], batch["rgb"]))


# %% 03_Baseline_NeRF.ipynb · cell c08
def baseline(params: NoParams | None = None) -> Strategy:
    """Plain NeRF: the shared sampler and ``L = L_rgb``."""
    return Strategy("baseline", (RGB,))


def make_strategy(config: TrainConfig) -> Strategy:
    """The strategy ``config.strategy`` with ``config.strategy_params`` (registered in ``STRATEGIES``)."""
    return STRATEGIES[config.strategy].builder()(config.strategy_params)


# %% 04_Soft_Depth_Supervision.ipynb · cell c20
def soft_terms(params: SoftParams) -> tuple[LossTerm, ...]:
    """``rgb`` and ``depth = soft_weight * L_depth`` (the loss ``params.depth_loss`` names; the weight decays
    to ``soft_weight * soft_weight_final`` over training)."""
    return (RGB, LossTerm("depth", lambda out, batch: depth_loss(params.depth_loss, out, batch, params.eps,
                                                                   params.ds_sigma, params.ranking_margin),
                          params.soft_weight, params.soft_weight_final))


def soft(params: SoftParams | None = None) -> Strategy:
    """The shared sampler; ``L = L_rgb + soft_weight * L_depth``."""
    params = params or SoftParams()
    return Strategy("soft", soft_terms(params), needs_depth=True, params=params)


# %% 05_Hard_Depth_Sampling.ipynb · cell c16
def hard_term(out: dict, batch: dict, params: HardParams) -> torch.Tensor:
    """``L_free + L_surface`` on the rays with depth (weighted by ``hard_weight`` in the recipe)."""
    free = free_space_loss(out["weights"], out["t_ends"], batch["depth"], batch["depth_mask"], params.eps)
    surface = surface_loss(out["depth"], out["weights"], out["t_mids"], batch["depth"], batch["depth_mask"],
                           params.surface_var_weight)
    return free + surface


def guided_sampler(base, params: HardParams) -> GuidedSampler:
    return GuidedSampler(base, params.eps, params.guided_fraction, params.guided_mode, params.guided_samples,
                         params.window_sigmas, params.cut_behind)


def own_depth_sampler(base, params: HardParams) -> OwnDepthSampler:
    return OwnDepthSampler(guided_sampler(base, params))


def hard(params: HardParams | None = None) -> Strategy:
    """Depth-guided samples; ``L = L_rgb + hard_weight * (L_free + L_surface)``."""
    params = params or HardParams()
    return Strategy("hard", (RGB, LossTerm("hard", partial(hard_term, params=params), params.hard_weight,
                                           params.hard_weight_final)),
                    train_sampler=partial(guided_sampler, params=params),
                    eval_sampler=partial(own_depth_sampler, params=params), needs_depth=True, params=params)


# %% 06_Hybrid_Strategy.ipynb · cell c02
def hybrid(params: HybridParams | None = None) -> Strategy:
    """Soft's and hard's loss terms with hard's samplers:
    ``L = L_rgb + soft_weight * L_depth + hard_weight * (L_free + L_surface)``."""
    params = params or HybridParams()
    combined = compose("hybrid", soft(params.part(SoftParams)), hard(params.part(HardParams)))
    return Strategy(combined.name, combined.losses, combined.train_sampler, combined.eval_sampler,
                    combined.needs_depth, params)
