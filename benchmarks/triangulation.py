"""Sparse depth triangulated from few views with the known poses; prints ONE JSON object (progress on stderr).

    .venv/bin/python benchmarks/triangulation.py [--lego-views 2,4,8] [--seeds 0,1,2] [--real-views 2,4]
        [--real-seeds 0,1,2] [--check 300] [--set max_ratio=0.7 ...]

For every view set (``datasets.select_views``: farthest-point sampling of the camera centres from a
seed-dependent first view, as the few-view studies choose them), ``triangulation.triangulate_sparse_depth``
runs on those views alone and reports: ``points``, depth pixels per view (``points_per_view`` min /
mean), ``views_with_depth`` (fraction of the views with at least one depth pixel),
``mean_reprojection_error_px`` (pixels of the feature images: full resolution), ``seconds``, and a
check of the depth against an independent reference:

* **lego** (``downscale 2``, 400x400, as the few-view study): the lego TEST-split depth maps (the 10 of
  ``lego/test`` and the 20 of ``lego_test_every10``, 29 distinct views at 800x800; 8-bit, mapped to ray
  depth by the loader, ``t = 8 (1 - v/255)``, see notebook 01), which no training view uses. For up to
  ``--check`` random depth pixels of the set, the ray through the pixel centre is sampled every
  0.005 units over [near, far]; the reference depth is where the signed distance to a test view's
  surface (distance to that test camera minus its depth at the pixel the sample projects to) crosses
  zero continuously (within 0.05 units on both sides), taking the median of the crossings within 0.1 of
  the first one (the first surface along the ray). Test pixels at depth edges (3x3 range above 2 %)
  are not used. ``rel_error_median``: median |t - t_ref| / t_ref; ``rel_error_over_5pct``: fraction
  above 5 %; ``checked``: pixels with a reference (a ray whose surface no test view sees has none).
  Calibration (``--calibrate``): the reference reproduces a held-out test view's own depth with a
  median relative error of ~0.2 % and 1-5 % of the pixels above 5 %.
* **fern / poster** (LLFF layout, at the real-world study's full-profile downscale: fern 4, 1008x756;
  poster 2, 640x360): the shipped COLMAP model, triangulated from ALL the scene's photographs
  (``load_llff(..., sparse_depth="colmap")``): the same comparison at the depth pixels where the
  shipped model also has a point within 1 pixel (median of its depths there). It is a consistency
  check against a many-view reconstruction, not ground truth.

``shared_surface`` (2 views): the angle between the two cameras' viewing directions, degrees, and
the number of shipped-model points both views observe (LLFF scenes only).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from depthnerf.cameras import ray_grid  # noqa: E402
from depthnerf.datasets import load_dataset, select_views  # noqa: E402
from depthnerf.env import available_datasets  # noqa: E402
from depthnerf.scene import DataError  # noqa: E402
from depthnerf.sparse_depth import colmap_observations  # noqa: E402
from depthnerf.triangulation import colmap_cam_from_world, project, triangulate_sparse_depth  # noqa: E402

REAL_DOWNSCALE = {"fern": 4, "dsnerf_poster_less": 2}  # Experiments/real_world_data.ipynb, profile "full"


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def window(a: np.ndarray, reduce) -> np.ndarray:
    """3x3 ``reduce`` (np.max / np.min) over the last two axes, edges padded by replication."""
    padded = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
    return reduce(np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(-2, -1)), axis=(-2, -1))


class TestDepthReference:
    """Ray depth of the first surface along world rays, from the lego test views' depth maps."""

    def __init__(self, folders: list[Path]):
        depth, poses, names = [], [], set()
        for folder in folders:
            test = load_dataset(folder, "test", 1)
            keep = [k for k, p in enumerate(test.image_paths) if Path(p).name not in names]
            names |= {Path(test.image_paths[k]).name for k in keep}
            depth.append(np.where(test.depth_mask, test.depth, 0.0)[keep])
            poses.append(test.poses[keep])
            self.K = test.intrinsics[0].astype(np.float64)
        depth = np.concatenate(depth).astype(np.float64)
        high = window(depth, np.max)
        low = window(np.where(depth > 0, depth, np.inf), np.min)
        self.depth = np.where((depth > 0) & (high - low <= 0.02 * depth), depth, 0.0)  # no depth edges
        self.cams = colmap_cam_from_world(np.concatenate(poses))
        self.views = len(self.depth)

    def __call__(self, origins: np.ndarray, dirs: np.ndarray, near: float, far: float, exclude: int | None = None,
                 step: float = 0.005, tol: float = 0.05, cluster: float = 0.1) -> np.ndarray:
        ts = np.arange(near, far, step)
        views = [v for v in range(self.views) if v != exclude]
        H, W = self.depth.shape[1:]
        out = np.full(len(origins), np.nan)
        for start in range(0, len(origins), 16):
            o, d = origins[start:start + 16], dirs[start:start + 16]
            X = o[:, None] + ts[None, :, None] * d[:, None]  # [R,T,3]
            residual = np.full((len(views),) + X.shape[:2], np.nan)
            for row, v in enumerate(views):
                xy, z = project(X, self.K, self.cams[v])
                col, line = np.floor(xy[..., 0]), np.floor(xy[..., 1])
                inside = (z > 0) & (col >= 0) & (col < W) & (line >= 0) & (line < H)
                ref = np.zeros(z.shape)
                ref[inside] = self.depth[v][line[inside].astype(int), col[inside].astype(int)]
                distance = np.linalg.norm(X - np.linalg.inv(self.cams[v])[:3, 3], axis=-1)
                residual[row] = np.where(ref > 0, distance - ref, np.nan)
            a, b = residual[..., :-1], residual[..., 1:]
            cross = (a < 0) & (b >= 0) & (np.abs(a) < tol) & (np.abs(b) < tol)
            for k in range(len(o)):
                vv, tt = np.nonzero(cross[:, k])
                if len(tt):
                    at = ts[tt] + step * (-a[vv, k, tt] / (b[vv, k, tt] - a[vv, k, tt]))
                    out[start + k] = np.median(at[at <= at.min() + cluster])
        return out


