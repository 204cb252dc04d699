# Generated from 07_Comprehensive_Evaluation.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import argparse
import csv
import io
import json
import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from skimage.metrics import structural_similarity
from tqdm.auto import tqdm

from depthnerf.train import atomic_write


# %% 07_Comprehensive_Evaluation.ipynb · cell c03
STRATEGIES = ("baseline", "soft", "hard", "hybrid")
MIN_MSE = 1e-10  # PSNR cap: -10 log10(1e-10) = 100 dB
ALEXNET_FILE = "alexnet-owt-7be5be79.pth"  # what torchvision.models.alexnet(weights="DEFAULT") loads
ALEXNET_ENV = "DEPTHNERF_LPIPS_ALEXNET"
LPIPS_MIN_SIDE = 31  # AlexNet's convolutions and poolings leave nothing of a smaller image


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """``PSNR = -10 log10(max(MSE, 1e-10))`` of images in [0, 1] (capped at 100 dB).

    >>> psnr(np.full((2, 2, 3), 0.5), np.full((2, 2, 3), 0.6))   # MSE = 0.01
    20.0
    >>> psnr(np.ones((2, 2, 3)), np.ones((2, 2, 3)))             # identical: the cap
    100.0
    """
    mse = float(np.mean((np.asarray(pred, np.float64) - np.asarray(target, np.float64)) ** 2))
    return round(-10.0 * math.log10(max(mse, MIN_MSE)), 10)


def ssim(pred: np.ndarray, target: np.ndarray) -> float:
    """SSIM of ``[H,W,3]`` images in [0, 1] (scikit-image, ``data_range=1``, ``channel_axis=-1``).

    >>> ssim(np.full((8, 8, 3), 0.3), np.full((8, 8, 3), 0.3))
    1.0
    """
    return float(structural_similarity(np.asarray(pred, np.float64), np.asarray(target, np.float64),
                                       data_range=1.0, channel_axis=-1))


def find_alexnet_weights() -> tuple[Path | None, str]:
    """Where the AlexNet ImageNet weights for LPIPS are: ``$DEPTHNERF_LPIPS_ALEXNET``, then the
    torch hub cache. Returns ``(path, "")`` or ``(None, reason)``; never downloads."""
    candidates = []
    if os.environ.get(ALEXNET_ENV):
        candidates.append(Path(os.environ[ALEXNET_ENV]))
    candidates.append(Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_FILE)
    for path in candidates:
        if path.is_file():
            return path, ""
    looked = ", ".join(str(p) for p in candidates)
    return None, (f"LPIPS not computed: the AlexNet ImageNet weights ({ALEXNET_FILE}) were not found "
                  f"(looked at {looked}); put the file there or set {ALEXNET_ENV} to its path")


def lpips_model(backbone_weights: Path | str | None, device: torch.device | None = None):
    """LPIPS v0.1 with an AlexNet trunk, built without any download.

    The trunk starts random (``pnet_rand=True``) and is then loaded from ``backbone_weights``
    (torchvision's AlexNet state dict: ``features.<i>.*`` -> lpips' ``net.slice<k>.<i>.*``); the
    calibrated linear layers come with the ``lpips`` package. ``backbone_weights=None`` keeps the
    random trunk (only for tests of the code path: its distances mean nothing).
    """
    import lpips

    with warnings.catch_warnings():  # torchvision warns about lpips' old `pretrained=` argument
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False)
    if backbone_weights is not None:
        try:
            state = torch.load(backbone_weights, map_location="cpu", weights_only=True)
        except Exception as err:
            raise RuntimeError(f"cannot read AlexNet weights {backbone_weights}: {err}") from err
        trunk = {name: f"features.{name.split('.', 1)[1]}" for name, _ in model.net.named_parameters()}
        absent = sorted(src for src in trunk.values() if src not in state)
        if absent:
            raise ValueError(f"{backbone_weights} is not torchvision's AlexNet state dict: "
                             f"missing {absent}")
        model.net.load_state_dict({name: state[src] for name, src in trunk.items()})
    return model.to(device or torch.device("cpu")).eval()


def lpips_size_note(H: int, W: int) -> str:
    """Why LPIPS cannot score ``H x W`` images ("" when it can).

    >>> lpips_size_note(25, 25)
    'LPIPS not computed: 25x25 images are smaller than the 31 px AlexNet needs'
    """
    if min(H, W) < LPIPS_MIN_SIDE:
        return f"LPIPS not computed: {H}x{W} images are smaller than the {LPIPS_MIN_SIDE} px AlexNet needs"
    return ""


