# Generated from 02_Core_Components.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn


# %% 02_Core_Components.ipynb · cell c03
@dataclass(frozen=True)
class RayBundle:
    """Rays ``o + t d`` with unit ``directions``; ``z_scale`` turns ray depth into camera z-depth.

    Shapes: ``origins [R,3]``, ``directions [R,3]``, ``z_scale [R]``.

    >>> rays = RayBundle(torch.zeros(4, 3), torch.tensor([[0., 0., -1.]]).repeat(4, 1), torch.ones(4))
    >>> len(rays), len(rays[1:3]), rays[torch.tensor([0, 3])].origins.shape
    (4, 2, torch.Size([2, 3]))
    """

    origins: Tensor
    directions: Tensor
    z_scale: Tensor

    def __post_init__(self):
        n = self.origins.shape[0]
        if self.origins.shape != (n, 3) or self.directions.shape != (n, 3) or self.z_scale.shape != (n,):
            raise ValueError(
                f"RayBundle needs origins [R,3], directions [R,3], z_scale [R]; got "
                f"{tuple(self.origins.shape)}, {tuple(self.directions.shape)}, {tuple(self.z_scale.shape)}"
            )

    def __len__(self) -> int:
        return self.origins.shape[0]

    def __getitem__(self, index) -> "RayBundle":
        if isinstance(index, int):
            index = slice(index, index + 1)
        return RayBundle(self.origins[index], self.directions[index], self.z_scale[index])

    def to(self, device) -> "RayBundle":
        return RayBundle(self.origins.to(device), self.directions.to(device), self.z_scale.to(device))

    @property
    def device(self) -> torch.device:
        return self.origins.device

    @staticmethod
    def cat(bundles: list["RayBundle"]) -> "RayBundle":
        """Concatenate bundles ray-wise."""
        return RayBundle(*(torch.cat([getattr(b, f) for b in bundles]) for f in ("origins", "directions", "z_scale")))


def camera_rays(intrinsics, c2w, H: int, W: int, pixels=None) -> RayBundle:
    """Rays through pixel centres of camera-to-world poses (OpenGL convention, see above).

    ``intrinsics [N,3,3]`` or ``[3,3]`` (shared), ``c2w [N,4,4]`` or ``[4,4]``; numpy or torch.
    ``pixels=None`` gives every pixel of every view, view-major then row-major (``N*H*W`` rays);
    ``pixels=(view_idx [R], row [R], col [R])`` gives those pixels only.

    The centre pixel of an odd-sized image with ``cx = W/2`` looks along the optical axis ``-z``:

    >>> K = torch.tensor([[10., 0, 1.5], [0, 10., 1.5], [0, 0, 1]])
    >>> rays = camera_rays(K, torch.eye(4), 3, 3)
    >>> rays[4].directions, rays[4].z_scale
    (tensor([[ 0.,  0., -1.]]), tensor([1.]))
    >>> round(float(rays[0].z_scale), 5)  # corner: cos of the angle to the axis, 1/sqrt(1 + 2 * 0.1**2)
    0.99015
    """
    c2w = torch.as_tensor(np.asarray(c2w) if not isinstance(c2w, Tensor) else c2w, dtype=torch.float32)
    K = torch.as_tensor(np.asarray(intrinsics) if not isinstance(intrinsics, Tensor) else intrinsics,
                        dtype=torch.float32, device=c2w.device)
    if c2w.ndim == 2:
        c2w = c2w[None]
    if c2w.shape[1:] not in ((4, 4), (3, 4)):
        raise ValueError(f"camera_rays: c2w must be [N,4,4] or [4,4], got {tuple(c2w.shape)}")
    if K.ndim == 2:
        K = K[None].expand(c2w.shape[0], 3, 3)
    if K.shape != (c2w.shape[0], 3, 3):
        raise ValueError(f"camera_rays: intrinsics {tuple(K.shape)} do not match {c2w.shape[0]} poses")
    if pixels is None:
        view, row, col = torch.meshgrid(torch.arange(c2w.shape[0], device=c2w.device),
                                        torch.arange(H, device=c2w.device),
                                        torch.arange(W, device=c2w.device), indexing="ij")
        view, row, col = view.reshape(-1), row.reshape(-1), col.reshape(-1)
    else:
        view, row, col = (torch.as_tensor(p, device=c2w.device).long() for p in pixels)
    K = K[view]
    u, v = col.float() + 0.5, row.float() + 0.5
    d_cam = torch.stack([(u - K[:, 0, 2]) / K[:, 0, 0], -(v - K[:, 1, 2]) / K[:, 1, 1], -torch.ones_like(u)], -1)
    inv_norm = torch.rsqrt((d_cam * d_cam).sum(-1))
    d_cam = d_cam * inv_norm[:, None]
    pose = c2w[view]
    directions = torch.einsum("rij,rj->ri", pose[:, :3, :3], d_cam)
    directions = directions / directions.norm(dim=-1, keepdim=True)
    return RayBundle(pose[:, :3, 3].contiguous(), directions, inv_norm)


