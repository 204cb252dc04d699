# Generated from 03_Baseline_NeRF.ipynb, 07_Comprehensive_Evaluation.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import math
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from skimage.metrics import structural_similarity


# %% 03_Baseline_NeRF.ipynb · cell c04
MIN_MSE = 1e-10  # PSNR cap: -10 log10(1e-10) = 100 dB


def psnr_from_mse(mse: float) -> float:
    """``PSNR = -10 log10(max(MSE, 1e-10))`` for images in [0, 1].

    >>> psnr_from_mse(0.01), psnr_from_mse(0.0)
    (20.0, 100.0)
    """
    return float(-10.0 * math.log10(max(mse, MIN_MSE)))


# %% 07_Comprehensive_Evaluation.ipynb · cell c03
def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB of two images in [0, 1]: ``psnr_from_mse`` of their float64 mean squared error over
    every pixel and channel (capped at 100 dB), rounded to 10 decimals.

    >>> psnr(np.full((2, 2, 3), 0.5), np.full((2, 2, 3), 0.6))   # MSE = 0.01
    20.0
    >>> psnr(np.ones((2, 2, 3)), np.ones((2, 2, 3)))             # identical: the cap
    100.0
    """
    mse = float(np.mean((np.asarray(pred, np.float64) - np.asarray(target, np.float64)) ** 2))
    return round(psnr_from_mse(mse), 10)


def ssim(pred: np.ndarray, target: np.ndarray) -> float:
    """SSIM of ``[H,W,3]`` images in [0, 1] (scikit-image, ``data_range=1``, ``channel_axis=-1``).

    >>> ssim(np.full((8, 8, 3), 0.3), np.full((8, 8, 3), 0.3))
    1.0
    """
    return float(structural_similarity(np.asarray(pred, np.float64), np.asarray(target, np.float64),
                                       data_range=1.0, channel_axis=-1))


# %% 07_Comprehensive_Evaluation.ipynb · cell c23
ALEXNET_FILE = "alexnet-owt-7be5be79.pth"  # what torchvision.models.alexnet(weights="DEFAULT") loads
ALEXNET_ENV = "DEPTHNERF_LPIPS_ALEXNET"
LPIPS_MIN_SIDE = 31  # AlexNet's convolutions and poolings leave nothing of a smaller image


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
    import lpips  # heavy (torchvision), and only needed when LPIPS is computed

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
