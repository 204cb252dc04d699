# Generated from 03_Baseline_NeRF.ipynb, 04_Soft_Depth_Supervision.ipynb, 05_Hard_Depth_Sampling.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import math

import torch

from depthnerf.config import DEPTH_LOSSES


# %% 03_Baseline_NeRF.ipynb · cell c03
def photometric_loss(rgb: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over rays and channels, ``L_rgb = mean((C_hat - C)^2)``; ``rgb, target [R,3]``.

    >>> photometric_loss(torch.tensor([[0.5, 0.5, 0.5]]), torch.tensor([[0.5, 0.5, 0.6]])).item()
    0.0033333...
    """
    return torch.mean((rgb - target) ** 2)


def masked_ray_mean(per_ray: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``per_ray [R]`` over rays where ``mask [R]`` is True; exactly 0 (with graph) if none.

    >>> masked_ray_mean(torch.tensor([1.0, 3.0, 100.0]), torch.tensor([True, True, False])).item()
    2.0
    >>> masked_ray_mean(torch.tensor([5.0]), torch.tensor([False])).item()
    0.0
    """
    mask = mask.to(per_ray.dtype)
    return (per_ray * mask).sum() / mask.sum().clamp(min=1.0)


# %% 04_Soft_Depth_Supervision.ipynb · cell c11
def expected_depth_loss(depth_pred: torch.Tensor, depth_gt: torch.Tensor, mask: torch.Tensor,
                        kind: str = "mse") -> torch.Tensor:
    """``mean_{valid r} (D_hat - D)^2`` (``kind="mse"``) or ``|D_hat - D|`` (``"l1"``); shapes ``[R]``.

    >>> expected_depth_loss(torch.tensor([3.0, 4.5]), torch.tensor([3.0, 4.0]), torch.tensor([True, True])).item()
    0.125
    """
    if kind not in ("mse", "l1"):
        raise ValueError(f"unknown expected-depth loss {kind!r}: 'mse' or 'l1'")
    error = torch.where(mask, depth_pred - depth_gt, torch.zeros_like(depth_pred))
    per_ray = error.abs() if kind == "l1" else error ** 2
    return masked_ray_mean(per_ray, mask)


# %% 04_Soft_Depth_Supervision.ipynb · cell c14
def free_space_loss(weights: torch.Tensor, t_ends: torch.Tensor, depth_gt: torch.Tensor,
                    mask: torch.Tensor, eps: float) -> torch.Tensor:
    """URF's empty-space term: ``mean_r sum_{i: t_end_i <= D - eps/2} w_i^2``; ``weights [R,S]``.

    >>> w = torch.tensor([[0.5, 0.5]]); t_end = torch.tensor([[1.0, 2.0]])
    >>> free_space_loss(w, t_end, torch.tensor([3.0]), torch.tensor([True]), eps=0.4).item()
    0.5
    """
    in_front = t_ends <= (depth_gt - 0.5 * eps)[:, None]
    return masked_ray_mean((weights ** 2 * in_front).sum(-1), mask)


def line_of_sight_loss(weights: torch.Tensor, t_starts: torch.Tensor, t_ends: torch.Tensor,
                       depth_gt: torch.Tensor, mask: torch.Tensor, eps: float) -> torch.Tensor:
    """URF: free-space term plus ``sum_{|t_i - D| <= eps/2} (w_i - K(t_i - D) delta_i)^2``,
    ``K = N(0, (eps/6)^2)``.

    >>> t0 = torch.linspace(3.0, 5.0, 201)[:-1][None]; t1 = t0 + 0.01
    >>> t = 0.5 * (t0 + t1); s = 0.3 / 6
    >>> gaussian = torch.exp(-(t - 4.0) ** 2 / (2 * s ** 2)) / (s * math.sqrt(2 * math.pi)) * 0.01
    >>> line_of_sight_loss(gaussian, t0, t1, torch.tensor([4.0]), torch.tensor([True]), 0.3).item() < 1e-4
    True
    """
    t_mids = 0.5 * (t_starts + t_ends)
    offset = t_mids - depth_gt[:, None]
    std = eps / 6.0
    kernel = torch.exp(-offset ** 2 / (2 * std ** 2)) / (std * math.sqrt(2 * math.pi)) * (t_ends - t_starts)
    near = offset.abs() <= 0.5 * eps
    near_term = masked_ray_mean((((weights - kernel) ** 2) * near).sum(-1), mask)
    return free_space_loss(weights, t_ends, depth_gt, mask, eps) + near_term


# %% 04_Soft_Depth_Supervision.ipynb · cell c16
def ray_termination_loss(weights: torch.Tensor, t_starts: torch.Tensor, t_ends: torch.Tensor,
                         depth_gt: torch.Tensor, mask: torch.Tensor, sigma) -> torch.Tensor:
    """DS-NeRF: ``mean_r sum_i -log(w_i + 1e-5) exp(-(t_i - D)^2 / (2 s^2)) delta_i``.

    ``sigma`` is ``s``: a float or a per-ray tensor ``[R]`` (from reprojection error).

    >>> t0 = torch.tensor([[3.5, 3.9]]); t1 = torch.tensor([[3.9, 4.1]])
    >>> all_at_surface = ray_termination_loss(torch.tensor([[0.0, 1.0]]), t0, t1, torch.tensor([4.0]), torch.tensor([True]), 0.1)
    >>> all_in_front = ray_termination_loss(torch.tensor([[1.0, 0.0]]), t0, t1, torch.tensor([4.0]), torch.tensor([True]), 0.1)
    >>> bool(all_at_surface < all_in_front)
    True
    """
    t_mids = 0.5 * (t_starts + t_ends)
    s = torch.as_tensor(sigma, dtype=weights.dtype, device=weights.device)
    s = s[:, None] if s.ndim == 1 else s
    kernel = torch.exp(-((t_mids - depth_gt[:, None]) ** 2) / (2 * s ** 2))
    per_ray = (-torch.log(weights + 1e-5) * kernel * (t_ends - t_starts)).sum(-1)
    return masked_ray_mean(per_ray, mask)


# %% 04_Soft_Depth_Supervision.ipynb · cell c25
def gaussian_nll_loss(depth_pred: torch.Tensor, weights: torch.Tensor, t_mids: torch.Tensor, depth_gt: torch.Tensor,
                      sigma_gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Dense Depth Priors: ``mean_{active r} log s_hat^2 + (D_hat - D)^2 / s_hat^2``; ``weights, t_mids [R,S]``,
    the rest ``[R]``; active: ``mask & (|D_hat - D| > s | s_hat > s)``.

    >>> t = torch.linspace(3.0, 5.0, 21)[None]; w = torch.exp(-(t - 4.0) ** 2 / 0.02); w = w / w.sum()
    >>> d_hat = (w * t).sum(-1); ok = torch.tensor([True])
    >>> float(gaussian_nll_loss(d_hat, w, t, torch.tensor([4.0]), torch.tensor([0.5]), ok))  # within s: inactive
    0.0
    >>> bool(gaussian_nll_loss(d_hat, w, t, torch.tensor([4.5]), torch.tensor([0.05]), ok) > 0)
    True
    """
    var = (weights * (t_mids - depth_pred[:, None]) ** 2).sum(-1) + 1e-6
    active = mask & (((depth_pred - depth_gt).abs() > sigma_gt) | (var.sqrt() > sigma_gt))
    return masked_ray_mean(torch.log(var) + (depth_pred - depth_gt) ** 2 / var, active)


# %% 04_Soft_Depth_Supervision.ipynb · cell c27
def pearson_depth_loss(depth_pred: torch.Tensor, depth_gt: torch.Tensor, mask: torch.Tensor,
                       view: torch.Tensor) -> torch.Tensor:
    """``mean over views (1 - corr(D_hat, D))`` of the rays with ``mask``, grouped by ``view [R]`` (views with
    fewer than two such rays are skipped; none: exactly 0 with graph). All inputs ``[R]``.

    >>> v = torch.tensor([0, 0, 0, 1, 1, 1]); ok = torch.ones(6, dtype=torch.bool)
    >>> gt = torch.tensor([2.0, 3.0, 4.0, 2.0, 3.0, 4.0])
    >>> abs(round(float(pearson_depth_loss(3 * gt + 1, gt, ok, v)), 6))  # any scale and shift: perfect
    0.0
    >>> round(float(pearson_depth_loss(-gt, gt, ok, v)), 6)  # reversed order: the worst
    2.0
    """
    n_views = int(view.max()) + 1 if view.numel() else 1
    w = mask.to(depth_pred.dtype)

    def per_view(x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(n_views, dtype=depth_pred.dtype, device=depth_pred.device).index_add(0, view, x * w)

    count = per_view(torch.ones_like(depth_pred))
    mean_p, mean_g = per_view(depth_pred) / count.clamp(min=1), per_view(depth_gt) / count.clamp(min=1)
    dp, dg = depth_pred - mean_p[view], depth_gt - mean_g[view]
    cov, var_p, var_g = per_view(dp * dg), per_view(dp * dp), per_view(dg * dg)
    corr = cov / (var_p.sqrt() * var_g.sqrt() + 1e-8)
    used = (count >= 2).to(corr.dtype)
    return ((1 - corr) * used).sum() / used.sum().clamp(min=1.0)


def ranking_depth_loss(depth_pred: torch.Tensor, depth_gt: torch.Tensor, mask: torch.Tensor, view: torch.Tensor,
                       margin: float) -> torch.Tensor:
    """``mean over pairs max(0, m - sign(D_j - D_i) (D_hat_j - D_hat_i))`` for consecutive rays ``i, j`` of the
    same view with depth (after a stable sort by view) and ``D_i != D_j``. All inputs ``[R]``.

    >>> v = torch.zeros(3, dtype=torch.long); ok = torch.ones(3, dtype=torch.bool); gt = torch.tensor([2.0, 3.0, 4.0])
    >>> float(ranking_depth_loss(gt, gt, ok, v, 0.0)), float(ranking_depth_loss(-gt, gt, ok, v, 0.0))
    (0.0, 1.0)
    """
    order = torch.argsort(torch.where(mask, view, torch.full_like(view, -1)), stable=True)
    order = order[mask[order]]
    p, g, v = depth_pred[order], depth_gt[order], view[order]
    pair = (v[1:] == v[:-1]) & (g[1:] != g[:-1])
    hinge = torch.relu(margin - torch.sign(g[1:] - g[:-1]) * (p[1:] - p[:-1]))
    return (hinge * pair).sum() / pair.sum().clamp(min=1)


# %% 04_Soft_Depth_Supervision.ipynb · cell c19
def depth_sigma_of(batch: dict, default: float) -> torch.Tensor:
    """The batch's per-ray depth standard deviation where positive, else ``default``; ``[R]``."""
    depth = batch["depth"]
    sigma = batch.get("depth_sigma", torch.full_like(depth, default))
    return torch.where(sigma > 0, sigma, torch.full_like(sigma, default))


def depth_loss(kind: str, out: dict, batch: dict, eps: float, ds_sigma: float, margin: float = 1e-4) -> torch.Tensor:
    """The depth loss ``kind`` of a rendered batch (``out`` from ``render_rays``; ``batch`` the targets, with
    ``view [R]`` for the per-view losses)."""
    depth, mask = batch["depth"], batch["depth_mask"]
    if kind in ("mse", "l1"):
        return expected_depth_loss(out["depth"], depth, mask, kind)
    if kind == "dsnerf":
        return ray_termination_loss(out["weights"], out["t_starts"], out["t_ends"], depth, mask,
                                    depth_sigma_of(batch, ds_sigma))
    if kind == "urf":
        return line_of_sight_loss(out["weights"], out["t_starts"], out["t_ends"], depth, mask, eps)
    if kind == "gaussian_nll":
        return gaussian_nll_loss(out["depth"], out["weights"], out["t_mids"], depth, depth_sigma_of(batch, ds_sigma),
                                 mask)
    if kind == "pearson":
        return pearson_depth_loss(out["depth"], depth, mask, batch["view"])
    if kind == "ranking":
        return ranking_depth_loss(out["depth"], depth, mask, batch["view"], margin)
    raise ValueError(f"unknown depth loss {kind!r}: choose one of {DEPTH_LOSSES}")


# %% 05_Hard_Depth_Sampling.ipynb · cell c14
def surface_loss(depth_pred: torch.Tensor, weights: torch.Tensor, t_mids: torch.Tensor,
                 depth_gt: torch.Tensor, mask: torch.Tensor, var_weight: float) -> torch.Tensor:
    """``mean_r |D_hat - D| + var_weight * sum_i w_i (t_i - D_hat)^2``; ``weights, t_mids [R,S]``.

    >>> w = torch.tensor([[0.0, 1.0, 0.0]]); t = torch.tensor([[3.0, 4.0, 5.0]])
    >>> surface_loss(torch.tensor([4.0]), w, t, torch.tensor([4.0]), torch.tensor([True]), 0.1).item()
    0.0
    >>> w = torch.tensor([[0.5, 0.0, 0.5]])
    >>> round(surface_loss(torch.tensor([4.0]), w, t, torch.tensor([4.0]), torch.tensor([True]), 0.1).item(), 6)
    0.1
    """
    spread = (weights * (t_mids - depth_pred[:, None]) ** 2).sum(-1)
    return masked_ray_mean((depth_pred - depth_gt).abs() + var_weight * spread, mask)