def ndc_rays(rays: RayBundle, H: int, W: int, focal: float, near: float = 1.0) -> RayBundle:
    """Original NeRF's normalised device coordinates for forward-facing scenes (LLFF).

    Origins are first moved to the plane ``z = -near``; then ``t' in [0, 1]`` spans world depth
    ``near .. infinity``. NDC directions are NOT unit length and NDC ``t`` is not a distance:
    ``z_scale`` is carried over unchanged from the input rays (it still converts a *world* ray
    depth to z-depth), so depth supervision must be done in world units, not in NDC.
    """
    o, d = rays.origins, rays.directions
    t = -(near + o[:, 2]) / d[:, 2]
    o = o + t[:, None] * d
    ox, oy, oz = o.unbind(-1)
    dx, dy, dz = d.unbind(-1)
    o_ndc = torch.stack([-focal / (W / 2) * ox / oz, -focal / (H / 2) * oy / oz, 1 + 2 * near / oz], -1)
    d_ndc = torch.stack([-focal / (W / 2) * (dx / dz - ox / oz), -focal / (H / 2) * (dy / dz - oy / oz),
                         -2 * near / oz], -1)
    return RayBundle(o_ndc, d_ndc, rays.z_scale)


# %% 02_Core_Components.ipynb · cell c07
def positional_encoding(x: Tensor, n_freqs: int) -> Tensor:
    """``[x, sin(2^k x), cos(2^k x) for k < n_freqs]``: ``[..., D] -> [..., D (1 + 2 n_freqs)]``.

    >>> positional_encoding(torch.zeros(5, 3), 10).shape
    torch.Size([5, 63])
    >>> positional_encoding(torch.tensor([[math.pi / 2]]), 1)
    tensor([[ 1.5708e+00,  1.0000e+00, -4.3711e-08]])
    """
    scales = 2.0 ** torch.arange(n_freqs, device=x.device, dtype=x.dtype)
    angles = (x[..., None, :] * scales[:, None]).flatten(-2)
    return torch.cat([x, torch.sin(angles), torch.cos(angles)], -1)


