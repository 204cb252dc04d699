# Generated from 02_Core_Components.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import numpy as np
import torch
from torch import Tensor

from depthnerf.rays import RayBundle, camera_rays


# %% 02_Core_Components.ipynb · cell c11
def render_weights(sigmas: Tensor, t_starts: Tensor, t_ends: Tensor, mask: Tensor | None = None
                   ) -> tuple[Tensor, Tensor]:
    """Weights ``w_i = T_i (1 - exp(-sigma_i delta_i))`` and transmittance ``T_i``, both ``[R,S]``.

    ``T_i = exp(-exclusive_cumsum(sigma delta))``, ``delta = t_end - t_start``; masked-out samples
    (``mask`` False) have zero thickness.

    >>> w, T = render_weights(torch.tensor([[1.0, 1.0]]), torch.tensor([[0., 1.]]), torch.tensor([[1., 2.]]))
    >>> [round(x, 4) for x in w[0].tolist()], [round(x, 4) for x in T[0].tolist()]
    ([0.6321, 0.2325], [1.0, 0.3679])
    """
    tau = sigmas * (t_ends - t_starts)
    if mask is not None:
        tau = torch.where(mask, tau, torch.zeros_like(tau))
    cum = torch.cumsum(tau, -1)
    transmittance = torch.exp(-torch.cat([torch.zeros_like(cum[:, :1]), cum[:, :-1]], -1))
    weights = transmittance * (1 - torch.exp(-tau))
    return weights, transmittance


def render_rays(field, rays: RayBundle, t_starts: Tensor, t_ends: Tensor, mask: Tensor | None = None,
                background=None, color_threshold: float = 0.0) -> dict[str, Tensor]:
    """Query ``field`` at interval midpoints and composite: ``w_i = T_i (1 - exp(-sigma_i delta_i))``,
    ``C = sum_i w_i c_i + (1 - A) c_bg``, ``A = sum_i w_i``, ``D = sum_i w_i t_mid,i``.

    The field sees only unmasked samples (gathered, then scattered back). ``color_threshold > 0``
    (TensoRF's appearance mask, for speed): densities first (``field.density``), then colours
    (``field.color``) only of samples whose weight ``w_i > color_threshold``; the other samples
    keep their density and weight but add no colour, so ``rgb`` changes by at most
    ``S * color_threshold`` per channel. ``background``: ``[3]``
    or ``[R,3]`` colour composited as ``rgb + (1 - acc) * background`` (None: no background, i.e.
    black). Returns ``rgb [R,3]``, ``depth [R]`` (expected ray depth), ``z_depth [R]``,
    ``depth_normalized [R]``, ``acc [R]``, ``weights``, ``transmittance``, ``sigmas``, ``t_starts``,
    ``t_ends``, ``t_mids`` (all ``[R,S]``) and ``mask``.

    An opaque wall filling ``[3, 4)`` on a ray from 2 to 6, white background:

    >>> wall = lambda p, d: (torch.full_like(p, 0.5), ((p[:, 2] < -3) & (p[:, 2] > -4)).float() * 1e3)
    >>> rays = RayBundle(torch.zeros(1, 3), torch.tensor([[0., 0, -1]]), torch.ones(1))
    >>> from depthnerf.samplers import stratified_samples
    >>> s, e = stratified_samples(rays, 2.0, 6.0, 8, perturb=False)
    >>> out = render_rays(wall, rays, s, e, background=torch.ones(3))
    >>> round(float(out["depth"]), 3), round(float(out["acc"]), 3), [round(x, 3) for x in out["rgb"][0].tolist()]
    (3.25, 1.0, [0.5, 0.5, 0.5])

    With ``color_threshold`` only the samples inside the wall are coloured (the same image):

    >>> wall.density, wall.color = (lambda p: wall(p, p)[1]), (lambda p, d: wall(p, d)[0])
    >>> out = render_rays(wall, rays, s, e, background=torch.ones(3), color_threshold=1e-4)
    >>> [round(x, 3) for x in out["rgb"][0].tolist()]
    [0.5, 0.5, 0.5]
    """
    t_mids = 0.5 * (t_starts + t_ends)
    R, S = t_mids.shape
    if color_threshold > 0:
        return _render_masked_color(field, rays, t_starts, t_ends, t_mids, mask, background, color_threshold)
    if mask is None:
        points = rays.origins[:, None] + rays.directions[:, None] * t_mids[..., None]
        rgbs, sigmas = field(points.reshape(-1, 3), rays.directions[:, None].expand(R, S, 3).reshape(-1, 3))
        sigmas = sigmas.reshape(R, S)
        weights, transmittance = render_weights(sigmas, t_starts, t_ends)
        rgb = (weights[..., None] * rgbs.reshape(R, S, 3)).sum(-2)
    else:
        ray_idx = torch.arange(R, device=t_mids.device)[:, None].expand(R, S)[mask]
        sigmas = torch.zeros(R, S, device=t_mids.device, dtype=t_mids.dtype)
        rgb = torch.zeros(R, 3, device=t_mids.device, dtype=t_mids.dtype)
        if len(ray_idx):  # fields need at least one point
            rgb_s, sigma_s = field(packed_points(rays, t_mids[mask], ray_idx), rays.directions[ray_idx])
            sigmas = sigmas.index_put((mask,), sigma_s.to(sigmas.dtype))
        weights, transmittance = render_weights(sigmas, t_starts, t_ends, mask)
        if len(ray_idx):
            rgb = accumulate_colors(weights[mask], rgb_s, ray_idx, R)
    return _composite(rays, rgb, sigmas, weights, transmittance, t_starts, t_ends, t_mids, mask, background)


