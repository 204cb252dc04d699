# Generated from 07_Comprehensive_Evaluation.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import argparse
import csv
import io
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from depthnerf.embedded import EMBEDDED_GENERATOR, embedded_marker
from depthnerf.io import atomic_json, atomic_npy, atomic_write
from depthnerf.metrics import (DELTAS, FSCORE_TAU, FSCORE_TAUS, MESH_RESOLUTION, MIN_MSE, SURFACE_DENSITY,
    SURFACE_MIN_ACC, backproject_depth, chamfer_fscore, density_mesh, depth_metrics, embedded_occupancy,
    embedded_surface, embedded_training_cameras, lpips_distance, lpips_size_note, psnr, sample_triangles, ssim,
    surface_depth)
from depthnerf.runs import load_run, read_summary


# %% 07_Comprehensive_Evaluation.ipynb · cell c07
STRATEGIES = ("baseline", "soft", "hard", "hybrid")
IMAGE_KEYS = ("psnr", "ssim", "lpips")
DEPTH_STATS = ("absrel", "rmse", *DELTAS)
PIXEL_SETS = {"_object": "object: ground-truth alpha > 0.5",
              "_opaque": "opaque: valid depth where the model's opacity > 0.5",
              "": "all: every pixel with valid ground-truth depth (silhouette pixels included)"}
DEPTH_KEYS = tuple(f"depth_{s}" for s in DEPTH_STATS)  # all pixels (the historic names)
DEPTH_OBJECT_KEYS = tuple(f"{k}_object" for k in DEPTH_KEYS)
DEPTH_OPAQUE_KEYS = tuple(f"{k}_opaque" for k in DEPTH_KEYS)


