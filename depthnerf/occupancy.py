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
    at a jittered point in every cell, keeps an exponential moving maximum
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

    def cell_centers(self) -> Tensor:
        G = self.resolution
        idx = torch.stack(torch.meshgrid(*[torch.arange(G, device=self.aabb.device)] * 3, indexing="ij"), -1)
        return self.aabb[0] + (idx.reshape(-1, 3).float() + 0.5) / G * (self.aabb[1] - self.aabb[0])

    @torch.no_grad()
    def update(self, density_fn, threshold: float = 0.01, decay: float = 0.95, jitter: bool = True,
               chunk: int = 2**18, generator: torch.Generator | None = None) -> "OccupancyGrid":
        """Refresh from ``density_fn(points [M,3]) -> sigma [M]`` (a field's ``density`` or the field)."""
        if isinstance(density_fn, nn.Module) and hasattr(density_fn, "density"):
            density_fn = density_fn.density
        points = self.cell_centers()
        if jitter:
            cell = (self.aabb[1] - self.aabb[0]) / self.resolution
            points = points + (torch.rand(points.shape, device=points.device, generator=generator) - 0.5) * cell
        sigma = torch.cat([density_fn(p) for p in points.split(chunk)]).reshape(self.density_ema.shape)
        self.density_ema.copy_(torch.maximum(self.density_ema * decay, sigma.float()))
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

    def is_occupied(self, points: Tensor) -> Tensor:
        """``[M]`` bool: the point lies inside the box in an occupied cell."""
        x = (points - self.aabb[0]) / (self.aabb[1] - self.aabb[0])
        inside = ((x >= 0) & (x < 1)).all(-1)
        idx = (x * self.resolution).long().clamp(0, self.resolution - 1)
        return inside & self.occupied[idx[:, 0], idx[:, 1], idx[:, 2]]

    def _coarse_occupied(self, factor: int = 4) -> Tensor:
        """Occupancy max-pooled over ``factor^3`` cells, then dilated by one coarse cell."""
        occ = self.occupied[None, None].float()
        pad = (-self.resolution) % factor
        occ = F.pad(occ, (0, pad) * 3)
        coarse = F.max_pool3d(occ, factor, stride=factor)
        return F.max_pool3d(coarse, 3, stride=1, padding=1)[0, 0] > 0

    @torch.no_grad()
    def occupied_samples(self, rays: RayBundle, near, far, step_size: float, max_samples: int = 1024,
                         perturb: bool = False, generator: torch.Generator | None = None,
                         over_cap: str = "merge") -> tuple[Tensor, Tensor, Tensor]:
        """March intervals of length ``step_size`` from ``near`` to ``far``; keep those whose midpoint
        is in an occupied cell, compacted to the front of each ray.

        Returns ``t_starts, t_ends [R,S]`` and ``mask [R,S]`` (True = real sample), where ``S`` is
        the largest kept count in the batch (at most ``max_samples``; rays with more get them merged
        into that many (``over_cap="merge"``, :func:`merge_over_cap`) or keep their nearest
        ``max_samples`` (``"nearest"``)). Padding has ``t_start = t_end = 0``. ``perturb`` shifts each ray's
        march by ``U[0,1) * step_size``.

        Two levels, same result as testing every step: runs of ``f`` steps (``f * step_size`` at most
        one coarse cell of 4^3 cells) are first tested against the coarse grid dilated by one
        coarse cell (conservative: every point of a run lies within one coarse cell of its
        midpoint); only the steps of the surviving runs are tested against the fine grid.
        """
        near_r, far_r = per_ray(near, rays), per_ray(far, rays)
        t_enter, t_exit = ray_aabb_intersect(rays, self.aabb)
        lo = torch.maximum(near_r[:, 0], t_enter)[:, None]
        hi = torch.minimum(far_r[:, 0], t_exit)[:, None]
        n_steps = max(1, math.ceil(float((far_r - near_r).max()) / step_size))
        offset = (torch.rand(len(rays), 1, device=rays.device, generator=generator) if perturb
                  else torch.zeros(len(rays), 1, device=rays.device))
        factor = 4
        coarse_cell = float(((self.aabb[1] - self.aabb[0]) / self.resolution).min()) * factor
        run = max(1, int(coarse_cell // step_size))
        # coarse pass: runs of `run` steps
        j = torch.arange(math.ceil(n_steps / run), device=rays.device, dtype=torch.float32)
        run_mid = near_r + (j * run + offset + run / 2) * step_size
        half = run * step_size / 2
        live = (run_mid + half >= lo) & (run_mid - half < hi)
        if live.any():
            coarse = self._coarse_occupied(factor)
            x = (rays.origins[:, None] + rays.directions[:, None] * run_mid[..., None])[live]
            idx = ((x - self.aabb[0]) / (self.aabb[1] - self.aabb[0]) * (self.resolution / factor)).floor().long()
            idx = idx.clamp(0, coarse.shape[0] - 1)
            live[live.clone()] = coarse[idx[:, 0], idx[:, 1], idx[:, 2]]
        runs, (run_idx,) = compact(live, j[None].expand_as(live), max_n=None)
        # fine pass: every step of the surviving runs
        k = (run_idx[..., None] * run + torch.arange(run, device=rays.device)).reshape(len(rays), -1)
        starts = near_r + (k + offset) * step_size
        ends = torch.minimum(starts + step_size, far_r)
        mids = 0.5 * (starts + ends)
        candidate = runs.repeat_interleave(run, -1) & (k < n_steps) & (mids >= lo) & (mids < hi)
        mask = torch.zeros_like(candidate)
        if candidate.any():
            points = rays.origins[:, None] + rays.directions[:, None] * mids[..., None]
            mask[candidate] = self.is_occupied(points[candidate])
        if over_cap == "merge":
            return merge_over_cap(mask, starts, ends, max_samples)
        out_mask, (out_starts, out_ends) = compact(mask, starts, ends, max_n=max_samples)
        return out_starts, out_ends, out_mask


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


def merge_over_cap(mask: Tensor, starts: Tensor, ends: Tensor, max_n: int) -> tuple[Tensor, Tensor, Tensor]:
    """Compact the intervals where ``mask [R,S]`` is True to the front of each row, as :func:`compact`; a row
    with ``n > max_n`` of them has them joined into ``max_n`` consecutive groups (the ``j``-th interval, from 0,
    goes to group ``floor(j * max_n / n)``: groups of ``floor(n / max_n)`` or ``ceil(n / max_n)``), each group one
    interval from its first start to its last end, so that ``max_n`` intervals span the whole ray instead of
    its nearest ``max_n``. Returns ``t_starts, t_ends, mask [R,S']``, zero in the padding.

    >>> mask = torch.tensor([[True, True, True, True, True], [True, False, True, False, False]])
    >>> edges = torch.arange(6.0).expand(2, 6)
    >>> s, e, m = merge_over_cap(mask, edges[:, :5], edges[:, 1:], 2)
    >>> s.tolist(), e.tolist(), m.tolist()
    ([[0.0, 3.0], [0.0, 2.0]], [[3.0, 5.0], [1.0, 3.0]], [[True, True], [True, True]])
    """
    R = mask.shape[0]
    counts = mask.sum(-1, keepdim=True)
    position = mask.cumsum(-1) - 1
    group = torch.where(counts > max_n, torch.div(position * max_n, counts.clamp(min=1), rounding_mode="floor"),
                        position)
    n_out = max(1, min(int(counts.max()) if counts.numel() else 1, max_n))
    flat = (torch.arange(R, device=mask.device)[:, None] * n_out + group)[mask]
    out_mask = torch.zeros(R * n_out, dtype=torch.bool, device=mask.device)
    out_mask[flat] = True
    first = torch.full((R * n_out,), math.inf, dtype=starts.dtype, device=starts.device)
    last = torch.full((R * n_out,), -math.inf, dtype=ends.dtype, device=ends.device)
    first = first.scatter_reduce(0, flat, starts[mask], "amin")
    last = last.scatter_reduce(0, flat, ends[mask], "amax")
    zero = torch.zeros((), dtype=starts.dtype, device=starts.device)
    return (torch.where(out_mask, first, zero).reshape(R, n_out), torch.where(out_mask, last, zero).reshape(R, n_out),
            out_mask.reshape(R, n_out))