def packed_points(rays: RayBundle, t: Tensor, ray_idx: Tensor) -> Tensor:
    """Points ``o + t d`` ``[N,3]`` of packed samples: depths ``t [N]`` along rays ``ray_idx [N]``."""
    return rays.origins[ray_idx] + rays.directions[ray_idx] * t[:, None]


def accumulate_colors(weights: Tensor, colors: Tensor, ray_idx: Tensor, n_rays: int) -> Tensor:
    """``sum_i w_i c_i`` per ray, ``[n_rays, 3]``, of packed samples: ``weights [N]``, ``colors [N,3]``, ``ray_idx [N]``.

    >>> accumulate_colors(torch.tensor([0.5, 0.5, 1.0]), torch.ones(3, 3), torch.tensor([0, 0, 2]), 3)[:, 0].tolist()
    [1.0, 0.0, 1.0]
    """
    out = torch.zeros(n_rays, 3, device=weights.device, dtype=weights.dtype)
    return out.index_add(0, ray_idx, weights[:, None] * colors.to(weights.dtype))


def _render_masked_color(field, rays: RayBundle, t_starts, t_ends, t_mids, mask, background,
                         color_threshold: float) -> dict[str, Tensor]:
    """``render_rays`` with ``color_threshold``: density pass, weights, colour pass on ``w > threshold``."""
    R, S = t_mids.shape
    valid = torch.ones(R, S, dtype=torch.bool, device=t_mids.device) if mask is None else mask
    ray_idx = torch.arange(R, device=t_mids.device)[:, None].expand(R, S)[valid]
    points = packed_points(rays, t_mids[valid], ray_idx)
    sigmas = torch.zeros(R, S, device=t_mids.device, dtype=t_mids.dtype)
    if len(ray_idx):  # fields need at least one point
        sigmas = sigmas.index_put((valid,), field.density(points).to(sigmas.dtype))
    weights, transmittance = render_weights(sigmas, t_starts, t_ends, mask)
    w = weights[valid]
    colored = w.detach() > color_threshold
    ray_c = ray_idx[colored]
    rgb = torch.zeros(R, 3, device=t_mids.device, dtype=t_mids.dtype)
    if len(ray_c):
        rgb = accumulate_colors(w[colored], field.color(points[colored], rays.directions[ray_c]), ray_c, R)
    return _composite(rays, rgb, sigmas, weights, transmittance, t_starts, t_ends, t_mids, mask, background)


def _composite(rays: RayBundle, rgb, sigmas, weights, transmittance, t_starts, t_ends, t_mids, mask,
               background) -> dict[str, Tensor]:
    """Colour (``rgb [R,3]`` = ``sum_i w_i c_i``, plus the background), opacity and depths of a ray batch."""
    acc = weights.sum(-1)
    if background is not None:
        background = torch.as_tensor(background, dtype=rgb.dtype, device=rgb.device)
        rgb = rgb + (1 - acc)[:, None] * background
    depth = (weights * t_mids).sum(-1)
    depth_normalized = torch.where(acc > 1e-6, depth / acc.clamp_min(1e-6), torch.zeros_like(depth))
    return dict(rgb=rgb, depth=depth, z_depth=depth * rays.z_scale, depth_normalized=depth_normalized,
                acc=acc, weights=weights, transmittance=transmittance, sigmas=sigmas,
                t_starts=t_starts, t_ends=t_ends, t_mids=t_mids, mask=mask)


# %% 02_Core_Components.ipynb · cell c39
RENDERED = ("rgb", "depth", "z_depth", "depth_normalized", "acc")


@torch.no_grad()
def render_chunked(field, sampler, rays: RayBundle, background=None, chunk: int = 8192) -> dict[str, Tensor]:
    """``field`` rendered along ``rays`` with ``sampler`` (``perturb=False``), ``chunk`` rays at a time:
    ``rgb [R,3]``, ``depth``, ``z_depth``, ``depth_normalized``, ``acc`` ``[R]``."""
    outputs: dict[str, list] = {key: [] for key in RENDERED}
    for start in range(0, len(rays), chunk):
        part = rays[start:start + chunk]
        out = render_rays(field, part, *sampler(part, perturb=False, field=field), background=background)
        for key in outputs:
            outputs[key].append(out[key])
    return {key: torch.cat(values) for key, values in outputs.items()}


def render_views(field, sampler, data, views, chunk: int = 8192) -> dict[str, np.ndarray]:
    """Whole views of a scene (``SceneData``): ``rgb [V,H,W,3]`` and ``depth``, ``z_depth``,
    ``depth_normalized``, ``acc`` ``[V,H,W]`` as numpy arrays."""
    views = list(views)
    device = next(field.parameters()).device
    rays = camera_rays(torch.from_numpy(data.intrinsics[views]).to(device),
                       torch.from_numpy(data.poses[views]).to(device), data.H, data.W)
    background = torch.as_tensor(data.background, dtype=torch.float32, device=device)
    out = render_chunked(field, sampler, rays, background, chunk)
    shape = (len(views), data.H, data.W)
    return {key: value.reshape(*shape, *value.shape[1:]).cpu().numpy() for key, value in out.items()}