def lpips_distance(model, pred: np.ndarray, target: np.ndarray) -> float:
    """LPIPS distance between two ``[H,W,3]`` images in [0, 1] (mapped to [-1, 1] inside)."""
    device = next(model.parameters()).device
    to_tensor = lambda image: torch.as_tensor(np.asarray(image, np.float32), device=device).permute(2, 0, 1)[None]  # noqa: E731
    with torch.no_grad():
        return float(model(to_tensor(pred), to_tensor(target), normalize=True).item())


# %% 07_Comprehensive_Evaluation.ipynb · cell c05
def depth_metrics(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> dict:
    """AbsRel, RMSE and delta<1.25 of ray depth on ``mask & (target > 0)`` (any equal shapes).

    Returns ``absrel``, ``rmse``, ``delta1`` (None when no pixel is valid) and ``pixels``.

    >>> m = depth_metrics(np.array([2.0, 3.0, 9.0]), np.array([2.0, 2.5, 4.0]), np.array([True, True, False]))
    >>> round(m["absrel"], 4), round(m["rmse"], 4), m["delta1"], m["pixels"]
    (0.1, 0.3536, 1.0, 2)
    """
    valid = np.asarray(mask, bool) & (np.asarray(target) > 0)
    d = np.asarray(pred, np.float64)[valid]
    g = np.asarray(target, np.float64)[valid]
    if d.size == 0:
        return {"absrel": None, "rmse": None, "delta1": None, "pixels": 0}
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d > 0, np.maximum(d / g, g / d), np.inf)
    return {"absrel": float(np.mean(np.abs(d - g) / g)), "rmse": float(np.sqrt(np.mean((d - g) ** 2))),
            "delta1": float(np.mean(ratio < 1.25)), "pixels": int(d.size)}


# %% 07_Comprehensive_Evaluation.ipynb · cell c07
IMAGE_KEYS = ("psnr", "ssim", "lpips")
DEPTH_KEYS = ("depth_absrel", "depth_rmse", "depth_delta1")
DEPTH_OBJECT_KEYS = tuple(f"{k}_object" for k in DEPTH_KEYS)
COST_KEYS = ("train_seconds", "iterations", "peak_memory_bytes", "device")


def depth_masks(data) -> dict[str, np.ndarray]:
    """The pixel sets depth is scored on: ``""`` (valid depth) and ``"_object"`` (also alpha > 0.5)."""
    if data.depth is None or data.depth_mask is None:
        return {}
    masks = {"": data.depth_mask & (data.depth > 0)}
    if data.alphas is not None:
        masks["_object"] = masks[""] & (data.alphas > 0.5)
    return masks


