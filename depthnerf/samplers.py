# Generated from 02_Core_Components.ipynb, 05_Hard_Depth_Sampling.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import numpy as np
import torch
from torch import Tensor

from depthnerf.occupancy import OccupancyGrid, compact
from depthnerf.rays import RayBundle, per_ray
from depthnerf.rendering import render_rays


# %% 02_Core_Components.ipynb · cell c09
def stratified_samples(rays: RayBundle, near, far, n_samples: int, perturb: bool,
                       generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``n_samples`` contiguous intervals covering ``[near, far]`` per ray: ``[R,S]`` starts and ends.

    ``near``/``far``: floats or ``[R]`` tensors. ``perturb`` jitters the interior edges by up to half
    a step (``generator``, on the rays' device, makes it reproducible; the same holds for every
    sampler).

    >>> rays = RayBundle(torch.zeros(1, 3), torch.tensor([[0., 0, -1]]), torch.ones(1))
    >>> stratified_samples(rays, 2.0, 6.0, 4, perturb=False)
    (tensor([[2., 3., 4., 5.]]), tensor([[3., 4., 5., 6.]]))
    """
    near, far = per_ray(near, rays), per_ray(far, rays)
    steps = torch.arange(n_samples + 1, device=rays.device, dtype=torch.float32).expand(len(rays), -1)
    if perturb and n_samples > 1:
        jitter = torch.rand(len(rays), n_samples - 1, device=rays.device, generator=generator) - 0.5
        steps = torch.cat([steps[:, :1], steps[:, 1:-1] + jitter, steps[:, -1:]], 1)
    edges = near + (far - near) * steps / n_samples
    return edges[:, :-1].contiguous(), edges[:, 1:].contiguous()


def importance_samples(t_starts: Tensor, t_ends: Tensor, weights: Tensor, n_samples: int, perturb: bool,
                       generator: torch.Generator | None = None, merge: bool = False) -> tuple[Tensor, Tensor]:
    """Hierarchical sampling: ``n_samples`` intervals placed by inverse CDF of ``weights [R,S]``.

    The pdf is ``(w + 1e-5) / sum`` (uniform inside each coarse interval, zero in gaps between
    intervals); its inverse CDF at ``u_k = (k + 1/2) / (n + 1)``, ``k = 0..n`` (``(k + U[0,1)) / (n + 1)``
    when ``perturb``) gives ``n + 1`` sorted edges. ``merge=True`` returns the sorted union of
    those edges with the coarse ones (needs contiguous coarse intervals, as from
    :func:`stratified_samples`), i.e. ``S + n_samples + 1`` intervals. Gradients do not flow through.

    All the weight in the second of two intervals puts every fine interval there:

    >>> s, e = importance_samples(torch.tensor([[0., 1.]]), torch.tensor([[1., 2.]]),
    ...                           torch.tensor([[0., 1.]]), 4, perturb=False)
    >>> [round(x, 3) for x in s[0].tolist()], [round(x, 3) for x in e[0].tolist()]
    ([1.1, 1.3, 1.5, 1.7], [1.3, 1.5, 1.7, 1.9])
    """
    t_starts, t_ends, weights = t_starts.detach(), t_ends.detach(), weights.detach()
    pdf = weights.clamp_min(0) + 1e-5
    pdf = pdf * (t_ends > t_starts)  # zero-length (padding) intervals take no samples
    pdf = pdf / pdf.sum(-1, keepdim=True).clamp_min(1e-12)
    cdf = pdf.cumsum(-1)
    cdf = torch.cat([torch.zeros_like(pdf[:, :1]), cdf / cdf[:, -1:].clamp_min(1e-12)], -1)  # [R,S+1], ends at 1
    shape = (weights.shape[0], n_samples + 1)
    offset = torch.rand(shape, device=weights.device, generator=generator) if perturb else torch.full(shape, 0.5)
    u = (torch.arange(n_samples + 1, device=weights.device) + offset.to(weights.device)) / (n_samples + 1)
    idx = torch.searchsorted(cdf[:, 1:].contiguous(), u, right=False).clamp(max=pdf.shape[1] - 1)
    cdf_lo = cdf.gather(1, idx)
    p = pdf.gather(1, idx)
    frac = ((u - cdf_lo) / p.clamp_min(1e-12)).clamp(0, 1)
    lo, hi = t_starts.gather(1, idx), t_ends.gather(1, idx)
    edges = lo + frac * (hi - lo)
    if merge:
        coarse_edges = torch.cat([t_starts, t_ends[:, -1:]], -1)
        edges = torch.sort(torch.cat([coarse_edges, edges], -1), -1).values
    return edges[:, :-1].contiguous(), edges[:, 1:].contiguous()


# %% 02_Core_Components.ipynb · cell c37
Samples = tuple[Tensor, Tensor, Tensor]  # t_starts, t_ends, mask, each [R,S]


class StratifiedSampler:
    """``n_samples`` stratified intervals over ``[near, far]``; every sample is real.

    >>> rays = RayBundle(torch.zeros(1, 3), torch.tensor([[0., 0, -1]]), torch.ones(1))
    >>> StratifiedSampler(2.0, 6.0, 4)(rays)[:2]
    (tensor([[2., 3., 4., 5.]]), tensor([[3., 4., 5., 6.]]))
    """

    def __init__(self, near: float, far: float, n_samples: int):
        self.near, self.far, self.n_samples = float(near), float(far), int(n_samples)

    def __call__(self, rays: RayBundle, perturb: bool = False, generator: torch.Generator | None = None,
                 **context) -> Samples:
        t_starts, t_ends = stratified_samples(rays, self.near, self.far, self.n_samples, perturb=perturb,
                                              generator=generator)
        return t_starts, t_ends, torch.ones_like(t_starts, dtype=torch.bool)

    def occupied(self, rays: RayBundle, t_starts: Tensor, t_ends: Tensor) -> Tensor:
        """Which intervals may hold matter: all of them (no grid)."""
        return torch.ones_like(t_starts, dtype=torch.bool)


class OccupancySampler(StratifiedSampler):
    """March steps of ``(far - near) / march_steps`` and keep those in occupied cells of ``grid``
    (at most ``max_samples`` per ray: all merged into that many, or the nearest, ``over_cap``); ``n_samples``
    is the budget a depth-guided sampler wrapping it places per ray."""

    def __init__(self, near: float, far: float, n_samples: int, grid: OccupancyGrid, march_steps: int,
                 max_samples: int, over_cap: str = "merge"):
        super().__init__(near, far, n_samples)
        self.grid, self.march_steps, self.max_samples = grid, int(march_steps), int(max_samples)
        self.over_cap = over_cap

    def __call__(self, rays, perturb=False, generator=None, **context) -> Samples:
        step = (self.far - self.near) / self.march_steps
        return self.grid.occupied_samples(rays, self.near, self.far, step, self.max_samples, perturb=perturb,
                                          generator=generator, over_cap=self.over_cap)

    def occupied(self, rays, t_starts, t_ends):
        """Mask of the intervals whose midpoint lies in an occupied cell."""
        mids = 0.5 * (t_starts + t_ends)
        points = rays.origins[:, None, :] + rays.directions[:, None, :] * mids[..., None]
        return self.grid.is_occupied(points.reshape(-1, 3)).reshape(mids.shape)


class HierarchicalSampler(StratifiedSampler):
    """The NeRF paper's two passes with one field: ``n_samples`` stratified coarse intervals, their
    weights from ``field`` (no gradients), ``n_importance`` fine intervals by inverse CDF, merged
    with the coarse edges (``n_samples + n_importance + 1`` intervals per ray)."""

    def __init__(self, near: float, far: float, n_samples: int, n_importance: int):
        super().__init__(near, far, n_samples)
        self.n_importance = int(n_importance)

    def __call__(self, rays, perturb=False, generator=None, field=None, **context) -> Samples:
        if field is None:
            raise ValueError("HierarchicalSampler needs the field (sampler(rays, field=...)) for its coarse pass")
        t_starts, t_ends, _ = super().__call__(rays, perturb, generator)
        with torch.no_grad():
            weights = render_rays(field, rays, t_starts, t_ends)["weights"]
        t_starts, t_ends = importance_samples(t_starts, t_ends, weights, self.n_importance, perturb=perturb,
                                              generator=generator, merge=True)
        return t_starts, t_ends, torch.ones_like(t_starts, dtype=torch.bool)


def make_sampler(config, near: float, far: float, aabb, device: torch.device) -> StratifiedSampler:
    """The shared sampler ``config.sampler`` names (a ``TrainConfig``): ``stratified``, ``hierarchical``,
    or ``occupancy`` with an empty-history grid of ``occupancy_resolution^3`` cells over ``aabb`` on
    ``device`` (the trainer carves it; a saved run loads its state)."""
    near, far = float(near), float(far)
    if config.sampler == "stratified":
        return StratifiedSampler(near, far, config.n_samples)
    if config.sampler == "hierarchical":
        return HierarchicalSampler(near, far, config.n_samples, config.n_importance)
    grid = OccupancyGrid(torch.as_tensor(np.asarray(aabb), dtype=torch.float32), config.occupancy_resolution).to(device)
    return OccupancySampler(near, far, config.n_samples, grid, config.march_steps, config.max_samples, config.over_cap)


# %% 05_Hard_Depth_Sampling.ipynb · cell c11
def guided_samples(near: float, far: float, depth: torch.Tensor, valid: torch.Tensor, eps: float,
                   n_samples: int, guided_fraction: float, perturb: bool,
                   generator: torch.Generator | None = None):
    """Intervals ``(t_starts, t_ends)`` of shape ``[R, n_samples]`` around the depths ``[R]``.

    ``round(guided_fraction * n_samples)`` points lie in ``[D - eps/2, D + eps/2]`` (clipped to
    ``[near, far]``) on rays where ``valid``; the remaining points are uniform over
    ``[near, far]`` together with ``near`` and ``far``. Intervals join consecutive sorted points.

    >>> t0, t1 = guided_samples(2.0, 6.0, torch.tensor([4.0]), torch.tensor([True]), eps=0.4,
    ...                         n_samples=8, guided_fraction=0.75, perturb=False)
    >>> [round(x, 3) for x in t0[0].tolist()]
    [2.0, 3.833, 3.9, 3.967, 4.0, 4.033, 4.1, 4.167]
    """
    n_guided = int(round(guided_fraction * n_samples))
    n_uniform = n_samples - n_guided
    R, device = depth.shape[0], depth.device
    lo = torch.where(valid, (depth - 0.5 * eps).clamp(near, far), torch.full_like(depth, near))
    hi = torch.where(valid, (depth + 0.5 * eps).clamp(near, far), torch.full_like(depth, far))
    uniform = torch.linspace(near, far, n_uniform + 1, device=device).expand(R, -1)
    if perturb and n_uniform > 1:
        jitter = torch.rand(R, n_uniform - 1, generator=generator, device=device) - 0.5
        uniform = torch.cat([uniform[:, :1], uniform[:, 1:-1] + jitter * (far - near) / n_uniform,
                             uniform[:, -1:]], dim=-1)
    offsets = (torch.rand(R, n_guided, generator=generator, device=device) if perturb
               else torch.full((R, n_guided), 0.5, device=device))
    fractions = (torch.arange(n_guided, device=device) + offsets) / max(n_guided, 1)
    guided = lo[:, None] + (hi - lo)[:, None] * fractions
    edges = torch.sort(torch.cat([uniform, guided], dim=-1), dim=-1).values
    return edges[:, :-1], edges[:, 1:]


# %% 05_Hard_Depth_Sampling.ipynb · cell c12
def window_edges(depth: torch.Tensor, valid: torch.Tensor, half_width, n: int, near: float, far: float,
                 perturb: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n + 1`` edges ``[R, n+1]`` cutting ``[D - h, D + h]`` (clipped to ``[near, far]``) into ``n``
    stratified intervals per ray (interior edges jittered by up to half a step when ``perturb``); rays
    that are not ``valid`` get ``+inf`` edges (no samples). ``half_width``: a float or ``[R]``.

    >>> window_edges(torch.tensor([4.0, 4.0]), torch.tensor([True, False]), 0.2, 4, 2.0, 6.0, False)
    tensor([[3.8000, 3.9000, 4.0000, 4.1000, 4.2000],
            [   inf,    inf,    inf,    inf,    inf]])
    """
    h = torch.as_tensor(half_width, dtype=depth.dtype, device=depth.device).expand_as(depth)
    lo, hi = (depth - h).clamp(near, far), (depth + h).clamp(near, far)
    steps = torch.arange(n + 1, device=depth.device, dtype=depth.dtype).expand(len(depth), -1)
    if perturb and n > 1:
        jitter = torch.rand(len(depth), n - 1, generator=generator, device=depth.device) - 0.5
        steps = torch.cat([steps[:, :1], steps[:, 1:-1] + jitter, steps[:, -1:]], 1)
    edges = lo[:, None] + (hi - lo)[:, None] * steps / n
    return torch.where(valid[:, None], edges, torch.full_like(edges, float("inf")))


def merge_samples(t_starts: torch.Tensor, t_ends: torch.Tensor, mask: torch.Tensor, edges: torch.Tensor,
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The union of a sampler's intervals ``[R,S]`` (real where ``mask``; sorted, not overlapping) and the
    intervals between the ``edges [R,E]`` (``+inf``: none), as one sorted, non-overlapping set.

    Every start, end and edge is a cut; each piece between consecutive cuts is real when its midpoint
    lies in one of the sampler's real intervals or between the first and last finite edge. Pieces are
    compacted to the front of each ray (padding: ``t_start = t_end = 0``, mask False).

    >>> s, e, m = merge_samples(torch.tensor([[2.0, 5.0]]), torch.tensor([[3.0, 6.0]]), torch.tensor([[True, True]]),
    ...                         torch.tensor([[3.5, 4.0, 4.5]]))
    >>> s[m].tolist(), e[m].tolist()
    ([2.0, 3.5, 4.0, 5.0], [3.0, 4.0, 4.5, 6.0])
    """
    inf = torch.full_like(t_starts, float("inf"))
    starts, ends = torch.where(mask, t_starts, inf), torch.where(mask, t_ends, inf)
    cuts = torch.sort(torch.cat([starts, ends, edges], -1), -1).values
    lo, hi = cuts[:, :-1], cuts[:, 1:]
    mids = 0.5 * (lo + hi)
    k = (torch.searchsorted(starts.contiguous(), mids.contiguous(), right=True) - 1).clamp(min=0)
    in_base = (starts.gather(1, k) <= mids) & (mids < ends.gather(1, k))
    first = edges.min(-1, keepdim=True).values
    last = torch.where(torch.isfinite(edges), edges, torch.full_like(edges, -float("inf"))).max(-1, keepdim=True).values
    in_window = (mids >= first) & (mids <= last)
    real = torch.isfinite(hi) & (hi > lo) & (in_base | in_window)
    out_mask, (out_starts, out_ends) = compact(real, torch.where(real, lo, 0.0), torch.where(real, hi, 0.0), max_n=None)
    return out_starts, out_ends, out_mask


class GuidedSampler:
    """Training sampler of hard and hybrid: samples around the per-ray ``depth`` where ``depth_mask``.

    ``mode="add"`` (Dense Depth Priors): the ``base`` sampler's samples plus ``n_guided`` stratified
    samples in the window ``D +- h``, merged (:func:`merge_samples`); ``h = k * sigma`` where the data
    gives a per-ray ``depth_sigma > 0``, else ``eps / 2``; ``cut_behind`` drops the base samples that
    start behind the window (an opaque surface hides them: fewer field queries). ``mode="replace"`` (the original project's
    formulation, kept to reproduce it): :func:`guided_samples` over the base sampler's ``[near, far]``
    with its ``n_samples`` (a fraction ``guided_fraction`` in ``[D - eps/2, D + eps/2]``, the rest
    uniform), masked by what ``base`` calls occupied.
    """

    def __init__(self, base, eps: float, guided_fraction: float, mode: str = "add", n_guided: int = 16,
                 window_sigmas: float = 3.0, cut_behind: bool = False):
        if mode not in ("add", "replace"):
            raise ValueError(f"guided sampling mode {mode!r}: 'add' or 'replace'")
        self.base, self.eps, self.guided_fraction = base, eps, guided_fraction
        self.mode, self.n_guided, self.window_sigmas, self.cut_behind = mode, n_guided, window_sigmas, cut_behind

    def half_width(self, depth: torch.Tensor, depth_sigma: torch.Tensor | None) -> torch.Tensor:
        """``k * sigma`` per ray where ``depth_sigma > 0``, else ``eps / 2``."""
        fixed = torch.full_like(depth, 0.5 * self.eps)
        if depth_sigma is None:
            return fixed
        return torch.where(depth_sigma > 0, self.window_sigmas * depth_sigma, fixed)

    def __call__(self, rays: RayBundle, perturb: bool = False, generator: torch.Generator | None = None,
                 depth=None, depth_mask=None, depth_sigma=None, **context):
        if depth is None or depth_mask is None:
            raise ValueError("GuidedSampler needs per-ray depth and depth_mask (sampler(rays, depth=..., depth_mask=...))")
        if self.mode == "replace":
            t_starts, t_ends = guided_samples(self.base.near, self.base.far, depth, depth_mask, self.eps,
                                              self.base.n_samples, self.guided_fraction, perturb, generator)
            return t_starts, t_ends, self.base.occupied(rays, t_starts, t_ends)
        t_starts, t_ends, mask = self.base(rays, perturb=perturb, generator=generator, **context)
        half = self.half_width(depth, depth_sigma)
        if self.cut_behind:  # nothing behind the window is seen through an opaque surface: skip those samples
            mask = mask & ~(depth_mask[:, None] & (t_starts > (depth + half)[:, None]))
        edges = window_edges(depth, depth_mask, half, self.n_guided, self.base.near, self.base.far, perturb, generator)
        return merge_samples(t_starts, t_ends, mask, edges)


class OwnDepthSampler:
    """Evaluation sampler of hard and hybrid (no ground truth at test time): render the shared
    sampler's samples, take the model's own depth ``D = sum w t / acc`` where ``acc > 0.5`` and place
    the guided samples there (elsewhere the shared sampler's samples alone, or uniform ones in
    ``replace`` mode)."""

    def __init__(self, guided: GuidedSampler):
        self.guided = guided

    def __call__(self, rays: RayBundle, perturb: bool = False, generator: torch.Generator | None = None,
                 field=None, **context):
        if field is None:
            raise ValueError("OwnDepthSampler needs the field (sampler(rays, field=...)) for its first pass")
        first = render_rays(field, rays, *self.guided.base(rays, perturb=False))
        depth = first["depth"] / first["acc"].clamp(min=1e-6)
        return self.guided(rays, perturb=False, depth=depth, depth_mask=first["acc"] > 0.5)
