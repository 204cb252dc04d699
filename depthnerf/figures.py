# Generated from 07_Comprehensive_Evaluation.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import json
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from depthnerf.evaluate import STRATEGIES, strategy_names
from depthnerf.io import atomic_write
from depthnerf.metrics import FSCORE_TAU, SURFACE_MIN_ACC
from depthnerf.runs import read_summary


# %% 07_Comprehensive_Evaluation.ipynb · cell c11
DEPTH_CMAP = "turbo"  # one colour map for depth in every figure and video
ERROR_CMAP = "magma"
CHANGE_CMAP = "RdBu_r"  # error minus the baseline's error: blue closer to the truth, red farther
NO_SURFACE = (0.82, 0.82, 0.82)  # neutral grey: no surface rendered (opacity <= 0.5) or no ground truth
DEPTH_LABEL = "ray depth (scene units)"


def save_figure(fig, path: Path | str) -> Path:
    """Write ``fig`` to ``path`` (110 dpi, tight box; atomically) and close it."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight"))
    plt.close(fig)
    return Path(path)


def scene_depth_range(data, renders: dict | None = None, min_acc: float = SURFACE_MIN_ACC,
                      percentiles=(1.0, 99.0)) -> tuple[float, float]:
    """The one depth colour range ``(lo, hi)`` of a scene: ``percentiles`` of its valid ground-truth depth
    (``data``: the test split); without ground truth, of the depth ``renders`` (``{name: {"depth", "acc"}}``,
    ``depth_normalized`` preferred) show where ``acc > min_acc``; without either, ``(near, far)``."""
    if data.depth is not None and data.depth_mask is not None and np.any(data.depth_mask & (data.depth > 0)):
        values = data.depth[data.depth_mask & (data.depth > 0)]
    else:
        values = np.concatenate([np.zeros(0)] + [r.get("depth_normalized", r["depth"])[r["acc"] > min_acc]
                                                 for r in (renders or {}).values()])
    if values.size == 0:
        return float(data.near), float(data.far)
    lo, hi = (float(np.percentile(values, p)) for p in percentiles)
    return lo, max(hi, lo + 1e-6)


def depth_colors(depth: np.ndarray, acc: np.ndarray | None, lo: float, hi: float,
                 min_acc: float = SURFACE_MIN_ACC, cmap: str = DEPTH_CMAP) -> np.ndarray:
    """``[..., H, W]`` depth -> ``[..., H, W, 3]`` float RGB: ``cmap`` over ``[lo, hi]`` (clipped) where
    ``acc > min_acc`` (everywhere when ``acc`` is None), ``NO_SURFACE`` grey elsewhere.

    >>> depth_colors(np.array([[2.0, 2.0]]), np.array([[1.0, 0.0]]), 1.0, 3.0)[0, 1].tolist()
    [0.82, 0.82, 0.82]
    """
    colors = matplotlib.colormaps[cmap](np.clip((np.asarray(depth, np.float64) - lo) / max(hi - lo, 1e-8), 0, 1))[..., :3]
    if acc is None:
        return colors
    return np.where((np.asarray(acc) > min_acc)[..., None], colors, np.asarray(NO_SURFACE))


def masked_cmap(name: str):
    """A copy of colour map ``name`` that draws masked (NaN) pixels in ``NO_SURFACE`` grey."""
    return matplotlib.colormaps[name].with_extremes(bad=NO_SURFACE)


# %% 07_Comprehensive_Evaluation.ipynb · cell c52
COMPARISON_PANELS = [  # (keys: one bar per key per strategy, title, labels of the keys)
    (("psnr",), "PSNR (dB) ↑", None), (("ssim",), "SSIM ↑", None), (("lpips",), "LPIPS (AlexNet) ↓", None),
    (("depth_absrel_object", "depth_absrel"), "depth AbsRel ↓", ("object pixels", "all pixels")),
    (("depth_rmse_object", "depth_rmse"), "depth RMSE (scene units) ↓", ("object pixels", "all pixels")),
    (("depth_delta101_object", "depth_delta101"), "depth δ<1.01 ↑", ("object pixels", "all pixels")),
    (("chamfer_points", "chamfer_mesh"), "Chamfer (scene units) ↓", ("rendered depth", "density mesh")),
    (("fscore_points", "fscore_mesh"), f"F-score at {FSCORE_TAU:g} ↑", ("rendered depth", "density mesh")),
    (("train_seconds",), "train time (s)", None),
]


def strategy_colors(names) -> dict[str, str]:
    """One colour per strategy, the same in every figure (by position in ``evaluate.STRATEGIES``)."""
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    order = list(STRATEGIES) + [n for n in names if n not in STRATEGIES]
    return {name: cycle[order.index(name) % len(cycle)] for name in names}


def plot_comparison(evaluation: dict, path: Path | str) -> Path:
    """Bar charts of the headline metrics (bars: the strategy's values, paired keys side by side, the second
    hatched; dots: individual test views)."""
    names = [n for n in strategy_names(evaluation) if "missing" not in evaluation[n]]
    panels = [p for p in COMPARISON_PANELS if any(evaluation[n].get(k) is not None for n in names for k in p[0])]
    cols = min(5, max(1, len(panels)))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 3.1 * rows), squeeze=False)
    colors = strategy_colors(names)
    for ax, (keys, title, labels) in zip(axes.ravel(), panels):
        width = 0.8 / len(keys)
        for i, name in enumerate(names):
            for j, key in enumerate(keys):
                x = i - 0.4 + width * (j + 0.5)
                value = evaluation[name].get(key)
                if value is not None:
                    ax.bar(x, value, width * 0.95, color=colors[name], alpha=0.85 if j == 0 else 0.45,
                           hatch=None if j == 0 else "//", edgecolor="k", linewidth=0.4)
                spread = [v for v in evaluation[name].get("per_view", {}).get(key, []) if v is not None]
                ax.plot(np.full(len(spread), x) + np.linspace(-0.25, 0.25, len(spread)) * width, spread, "k.", ms=3)
        ax.set_xticks(range(len(names)), names, rotation=30, fontsize=8)
        ax.set_title(title, fontsize=9)
        if labels:
            ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, fc="0.5", alpha=0.85, ec="k", lw=0.4),
                               plt.Rectangle((0, 0), 1, 1, fc="0.5", alpha=0.45, hatch="//", ec="k", lw=0.4)],
                      labels=list(labels), fontsize=7, loc="lower right")
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    meta = evaluation.get("meta", {})
    fig.suptitle(f"{meta.get('data', '')} test views ({len(meta.get('test_views', []))}) - bars: value, dots: views; "
                 "depth: object = ground-truth alpha > 0.5, all = every pixel with depth", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


REGIME_PANELS = (("psnr", "test PSNR (dB) ↑", "{:.2f}"), ("depth_absrel_object", "depth AbsRel, object pixels ↓", "{:.4f}"))


def plot_regimes(regimes: dict[str, dict], path: Path | str) -> Path:
    """The default run's answer in one figure: PSNR and object-pixel depth AbsRel per strategy (bars, value
    written above each; dots: test views), side by side for each regime. ``regimes``: ``{label: evaluation}``,
    e.g. ``{"100 views": ..., "8 views": ...}``, each as :func:`depthnerf.evaluate.evaluate_all` returns it."""
    names = list(dict.fromkeys(n for e in regimes.values() for n in strategy_names(e) if "missing" not in e[n]))
    colors = strategy_colors(names)
    fig, axes = plt.subplots(1, len(REGIME_PANELS), figsize=(5.2 * len(REGIME_PANELS), 3.4), squeeze=False)
    width = 0.8 / max(1, len(names))
    for ax, (key, title, fmt) in zip(axes[0], REGIME_PANELS):
        labels = []  # (x, top of the bar and its dots, text)
        for g, evaluation in enumerate(regimes.values()):
            for i, name in enumerate(names):
                value = evaluation.get(name, {}).get(key)
                if value is None:
                    continue
                x = g - 0.4 + width * (i + 0.5)
                ax.bar(x, value, width * 0.92, color=colors[name], edgecolor="k", linewidth=0.4,
                       label=name if g == 0 else None)
                spread = [v for v in evaluation[name].get("per_view", {}).get(key, []) if v is not None]
                ax.plot(x + np.linspace(-0.25, 0.25, len(spread)) * width, spread, "k.", ms=2)
                labels.append((x, max([value, *spread]), fmt.format(value)))
        ax.set_xticks(range(len(regimes)), list(regimes), fontsize=9)
        ax.set_title(title, fontsize=10)
        if labels:  # PSNR bars from 0 would hide dB differences: its axis starts below the lowest bar
            top = max(t for _, t, _ in labels)
            lowest = min(float(text) for _, _, text in labels)
            ax.set_ylim(*((max(0.0, lowest - 4.0), top + 0.25 * (top - lowest + 4.0)) if key == "psnr" else (0.0, 1.3 * top)))
        for x, top, text in labels:
            ax.annotate(text, (x, top), xytext=(0, 3), textcoords="offset points", ha="center", va="bottom",
                        rotation=90, fontsize=7)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), fontsize=8, ncol=len(names), loc="lower center",
               bbox_to_anchor=(0.5, -0.06))
    meta = next(iter(regimes.values())).get("meta", {})
    fig.suptitle(f"{meta.get('data', '')}: {len(meta.get('test_views', []))} test views; each regime's runs "
                 "trained on that many views (dots: views)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


# %% 07_Comprehensive_Evaluation.ipynb · cell c33
CURVE_KEYS = ("step", "seconds", "psnr", "val_psnr")  # metrics.jsonl keys that are not loss terms


def read_curves(out_dir: Path | str) -> dict:
    """Training curves of one run: ``step``, ``psnr``, ``loss`` (total), ``seconds`` per step, the validation
    points ``val_step``, ``val_seconds``, ``val_psnr`` and ``terms``: ``{name: (steps, values)}`` of every
    loss term logged in ``metrics.jsonl`` (from the run's files only)."""
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
    terms: dict = {}
    for record in logged:
        for key, value in record.items():
            if key not in CURVE_KEYS and isinstance(value, (int, float)):
                terms.setdefault(key, ([], []))
                terms[key][0].append(record["step"])
                terms[key][1].append(value)
    return {"step": steps, "psnr": psnr_hist, "loss": loss_hist, "seconds": seconds,
            "val_step": [v["step"] for v in val], "val_seconds": [v["seconds"] for v in val],
            "val_psnr": [v["psnr"] for v in val], "terms": {k: (np.array(s), np.array(v)) for k, (s, v) in terms.items()}}


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` values at every position (fewer at the start).

    >>> moving_average(np.array([1.0, 3.0, 5.0, 7.0]), 2).tolist()
    [1.0, 2.0, 4.0, 6.0]
    """
    cumulative = np.cumsum(np.concatenate([[0.0], np.asarray(values, np.float64)]))
    idx = np.arange(1, len(values) + 1)
    return (cumulative[idx] - cumulative[np.maximum(idx - window, 0)]) / np.minimum(idx, window)


def plot_training_curves(results: Path | str, strategies, path: Path | str, evaluation: dict | None = None) -> Path:
    """PSNR vs step and vs wall time (training batches raw and smoothed, validation points, final test PSNR as a
    star from ``evaluation``), then one panel per loss term and the total loss, against step."""
    curves = {name: read_curves(Path(results) / name) for name in strategies}
    term_names = sorted({t for c in curves.values() for t in c["terms"]}, key=lambda t: (t != "rgb", t))
    loss_panels = term_names + ["total"]
    cols = max(2, min(3, len(loss_panels)))
    rows = 1 + -(-len(loss_panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    colors = strategy_colors(list(strategies))
    for name, c in curves.items():
        test = (evaluation or {}).get(name, {}).get("psnr")
        for col, x, val_x in ((0, c["step"], c["val_step"]), (1, c["seconds"], c["val_seconds"])):
            ax = axes[0, col]
            ax.plot(x, c["psnr"], lw=0.5, alpha=0.25, color=colors[name])
            ax.plot(x, moving_average(c["psnr"], 25), lw=1.2, color=colors[name], label=f"{name} train batches")
            ax.plot(val_x, c["val_psnr"], "o", ms=4, color=colors[name], label=f"{name} val views")
            if test is not None:
                ax.plot(x[-1], test, "*", ms=11, color=colors[name], mec="k", mew=0.5, label=f"{name} test views")
        for k, term in enumerate(loss_panels):
            steps, values = (c["step"], c["loss"]) if term == "total" else c["terms"].get(term, ([], []))
            axes[1 + k // cols, k % cols].plot(steps, values, lw=0.9, color=colors[name], label=name)
    for col, xlabel in enumerate(("step", "training wall time (s)")):
        axes[0, col].set(xlabel=xlabel, ylabel="PSNR (dB)", title=f"PSNR vs {xlabel.split(' (')[0]}")
    axes[0, 0].legend(fontsize=6, ncol=2)
    for ax in axes[0, 2:]:
        ax.axis("off")
    for k, term in enumerate(loss_panels):
        ax = axes[1 + k // cols, k % cols]
        title = "total loss (loss_history.npy)" if term == "total" else f"loss term '{term}' (weighted, metrics.jsonl)"
        ax.set(xlabel="step", ylabel="loss", yscale="log", title=title)
        ax.title.set_fontsize(9)
        ax.legend(fontsize=7)
    for ax in axes.ravel()[cols + len(loss_panels):]:
        ax.axis("off")
    fig.tight_layout()
    return save_figure(fig, path)


# %% 07_Comprehensive_Evaluation.ipynb · cell c34
def plot_depth_error_maps(data, renders: dict, path: Path | str, view: int = 0,
                          depth_range: tuple[float, float] | None = None) -> Path:
    """One test view: ground-truth and each strategy's depth (masked by opacity, one range), the absolute error
    ``|d - g|`` (scene units, range: 95th percentile of the object pixels' errors over the strategies) and the
    error minus the baseline's (range: 95th percentile of its size)."""
    names = list(renders)
    lo, hi = depth_range or scene_depth_range(data, renders)
    valid = data.depth_mask[view] & (data.depth[view] > 0)
    obj = valid & (data.alphas[view] > 0.5) if data.alphas is not None else valid
    errors = {n: np.where(valid, np.abs(renders[n]["surface_depth"][view] - data.depth[view]), np.nan) for n in names}
    pooled = np.concatenate([e[obj] for e in errors.values()] + [np.zeros(1)])
    error_max = max(float(np.percentile(pooled, 95)), 1e-6)
    has_change = "baseline" in names and len(names) > 1
    rows = 3 if has_change else 2
    fig, axes = plt.subplots(rows, len(names) + 1, figsize=(2.7 * (len(names) + 1) + 1.2, 2.7 * rows), squeeze=False)
    depth_image = axes[0, 0].imshow(np.where(valid, data.depth[view], np.nan), cmap=masked_cmap(DEPTH_CMAP), vmin=lo, vmax=hi)
    axes[0, 0].set_title("ground truth", fontsize=9)
    axes[1, 0].imshow(data.images[view])
    axes[1, 0].set_title("ground-truth image", fontsize=9)
    change_max = max([float(np.percentile(np.abs(errors[n] - errors["baseline"])[obj], 95)) for n in names
                      if has_change and n != "baseline" and obj.any()] + [1e-6])
    change_image = error_image = None
    for col, name in enumerate(names, start=1):
        out = renders[name]
        shown = np.where(out["acc"][view] > SURFACE_MIN_ACC, out["surface_depth"][view], np.nan)
        axes[0, col].imshow(shown, cmap=masked_cmap(DEPTH_CMAP), vmin=lo, vmax=hi)
        absrel = np.nanmean(errors[name][obj] / data.depth[view][obj]) if obj.any() else np.nan
        axes[0, col].set_title(f"{name}\nAbsRel object {absrel:.4f}", fontsize=9)
        error_image = axes[1, col].imshow(errors[name], cmap=masked_cmap(ERROR_CMAP), vmin=0.0, vmax=error_max)
        axes[1, col].set_title(f"{name} |d - g|", fontsize=9)
        if has_change:
            axes[2, col].set_title(f"{name} - baseline" if name != "baseline" else "", fontsize=9)
            if name != "baseline":
                change_image = axes[2, col].imshow(errors[name] - errors["baseline"], cmap=masked_cmap(CHANGE_CMAP),
                                                   vmin=-change_max, vmax=change_max)
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
    if has_change:
        axes[2, 0].axis("off"), axes[2, 1 + names.index("baseline")].axis("off")
    fig.colorbar(depth_image, ax=axes[0].tolist(), shrink=0.85, label=DEPTH_LABEL)
    if error_image is not None:
        fig.colorbar(error_image, ax=axes[1].tolist(), shrink=0.85, label="|depth error| (scene units)")
    if change_image is not None:
        fig.colorbar(change_image, ax=axes[2].tolist(), shrink=0.85, label="error - baseline error\n(scene units; blue: better)")
    fig.suptitle(f"test view {view}: depth masked by opacity (grey: no surface / no ground truth)", fontsize=10)
    return save_figure(fig, path)