def depth_pixels(scene, count: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Up to ``count`` random depth pixels: view, row, col, depth."""
    view, row, col = np.nonzero(scene.depth_mask)
    pick = np.sort(np.random.default_rng(seed).permutation(len(view))[:count])
    view, row, col = view[pick], row[pick], col[pick]
    return view, row, col, scene.depth[view, row, col].astype(np.float64)


def lego_check(scene, reference: TestDepthReference, count: int) -> dict:
    view, row, col, t = depth_pixels(scene, count)
    origins, dirs = np.empty((len(view), 3)), np.empty((len(view), 3))
    for v in np.unique(view):
        o, d = ray_grid(scene.poses[v].astype(np.float64), scene.intrinsics[v].astype(np.float64), scene.H, scene.W)
        s = view == v
        origins[s], dirs[s] = o[row[s], col[s]], d[row[s], col[s]]
    ref = reference(origins, dirs, scene.near, scene.far)
    return error_summary(t, ref, "lego test-split depth (29 views), first surface along the pixel's ray")


def error_summary(t: np.ndarray, ref: np.ndarray, against: str) -> dict:
    ok = np.isfinite(ref)
    rel = np.abs(t[ok] - ref[ok]) / ref[ok]
    return dict(against=against, sampled=int(len(t)), checked=int(ok.sum()),
                rel_error_median=float(np.median(rel)) if ok.any() else None,
                rel_error_over_5pct=float((rel > 0.05).mean()) if ok.any() else None,
                signed_rel_error_median=float(np.median((t[ok] - ref[ok]) / ref[ok])) if ok.any() else None)


def shipped_check(scene, shipped, count: int) -> dict:
    view, row, col, t = depth_pixels(scene, count)
    ref = np.full(len(view), np.nan)
    for k, (v, r, c) in enumerate(zip(view, row, col)):
        patch = shipped.depth[v, max(r - 1, 0):r + 2, max(c - 1, 0):c + 2]
        mask = shipped.depth_mask[v, max(r - 1, 0):r + 2, max(c - 1, 0):c + 2]
        if mask.any():
            ref[k] = np.median(patch[mask])
    return error_summary(t, ref, "the shipped COLMAP model of all the scene's photographs, within 1 pixel")


def viewing_angle(scene) -> float:
    axes = -scene.poses[:, :3, 2].astype(np.float64)  # OpenGL cameras look along -z
    return float(np.degrees(np.arccos(np.clip(axes[0] @ axes[1], -1.0, 1.0))))


def run_set(scene, label: str, options: dict) -> tuple[dict, object]:
    start = time.perf_counter()
    try:
        tri, stats = triangulate_sparse_depth(scene, **options)
    except DataError as err:
        return dict(error=str(err), seconds=round(time.perf_counter() - start, 1)), None
    seconds = time.perf_counter() - start
    per_view = stats["points_per_view"]
    row = dict(points=stats["points"], points_per_view_min=int(per_view.min()),
               points_per_view_mean=round(float(per_view.mean()), 1), points_per_view=per_view.tolist(),
               views_with_depth=float((per_view > 0).mean()),
               mean_reprojection_error_px=round(stats["mean_reprojection_error"], 3),
               keypoints_mean=int(np.mean(stats["keypoints"])), matches=stats["matches"],
               pairs=f"{stats['pairs']}/{stats['pairs_tried']}", seconds=round(seconds, 1))
    log(f"{label}: {row['points']} points, per view {per_view.tolist()}, {seconds:.1f} s")
    return row, tri


def calibrate(reference: TestDepthReference, count: int) -> dict:
    """The reference on a held-out test view's own depth (exact up to quantisation)."""
    rows = {}
    for v in (3, 15):
        line, col = np.nonzero(reference.depth[v] > 0)
        pick = np.random.default_rng(0).permutation(len(line))[:count]
        cam = reference.cams[v]
        R, centre = cam[:3, :3], np.linalg.inv(cam)[:3, 3]
        dirs = np.c_[(col[pick] + 0.5 - reference.K[0, 2]) / reference.K[0, 0],
                     (line[pick] + 0.5 - reference.K[1, 2]) / reference.K[1, 1], np.ones(len(pick))] @ R
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        ref = reference(np.tile(centre, (len(pick), 1)), dirs, 2.0, 6.0, exclude=v)
        rows[f"test_view_{v}"] = error_summary(reference.depth[v][line[pick], col[pick]], ref, "the other test views")
    return rows


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lego-views", default="2,4,8")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--lego-downscale", type=int, default=2)
    parser.add_argument("--real-views", default="2,4")
    parser.add_argument("--real-seeds", default="0,1,2")
    parser.add_argument("--scenes", default="lego,fern,dsnerf_poster_less")
    parser.add_argument("--check", type=int, default=300, help="depth pixels checked per view set")
    parser.add_argument("--calibrate", action="store_true", help="also check the lego reference on test views")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a keyword option of triangulate_sparse_depth (JSON value)")
    args = parser.parse_args(argv)
    options = {k: parse_value(v) for k, v in (item.split("=", 1) for item in args.set)}
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    scenes = [s.strip() for s in args.scenes.split(",") if s.strip()]
    found = available_datasets(ROOT)
    result = dict(options=options, lego={}, real={})
    began = time.perf_counter()
    if "lego" in scenes and found["lego"]:
        lego = Path(found["lego"])
        every10 = lego.parent / "lego_test_every10"
        reference = TestDepthReference([lego] + ([every10] if every10.is_dir() else []))
        if args.calibrate:
            result["lego_reference_calibration"] = calibrate(reference, args.check)
        train = load_dataset(lego, "train", args.lego_downscale)
        for n in [int(v) for v in args.lego_views.split(",") if v.strip()]:
            for seed in seeds:
                views = select_views(train, n, seed)
                scene = train.subset(views)
                row, tri = run_set(scene, f"lego {n} views seed {seed} {views.tolist()}", options)
                row = dict(views=views.tolist(), **row)
                if n == 2:
                    row["shared_surface"] = dict(viewing_angle_deg=round(viewing_angle(scene), 1))
                if tri is not None:
                    row["depth_check"] = lego_check(tri, reference, args.check)
                    log(f"  check: {row['depth_check']}")
                result["lego"][f"{n}_views_seed_{seed}"] = row
    for name in [s for s in scenes if s != "lego"]:
        if not found.get(name):
            result["real"][name] = "not found"
            continue
        folder = Path(found[name])
        train = load_dataset(folder, "train", REAL_DOWNSCALE[name])
        shipped = load_dataset(folder, "train", REAL_DOWNSCALE[name], sparse_depth="colmap")
        names = sorted(p.name for p in Path(train.image_paths[0]).parent.iterdir()
                       if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        obs = colmap_observations(folder / "sparse" / "0", names)
        index = [names.index(Path(p).name) for p in train.image_paths]
        for n in [int(v) for v in args.real_views.split(",") if v.strip()]:
            for seed in [int(s) for s in args.real_seeds.split(",") if s.strip()]:
                views = select_views(train, n, seed)
                scene = train.subset(views)
                row, tri = run_set(scene, f"{name} {n} views seed {seed} {views.tolist()}", options)
                row = dict(views=views.tolist(), **row)
                if n == 2:
                    both = [np.isin([index[v] for v in views], track).all() for track in obs["tracks"]]
                    row["shared_surface"] = dict(viewing_angle_deg=round(viewing_angle(scene), 1),
                                                 shipped_points_seen_by_both=int(np.sum(both)))
                if tri is not None:
                    row["depth_check"] = shipped_check(tri, shipped.subset(views), args.check)
                    log(f"  check: {row['depth_check']}")
                result["real"][f"{name}_{n}_views_seed_{seed}"] = row
    result["seconds"] = round(time.perf_counter() - began, 1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
