# Generated from 05_Hard_Depth_Sampling.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import torch

from depthnerf import core
from depthnerf.soft import free_space_loss, masked_ray_mean
from depthnerf.train import RaySampler, Strategy, photometric_loss


# %% 05_Hard_Depth_Sampling.ipynb · cell c02
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


class HardStrategy(Strategy):
    """Depth-guided samples; ``L = L_rgb + hard_weight * (L_free + L_surface)``."""

    name = "hard"
    needs_depth = True
    defaults = {"hard_weight": 0.005, "eps": 0.3, "guided_fraction": 0.75, "surface_var_weight": 0.1}

    def guided(self, sampler: RaySampler, rays: core.RayBundle, depth, valid, perturb, generator=None):
        t_starts, t_ends = guided_samples(sampler.near, sampler.far, depth, valid, self.params["eps"],
                                          sampler.n_samples, self.params["guided_fraction"], perturb,
                                          generator)
        return t_starts, t_ends, sampler.occupied(rays, t_starts, t_ends)

    def train_samples(self, sampler, rays, batch, generator):
        return self.guided(sampler, rays, batch["depth"], batch["depth_mask"], True, generator)

    def eval_samples(self, sampler, field, rays, background):
        coarse = core.render_rays(field, rays, *sampler(rays, perturb=False), background=background)
        opaque = coarse["acc"] > 0.5
        depth = coarse["depth"] / coarse["acc"].clamp(min=1e-6)
        return self.guided(sampler, rays, depth, opaque, perturb=False)

    def hard_terms(self, out: dict, batch: dict) -> torch.Tensor:
        p = self.params
        free = free_space_loss(out["weights"], out["t_ends"], batch["depth"], batch["depth_mask"], p["eps"])
        surface = surface_loss(out["depth"], out["weights"], out["t_mids"], batch["depth"],
                               batch["depth_mask"], p["surface_var_weight"])
        return p["hard_weight"] * (free + surface)

    def losses(self, out: dict, batch: dict) -> dict[str, torch.Tensor]:
        return {"rgb": photometric_loss(out["rgb"], batch["rgb"]), "hard": self.hard_terms(out, batch)}
