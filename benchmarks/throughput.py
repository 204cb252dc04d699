"""Throughput of the fields and effect of the occupancy grid on lego; prints ONE JSON object.

    .venv/bin/python benchmarks/throughput.py [--lego ../shared/data/nerf_synthetic/lego] [--threads N]

Every training step timed here is the project's trainer's own (``Trainer.step``: batch, sampler,
field, compositing, loss, backward, its Adam).

* ``fields.<name>.train_points_per_s``: steps of the stratified sampler (every sample evaluated, no
  grid: the field's own speed) on lego's training views at 100x100, best of a few steps after one
  warm-up step; ``points = rays x samples``.
* ``fields.<name>.render_400_s``: one 400x400 lego test view under ``no_grad``. TensoRF: the whole
  image with the occupancy sampler. MLP: the paper's hierarchical sampling (64 coarse + 128 fine
  samples; 64 + 193 evaluations per ray), timed on a slice of the rays and scaled to 160,000 rays
  (``render_400_extrapolated_from_rays``): the whole image takes minutes on a CPU.
* ``occupancy``: samples evaluated per ray on lego with and without the grid at the same step size,
  and the PSNR of one test view rendered both ways by a TensoRF field trained briefly (60 steps
  with the grid) on 100x100 training views. The grid is the alpha-carved visual hull of the
  training masks (``grid_source``), intersected with the trained field's density.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# OpenMP threads that spin while waiting collapse (5-10x slower steps) when other processes share
# the 2 cores; passive waiting keeps 2 threads at least as fast as 1. Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from depthnerf.config import TrainConfig  # noqa: E402
from depthnerf.datasets import load_dataset  # noqa: E402
from depthnerf.fields import make_field  # noqa: E402
from depthnerf.metrics import psnr  # noqa: E402
from depthnerf.occupancy import OccupancyGrid  # noqa: E402
from depthnerf.rays import camera_rays  # noqa: E402
from depthnerf.rendering import render_chunked  # noqa: E402
from depthnerf.samplers import HierarchicalSampler, OccupancySampler  # noqa: E402
from depthnerf.trainer import Trainer  # noqa: E402


def timed_steps(trainer: Trainer, steps: int) -> float:
    """Best wall time of ``steps`` trainer steps after one warm-up step."""
    times = []
    for k in range(steps + 1):
        start = time.perf_counter()
        trainer.step(trainer.state.step)
        times.append(time.perf_counter() - start)
    return min(times[1:])


def field_throughput(train, field: str, n_rays: int, n_samples: int, steps: int, out_dir: Path) -> dict:
    config = TrainConfig(field=field, sampler="stratified", n_samples=n_samples, batch_rays=n_rays,
                         iterations=10 ** 6, val_every=10 ** 6, checkpoint_every=10 ** 6)
    trainer = Trainer(train, config, out_dir / field, resume=False, progress=False)
    step = timed_steps(trainer, steps)
    return dict(rays_per_step=n_rays, samples_per_ray=n_samples, train_step_s=round(step, 4),
                train_points_per_s=round(n_rays * n_samples / step), train_rays_per_s=round(n_rays / step))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lego", default=str(Path(__file__).resolve().parents[2] / "shared/data/nerf_synthetic/lego"))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", default="/tmp/depthnerf_throughput", help="scratch folder for the runs")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    wall = time.perf_counter()
    torch.manual_seed(0)
    out_dir = Path(args.out)
    report = {"machine": {"torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                          "load_avg_1min_at_start": round(os.getloadavg()[0], 2), "torch": torch.__version__,
                          "OMP_WAIT_POLICY": os.environ["OMP_WAIT_POLICY"]}}
    train = load_dataset(args.lego, "train", downscale=8)
    test = load_dataset(args.lego, "test", downscale=2, max_views=1)
    small = load_dataset(args.lego, "test", downscale=8, max_views=1)

    fields = {"mlp": {"config": "8x256, skip at 4, PE 10/4", **field_throughput(train, "mlp", 512, 64, 2, out_dir)},
              "tensorf": {"config": "defaults of TensoRFParams (128^3, 8 + 24 components)",
                          **field_throughput(train, "tensorf", 4096, 64, 3, out_dir)}}
    report["fields"] = fields
    report["tensorf_over_mlp_train_points_per_s"] = round(
        fields["tensorf"]["train_points_per_s"] / fields["mlp"]["train_points_per_s"], 2)

    # lego: a TensoRF field trained briefly with the grid, samples per ray and PSNR with / without it
    train_steps = 60
    config = TrainConfig(field_params={"resolution": 96}, batch_rays=2048, march_steps=512, max_samples=512,
                         occupancy_resolution=128, iterations=train_steps, val_every=10 ** 6, checkpoint_every=10 ** 6)
    trainer = Trainer(train, config, out_dir / "occupancy", resume=False, progress=False)
    start = time.perf_counter()
    trainer.run()
    train_s = time.perf_counter() - start
    grid = trainer.sampler.grid
    hull_fraction = float(grid.allowed.float().mean())
    grid.update(trainer.field, threshold=0.01, decay=0.0)
    step_size = (train.far - train.near) / config.march_steps
    background = torch.as_tensor(train.background)
    full_grid = OccupancyGrid(grid.aabb, resolution=8)  # every cell occupied: the box-clipped dense march
    with_grid = OccupancySampler(train.near, train.far, 64, grid, config.march_steps, 2048)
    without_grid = OccupancySampler(train.near, train.far, 64, full_grid, config.march_steps, 2048)
    view_rays = camera_rays(small.intrinsics, small.poses, small.H, small.W)
    with torch.no_grad():
        counts = {name: float(sampler(view_rays)[2].sum(-1).float().mean())
                  for name, sampler in (("with", with_grid), ("without", without_grid))}
        images = {name: render_chunked(trainer.field, sampler, view_rays, background)["rgb"].numpy()
                  for name, sampler in (("with", with_grid), ("without", without_grid))}
    gt = small.images[0].reshape(-1, 3)
    report["occupancy"] = {
        "scene": "lego", "grid_resolution": 128, "step_size": round(step_size, 5),
        "grid_source": "alpha-carved visual hull of the 100 training masks at 100x100 (dilated 1 cell), "
                       f"intersected with a TensoRF field trained {train_steps} steps x 2048 rays ({train_s:.1f} s) "
                       "at 100x100 with that grid",
        "hull_fraction_of_box": round(hull_fraction, 4),
        "occupied_fraction_after_update": round(float(grid.occupied.float().mean()), 4),
        "samples_per_ray_naive_near_to_far": round((train.far - train.near) / step_size, 1),
        "samples_per_ray_without_grid": round(counts["without"], 2),
        "samples_per_ray_with_grid": round(counts["with"], 2),
        "reduction": round(counts["without"] / counts["with"], 2),
        "psnr_without_grid": round(psnr(np.clip(images["without"], 0, 1), gt), 3),
        "psnr_with_grid": round(psnr(np.clip(images["with"], 0, 1), gt), 3),
        "psnr_view": f"test view 0 at {small.W}x{small.H}",
    }

    big_rays = camera_rays(test.intrinsics, test.poses, test.H, test.W)
    start = time.perf_counter()
    image = render_chunked(trainer.field, with_grid, big_rays, background, chunk=8192)
    fields["tensorf"]["render_400_s"] = round(time.perf_counter() - start, 3)
    fields["tensorf"]["render_400_how"] = (f"occupancy grid, step {step_size:.4f}, "
                                           f"{report['occupancy']['samples_per_ray_with_grid']} samples/ray on average")
    fields["tensorf"]["render_400_psnr_after_brief_training"] = round(
        psnr(np.clip(image["rgb"].numpy(), 0, 1), test.images[0].reshape(-1, 3)), 3)

    n_probe = 1024
    probe = big_rays[torch.randperm(len(big_rays), generator=torch.Generator().manual_seed(0))[:n_probe]]
    mlp = make_field("mlp", train.scene_box)
    start = time.perf_counter()
    render_chunked(mlp, HierarchicalSampler(train.near, train.far, 64, 128), probe, background)
    fields["mlp"]["render_400_s"] = round((time.perf_counter() - start) * len(big_rays) / n_probe, 2)
    fields["mlp"]["render_400_how"] = "hierarchical: 64 coarse + 64+128+1 fine samples per ray (untrained weights)"
    fields["mlp"]["render_400_extrapolated_from_rays"] = n_probe

    report["total_s"] = round(time.perf_counter() - wall, 1)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
