# Generated from 07_Comprehensive_Evaluation.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from depthnerf.evaluate import TABLE_COLUMNS, strategy_names
from depthnerf.io import atomic_write
from depthnerf.runs import read_summary


# %% 07_Comprehensive_Evaluation.ipynb · cell c11
def save_figure(fig, path: Path | str) -> Path:
    """Write ``fig`` to ``path`` (110 dpi, tight box; atomically) and close it."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight"))
    plt.close(fig)
    return Path(path)


def plot_comparison(evaluation: dict, path: Path | str) -> Path:
    """Bar charts of every metric (bar: the strategy's value; dots: per test view)."""
    names = [n for n in strategy_names(evaluation) if "missing" not in evaluation[n]]
    panels = [(k, h) for k, h, _ in TABLE_COLUMNS[:6] if any(evaluation[n].get(k) is not None for n in names)]
    panels.append(("train_seconds", "train time (s)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 3.2), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (key, header) in zip(axes[0], panels):
        for i, name in enumerate(names):
            value = evaluation[name].get(key)
            if value is not None:
                ax.bar(i, value, color=colors[i % len(colors)], alpha=0.8)
            spread = [v for v in evaluation[name]["per_view"].get(key, []) if v is not None]
            ax.plot(np.full(len(spread), i) + np.linspace(-0.2, 0.2, len(spread)), spread, "k.", ms=4)
        ax.set_xticks(range(len(names)), names, rotation=45)
        ax.set_title(header, fontsize=9)
    fig.suptitle("strategies on the test views (bars: value, dots: individual views)")
    fig.tight_layout()
    return save_figure(fig, path)


# %% 07_Comprehensive_Evaluation.ipynb · cell c33
def read_curves(out_dir: Path | str) -> dict:
    """Training curves of one run: ``step``, ``psnr``, ``loss``, ``seconds`` per step, and the
    validation points ``val_step``, ``val_seconds``, ``val_psnr`` (from the run's files only)."""
    out_dir = Path(out_dir)
    psnr_hist = np.load(out_dir / "psnr_history.npy")
    loss_hist = np.load(out_dir / "loss_history.npy")
    steps = np.arange(1, len(psnr_hist) + 1)
    logged = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    timed = sorted((r["step"], r["seconds"]) for r in logged if "seconds" in r)
    summary = read_summary(out_dir)
    if summary.get("train_seconds") is not None:
        timed.append((len(psnr_hist), summary["train_seconds"]))
    seconds = np.interp(steps, [0] + [s for s, _ in timed], [0.0] + [t for _, t in timed])
    val = summary.get("val_psnr") or [r | {"psnr": r["val_psnr"]} for r in logged if "val_psnr" in r]
    return {"step": steps, "psnr": psnr_hist, "loss": loss_hist, "seconds": seconds,
            "val_step": [v["step"] for v in val], "val_seconds": [v["seconds"] for v in val],
            "val_psnr": [v["psnr"] for v in val]}


def plot_training_curves(results: Path | str, strategies, path: Path | str) -> Path:
    """Train PSNR and loss vs step and vs wall time; validation PSNR as points."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for name in strategies:
        curves = read_curves(Path(results) / name)
        for col, x, val_x in ((0, curves["step"], curves["val_step"]), (1, curves["seconds"], curves["val_seconds"])):
            line, = axes[0, col].plot(x, curves["psnr"], lw=0.8, alpha=0.8, label=f"{name} train")
            axes[0, col].plot(val_x, curves["val_psnr"], "o", color=line.get_color(), label=f"{name} val")
            axes[1, col].plot(x, curves["loss"], lw=0.8, color=line.get_color(), label=name)
    for col, xlabel in enumerate(("step", "training wall time (s)")):
        axes[0, col].set(xlabel=xlabel, ylabel="PSNR (dB)")
        axes[1, col].set(xlabel=xlabel, ylabel="loss", yscale="log")
    axes[0, 0].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return save_figure(fig, path)


# %% 07_Comprehensive_Evaluation.ipynb · cell c34
def plot_depth_error_maps(data, renders: dict, path: Path | str, view: int = 0) -> Path:
    """Ground truth and each strategy's ray depth (shared range) and relative error map of one view."""
    names = list(renders)
    valid = data.depth_mask[view] & (data.depth[view] > 0)
    gt = np.where(valid, data.depth[view], np.nan)
    lo, hi = float(np.nanmin(gt)), float(np.nanmax(gt))
    fig, axes = plt.subplots(2, len(names) + 1, figsize=(2.8 * (len(names) + 1), 5.6), squeeze=False)
    axes[0, 0].imshow(gt, cmap="turbo", vmin=lo, vmax=hi)
    axes[0, 0].set_title("ground-truth ray depth")
    axes[1, 0].imshow(data.images[view])
    axes[1, 0].set_title("ground-truth image")
    for col, name in enumerate(names, start=1):
        pred = renders[name]["depth"][view]
        depth_image = axes[0, col].imshow(pred, cmap="turbo", vmin=lo, vmax=hi)
        axes[0, col].set_title(f"{name} depth")
        error = np.where(valid, np.abs(pred - data.depth[view]) / np.where(valid, data.depth[view], 1.0), np.nan)
        axes[1, col].set_facecolor("0.6")
        error_image = axes[1, col].imshow(error, cmap="magma", vmin=0.0, vmax=0.3)
        axes[1, col].set_title(f"{name} |d-g|/g")
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
    if names:
        fig.colorbar(depth_image, ax=axes[0].tolist(), shrink=0.8, label="ray depth")
        fig.colorbar(error_image, ax=axes[1].tolist(), shrink=0.8, label="relative error")
    return save_figure(fig, path)
