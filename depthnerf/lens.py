# Generated from Experiments/custom_scenes.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from depthnerf.scene import DataError


# %% Experiments/custom_scenes.ipynb · cell c21
PINHOLE_MODELS = ("PINHOLE", "SIMPLE_PINHOLE")
DISTORTION = {"OPENCV": ("k1", "k2", "p1", "p2", "k3"), "OPENCV_FISHEYE": ("k1", "k2", "k3", "k4")}


@dataclass(frozen=True)
class Camera:
    """One frame's camera as the file gives it: ``K [3,3]`` in pixels of the ``w x h`` image on disk
    (pixel centres at +0.5, COLMAP's and nerfstudio's convention), the model and its distortion
    coefficients in OpenCV's order (``OPENCV``: k1, k2, p1, p2, k3; ``OPENCV_FISHEYE``: k1..k4)."""

    K: tuple
    w: int
    h: int
    model: str
    distortion: tuple

    @property
    def matrix(self) -> np.ndarray:
        return np.array(self.K, dtype=np.float64).reshape(3, 3)

    @property
    def distorted(self) -> bool:
        return self.model in DISTORTION and any(self.distortion)


# %% Experiments/custom_scenes.ipynb · cell c22
def _cv2(where: str):
    try:
        import cv2
    except ImportError as err:
        raise DataError(f"{where}: the camera has lens distortion, and undistorting it needs OpenCV "
                        f"(pip install opencv-python-headless, pinned in requirements.txt): {err}") from err
    return cv2


def undistortion(camera: Camera, where: str = "camera") -> tuple[np.ndarray, np.ndarray | None]:
    """``(K_new [3,3], maps [2,h,w] float32)``: the pinhole camera of the undistorted image (same size)
    and, per pixel of it, where to sample the distorted image (OpenCV's pixel coordinates). No
    distortion: ``(K, None)``.

    ``K_new`` keeps only valid pixels (``cv2.getOptimalNewCameraMatrix`` with ``alpha=0``; fisheye:
    ``estimateNewCameraMatrixForUndistortRectify`` with ``balance=0``). OpenCV puts the first pixel's
    centre at 0, nerfstudio and COLMAP at 0.5: ``c_opencv = c - 0.5`` going in, ``+ 0.5`` coming out.
    """
    K = camera.matrix
    if not camera.distorted:
        return K, None
    cv2 = _cv2(where)
    shift = np.array([[1.0, 0, -0.5], [0, 1.0, -0.5], [0, 0, 1]])
    K_cv, D, size = shift @ K, np.array(camera.distortion, dtype=np.float64), (camera.w, camera.h)
    if camera.model == "OPENCV_FISHEYE":
        new = cv2.fisheye.estimateNewCameraMatrixForUndistortRectify(K_cv, D, size, np.eye(3), balance=0.0)
        map_x, map_y = cv2.fisheye.initUndistortRectifyMap(K_cv, D, np.eye(3), new, size, cv2.CV_32FC1)
    else:
        new, _ = cv2.getOptimalNewCameraMatrix(K_cv, D, size, 0.0, size)
        map_x, map_y = cv2.initUndistortRectifyMap(K_cv, D, None, new, size, cv2.CV_32FC1)
    K_new = np.linalg.inv(shift) @ new
    if not np.isfinite(K_new).all() or K_new[0, 0] <= 0 or K_new[1, 1] <= 0:
        raise DataError(f"{where}: OpenCV found no valid undistorted camera for distortion {camera.distortion} "
                        f"({camera.model}): check the coefficients")
    return K_new, np.stack([map_x, map_y])


def remap(image: np.ndarray, maps: np.ndarray | None, nearest: bool = False) -> np.ndarray:
    """``image [h,w(,C)]`` sampled at ``maps``: bilinear, the border replicated (images); or ``nearest``
    with 0 outside the image (depth: never blends two surfaces, and 0 is "no measurement")."""
    if maps is None:
        return image
    cv2 = _cv2("remap")
    flags, border = (cv2.INTER_NEAREST, cv2.BORDER_CONSTANT) if nearest else (cv2.INTER_LINEAR, cv2.BORDER_REPLICATE)
    out = cv2.remap(np.ascontiguousarray(image), maps[0], maps[1], flags, borderMode=border, borderValue=0)
    return out.reshape(maps.shape[1:] + image.shape[2:])


def resize_nearest(depth: np.ndarray, H: int, W: int, where: str) -> np.ndarray:
    """A depth map of another resolution (a phone's LiDAR) brought to ``H x W`` with nearest-neighbour
    sampling, as nerfstudio does; refused when its aspect ratio differs by more than 1%.

    >>> resize_nearest(np.array([[1.0, 2.0], [3.0, 4.0]]), 4, 4, "d.png")[:, :2].tolist()
    [[1.0, 1.0], [1.0, 1.0], [3.0, 3.0], [3.0, 3.0]]
    """
    h, w = depth.shape
    if (h, w) == (H, W):
        return depth
    if abs(w / h - W / H) > 0.01 * W / H:
        raise DataError(f"{where}: depth is {w}x{h} but the image is {W}x{H}: a different aspect ratio")
    rows = np.minimum(((np.arange(H) + 0.5) * h / H).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(W) + 0.5) * w / W).astype(np.int64), w - 1)
    return depth[rows[:, None], cols[None, :]]
