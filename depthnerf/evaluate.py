# Generated from 07_Comprehensive_Evaluation.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from depthnerf.io import atomic_json, atomic_npy, atomic_write
from depthnerf.metrics import MIN_MSE, depth_metrics, lpips_distance, lpips_size_note, psnr, ssim
from depthnerf.runs import load_run, read_summary


# %% 07_Comprehensive_Evaluation.ipynb · cell c07
STRATEGIES = ("baseline", "soft", "hard", "hybrid")
IMAGE_KEYS = ("psnr", "ssim", "lpips")
DEPTH_KEYS = ("depth_absrel", "depth_rmse", "depth_delta1")
DEPTH_OBJECT_KEYS = tuple(f"{k}_object" for k in DEPTH_KEYS)


def depth_masks(data) -> dict[str, np.ndarray]:
    """The pixel sets depth is scored on: ``""`` (valid depth) and ``"_object"`` (also alpha > 0.5)."""
    if data.depth is None or data.depth_mask is None:
        return {}
    masks = {"": data.depth_mask & (data.depth > 0)}
    if data.alphas is not None:
        masks["_object"] = masks[""] & (data.alphas > 0.5)
    return masks


def evaluate_run(run, data, lpips_net=None, chunk: int = 8192, progress: bool = True) -> tuple[dict, dict]:
    """Render every view of ``data`` with ``run`` (a ``runs.TrainedRun``) and score it.

    Returns ``(metrics, renders)``: ``metrics`` has the means (image metrics: mean over views;
    depth: pooled over all valid pixels; None without ground truth, or ``*_object`` without
    alphas) and ``per_view`` lists; ``renders`` holds ``rgb [V,H,W,3]`` (clipped to [0, 1]) and
    ``depth [V,H,W]`` as numpy arrays.
    """
    per_view = {key: [] for key in IMAGE_KEYS}
    rgbs, depths = [], []
    for view in tqdm(range(len(data)), desc=f"evaluate {run.config.strategy}", disable=not progress):
        out = run.render_views(data, [view], chunk=chunk)
        rgb = np.clip(out["rgb"][0], 0.0, 1.0)
        rgbs.append(rgb)
        depths.append(out["depth"][0])
        per_view["psnr"].append(psnr(rgb, data.images[view]))
        per_view["ssim"].append(ssim(rgb, data.images[view]))
        per_view["lpips"].append(None if lpips_net is None else lpips_distance(lpips_net, rgb, data.images[view]))
    renders = {"rgb": np.stack(rgbs), "depth": np.stack(depths)}
    metrics = {key: (None if None in values else float(np.mean(values))) for key, values in per_view.items()}
    metrics |= {key: None for key in DEPTH_KEYS + DEPTH_OBJECT_KEYS}
    if data.depth is None:
        metrics["depth_note"] = f"the {data.split!r} split of {data.name!r} has no ground-truth depth"
    for suffix, mask in depth_masks(data).items():
        pooled = depth_metrics(renders["depth"], data.depth, mask)
        views = [depth_metrics(renders["depth"][v], data.depth[v], mask[v]) for v in range(len(data))]
        for name in ("absrel", "rmse", "delta1"):
            metrics[f"depth_{name}{suffix}"] = pooled[name]
            per_view[f"depth_{name}{suffix}"] = [v[name] for v in views]
        metrics[f"depth_pixels{suffix}"] = pooled["pixels"]
    metrics["per_view"] = per_view
    return metrics, renders


# %% 07_Comprehensive_Evaluation.ipynb · cell c29
COST_KEYS = ("train_seconds", "iterations", "peak_memory_bytes", "device")


def read_cost(out_dir: Path | str) -> dict:
    """Training cost recorded in ``out_dir/summary.json``: wall time, iterations, peak memory, device
    (each None, and a ``cost_note``, when the file is absent)."""
    cost = {key: read_summary(out_dir).get(key) for key in COST_KEYS}
    path = Path(out_dir) / "summary.json"
    return cost if path.exists() else cost | {"cost_note": f"{path} not found"}


