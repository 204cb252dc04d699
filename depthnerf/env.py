# Generated from 00_Setup_and_Dependencies.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import importlib
import importlib.metadata
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import torch


# %% 00_Setup_and_Dependencies.ipynb · cell c15
def select_device(prefer: str | None = None) -> torch.device:
    """CUDA when present, else Apple MPS, else CPU; ``prefer`` (e.g. ``"cpu"``) forces one."""
    if prefer:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_report(device: torch.device | None = None) -> dict:
    """What will run the computation: device name, memory and CPU threads."""
    device = device or select_device()
    report = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": str(device),
        "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        report.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1))
    return report


# %% 00_Setup_and_Dependencies.ipynb · cell c18
# (import name, pip name, why the project needs it)
DEPENDENCIES = [
    ("torch", "torch", "fields, rendering and training"),
    ("numpy", "numpy", "arrays"),
    ("imageio", "imageio", "reading PNGs, writing GIFs"),
    ("imageio_ffmpeg", "imageio-ffmpeg", "writing MP4 videos"),
    ("matplotlib", "matplotlib", "figures"),
    ("tqdm", "tqdm", "progress bars"),
    ("skimage", "scikit-image", "SSIM"),
    ("lpips", "lpips", "LPIPS metric (needs backbone weights, see 07)"),
    ("torchvision", "torchvision", "needed by lpips"),
    ("pycolmap", "pycolmap", "COLMAP models and triangulation"),
    ("nbconvert", "nbconvert", "exporting notebooks to the package"),
    ("papermill", "papermill", "running notebooks headless"),
    ("ray", "ray", "the studies' sweeps"),
]


@dataclass
class DependencyStatus:
    name: str
    version: str | None
    problem: str | None
    purpose: str


def check_dependencies() -> list[DependencyStatus]:
    """Import every dependency; a failed import gives the pip command that fixes it."""
    statuses = []
    for module, pip_name, purpose in DEPENDENCIES:
        try:
            importlib.import_module(module)
            statuses.append(DependencyStatus(pip_name, importlib.metadata.version(pip_name), None, purpose))
        except Exception as err:  # an import can fail with any error (e.g. a broken binary)
            problem = f"{type(err).__name__}: {err}. Fix: pip install -r requirements.txt -c requirements.lock"
            statuses.append(DependencyStatus(pip_name, None, problem, purpose))
    return statuses


# %% 00_Setup_and_Dependencies.ipynb · cell c23
SHARED_DATA = Path("..") / "shared" / "data"
KNOWN_DATASETS = {
    "lego": ["data/nerf_synthetic/lego", str(SHARED_DATA / "nerf_synthetic" / "lego")],
    "fern": ["data/nerf_llff_data/fern", str(SHARED_DATA / "nerf_llff_data" / "fern")],
    "dsnerf_poster_less": ["data/dsnerf_poster_less", str(SHARED_DATA / "dsnerf_poster_less")],
}


def available_datasets(root: Path | str = ".") -> dict[str, str | None]:
    """Where each known real dataset was found (``data/`` first, then ``../shared/data``), or None."""
    root = Path(root)
    found = {}
    for name, candidates in KNOWN_DATASETS.items():
        found[name] = next((str(root / c) for c in candidates if (root / c).is_dir()), None)
    return found
