# Generated from 02_Core_Components.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from depthnerf.rays import RayBundle, per_ray, ray_aabb_intersect


# %% 02_Core_Components.ipynb · cell c35
class OccupancyGrid(nn.Module):
    """A ``resolution^3`` boolean grid over ``aabb [2,3]`` saying where the field holds density.

    Starts fully occupied. :meth:`update` evaluates the field's density
    at a jittered point in every cell that :meth:`carve` allows (all cells without it; the others count
    as empty, density 0), keeps an exponential moving maximum
    ``ema = max(decay * ema, sigma)`` and marks ``occupied = ema > min(threshold, mean(ema))``
    (the ``mean`` guard, from nerfacc, stops an early, nearly-empty field from emptying the grid).
    :meth:`carve` additionally restricts cells to a visual hull from alpha masks.

    >>> grid = OccupancyGrid([[-1., -1, -1], [1, 1, 1]], resolution=4)
    >>> grid.occupied.sum().item()
    64
    >>> _ = grid.update(lambda x: (x.norm(dim=-1) < 0.5).float() * 10, threshold=1.0, jitter=False)
    >>> grid.occupied.sum().item()  # the 8 cells around the origin
    8
    """

    def __init__(self, aabb, resolution: int = 128):
        super().__init__()
        self.register_buffer("aabb", torch.as_tensor(aabb, dtype=torch.float32).reshape(2, 3).clone())
        self.resolution = int(resolution)
        G = self.resolution
        self.register_buffer("density_ema", torch.zeros(G, G, G))
        self.register_buffer("allowed", torch.ones(G, G, G, dtype=torch.bool))
        self.register_buffer("occupied", torch.ones(G, G, G, dtype=torch.bool))
        self._coarse: tuple | None = None  # (key of `occupied`'s contents, coarse grid): see _coarse_occupied

    def cell_centers(self, cells: Tensor | None = None) -> Tensor:
        """Centres ``[M,3]`` of the cells with flat indices ``cells [M]`` (None: all, in ``[G,G,G]`` order)."""
        G = self.resolution
        if cells is None:
            cells = torch.arange(G ** 3, device=self.aabb.device)
        idx = torch.stack([cells // (G * G), cells // G % G, cells % G], -1)
        return self.aabb[0] + (idx.float() + 0.5) / G * (self.aabb[1] - self.aabb[0])

    @torch.no_grad()
    def update(self, density_fn, threshold: float = 0.01, decay: float = 0.95, jitter: bool = True,
               chunk: int = 2**18, generator: torch.Generator | None = None) -> "OccupancyGrid":
        """Refresh from ``density_fn(points [M,3]) -> sigma [M]`` (a field's ``density`` or the field)."""
        if isinstance(density_fn, nn.Module) and hasattr(density_fn, "density"):
            density_fn = density_fn.density
        cells = torch.nonzero(self.allowed.reshape(-1))[:, 0]  # carved-away cells can never be occupied
        points = self.cell_centers(cells)
        if jitter:
            cell = (self.aabb[1] - self.aabb[0]) / self.resolution
            points = points + (torch.rand(points.shape, device=points.device, generator=generator) - 0.5) * cell
        sigma = torch.zeros(self.resolution ** 3, device=points.device)
        if len(cells):
            sigma[cells] = torch.cat([density_fn(p) for p in points.split(chunk)]).float()
        self.density_ema.copy_(torch.maximum(self.density_ema * decay, sigma.reshape(self.density_ema.shape)))
        self.occupied.copy_((self.density_ema > min(threshold, float(self.density_ema.mean()))) & self.allowed)
        return self

    @torch.no_grad()
    def carve(self, alphas, intrinsics, c2w, min_alpha: float = 0.01, dilate: int = 1) -> "OccupancyGrid":
        """Visual hull: keep cells whose centre projects onto ``alpha > min_alpha`` in every view that
        sees it (``alphas [N,H,W]``, poses as in :func:`camera_rays`), dilated by ``dilate`` cells."""
        alphas = torch.as_tensor(np.asarray(alphas), dtype=torch.float32, device=self.aabb.device)
        K = torch.as_tensor(np.asarray(intrinsics), dtype=torch.float32, device=self.aabb.device)
        c2w = torch.as_tensor(np.asarray(c2w), dtype=torch.float32, device=self.aabb.device)
        N, H, W = alphas.shape
        K = K.expand(N, 3, 3) if K.ndim == 2 else K
        points = self.cell_centers()
        keep = torch.ones(points.shape[0], dtype=torch.bool, device=points.device)
        for view in range(N):  # one matrix product per view over all cells
            R, t = c2w[view, :3, :3], c2w[view, :3, 3]
            p = (points - t) @ R  # world -> camera (OpenGL)
            in_front = p[:, 2] < 0
            z = (-p[:, 2]).clamp_min(1e-6)
            col = torch.floor(K[view, 0, 0] * p[:, 0] / z + K[view, 0, 2]).long()
            row = torch.floor(-K[view, 1, 1] * p[:, 1] / z + K[view, 1, 2]).long()
            seen = in_front & (col >= 0) & (col < W) & (row >= 0) & (row < H)
            a = alphas[view][row.clamp(0, H - 1), col.clamp(0, W - 1)]
            keep &= ~seen | (a > min_alpha)
        hull = keep.reshape(self.allowed.shape)
        if dilate > 0:
            k = 2 * dilate + 1
            hull = F.max_pool3d(hull[None, None].float(), k, stride=1, padding=dilate)[0, 0] > 0
        self.allowed.copy_(hull)
        self.occupied &= hull
        return self

    def allowed_box(self, margin: int = 1) -> Tensor:
        """The bounding box ``[2,3]`` of the cells :meth:`carve` allows, grown by ``margin`` cells on
        each side and clipped to the grid's box (exactly the grid's box where it reaches its faces, and
        when no cell is allowed).

        >>> grid = OccupancyGrid([[-1., -1, -1], [1, 1, 1]], resolution=4)
        >>> _ = grid.allowed.zero_(); grid.allowed[1, 1:3, 2] = True
        >>> grid.allowed_box(margin=0).tolist(), grid.allowed_box().tolist()
        ([[-0.5, -0.5, 0.0], [0.0, 0.5, 0.5]], [[-1.0, -1.0, -0.5], [0.5, 1.0, 1.0]])
        """
        cells = torch.nonzero(self.allowed)
        if not len(cells):
            return self.aabb.clone()
        G = self.resolution
        lo = (cells.min(0).values - margin).clamp(0, G) / G
        hi = (cells.max(0).values + 1 + margin).clamp(0, G) / G
        return torch.stack([torch.lerp(self.aabb[0], self.aabb[1], lo), torch.lerp(self.aabb[0], self.aabb[1], hi)])

    def is_occupied(self, points: Tensor) -> Tensor:
        """``[M]`` bool: the point lies inside the box in an occupied cell."""
        x = (points - self.aabb[0]) / (self.aabb[1] - self.aabb[0])
        inside = ((x >= 0) & (x < 1)).all(-1)
        G = self.resolution
        idx = (x * G).long().clamp(0, G - 1)
        return inside & self.occupied.reshape(-1)[(idx[:, 0] * G + idx[:, 1]) * G + idx[:, 2]]

    def _coarse_occupied(self, factor: int = 4) -> Tensor:
        """Occupancy max-pooled over ``factor^3`` cells, then dilated by one coarse cell; computed again only
        when ``occupied`` changed (its storage or its version counter, which every in-place write bumps)."""
        key = (self.occupied.data_ptr(), self.occupied._version, factor)
        if self._coarse is None or self._coarse[0] != key:
            occ = F.pad(self.occupied[None, None].float(), (0, (-self.resolution) % factor) * 3)
            coarse = F.max_pool3d(occ, factor, stride=factor)
            self._coarse = key, F.max_pool3d(coarse, 3, stride=1, padding=1)[0, 0] > 0
        return self._coarse[1]

    @torch.no_grad()
    def occupied_samples(self, rays: RayBundle, near, far, step_size: float, max_samples: int = 1024,
                         perturb: bool = False, generator: torch.Generator | None = None,
                         over_cap: str = "merge") -> tuple[Tensor, Tensor, Tensor]:
        """March intervals of length ``step_size`` from ``near`` to ``far``; keep those whose midpoint
        is in an occupied cell, compacted to the front of each ray.

        Returns ``t_starts, t_ends [R,S]`` and ``mask [R,S]`` (True = real sample), where ``S`` is
        the largest kept count in the batch (at most ``max_samples``; rays with more get them merged
        into that many (``over_cap="merge"``) or keep their nearest ``max_samples`` (``"nearest"``),
        :func:`pad_samples`). Padding has ``t_start = t_end = 0``. ``perturb`` shifts each ray's
        march by ``U[0,1) * step_size``.

        Two levels, same result as testing every step: runs of ``f`` steps (``f * step_size`` at most
        one coarse cell of 4^3 cells) are first tested against the coarse grid dilated by one
        coarse cell (conservative: every point of a run lies within one coarse cell of its
        midpoint); only the steps of the surviving runs are tested against the fine grid. Past the
        coarse pass the steps are packed, a flat list with ray indices as in nerfacc, so the work
        follows the surviving steps rather than the longest ray in the batch.
        """
        near_r, far_r = per_ray(near, rays), per_ray(far, rays)
        t_enter, t_exit = ray_aabb_intersect(rays, self.aabb)
        lo, hi = torch.maximum(near_r[:, 0], t_enter), torch.minimum(far_r[:, 0], t_exit)
        n_steps = max(1, math.ceil(float((far_r - near_r).max()) / step_size))
        offset = (torch.rand(len(rays), 1, device=rays.device, generator=generator) if perturb
                  else torch.zeros(len(rays), 1, device=rays.device))
        factor = 4
        coarse_cell = float(((self.aabb[1] - self.aabb[0]) / self.resolution).min()) * factor
        run = max(1, int(coarse_cell // step_size))
        # coarse pass: runs of `run` steps, [R, J]
        j = torch.arange(math.ceil(n_steps / run), device=rays.device, dtype=torch.float32)
        run_mid = near_r + (j * run + offset + run / 2) * step_size
        half = run * step_size / 2
        # (flat indices throughout: each boolean selection is one nonzero, then plain gathers)
        live = torch.nonzero(((run_mid + half >= lo[:, None]) & (run_mid - half < hi[:, None])).reshape(-1))[:, 0]
        ray, run_idx = live // run_mid.shape[1], live % run_mid.shape[1]
        x = rays.origins[ray] + rays.directions[ray] * run_mid.reshape(-1)[live][:, None]
        coarse = self._coarse_occupied(factor)
        C = coarse.shape[0]
        cell = ((x - self.aabb[0]) / (self.aabb[1] - self.aabb[0]) * (self.resolution / factor)).floor().long()
        cell = cell.clamp(0, C - 1)
        live = torch.nonzero(coarse.reshape(-1)[(cell[:, 0] * C + cell[:, 1]) * C + cell[:, 2]])[:, 0]
        ray, run_idx = ray[live], run_idx[live]
        # fine pass, packed: the steps of the surviving runs, [L, run], ordered by ray, then by t
        k = run_idx[:, None] * run + torch.arange(run, device=rays.device)
        starts = near_r[ray] + (k + offset[ray]) * step_size
        ends = torch.minimum(starts + step_size, far_r[ray])
        mids = 0.5 * (starts + ends)
        candidate = (k < n_steps) & (mids >= lo[ray, None]) & (mids < hi[ray, None])
        step = torch.nonzero(candidate.reshape(-1))[:, 0]
        points = (rays.origins[ray, None] + rays.directions[ray, None] * mids[..., None]).reshape(-1, 3)[step]
        step = step[torch.nonzero(self.is_occupied(points))[:, 0]]
        return pad_samples(ray[step // run], starts.reshape(-1)[step], ends.reshape(-1)[step], len(rays), max_samples,
                           over_cap)


def compact(mask: Tensor, *values: Tensor, max_n: int | None) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Move the entries where ``mask [R,S]`` is True to the front of each row (order kept), keep at
    most ``max_n`` per row; returns the new mask ``[R,S']`` (``S'`` = largest count, at least 1) and
    the values, zero in the padding."""
    position = mask.cumsum(-1) - 1
    keep = mask if max_n is None else mask & (position < max_n)
    counts = keep.sum(-1)
    n_out = max(1, int(counts.max()) if counts.numel() else 1)
    rows = torch.arange(mask.shape[0], device=mask.device)[:, None].expand_as(keep)[keep]
    slot = position[keep]
    out_mask = torch.zeros(mask.shape[0], n_out, dtype=torch.bool, device=mask.device)
    out_mask[rows, slot] = True
    outs = []
    for v in values:
        out = torch.zeros(mask.shape[0], n_out, dtype=v.dtype, device=v.device)
        out[rows, slot] = v[keep]
        outs.append(out)
    return out_mask, tuple(outs)


def pad_samples(ray_indices: Tensor, starts: Tensor, ends: Tensor, n_rays: int, max_n: int,
                over_cap: str = "merge") -> tuple[Tensor, Tensor, Tensor]:
    """Packed intervals ``starts, ends [N]`` of rays ``ray_indices [N]`` (grouped by ray, in order of ``t``
    within a ray) -> ``t_starts, t_ends, mask [n_rays, S]``, compacted to the front of each row, zero in the
    padding; ``S`` is the largest count, at most ``max_n``. A ray with ``n > max_n`` intervals keeps its
    nearest ``max_n`` (``over_cap="nearest"``) or has them joined into ``max_n`` consecutive groups
    (``"merge"``: the ``j``-th interval, from 0, goes to group ``floor(j * max_n / n)``: groups of
    ``floor(n / max_n)`` or ``ceil(n / max_n)``), each group one interval from its first start to its last
    end, so that ``max_n`` intervals span the whole ray instead of its nearest ``max_n``.

    Ray 0 has five intervals ``[0,1) ... [4,5)``, ray 1 two, ``[0,1)`` and ``[2,3)``; at most two per ray:

    >>> ray = torch.tensor([0, 0, 0, 0, 0, 1, 1])
    >>> starts, ends = torch.tensor([0., 1, 2, 3, 4, 0, 2]), torch.tensor([1., 2, 3, 4, 5, 1, 3])
    >>> s, e, m = pad_samples(ray, starts, ends, 2, 2)
    >>> s.tolist(), e.tolist(), m.tolist()
    ([[0.0, 3.0], [0.0, 2.0]], [[3.0, 5.0], [1.0, 3.0]], [[True, True], [True, True]])
    >>> pad_samples(ray, starts, ends, 2, 2, over_cap="nearest")[1].tolist()
    [[1.0, 2.0], [1.0, 3.0]]
    """
    if over_cap not in ("merge", "nearest"):
        raise ValueError(f"over_cap = {over_cap!r}: choose 'merge' or 'nearest'")
    counts = torch.bincount(ray_indices, minlength=n_rays)
    position = torch.arange(len(ray_indices), device=ray_indices.device) - (counts.cumsum(0) - counts)[ray_indices]
    n = counts[ray_indices]
    if over_cap == "merge":
        slot = torch.where(n > max_n, torch.div(position * max_n, n.clamp(min=1), rounding_mode="floor"), position)
    else:
        keep = position < max_n
        ray_indices, starts, ends, slot = ray_indices[keep], starts[keep], ends[keep], position[keep]
    n_out = max(1, min(int(counts.max()) if counts.numel() else 1, max_n))
    flat = ray_indices * n_out + slot
    mask = torch.zeros(n_rays * n_out, dtype=torch.bool, device=starts.device)
    mask[flat] = True
    first = torch.full((n_rays * n_out,), math.inf, dtype=starts.dtype, device=starts.device)
    last = torch.full((n_rays * n_out,), -math.inf, dtype=ends.dtype, device=ends.device)
    first = first.scatter_reduce(0, flat, starts, "amin")
    last = last.scatter_reduce(0, flat, ends, "amax")
    zero = torch.zeros((), dtype=starts.dtype, device=starts.device)
    return (torch.where(mask, first, zero).reshape(n_rays, n_out), torch.where(mask, last, zero).reshape(n_rays, n_out),
            mask.reshape(n_rays, n_out))