def evaluate_all(results: Path | str, data, strategies=STRATEGIES, lpips_net=None, lpips_note: str = "",
                 device: torch.device | None = None, chunk: int = 8192,
                 progress: bool = True) -> tuple[dict, dict]:
    """Evaluate every strategy in ``results/<strategy>/`` on ``data`` (the test split).

    Returns ``(evaluation, renders)``. ``evaluation`` maps each strategy to its metrics (or to
    ``{"missing": reason}``) and ``"meta"`` to what was evaluated; ``renders`` maps each evaluated
    strategy to its test renders.
    """
    if lpips_net is not None and lpips_size_note(data.H, data.W):
        lpips_net, lpips_note = None, lpips_size_note(data.H, data.W)
    evaluation: dict = {}
    renders: dict = {}
    for strategy in strategies:
        out_dir = Path(results) / strategy
        try:
            run = load_run(out_dir, device=device)
        except (FileNotFoundError, RuntimeError, ValueError) as err:  # unreadable or foreign: name it, go on
            evaluation[strategy] = {"missing": str(err)}
            print(f"{strategy}: MISSING - {err}")
            continue
        metrics, renders[strategy] = evaluate_run(run, data, lpips_net, chunk, progress)
        if lpips_net is None:
            metrics["lpips_note"] = lpips_note
        evaluation[strategy] = metrics | read_cost(out_dir)
    evaluation["meta"] = {
        "data": data.name, "split": data.split, "test_views": list(range(len(data))),
        "test_images": list(data.image_paths), "resolution": [int(data.H), int(data.W)],
        "lpips": "lpips v0.1, AlexNet backbone" if lpips_net is not None else None,
        "lpips_note": lpips_note,
        "image_metrics": "mean over test views of per-view PSNR/SSIM/LPIPS; renders clipped to [0, 1]",
        "depth_metrics": ("expected RAY depth (distance along the unit ray) vs ground-truth ray depth, "
                          "pooled over all valid pixels of all test views; *_object: alpha > 0.5 only"),
        "psnr_cap_db": -10 * math.log10(MIN_MSE),
    }
    return evaluation, renders


# %% 07_Comprehensive_Evaluation.ipynb · cell c09
TABLE_COLUMNS = [  # (key, header, format)
    ("psnr", "PSNR ↑", "{:.2f}"), ("ssim", "SSIM ↑", "{:.3f}"), ("lpips", "LPIPS (alex) ↓", "{:.3f}"),
    ("depth_absrel", "depth AbsRel ↓", "{:.3f}"), ("depth_rmse", "depth RMSE ↓", "{:.3f}"),
    ("depth_delta1", "depth δ<1.25 ↑", "{:.3f}"), ("train_seconds", "train time (s)", "{:.1f}"),
    ("iterations", "iterations", "{:d}"), ("peak_memory_bytes", "peak memory (MiB)", "{:.0f}"),
]


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


def markdown_table(evaluation: dict) -> str:
    """The comparison as a markdown table; a missing strategy gets one row saying why.

    >>> print(markdown_table({"baseline": {"psnr": 25.0, "ssim": 0.9, "lpips": None, "depth_absrel": 0.1,
    ...     "depth_rmse": 0.2, "depth_delta1": 0.95, "train_seconds": 12.0, "iterations": 30,
    ...     "peak_memory_bytes": 2**30}, "soft": {"missing": "no model"}}))
    | strategy | PSNR ↑ | SSIM ↑ | LPIPS (alex) ↓ | depth AbsRel ↓ | depth RMSE ↓ | depth δ<1.25 ↑ | train time (s) | iterations | peak memory (MiB) |
    |---|---|---|---|---|---|---|---|---|---|
    | baseline | 25.00 | 0.900 | n/a | 0.100 | 0.200 | 0.950 | 12.0 | 30 | 1024 |
    | soft | missing: no model |  |  |  |  |  |  |  |  |
    """
    lines = ["| strategy | " + " | ".join(header for _, header, _ in TABLE_COLUMNS) + " |",
             "|---" * (len(TABLE_COLUMNS) + 1) + "|"]
    for name in strategy_names(evaluation):
        entry = evaluation[name]
        if "missing" in entry:
            cells = [f"missing: {entry['missing']}"] + [""] * (len(TABLE_COLUMNS) - 1)
        else:
            cells = [format_cell(key, entry.get(key), fmt) for key, _, fmt in TABLE_COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# %% 07_Comprehensive_Evaluation.ipynb · cell c32
CSV_KEYS = ["strategy", "missing", *IMAGE_KEYS, *DEPTH_KEYS, *DEPTH_OBJECT_KEYS, *COST_KEYS]


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
                           lambda tmp: tmp.write_text(markdown_table(evaluation) + "\n")),
    }


def read_evaluation(results: Path | str) -> dict:
    """The evaluation notebook 07 wrote into ``results/evaluation_results.json``."""
    path = Path(results) / "evaluation_results.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run 07_Comprehensive_Evaluation.ipynb first")
    return json.loads(path.read_text())


# %% 07_Comprehensive_Evaluation.ipynb · cell c13
def main(argv=None) -> None:
    """``python -m depthnerf.evaluate [--results DIR]``: print the table of ``DIR/evaluation_results.json``."""
    parser = argparse.ArgumentParser(description="Print the evaluation table written by notebook 07.")
    parser.add_argument("--results", default="results", help="results folder (default: results)")
    args = parser.parse_args(argv)
    print(markdown_table(read_evaluation(args.results)))


if __name__ == "__main__" and "ipykernel" not in sys.modules:  # a notebook kernel is __main__ too
    main()