def depth_masks(data, acc: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The pixel sets ``[V,H,W]`` depth is scored on, by key suffix: ``"_object"`` (valid depth and
    alpha > 0.5, when the data has alphas), ``"_opaque"`` (valid depth and the model's ``acc > 0.5``, when
    ``acc`` is given) and ``""`` (valid depth: ``depth_mask & depth > 0``)."""
    if data.depth is None or data.depth_mask is None:
        return {}
    valid = data.depth_mask & (data.depth > 0)
    masks = {}
    if data.alphas is not None:
        masks["_object"] = valid & (data.alphas > 0.5)
    if acc is not None:
        masks["_opaque"] = valid & (acc > SURFACE_MIN_ACC)
    return masks | {"": valid}


def evaluate_run(run, data, lpips_net=None, chunk: int = 8192, progress: bool = True, truth=None) -> tuple[dict, dict]:
    """Render every view of ``data`` with ``run`` (a ``runs.TrainedRun``) and score it.

    Returns ``(metrics, renders)``: ``metrics`` has the means (image metrics: mean over views; depth:
    pooled over the pixels of every view, for each pixel set of :func:`depth_masks`; None without ground
    truth) and ``per_view`` lists; with ``truth`` (:func:`embedded_ground_truth`) also the geometry
    scores. ``renders`` holds numpy ``rgb [V,H,W,3]`` (clipped to [0, 1]), ``depth``, ``depth_normalized``,
    ``acc``, ``surface_depth`` ``[V,H,W]`` and the back-projected opaque pixels ``points [P,3]`` with
    their ``point_colors [P,3]``.
    """
    per_view = {key: [] for key in IMAGE_KEYS}
    frames: dict[str, list] = {key: [] for key in ("rgb", "depth", "depth_normalized", "acc")}
    for view in tqdm(range(len(data)), desc=f"evaluate {run.config.strategy}", disable=not progress):
        out = run.render_views(data, [view], chunk=chunk)
        rgb = np.clip(out["rgb"][0], 0.0, 1.0)
        for key in frames:
            frames[key].append(rgb if key == "rgb" else out[key][0])
        per_view["psnr"].append(psnr(rgb, data.images[view]))
        per_view["ssim"].append(ssim(rgb, data.images[view]))
        per_view["lpips"].append(None if lpips_net is None else lpips_distance(lpips_net, rgb, data.images[view]))
    renders = {key: np.stack(values) for key, values in frames.items()}
    renders["surface_depth"] = surface_depth(renders["depth"], renders["depth_normalized"], renders["acc"])
    opaque = renders["acc"] > SURFACE_MIN_ACC
    renders["points"] = backproject_depth(renders["surface_depth"], data.poses, data.intrinsics, opaque)
    renders["point_colors"] = renders["rgb"][opaque]
    metrics = {key: (None if None in values else float(np.mean(values))) for key, values in per_view.items()}
    metrics |= {key: None for key in DEPTH_KEYS + DEPTH_OBJECT_KEYS + DEPTH_OPAQUE_KEYS}
    if data.depth is None:
        metrics["depth_note"] = f"the {data.split!r} split of {data.name!r} has no ground-truth depth"
    masks = depth_masks(data, renders["acc"])
    for suffix, mask in masks.items():
        pooled = depth_metrics(renders["surface_depth"], data.depth, mask)
        views = [depth_metrics(renders["surface_depth"][v], data.depth[v], mask[v]) for v in range(len(data))]
        for name in DEPTH_STATS:
            metrics[f"depth_{name}{suffix}"] = pooled[name]
            per_view[f"depth_{name}{suffix}"] = [v[name] for v in views]
        metrics[f"depth_pixels{suffix}"] = pooled["pixels"]
    if "_object" in masks:
        metrics["depth_coverage_object"] = float(opaque[masks["_object"]].mean()) if masks["_object"].any() else None
    if truth is not None:
        metrics |= geometry_scores(run, renders["points"], truth)
    metrics["per_view"] = per_view
    return metrics, renders


# %% 07_Comprehensive_Evaluation.ipynb · cell c51
INTERIOR_TOLERANCE = 0.05  # mesh points inside a solid and farther than this from its visible surface are culled
MESH_MAX_POINTS = 400_000


@dataclass
class GroundTruth:
    """Points on the analytic surfaces of the embedded scene seen by the test cameras (``test``) and by the
    training cameras (``train``), their KD-trees, the scene box and how long sampling them took."""

    test: np.ndarray
    train: np.ndarray
    test_tree: cKDTree
    train_tree: cKDTree
    aabb: np.ndarray
    seconds: float


def is_embedded(data) -> bool:
    """True when ``data`` was loaded from a folder the embedded-scene generator wrote (its marker)."""
    paths = list(getattr(data, "image_paths", None) or [])
    marker = embedded_marker(Path(paths[0]).parent.parent) if paths else None
    return (marker or "").startswith(f"{EMBEDDED_GENERATOR} v")


def embedded_ground_truth(data) -> GroundTruth:
    """The ground-truth surfaces for the test views of ``data`` (the embedded scene) and its training cameras."""
    start = time.perf_counter()
    test = embedded_surface(data.poses, data.intrinsics, data.H, data.W)
    train = embedded_surface(*embedded_training_cameras())
    return GroundTruth(test, train, cKDTree(test), cKDTree(train), np.asarray(data.scene_box, np.float64),
                       time.perf_counter() - start)


def rendered_density(run):
    """The density the run's renderer sees, as ``points [M,3] -> [M]``: ``field.density``, zero outside the
    occupied cells of the sampler's occupancy grid when it marches one."""
    device = next(run.field.parameters()).device
    grid = getattr(run.sampler, "grid", None)

    def density(points: torch.Tensor) -> torch.Tensor:
        points = points.to(device)
        sigma = run.field.density(points)
        return sigma if grid is None else sigma * grid.is_occupied(points).to(sigma.dtype)

    return density


def mesh_scores(density_fn, truth: GroundTruth, seed: int = 0, solids=embedded_occupancy) -> dict:
    """Chamfer/F-scores of the marching-cubes mesh of ``density_fn`` against ``truth.train``, sampled by area
    (``SURFACE_DENSITY``, at most ``MESH_MAX_POINTS``), points inside the true ``solids`` (a density, > 0
    inside) and more than ``INTERIOR_TOLERANCE`` from the visible surface culled (their share:
    ``interior_fraction``)."""
    mesh = density_mesh(density_fn, truth.aabb)
    n = int(min(mesh["area"] * SURFACE_DENSITY, MESH_MAX_POINTS))
    points = sample_triangles(mesh["vertices"], mesh["faces"], n, np.random.default_rng(seed))
    inside = solids(torch.from_numpy(points)).numpy() > 0
    near = np.zeros(len(points), bool)  # bounded query: fast, and all the culling needs
    near[inside] = np.isfinite(truth.train_tree.query(points[inside], distance_upper_bound=INTERIOR_TOLERANCE)[0])
    interior = inside & ~near
    scores = chamfer_fscore(points[~interior], truth.train, gt_tree=truth.train_tree)
    return scores | {"area": mesh["area"], "level": mesh["level"], "faces": len(mesh["faces"]),
                     "interior_fraction": float(interior.mean()) if len(points) else None}


def geometry_scores(run, points: np.ndarray, truth: GroundTruth) -> dict:
    """The headline geometry numbers of one run (``chamfer_points``, ``fscore_points`` of its rendered-depth
    cloud ``points``; ``chamfer_mesh``, ``fscore_mesh`` of its density mesh; F at ``FSCORE_TAU``) and all
    the details under ``"geometry"``."""
    cloud = chamfer_fscore(points, truth.test, gt_tree=truth.test_tree)
    mesh = mesh_scores(rendered_density(run), truth)
    tau = f"{FSCORE_TAU:g}"
    return {"chamfer_points": cloud["chamfer"], "fscore_points": cloud["fscore"][tau], "chamfer_mesh": mesh["chamfer"],
            "fscore_mesh": mesh["fscore"][tau], "geometry": {"points": cloud, "mesh": mesh}}


def reference_geometry(data, truth: GroundTruth) -> dict:
    """The floors at this resolution: the ground-truth depth maps of ``data`` back-projected (``points``) and
    the exact scene's occupancy through the same marching cubes (``mesh``)."""
    valid = data.depth_mask & (data.depth > 0)
    cloud = backproject_depth(data.depth, data.poses, data.intrinsics, valid)
    return {"points": chamfer_fscore(cloud, truth.test, gt_tree=truth.test_tree),
            "mesh": mesh_scores(embedded_occupancy, truth)}


# %% 07_Comprehensive_Evaluation.ipynb · cell c29
COST_KEYS = ("train_seconds", "iterations", "peak_memory_bytes", "device")
TRAIN_BATCH_SHARE = 0.05  # the last 5 % of the training steps


def read_cost(out_dir: Path | str) -> dict:
    """Training cost recorded in ``out_dir/summary.json``: wall time, iterations, peak memory, device
    (each None, and a ``cost_note``, when the file is absent)."""
    cost = {key: read_summary(out_dir).get(key) for key in COST_KEYS}
    path = Path(out_dir) / "summary.json"
    return cost if path.exists() else cost | {"cost_note": f"{path} not found"}


def split_psnr(run, out_dir: Path | str, splits: dict | None = None, chunk: int = 8192) -> dict:
    """PSNRs of other splits: ``psnr_train_batches`` (mean of the last ``TRAIN_BATCH_SHARE`` of the trainer's
    per-step PSNR, ``psnr_history.npy``), ``psnr_<name>_views`` (mean per-view PSNR of whole views of each
    ``splits[name]``, rendered as the test views) and ``psnr_val_trainer`` (the last validation PSNR of
    ``summary.json``); None where the file or split is absent."""
    path = Path(out_dir) / "psnr_history.npy"
    history = np.load(path) if path.exists() else np.zeros(0)
    last = history[-max(1, round(TRAIN_BATCH_SHARE * len(history))):]
    out = {"psnr_train_batches": float(np.mean(last)) if len(last) else None}
    for name, split in (splits or {}).items():
        rendered = run.render_views(split, range(len(split)), chunk=chunk)["rgb"]
        out[f"psnr_{name}_views"] = float(np.mean([psnr(np.clip(r, 0, 1), g) for r, g in zip(rendered, split.images)]))
    val = read_summary(out_dir).get("val_psnr") or []
    return out | {"psnr_val_trainer": val[-1]["psnr"] if val else None}


def evaluate_all(results: Path | str, data, strategies=STRATEGIES, lpips_net=None, lpips_note: str = "",
                 device: torch.device | None = None, chunk: int = 8192, progress: bool = True,
                 splits: dict | None = None, geometry: bool | None = None, lpips_source: str = "",
                 run_subdir: str = "") -> tuple[dict, dict]:
    """Evaluate every strategy in ``results/<strategy>/<run_subdir>`` on ``data`` (the test split); ``run_subdir``
    e.g. ``"few_view"`` for the training notebooks' few-view runs.

    ``splits``: ``{name: SceneData}`` of other splits for :func:`split_psnr`; ``geometry``: score the geometry
    against the analytic surfaces (default: when ``data`` is the embedded scene with depth). Returns
    ``(evaluation, renders)``: ``evaluation`` maps each strategy to its metrics (or to ``{"missing": reason}``)
    and ``"meta"`` to what was evaluated; ``renders`` maps each evaluated strategy to its test renders.
    """
    if lpips_net is not None and lpips_size_note(data.H, data.W):
        lpips_net, lpips_note = None, lpips_size_note(data.H, data.W)
    geometry = (is_embedded(data) and data.depth is not None) if geometry is None else geometry
    truth = None  # sampled once, when the first run loads
    evaluation: dict = {}
    renders: dict = {}
    for strategy in strategies:
        out_dir = Path(results) / strategy / run_subdir
        try:
            run = load_run(out_dir, device=device)
        except (FileNotFoundError, RuntimeError, ValueError) as err:  # unreadable or foreign: name it, go on
            evaluation[strategy] = {"missing": str(err)}
            print(f"{strategy}: MISSING - {err}")
            continue
        truth = embedded_ground_truth(data) if geometry and truth is None else truth
        metrics, renders[strategy] = evaluate_run(run, data, lpips_net, chunk, progress, truth)
        if lpips_net is None:
            metrics["lpips_note"] = lpips_note
        evaluation[strategy] = metrics | split_psnr(run, out_dir, splits, chunk) | read_cost(out_dir)
    evaluation["meta"] = {
        "data": data.name, "split": data.split, "test_views": list(range(len(data))), "run_subdir": run_subdir,
        "test_images": list(data.image_paths), "resolution": [int(data.H), int(data.W)],
        "lpips": "lpips v0.1, AlexNet backbone" if lpips_net is not None else None,
        "lpips_note": lpips_note, "lpips_weights": lpips_source if lpips_net is not None else None,
        "image_metrics": "mean over test views of per-view PSNR/SSIM/LPIPS; renders clipped to [0, 1]",
        "depth_metrics": ("ray depth (distance along the unit ray) vs ground-truth ray depth, pooled over the pixels "
                          f"of all test views; predicted depth = normalised expected depth where opacity > "
                          f"{SURFACE_MIN_ACC}, expected depth elsewhere; deltas: {DELTAS}"),
        "pixel_sets": {suffix or "(none)": text for suffix, text in PIXEL_SETS.items()},
        "splits": {name: {"views": len(split), "images": list(split.image_paths)} for name, split in (splits or {}).items()},
        "psnr_cap_db": -10 * math.log10(MIN_MSE),
    }
    if truth is not None:
        evaluation["meta"]["geometry"] = {
            "fscore_taus": list(FSCORE_TAUS), "fscore_tau": FSCORE_TAU, "surface_density_per_unit2": SURFACE_DENSITY,
            "gt_points_test": len(truth.test), "gt_points_train": len(truth.train), "mesh_resolution": MESH_RESOLUTION,
            "interior_tolerance": INTERIOR_TOLERANCE, "sampling_seconds": round(truth.seconds, 2),
            "reference": reference_geometry(data, truth),
            "chamfer": "mean of the two directed mean nearest-neighbour distances (not squared), scene units",
        }
    return evaluation, renders


# %% 07_Comprehensive_Evaluation.ipynb · cell c09
GEOMETRY_KEYS = ("chamfer_points", "fscore_points", "chamfer_mesh", "fscore_mesh")
TABLE_COLUMNS = [  # the headline: (key, header, format)
    ("psnr", "PSNR ↑", "{:.2f}"), ("ssim", "SSIM ↑", "{:.3f}"), ("lpips", "LPIPS ↓", "{:.3f}"),
    ("depth_absrel_object", "AbsRel object ↓", "{:.4f}"), ("depth_rmse_object", "RMSE object ↓", "{:.4f}"),
    ("depth_absrel", "AbsRel all ↓", "{:.4f}"), ("depth_rmse", "RMSE all ↓", "{:.4f}"),
    ("chamfer_points", "Chamfer depth ↓", "{:.4f}"), ("fscore_points", f"F@{FSCORE_TAU:g} depth ↑", "{:.3f}"),
    ("chamfer_mesh", "Chamfer mesh ↓", "{:.4f}"), ("fscore_mesh", f"F@{FSCORE_TAU:g} mesh ↑", "{:.3f}"),
    ("train_seconds", "train time (s)", "{:.1f}"),
]
DEPTH_COLUMNS = [("pixels", "pixels", "{:d}"), ("absrel", "AbsRel ↓", "{:.4f}"), ("rmse", "RMSE ↓", "{:.4f}"),
                 ("delta1", "δ<1.25 ↑", "{:.4f}"), ("delta105", "δ<1.05 ↑", "{:.4f}"), ("delta101", "δ<1.01 ↑", "{:.4f}")]
SPLIT_COLUMNS = [("psnr_train_batches", "train batches (last 5 %)", "{:.2f}"), ("psnr_train_views", "train views", "{:.2f}"),
                 ("psnr_val_views", "val views", "{:.2f}"), ("psnr", "test views", "{:.2f}"),
                 ("psnr_val_trainer", "val (trainer's log)", "{:.2f}")]
COST_COLUMNS = [("train_seconds", "train time (s)", "{:.1f}"), ("iterations", "iterations", "{:d}"),
                ("peak_memory_bytes", "peak memory (MiB)", "{:.0f}"), ("device", "device", "{}")]


def strategy_names(evaluation: dict) -> list[str]:
    """The strategies of an evaluation (every key but ``"meta"``), in its order."""
    return [name for name in evaluation if name != "meta"]


def format_cell(key: str, value, fmt: str) -> str:
    """One table cell: ``n/a`` for None, peak memory in MiB, else ``fmt``.

    >>> format_cell("peak_memory_bytes", 3 * 2**20, "{:.0f}"), format_cell("psnr", None, "{:.2f}")
    ('3', 'n/a')
    """
    if value is None:
        return "n/a"
    if key == "peak_memory_bytes":
        value = value / 2**20
    return fmt.format(value)


def rows_table(first: str, columns, rows: list[tuple[str, dict | None]]) -> str:
    """A markdown table: header ``first`` + ``columns`` (key, header, format); each row ``(label, values)``,
    ``values`` a dict (missing keys: ``n/a``) or a string spanning the row (a missing strategy)."""
    lines = [f"| {first} | " + " | ".join(h for _, h, _ in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for label, values in rows:
        cells = ([values] + [""] * (len(columns) - 1) if isinstance(values, str)
                 else [format_cell(k, values.get(k), f) for k, _, f in columns])
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _strategy_rows(evaluation: dict, pick=lambda entry: entry) -> list:
    return [(name, f"missing: {evaluation[name]['missing']}" if "missing" in evaluation[name] else pick(evaluation[name]))
            for name in strategy_names(evaluation)]


def markdown_table(evaluation: dict, columns=None) -> str:
    """The headline comparison (``headline_columns``) as a markdown table; a missing strategy gets one row saying why.

    >>> print(markdown_table({"baseline": {"psnr": 25.0, "ssim": 0.9, "lpips": 0.05, "train_seconds": 12.0},
    ...                       "soft": {"missing": "no model"}}, TABLE_COLUMNS[:3]))
    | strategy | PSNR ↑ | SSIM ↑ | LPIPS ↓ |
    |---|---|---|---|
    | baseline | 25.00 | 0.900 | 0.050 |
    | soft | missing: no model |  |  |
    """
    return rows_table("strategy", columns or headline_columns(evaluation), _strategy_rows(evaluation))


def headline_columns(evaluation: dict) -> list:
    """``TABLE_COLUMNS``, less the geometry's when ``evaluation`` scored none (another scene, or ``geometry=False``).

    >>> len(TABLE_COLUMNS) - len(headline_columns({"meta": {}}))
    4
    """
    return TABLE_COLUMNS if evaluation.get("meta", {}).get("geometry") else [
        c for c in TABLE_COLUMNS if c[0] not in GEOMETRY_KEYS]


def depth_table(evaluation: dict) -> str:
    """Depth of every strategy on every pixel set (object, opaque, all) with every δ."""
    rows = []
    for name, entry in _strategy_rows(evaluation):
        for suffix in PIXEL_SETS:
            label = f"{name}, {PIXEL_SETS[suffix].split(':')[0]}"
            rows.append((label, entry if isinstance(entry, str) else
                         {k: entry.get(f"depth_{k}{suffix}") for k, _, _ in DEPTH_COLUMNS}))
            if isinstance(entry, str):
                break
    return rows_table("strategy, pixels", DEPTH_COLUMNS, rows)


def geometry_table(evaluation: dict) -> str:
    """Rendered-depth cloud and density mesh of every strategy against the analytic surfaces, every F-score,
    and the two reference rows (ground-truth depth maps, exact scene)."""
    columns = [("chamfer", "Chamfer ↓", "{:.4f}"), ("accuracy", "accuracy ↓", "{:.4f}"),
               ("completeness", "completeness ↓", "{:.4f}"), *[(f"f{t:g}", f"F@{t:g} ↑", "{:.3f}") for t in FSCORE_TAUS],
               ("points", "points", "{:d}"), ("area", "mesh area", "{:.2f}"), ("interior_fraction", "culled inside", "{:.2f}")]
    flat = lambda g: g | {f"f{t:g}": g["fscore"][f"{t:g}"] for t in FSCORE_TAUS}  # noqa: E731
    rows = []
    reference = evaluation.get("meta", {}).get("geometry", {}).get("reference", {})
    for kind, what in (("points", "depth"), ("mesh", "mesh")):
        rows += [(f"{name}, {what}", entry if isinstance(entry, str) else flat(entry["geometry"][kind]))
                 for name, entry in _strategy_rows(evaluation) if isinstance(entry, str) or "geometry" in entry]
        if kind in reference:
            rows.append((f"reference ({'ground-truth depth maps' if kind == 'points' else 'exact scene'}), {what}",
                         flat(reference[kind])))
    return rows_table("strategy, cloud", columns, rows)


def legend(evaluation: dict) -> list[str]:
    """Lines saying what the headline columns measure (from ``evaluation["meta"]``)."""
    meta = evaluation.get("meta", {})
    lines = [f"Depth: {meta.get('depth_metrics', 'ray depth')}. Pixel sets: "
             + "; ".join(PIXEL_SETS.values()) + "."]
    geometry = meta.get("geometry")
    if geometry:
        lines.append(f"Geometry (embedded scene): Chamfer = {geometry['chamfer']}; F@{geometry['fscore_tau']:g} = F-score at "
                     f"{geometry['fscore_tau']:g} scene units. 'depth': the test pixels rendered opaque, back-projected, against "
                     f"{geometry['gt_points_test']} points on the analytic surfaces the test cameras see; 'mesh': marching cubes "
                     f"of the density ({geometry['mesh_resolution']}^3 grid, level ln 2 / grid step), interior culled, against "
                     f"{geometry['gt_points_train']} points the training cameras see.")
    if meta.get("lpips"):
        lines.append(f"LPIPS: {meta['lpips']}; trunk {meta.get('lpips_weights') or 'torchvision AlexNet'}.")
    elif meta.get("lpips_note"):
        lines.append(f"LPIPS: {meta['lpips_note']}.")
    return lines


def evaluation_markdown(evaluation: dict) -> str:
    """``evaluation_results.md``: the headline table and its legend, then depth by pixel set, geometry, PSNR by
    split and cost."""
    parts = ["## Headline", markdown_table(evaluation), "", *legend(evaluation), "", "## Depth by pixel set",
             depth_table(evaluation)]
    if any("geometry" in e for e in evaluation.values()):
        parts += ["", "## Geometry against the analytic surfaces", geometry_table(evaluation)]
    parts += ["", "## PSNR by split (dB)", rows_table("strategy", SPLIT_COLUMNS, _strategy_rows(evaluation)),
              "", "## Cost", rows_table("strategy", COST_COLUMNS, _strategy_rows(evaluation))]
    return "\n".join(parts)


# %% 07_Comprehensive_Evaluation.ipynb · cell c32
SPLIT_KEYS = ("psnr_train_batches", "psnr_train_views", "psnr_val_views", "psnr_val_trainer")
CSV_KEYS = ["strategy", "missing", *IMAGE_KEYS, *DEPTH_OBJECT_KEYS, *DEPTH_OPAQUE_KEYS, *DEPTH_KEYS,
            "depth_coverage_object", *GEOMETRY_KEYS, *SPLIT_KEYS, *COST_KEYS]


def csv_text(evaluation: dict) -> str:
    """The scalar columns ``CSV_KEYS`` of every strategy as CSV text (header first)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_KEYS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for name in strategy_names(evaluation):
        writer.writerow({"strategy": name, **evaluation[name]})
    return out.getvalue()


def write_evaluation(evaluation: dict, results: Path | str) -> dict[str, Path]:
    """Write ``evaluation_results.{npy,json,csv,md}`` into ``results``; returns the paths."""
    results = Path(results)
    return {
        "npy": atomic_npy(results / "evaluation_results.npy", np.array(evaluation, dtype=object)),
        "json": atomic_json(results / "evaluation_results.json", evaluation),
        "csv": atomic_write(results / "evaluation_results.csv", lambda tmp: tmp.write_text(csv_text(evaluation))),
        "md": atomic_write(results / "evaluation_results.md",
                           lambda tmp: tmp.write_text(evaluation_markdown(evaluation) + "\n")),
    }


def ply_bytes(points: np.ndarray, colors: np.ndarray) -> bytes:
    """A binary little-endian PLY of ``points [N,3]`` (float32 ``x y z``) and ``colors [N,3]`` in [0, 1]
    (uchar ``red green blue``).

    >>> ply_bytes(np.zeros((2, 3)), np.ones((2, 3))).split(b"end_header\\n")[0].decode().splitlines()[2]
    'element vertex 2'
    """
    points = np.asarray(points, np.float32).reshape(-1, 3)
    record = np.zeros(len(points), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"),
                                         ("red", "u1"), ("green", "u1"), ("blue", "u1")])
    record["x"], record["y"], record["z"] = points.T
    rgb = np.round(np.clip(np.asarray(colors, np.float64).reshape(-1, 3), 0, 1) * 255).astype(np.uint8)
    record["red"], record["green"], record["blue"] = rgb.T
    header = ("ply\nformat binary_little_endian 1.0\n" f"element vertex {len(points)}\n"
              + "".join(f"property float {a}\n" for a in "xyz")
              + "".join(f"property uchar {c}\n" for c in ("red", "green", "blue")) + "end_header\n")
    return header.encode("ascii") + record.tobytes()


def write_test_renders(renders: dict, results: Path | str) -> dict[str, Path]:
    """Each strategy's raw test depth (``test_depth.npy``: ray depth as scored), opacity (``test_acc.npy``) and
    point cloud (``test_points.ply``) into ``results/<strategy>/``."""
    written = {}
    for name, out in renders.items():
        folder = Path(results) / name
        written[f"{name}/test_depth.npy"] = atomic_npy(folder / "test_depth.npy", out["surface_depth"].astype(np.float32))
        written[f"{name}/test_acc.npy"] = atomic_npy(folder / "test_acc.npy", out["acc"].astype(np.float32))
        data = ply_bytes(out["points"], out["point_colors"])
        written[f"{name}/test_points.ply"] = atomic_write(folder / "test_points.ply", lambda tmp: tmp.write_bytes(data))
    return written


def read_evaluation(results: Path | str) -> dict:
    """The evaluation notebook 07 wrote into ``results/evaluation_results.json``."""
    path = Path(results) / "evaluation_results.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run 07_Comprehensive_Evaluation.ipynb first")
    return json.loads(path.read_text())


# %% 07_Comprehensive_Evaluation.ipynb · cell c13
def main(argv=None) -> None:
    """``python -m depthnerf.evaluate [--results DIR]``: print the tables of ``DIR/evaluation_results.json``."""
    parser = argparse.ArgumentParser(description="Print the evaluation tables written by notebook 07.")
    parser.add_argument("--results", default="results", help="results folder (default: results)")
    args = parser.parse_args(argv)
    print(evaluation_markdown(read_evaluation(args.results)))


if __name__ == "__main__" and "ipykernel" not in sys.modules:  # a notebook kernel is __main__ too
    main()