def evaluate_run(run, data, lpips_net=None, chunk: int = 8192, progress: bool = True) -> tuple[dict, dict]:
    """Render every view of ``data`` with ``run`` and score it.

    Returns ``(metrics, renders)``: ``metrics`` has the means (image metrics: mean over views;
    depth: pooled over all valid pixels; None without ground truth, or ``*_object`` without
    alphas) and ``per_view`` lists; ``renders`` holds ``rgb
    [V,H,W,3]`` (clipped to [0, 1]) and ``depth [V,H,W]`` as numpy arrays.
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


def read_cost(out_dir: Path | str) -> dict:
    """Training cost recorded in ``out_dir/summary.json``: wall time, iterations, peak memory, device."""
    path = Path(out_dir) / "summary.json"
    if not path.exists():
        return {key: None for key in COST_KEYS} | {"cost_note": f"{path} not found"}
    summary = json.loads(path.read_text())
    return {key: summary.get(key) for key in COST_KEYS}


def evaluate_all(results: Path | str, data, strategies=STRATEGIES, lpips_net=None, lpips_note: str = "",
                 device: torch.device | None = None, chunk: int = 8192,
                 progress: bool = True) -> tuple[dict, dict]:
    """Evaluate every strategy in ``results/<strategy>/`` on ``data`` (the test split).

    Returns ``(evaluation, renders)``. ``evaluation`` maps each strategy to its metrics (or to
    ``{"missing": reason}``) and ``"meta"`` to what was evaluated; ``renders`` maps each evaluated
    strategy to its test renders.
    """
    from depthnerf.train import load_run

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
CSV_KEYS = ["strategy", "missing", *IMAGE_KEYS, *DEPTH_KEYS, *DEPTH_OBJECT_KEYS, *COST_KEYS]


def strategy_names(evaluation: dict) -> list[str]:
    return [name for name in evaluation if name != "meta"]


def format_cell(key: str, value, fmt: str) -> str:
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


def csv_text(evaluation: dict) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_KEYS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for name in strategy_names(evaluation):
        writer.writerow({"strategy": name, **evaluation[name]})
    return out.getvalue()


def write_evaluation(evaluation: dict, results: Path | str) -> dict[str, Path]:
    """Write ``evaluation_results.{npy,json,csv,md}`` into ``results``; returns the paths."""
    results = Path(results)

    def save_npy(tmp):
        with open(tmp, "wb") as f:
            np.save(f, np.array(evaluation, dtype=object), allow_pickle=True)

    return {
        "npy": atomic_write(results / "evaluation_results.npy", save_npy),
        "json": atomic_write(results / "evaluation_results.json",
                             lambda tmp: tmp.write_text(json.dumps(evaluation, indent=2))),
        "csv": atomic_write(results / "evaluation_results.csv", lambda tmp: tmp.write_text(csv_text(evaluation))),
        "md": atomic_write(results / "evaluation_results.md",
                           lambda tmp: tmp.write_text(markdown_table(evaluation) + "\n")),
    }


def read_evaluation(results: Path | str) -> dict:
    path = Path(results) / "evaluation_results.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run 07_Comprehensive_Evaluation.ipynb first")
    return json.loads(path.read_text())


# %% 07_Comprehensive_Evaluation.ipynb · cell c11
def save_figure(fig, path: Path | str) -> Path:
    import matplotlib.pyplot as plt

    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight"))
    plt.close(fig)
    return Path(path)


def plot_comparison(evaluation: dict, path: Path | str) -> Path:
    """Bar charts of every metric (bar: the strategy's value; dots: per test view)."""
    import matplotlib.pyplot as plt

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


def read_curves(out_dir: Path | str) -> dict:
    """Training curves of one run: ``step``, ``psnr``, ``loss``, ``seconds`` per step, and the
    validation points ``val_step``, ``val_seconds``, ``val_psnr`` (from the run's files only)."""
    out_dir = Path(out_dir)
    psnr_hist = np.load(out_dir / "psnr_history.npy")
    loss_hist = np.load(out_dir / "loss_history.npy")
    steps = np.arange(1, len(psnr_hist) + 1)
    logged = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    timed = sorted((r["step"], r["seconds"]) for r in logged if "seconds" in r)
    summary = json.loads((out_dir / "summary.json").read_text()) if (out_dir / "summary.json").exists() else {}
    if summary.get("train_seconds") is not None:
        timed.append((len(psnr_hist), summary["train_seconds"]))
    seconds = np.interp(steps, [0] + [s for s, _ in timed], [0.0] + [t for _, t in timed])
    val = summary.get("val_psnr") or [r | {"psnr": r["val_psnr"]} for r in logged if "val_psnr" in r]
    return {"step": steps, "psnr": psnr_hist, "loss": loss_hist, "seconds": seconds,
            "val_step": [v["step"] for v in val], "val_seconds": [v["seconds"] for v in val],
            "val_psnr": [v["psnr"] for v in val]}


def plot_training_curves(results: Path | str, strategies, path: Path | str) -> Path:
    """Train PSNR and loss vs step and vs wall time; validation PSNR as points."""
    import matplotlib.pyplot as plt

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


def plot_depth_error_maps(data, renders: dict, path: Path | str, view: int = 0) -> Path:
    """Ground truth and each strategy's ray depth (shared range) and relative error map of one view."""
    import matplotlib.pyplot as plt

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


# %% 07_Comprehensive_Evaluation.ipynb · cell c13
def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Print the evaluation table written by notebook 07.")
    parser.add_argument("--results", default="results", help="results folder (default: results)")
    args = parser.parse_args(argv)
    print(markdown_table(read_evaluation(args.results)))


if __name__ == "__main__" and "ipykernel" not in sys.modules:  # a notebook kernel is __main__ too
    main()