class NeRFMLP(nn.Module):
    """The NeRF paper's field: 8x256 MLP, skip at layer 4, PE 10/4 frequencies, view-dependent colour.

    >>> field = NeRFMLP()
    >>> rgb, sigma = field(torch.zeros(2, 3), torch.tensor([[0., 0., 1.]] * 2))
    >>> rgb.shape, sigma.shape, bool((sigma >= 0).all())
    (torch.Size([2, 3]), torch.Size([2]), True)
    """

    def __init__(self, depth: int = 8, width: int = 256, pos_freqs: int = 10, dir_freqs: int = 4, skip: int = 4):
        super().__init__()
        self.pos_freqs, self.dir_freqs, self.skip = pos_freqs, dir_freqs, skip
        pos_dim, dir_dim = 3 * (1 + 2 * pos_freqs), 3 * (1 + 2 * dir_freqs)
        self.layers = nn.ModuleList(
            [nn.Linear(pos_dim, width)]
            + [nn.Linear(width + (pos_dim if i == skip + 1 else 0), width) for i in range(1, depth)]
        )
        self.sigma_head = nn.Linear(width, 1)
        self.feature = nn.Linear(width, width)
        self.view_layer = nn.Linear(width + dir_dim, width // 2)
        self.rgb_head = nn.Linear(width // 2, 3)

    def _trunk(self, points: Tensor) -> Tensor:
        x_enc = positional_encoding(points, self.pos_freqs)
        h = x_enc
        for i, layer in enumerate(self.layers):
            if i == self.skip + 1:
                h = torch.cat([x_enc, h], -1)
            h = F.relu(layer(h))
        return h

    def density(self, points: Tensor) -> Tensor:
        return F.relu(self.sigma_head(self._trunk(points))).squeeze(-1)

    def forward(self, points: Tensor, directions: Tensor) -> tuple[Tensor, Tensor]:
        h = self._trunk(points)
        sigma = F.relu(self.sigma_head(h)).squeeze(-1)
        h = torch.cat([self.feature(h), positional_encoding(directions, self.dir_freqs)], -1)
        rgb = torch.sigmoid(self.rgb_head(F.relu(self.view_layer(h))))
        return rgb, sigma

    def color(self, points: Tensor, directions: Tensor) -> Tensor:
        """Colour alone ``[M,3]`` (the MLP's trunk is shared, so this costs a full query)."""
        return self(points, directions)[0]


# (plane axes, line axis) of the three vector-matrix pairs: planes XY, XZ, YZ with lines Z, Y, X
_VM_PLANES = ((0, 1), (0, 2), (1, 2))
_VM_LINES = (2, 1, 0)


class TensoRFField(nn.Module):
    """TensoRF-VM grid field inside ``aabb [2,3]``; pure PyTorch (``grid_sample``), fast on a CPU.

    ``resolution`` grid points per axis, ``density_components`` / ``app_components`` channels per
    plane-line pair, ``app_dim`` basis outputs decoded by a ``hidden``-wide MLP with view PE of
    ``view_freqs`` frequencies.

    >>> field = TensoRFField(torch.tensor([[-1., -1, -1], [1, 1, 1]]), resolution=16)
    >>> with torch.no_grad():
    ...     rgb, sigma = field(torch.tensor([[0., 0, 0], [2, 0, 0]]), torch.tensor([[0., 0, 1]] * 2))
    >>> rgb.shape, float(sigma[1]), bool(sigma[0] < 0.01)  # outside the box: 0; empty at start
    (torch.Size([2, 3]), 0.0, True)
    """

    def __init__(self, aabb, resolution: int = 128, density_components: int = 8, app_components: int = 24,
                 app_dim: int = 27, hidden: int = 64, hidden_layers: int = 2, view_freqs: int = 2, density_shift: float = -10.0,
                 density_scale: float = 25.0, init_scale: float = 0.1):
        super().__init__()
        self.register_buffer("aabb", torch.as_tensor(aabb, dtype=torch.float32).reshape(2, 3).clone())
        self.resolution = int(resolution)
        self.density_shift, self.density_scale, self.view_freqs = density_shift, density_scale, view_freqs
        self.n_density = density_components
        G = self.resolution
        self.density_planes = nn.Parameter(init_scale * torch.randn(3, density_components, G, G))
        self.density_lines = nn.Parameter(init_scale * torch.randn(3, density_components, G, 1))
        self.app_planes = nn.Parameter(init_scale * torch.randn(3, app_components, G, G))
        self.app_lines = nn.Parameter(init_scale * torch.randn(3, app_components, G, 1))
        self.basis = nn.Linear(3 * app_components, app_dim, bias=False)
        widths = [app_dim + 3 * (1 + 2 * view_freqs)] + [hidden] * hidden_layers
        self.decoder = nn.Sequential(
            *[m for a, b in zip(widths[:-1], widths[1:]) for m in (nn.Linear(a, b), nn.ReLU(inplace=True))],
            nn.Linear(widths[-1], 3),
        )

    def normalize(self, points: Tensor) -> Tensor:
        """Box coordinates in ``[-1,1]^3`` (outside the box: beyond +-1)."""
        return (points - self.aabb[0]) / (self.aabb[1] - self.aabb[0]) * 2 - 1

    @staticmethod
    def _vm_features(planes: Tensor, lines: Tensor, x: Tensor, group: int = 8) -> Tensor:
        """Products of plane and line samples, ``[3, C, M]``, for normalised points ``x [M,3]``.

        ``grid_sample`` runs on groups of ``group`` channels (as extra batch entries): its CPU
        backward scatters into the whole ``[C,G,G]`` gradient per batch entry, and small groups
        keep that in cache (about 2x faster for 64 channels at G = 128 on 2 cores).
        """
        C, G, M = planes.shape[1], planes.shape[2], x.shape[0]
        k = C // group if C % group == 0 else 1
        plane_xy = torch.stack([x[:, list(ab)] for ab in _VM_PLANES])[:, None, :, None]  # [3,1,M,1,2]
        line_xy = torch.stack([torch.stack([torch.zeros_like(x[:, c]), x[:, c]], -1) for c in _VM_LINES])
        line_xy = line_xy[:, None, :, None]
        p = F.grid_sample(planes.reshape(3 * k, C // k, G, G), plane_xy.expand(3, k, M, 1, 2).reshape(3 * k, M, 1, 2),
                          mode="bilinear", align_corners=True)
        v = F.grid_sample(lines.reshape(3 * k, C // k, G, 1), line_xy.expand(3, k, M, 1, 2).reshape(3 * k, M, 1, 2),
                          mode="bilinear", align_corners=True)
        return (p * v).reshape(3, C, M)

    def _features(self, points: Tensor, with_app: bool) -> tuple[Tensor, Tensor | None, Tensor]:
        x = self.normalize(points)
        inside = (x.abs() <= 1).all(-1)
        if with_app:  # one grid_sample for density and appearance channels together
            planes = torch.cat([self.density_planes, self.app_planes], 1)
            lines = torch.cat([self.density_lines, self.app_lines], 1)
            sigma_feat, app_feat = self._vm_features(planes, lines, x).split(
                [self.n_density, planes.shape[1] - self.n_density], 1)
            app_feat = app_feat.reshape(-1, x.shape[0])  # [3 C_app, M]
        else:
            sigma_feat, app_feat = self._vm_features(self.density_planes, self.density_lines, x), None
        raw = sigma_feat.sum((0, 1))
        sigma = self.density_scale * F.softplus(raw + self.density_shift)
        return torch.where(inside, sigma, torch.zeros_like(sigma)), app_feat, inside

    def density(self, points: Tensor) -> Tensor:
        return self._features(points, with_app=False)[0]

    def forward(self, points: Tensor, directions: Tensor) -> tuple[Tensor, Tensor]:
        sigma, app_feat, _ = self._features(points, with_app=True)
        return self._decode(app_feat, directions), sigma

    def color(self, points: Tensor, directions: Tensor) -> Tensor:
        """Colour alone ``[M,3]``: only the appearance factors are looked up."""
        app_feat = self._vm_features(self.app_planes, self.app_lines, self.normalize(points))
        return self._decode(app_feat.reshape(3 * self.app_planes.shape[1], points.shape[0]), directions)

    def _decode(self, app_feat: Tensor, directions: Tensor) -> Tensor:
        """Appearance features ``[3 C_app, M]`` and view directions ``[M,3]`` -> colour ``[M,3]``."""
        h = torch.cat([(self.basis.weight @ app_feat).t(), positional_encoding(directions, self.view_freqs)], -1)
        return torch.sigmoid(self.decoder(h))

    def regularization(self, l1_weight: float = 8e-5, tv_weight: float = 0.0) -> Tensor:
        """``l1_weight * mean|density factors| + tv_weight * (TV(density planes) + 0.1 TV(app planes))``.

        TV is the mean squared difference of neighbouring plane entries along both plane axes.
        """
        l1 = self.density_planes.abs().mean() + self.density_lines.abs().mean()
        loss = l1_weight * l1
        if tv_weight > 0:
            def tv(p: Tensor) -> Tensor:
                return (p[..., 1:, :] - p[..., :-1, :]).pow(2).mean() + (p[..., :, 1:] - p[..., :, :-1]).pow(2).mean()
            loss = loss + tv_weight * (tv(self.density_planes) + 0.1 * tv(self.app_planes))
        return loss

    @torch.no_grad()
    def upsample(self, new_resolution: int) -> None:
        """Resample every plane and line to ``new_resolution`` points per axis (new Parameters:
        rebuild the optimizer afterwards)."""
        G = int(new_resolution)
        for name in ("density_planes", "app_planes"):
            old = getattr(self, name)
            setattr(self, name, nn.Parameter(F.interpolate(old.data, size=(G, G), mode="bilinear", align_corners=True)))
        for name in ("density_lines", "app_lines"):
            old = getattr(self, name)
            setattr(self, name, nn.Parameter(F.interpolate(old.data, size=(G, 1), mode="bilinear", align_corners=True)))
        self.resolution = G

    def grid_parameters(self) -> list[nn.Parameter]:
        """The factor tensors (TensoRF trains them with a larger learning rate than the MLP)."""
        return [self.density_planes, self.density_lines, self.app_planes, self.app_lines]

    def network_parameters(self) -> list[nn.Parameter]:
        return list(self.basis.parameters()) + list(self.decoder.parameters())


def make_field(name: str, aabb=None, **kwargs) -> nn.Module:
    """``"mlp"`` -> :class:`NeRFMLP` (ignores ``aabb``), ``"tensorf"`` -> :class:`TensoRFField` in ``aabb``.

    >>> type(make_field("tensorf", [[-1, -1, -1], [1, 1, 1]], resolution=8)).__name__
    'TensoRFField'
    """
    if name == "mlp":
        return NeRFMLP(**kwargs)
    if name == "tensorf":
        if aabb is None:
            raise ValueError("make_field('tensorf') needs aabb [2,3] (e.g. SceneData.scene_box)")
        return TensoRFField(aabb, **kwargs)
    raise ValueError(f"unknown field {name!r}: choose 'mlp' or 'tensorf'")


# %% 02_Core_Components.ipynb · cell c09
def _per_ray(value, rays: RayBundle) -> Tensor:
    """A float or ``[R]`` tensor as ``[R,1]`` on the rays' device."""
    value = torch.as_tensor(value, dtype=torch.float32, device=rays.device)
    return value.expand(len(rays)).reshape(-1, 1)


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
    near, far = _per_ray(near, rays), _per_ray(far, rays)
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


def ray_aabb_intersect(rays: RayBundle, aabb: Tensor) -> tuple[Tensor, Tensor]:
    """Entry and exit distances ``[R]`` of the rays through the box (slab test); exit < entry: miss."""
    inv = 1.0 / torch.where(rays.directions.abs() < 1e-9, torch.full_like(rays.directions, 1e-9), rays.directions)
    t0, t1 = (aabb[0] - rays.origins) * inv, (aabb[1] - rays.origins) * inv
    return torch.minimum(t0, t1).amax(-1), torch.maximum(t0, t1).amin(-1)


def box_near_far(rays: RayBundle, aabb, near, far) -> tuple[Tensor, Tensor]:
    """Per-ray ``[R]`` bounds ``[max(near, box entry), min(far, box exit)]`` so samples are spent
    inside ``aabb`` only; rays that miss the box get ``far = near`` (zero-length intervals, which
    render as background).

    >>> rays = RayBundle(torch.tensor([[0., 0, 5], [3, 0, 5]]), torch.tensor([[0., 0, -1]] * 2), torch.ones(2))
    >>> box_near_far(rays, torch.tensor([[-1., -1, -1], [1, 1, 1]]), 2.0, 6.0)
    (tensor([4., 4.]), tensor([6., 4.]))
    """
    t_enter, t_exit = ray_aabb_intersect(rays, torch.as_tensor(aabb, dtype=torch.float32, device=rays.device))
    near_r, far_r = _per_ray(near, rays)[:, 0], _per_ray(far, rays)[:, 0]
    lo = torch.maximum(near_r, t_enter)
    return lo, torch.maximum(torch.minimum(far_r, t_exit), lo)


class OccupancyGrid(nn.Module):
    """A ``resolution^3`` boolean grid over ``aabb [2,3]`` saying where the field holds density.

    Starts fully occupied (:meth:`mark_all_occupied`). :meth:`update` evaluates the field's density
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

    def mark_all_occupied(self) -> None:
        """Every allowed cell occupied (the state before the field knows anything)."""
        self.occupied.copy_(self.allowed)

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
                         perturb: bool = False, generator: torch.Generator | None = None
                         ) -> tuple[Tensor, Tensor, Tensor]:
        """March intervals of length ``step_size`` from ``near`` to ``far``; keep those whose midpoint
        is in an occupied cell, compacted to the front of each ray.

        Returns ``t_starts, t_ends [R,S]`` and ``mask [R,S]`` (True = real sample), where ``S`` is
        the largest kept count in the batch (at most ``max_samples``; rays with more keep their
        nearest ``max_samples``). Padding has ``t_start = t_end = 0``. ``perturb`` shifts each ray's
        march by ``U[0,1) * step_size``.

        Two levels, same result as testing every step: runs of ``f`` steps (``f * step_size`` at most
        one coarse cell of 4^3 cells) are first tested against the coarse grid dilated by one
        coarse cell (conservative: every point of a run lies within one coarse cell of its
        midpoint); only the steps of the surviving runs are tested against the fine grid.
        """
        near_r, far_r = _per_ray(near, rays), _per_ray(far, rays)
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
        runs, (run_idx,) = _compact(live, j[None].expand_as(live), max_n=None)
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
        out_mask, (out_starts, out_ends) = _compact(mask, starts, ends, max_n=max_samples)
        return out_starts, out_ends, out_mask


def _compact(mask: Tensor, *values: Tensor, max_n: int | None) -> tuple[Tensor, tuple[Tensor, ...]]:
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
    """Query ``field`` at interval midpoints and composite (equation above).

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
    points = rays.origins[:, None] + rays.directions[:, None] * t_mids[..., None]
    if color_threshold > 0:
        return _render_masked_color(field, rays, t_starts, t_ends, t_mids, points, mask, background,
                                    color_threshold)
    if mask is None:
        dirs = rays.directions[:, None].expand(R, S, 3)
        rgbs, sigmas = field(points.reshape(-1, 3), dirs.reshape(-1, 3))
        rgbs, sigmas = rgbs.reshape(R, S, 3), sigmas.reshape(R, S)
    else:
        rgbs = torch.zeros(R, S, 3, device=points.device, dtype=points.dtype)
        sigmas = torch.zeros(R, S, device=points.device, dtype=points.dtype)
        if mask.any():
            ray_idx = torch.arange(R, device=points.device)[:, None].expand(R, S)[mask]
            rgb_s, sigma_s = field(points[mask], rays.directions[ray_idx])
            rgbs = rgbs.index_put((mask,), rgb_s.to(rgbs.dtype))
            sigmas = sigmas.index_put((mask,), sigma_s.to(sigmas.dtype))
    weights, transmittance = render_weights(sigmas, t_starts, t_ends, mask)
    return _composite(rays, rgbs, sigmas, weights, transmittance, t_starts, t_ends, t_mids, mask, background)


def _render_masked_color(field, rays: RayBundle, t_starts, t_ends, t_mids, points, mask, background,
                         color_threshold: float) -> dict[str, Tensor]:
    """``render_rays`` with ``color_threshold``: density pass, weights, colour pass on ``w > threshold``."""
    R, S = t_mids.shape
    valid = torch.ones(R, S, dtype=torch.bool, device=points.device) if mask is None else mask
    sigmas = torch.zeros(R, S, device=points.device, dtype=points.dtype)
    if valid.any():
        sigmas = sigmas.index_put((valid,), field.density(points[valid]).to(sigmas.dtype))
    weights, transmittance = render_weights(sigmas, t_starts, t_ends, mask)
    colored = valid & (weights.detach() > color_threshold)
    rgbs = torch.zeros(R, S, 3, device=points.device, dtype=points.dtype)
    if colored.any():
        ray_idx = torch.arange(R, device=points.device)[:, None].expand(R, S)[colored]
        rgbs = rgbs.index_put((colored,), field.color(points[colored], rays.directions[ray_idx]).to(rgbs.dtype))
    return _composite(rays, rgbs, sigmas, weights, transmittance, t_starts, t_ends, t_mids, mask, background)


def _composite(rays: RayBundle, rgbs, sigmas, weights, transmittance, t_starts, t_ends, t_mids, mask,
               background) -> dict[str, Tensor]:
    """Colour, opacity and depths of a ray batch from per-sample colours and weights."""
    acc = weights.sum(-1)
    rgb = (weights[..., None] * rgbs).sum(-2)
    if background is not None:
        background = torch.as_tensor(background, dtype=rgb.dtype, device=rgb.device)
        rgb = rgb + (1 - acc)[:, None] * background
    depth = (weights * t_mids).sum(-1)
    depth_normalized = torch.where(acc > 1e-6, depth / acc.clamp_min(1e-6), torch.zeros_like(depth))
    return dict(rgb=rgb, depth=depth, z_depth=depth * rays.z_scale, depth_normalized=depth_normalized,
                acc=acc, weights=weights, transmittance=transmittance, sigmas=sigmas,
                t_starts=t_starts, t_ends=t_ends, t_mids=t_mids, mask=mask)


@torch.no_grad()
def render_image(render_fn, rays: RayBundle, H: int, W: int, chunk: int = 4096,
                 autocast: bool = False) -> dict[str, Tensor]:
    """Render ``H*W`` (or ``N*H*W``) rays in chunks of ``chunk`` under ``no_grad``.

    ``render_fn(rays_chunk) -> dict`` with at least ``rgb [r,3]``, ``depth [r]``, ``acc [r]``
    (e.g. sampling + :func:`render_rays`). Peak memory is bounded by one chunk. Returns ``rgb
    [H,W,3]``, ``depth``, ``z_depth``, ``depth_normalized`` (when given) and ``acc [H,W]`` on the CPU
    (a leading ``N`` for several views). ``autocast=True`` uses float16 autocast on CUDA (ignored
    elsewhere).
    """
    keys = ("rgb", "depth", "z_depth", "depth_normalized", "acc")
    parts: dict[str, list[Tensor]] = {}
    use_amp = autocast and rays.device.type == "cuda"
    for start in range(0, len(rays), chunk):
        with torch.autocast("cuda", dtype=torch.float16, enabled=use_amp):
            out = render_fn(rays[start:start + chunk])
        for k in keys:
            if k in out:
                parts.setdefault(k, []).append(out[k].float().cpu())
    lead = (H, W) if len(rays) == H * W else (len(rays) // (H * W), H, W)
    if len(rays) % (H * W):
        raise ValueError(f"render_image: {len(rays)} rays is not a multiple of H*W = {H * W}")
    return {k: torch.cat(v).reshape(*lead, *v[0].shape[1:]) for k, v in parts.items()}
