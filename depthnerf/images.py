# Generated from 01_Data_Loading.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np

from depthnerf.scene import DataError


# %% 01_Data_Loading.ipynb · cell c09
def _png_bit_depth_and_colour(path: Path) -> tuple[int, int] | None:
    """``(bit depth, colour type)`` from a PNG's IHDR chunk, or None for other files."""
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def _read_png_16bit_colour(path: Path, channels: int) -> np.ndarray:
    """16-bit RGB/RGBA PNG via ffmpeg: Pillow would silently keep only the high byte of each value."""
    import imageio_ffmpeg

    frames = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgba64le" if channels == 4 else "rgb48le",
                                        bits_per_pixel=16 * channels)
    try:
        width, height = next(frames)["size"]
        return np.frombuffer(next(frames), "<u2").reshape(height, width, channels).copy()
    finally:
        frames.close()


def read_image(path: Path | str) -> np.ndarray:
    """Read an 8- or 16-bit image as float32 ``[H, W, C]`` in [0, 1] (C = 1, 3 or 4)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: image file is missing")
    try:
        header = _png_bit_depth_and_colour(path)
        if header is not None and header[0] == 16 and header[1] in (2, 6):  # 16-bit RGB or RGBA
            raw = _read_png_16bit_colour(path, 3 if header[1] == 2 else 4)
        else:
            raw = iio.imread(path)
    except Exception as err:  # imageio raises many kinds of errors for corrupt files
        raise DataError(f"{path}: cannot read image ({type(err).__name__}: {err})") from err
    if raw.dtype not in (np.uint8, np.uint16):
        raise DataError(f"{path}: expected an 8- or 16-bit image, got dtype {raw.dtype}")
    image = raw.astype(np.float32) / np.iinfo(raw.dtype).max
    return image[..., None] if image.ndim == 2 else image


def read_image_raw(path: Path | str) -> np.ndarray:
    """Read an image's integer values unchanged (for depth PNGs), naming the file on failure."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file is missing")
    try:
        return iio.imread(path)
    except Exception as err:
        raise DataError(f"{path}: cannot read image ({type(err).__name__}: {err})") from err


# %% 01_Data_Loading.ipynb · cell c83
def downscale_area(image: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor x factor`` blocks of ``[H, W, ...]`` (a remainder at the bottom/right is cropped).

    >>> downscale_area(np.arange(16.0).reshape(4, 4), 2)
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    if factor == 1:
        return image
    H, W = image.shape[0] // factor * factor, image.shape[1] // factor * factor
    blocks = image[:H, :W].reshape(H // factor, factor, W // factor, factor, *image.shape[2:])
    return blocks.mean(axis=(1, 3))
