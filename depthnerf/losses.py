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


# %% 04_Soft_Depth_Supervision.ipynb · cell c19
def depth_loss(kind: str, out: dict, batch: dict, eps: float, ds_sigma: float) -> torch.Tensor:
    """The selected depth loss of a rendered batch (``out`` from ``core.render_rays``)."""
    depth, mask = batch["depth"], batch["depth_mask"]
    if kind in ("mse", "l1"):
        return expected_depth_loss(out["depth"], depth, mask, kind)
    if kind == "dsnerf":
        sigma = batch.get("depth_sigma", torch.full_like(depth, ds_sigma))
        sigma = torch.where(sigma > 0, sigma, torch.full_like(sigma, ds_sigma))
        return ray_termination_loss(out["weights"], out["t_starts"], out["t_ends"], depth, mask, sigma)
    if kind == "urf":
        return line_of_sight_loss(out["weights"], out["t_starts"], out["t_ends"], depth, mask, eps)
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
