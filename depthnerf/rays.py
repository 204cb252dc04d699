# Generated from 01_Data_Loading.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


# %% 01_Data_Loading.ipynb · cell c03
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


def camera_rays(intrinsics, c2w, H: int, W: int, pixels=None, dtype: torch.dtype = torch.float32) -> RayBundle:
    """Rays through pixel centres of camera-to-world poses (OpenGL: x right, y up, the camera looks along -z).

    ``intrinsics [N,3,3]`` or ``[3,3]`` (shared), ``c2w [N,4,4]`` or ``[4,4]``; numpy or torch.
    ``pixels=None`` gives every pixel of every view, view-major then row-major (``N*H*W`` rays);
    ``pixels=(view_idx [R], row [R], col [R])`` gives those pixels only. ``dtype``: float32 for
    training and rendering, float64 for the data's geometry (the embedded scene, frusta, checks).

    The centre pixel of an odd-sized image with ``cx = W/2`` looks along the optical axis ``-z``:

    >>> K = torch.tensor([[10., 0, 1.5], [0, 10., 1.5], [0, 0, 1]])
    >>> rays = camera_rays(K, torch.eye(4), 3, 3)
    >>> rays[4].directions, rays[4].z_scale
    (tensor([[ 0.,  0., -1.]]), tensor([1.]))
    >>> round(float(rays[0].z_scale), 5)  # corner: cos of the angle to the axis, 1/sqrt(1 + 2 * 0.1**2)
    0.99015
    """
    c2w = torch.as_tensor(np.array(c2w) if not isinstance(c2w, Tensor) else c2w, dtype=dtype)  # a copy: writable
    K = torch.as_tensor(np.array(intrinsics) if not isinstance(intrinsics, Tensor) else intrinsics,
                        dtype=dtype, device=c2w.device)
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
    u, v = col.to(dtype) + 0.5, row.to(dtype) + 0.5
    d_cam = torch.stack([(u - K[:, 0, 2]) / K[:, 0, 0], -(v - K[:, 1, 2]) / K[:, 1, 1], -torch.ones_like(u)], -1)
    inv_norm = torch.rsqrt((d_cam * d_cam).sum(-1))
    d_cam = d_cam * inv_norm[:, None]
    pose = c2w[view]
    directions = torch.einsum("rij,rj->ri", pose[:, :3, :3], d_cam)
    directions = directions / directions.norm(dim=-1, keepdim=True)
    return RayBundle(pose[:, :3, 3].contiguous(), directions, inv_norm)


# %% 01_Data_Loading.ipynb · cell c31
def per_ray(value, rays: RayBundle) -> Tensor:
    """A float or ``[R]`` tensor as ``[R,1]`` on the rays' device."""
    value = torch.as_tensor(value, dtype=torch.float32, device=rays.device)
    return value.expand(len(rays)).reshape(-1, 1)


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
    near_r, far_r = per_ray(near, rays)[:, 0], per_ray(far, rays)[:, 0]
    lo = torch.maximum(near_r, t_enter)
    return lo, torch.maximum(torch.minimum(far_r, t_exit), lo)
