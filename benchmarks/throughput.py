"""Throughput of the fields and effect of the occupancy grid on lego; prints ONE JSON object.

    .venv/bin/python benchmarks/throughput.py [--lego ../shared/data/nerf_synthetic/lego] [--threads N]

* ``fields.<name>.train_points_per_s``: full training steps (sampling, field forward, compositing,
  MSE + regulariser backward, Adam) on random rays through a [-1.5,1.5]^3 box, best of a few
  steps after one warm-up step; every sample evaluated (no grid), so it is the field's own speed.
* ``fields.<name>.render_400_s``: one 400x400 lego test view under ``no_grad``. TensoRF: the
  whole image, samples from the occupancy grid. MLP: the paper's 64 coarse + 128 fine samples
  (64 + 192 evaluations per ray), timed on a slice of the rays and scaled to 160,000 rays
  (``render_400_extrapolated_from_rays``): the whole image takes minutes on a CPU.
* ``occupancy``: samples evaluated per ray on lego with and without the grid at the same step
  size, and the PSNR of one test view rendered both ways by a TensoRF field trained briefly
  (60 steps with the grid) on 100x100 training views. The grid is the alpha-carved visual hull of the
  training masks (``grid_source``), intersected with the trained field's density.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

# OpenMP threads that spin while waiting collapse (5-10x slower steps) when other processes share
# the 2 cores; passive waiting keeps 2 threads at least as fast as 1. Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from depthnerf.core import (  # noqa: E402
    OccupancyGrid, RayBundle, camera_rays, importance_samples, make_field, render_image,
    render_rays, stratified_samples,
)
from depthnerf.data import load_dataset  # noqa: E402

BOX = torch.tensor([[-1.5] * 3, [1.5] * 3])
TENSORF = dict(resolution=128, density_components=8, app_components=24)  # the defaults


def random_rays(n: int, g: torch.Generator) -> RayBundle:
    origins = torch.randn(n, 3, generator=g)
    origins = 4.0 * origins / origins.norm(dim=-1, keepdim=True)
    jitter = 0.2 * torch.randn(n, 3, generator=g)
    directions = F.normalize(-origins / 4.0 + jitter, dim=-1)
    return RayBundle(origins, directions, torch.ones(n))


def train_throughput(field, n_rays: int, n_samples: int, steps: int, g: torch.Generator) -> dict:
    params = (field.grid_parameters() if hasattr(field, "grid_parameters") else [])
    groups = [{"params": params, "lr": 0.02}] if params else []
    others = [p for p in field.parameters() if all(p is not q for q in params)]
    optimizer = torch.optim.Adam(groups + [{"params": others, "lr": 5e-4}])
    times = []
    for _ in range(steps + 1):
        rays, target = random_rays(n_rays, g), torch.rand(n_rays, 3, generator=g)
        start = time.perf_counter()
        s, e = stratified_samples(rays, 2.5, 5.5, n_samples, perturb=True, generator=g)
        out = render_rays(field, rays, s, e, background=torch.ones(3))
        loss = F.mse_loss(out["rgb"], target)
        if hasattr(field, "regularization"):
            loss = loss + field.regularization()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    step = min(times[1:])
    return dict(rays_per_step=n_rays, samples_per_ray=n_samples, train_step_s=round(step, 4),
                train_points_per_s=round(n_rays * n_samples / step), train_rays_per_s=round(n_rays / step))


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return -10 * math.log10(float(F.mse_loss(a, b)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lego", default=str(Path(__file__).resolve().parents[2] / "shared/data/nerf_synthetic/lego"))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    wall = time.perf_counter()
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    report = {"machine": {"torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                          "load_avg_1min_at_start": round(os.getloadavg()[0], 2), "torch": torch.__version__,
                          "OMP_WAIT_POLICY": os.environ["OMP_WAIT_POLICY"]}}

    mlp = make_field("mlp")
    tensorf = make_field("tensorf", BOX, **TENSORF)
    fields = {"mlp": {"config": "8x256, skip at 4, PE 10/4", **train_throughput(mlp, 512, 64, 2, g)},
              "tensorf": {"config": TENSORF, **train_throughput(tensorf, 4096, 64, 3, g)}}
    report["fields"] = fields
    report["tensorf_over_mlp_train_points_per_s"] = round(
        fields["tensorf"]["train_points_per_s"] / fields["mlp"]["train_points_per_s"], 2)

    # lego: visual hull, brief training with the grid, samples per ray and PSNR with / without it
    train = load_dataset(args.lego, "train", downscale=8)
    test = load_dataset(args.lego, "test", downscale=2, max_views=1)
    aabb = torch.as_tensor(train.scene_box, dtype=torch.float32)
    background = torch.as_tensor(train.background)
    grid = OccupancyGrid(aabb, resolution=128)
    grid.carve(train.alphas, train.intrinsics, train.poses, min_alpha=0.01, dilate=1)
    hull_fraction = float(grid.allowed.float().mean())
    step_size = float((aabb[1] - aabb[0]).max()) / 128 / 2  # half a grid cell

    field = make_field("tensorf", aabb, resolution=96, density_components=8, app_components=24)
    optimizer = torch.optim.Adam([{"params": field.grid_parameters(), "lr": 0.04},
                                  {"params": field.network_parameters(), "lr": 3e-3}])
    rays = camera_rays(train.intrinsics, train.poses, train.H, train.W)
    target = torch.as_tensor(train.images).reshape(-1, 3)
    train_steps, start = 60, time.perf_counter()
    for _ in range(train_steps):
        idx = torch.randint(len(rays), (2048,), generator=g)
        s, e, mask = grid.occupied_samples(rays[idx], train.near, train.far, 2 * step_size, perturb=True, generator=g)
        out = render_rays(field, rays[idx], s, e, mask=mask, background=background)
        loss = F.mse_loss(out["rgb"], target[idx]) + field.regularization()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    train_s = time.perf_counter() - start
    grid.update(field, threshold=0.01, decay=0.0)

    small = load_dataset(args.lego, "test", downscale=8, max_views=1)
    view_rays = camera_rays(small.intrinsics, small.poses, small.H, small.W)
    full_grid = OccupancyGrid(aabb, resolution=8)  # every cell occupied: the box-clipped dense march

    def with_grid(r, which=grid):
        s, e, mask = which.occupied_samples(r, train.near, train.far, step_size, max_samples=2048)
        return {**render_rays(field, r, s, e, mask=mask, background=background), "n": mask.sum(-1).float()}

    with torch.no_grad():
        sparse, dense = with_grid(view_rays), with_grid(view_rays, full_grid)
    gt = torch.as_tensor(small.images[0]).reshape(-1, 3)
    report["occupancy"] = {
        "scene": "lego", "grid_resolution": 128, "step_size": round(step_size, 5),
        "grid_source": "alpha-carved visual hull of the 100 training masks at 100x100 (dilated 1 cell), "
                       f"intersected with a TensoRF field trained {train_steps} steps x 2048 rays ({train_s:.1f} s) "
                       "at 100x100 with that grid",
        "hull_fraction_of_box": round(hull_fraction, 4),
        "occupied_fraction_after_update": round(float(grid.occupied.float().mean()), 4),
        "samples_per_ray_naive_near_to_far": round((train.far - train.near) / step_size, 1),
        "samples_per_ray_without_grid": round(float(dense["n"].mean()), 2),
        "samples_per_ray_with_grid": round(float(sparse["n"].mean()), 2),
        "reduction": round(float(dense["n"].mean() / sparse["n"].mean()), 2),
        "psnr_without_grid": round(psnr(dense["rgb"], gt), 3),
        "psnr_with_grid": round(psnr(sparse["rgb"], gt), 3),
        "psnr_view": f"test view 0 at {small.W}x{small.H}",
    }

    big_rays = camera_rays(test.intrinsics, test.poses, test.H, test.W)
    start = time.perf_counter()
    image = render_image(with_grid, big_rays, test.H, test.W, chunk=8192)
    fields["tensorf"]["render_400_s"] = round(time.perf_counter() - start, 3)
    fields["tensorf"]["render_400_how"] = (f"occupancy grid, step {step_size:.4f}, "
                                           f"{report['occupancy']['samples_per_ray_with_grid']} samples/ray on average")
    fields["tensorf"]["render_400_psnr_after_brief_training"] = round(
        psnr(image["rgb"].reshape(-1, 3), torch.as_tensor(test.images[0]).reshape(-1, 3)), 3)

    n_probe = 1024
    probe = big_rays[torch.randperm(len(big_rays), generator=g)[:n_probe]]
    start = time.perf_counter()
    with torch.no_grad():
        s, e = stratified_samples(probe, train.near, train.far, 64, perturb=False)
        coarse = render_rays(mlp, probe, s, e, background=background)
        fs, fe = importance_samples(s, e, coarse["weights"], 128, perturb=False, merge=True)
        render_rays(mlp, probe, fs, fe, background=background)
    fields["mlp"]["render_400_s"] = round((time.perf_counter() - start) * len(big_rays) / n_probe, 2)
    fields["mlp"]["render_400_how"] = "64 coarse + 64+128+1 fine samples per ray (untrained weights)"
    fields["mlp"]["render_400_extrapolated_from_rays"] = n_probe

    report["total_s"] = round(time.perf_counter() - wall, 1)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
