# Generated from 01_Data_Loading.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import numpy as np
import torch

from depthnerf.rays import camera_rays


# %% 01_Data_Loading.ipynb · cell c49
def ray_grid(pose: np.ndarray, K: np.ndarray, H: int, W: int) -> tuple[np.ndarray, np.ndarray]:
    """World-space origins and unit directions of every pixel of one view, each ``[H, W, 3]`` float64
    numpy: :func:`~depthnerf.rays.camera_rays` in float64, for the data's geometry.

    >>> K = np.array([[1.0, 0, 0.5], [0, 1.0, 0.5], [0, 0, 1]])
    >>> o, d = ray_grid(np.eye(4), K, 1, 1)   # one pixel on the optical axis
    >>> d[0, 0] + 0.0, o[0, 0]
    (array([ 0.,  0., -1.]), array([0., 0., 0.]))
    """
    rays = camera_rays(K, pose, H, W, dtype=torch.float64)
    return rays.origins.reshape(H, W, 3).numpy(), rays.directions.reshape(H, W, 3).numpy()


def camera_directions(H: int, W: int, K: np.ndarray) -> np.ndarray:
    """Unit camera-space ray directions through the pixel centres, ``[H, W, 3]`` (the identity pose).

    >>> K = np.array([[1.0, 0, 1], [0, 1.0, 1], [0, 0, 1]])
    >>> np.round(camera_directions(2, 2, K)[0, 0], 4)  # u = v = 0.5: up-left of the centre
    array([-0.4082,  0.4082, -0.8165])
    """
    return ray_grid(np.eye(4), K, H, W)[1]


# %% 01_Data_Loading.ipynb · cell c53
def z_depth_to_ray_depth(z_depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Convert camera z-depth ``[H, W]`` to ray depth: ``t = z / z_scale``, ``z_scale = -d_z``.

    ``z_scale`` is the cosine between the pixel's unit ray and the optical axis, so off-axis rays
    travel further than their z-depth. Zeros (invalid) stay zero.

    >>> K = np.array([[1.0, 0, 1], [0, 1.0, 1], [0, 0, 1]])
    >>> np.round(z_depth_to_ray_depth(np.full((2, 2), 2.0), K), 4)  # every ray 35 deg off-axis
    array([[2.4495, 2.4495],
           [2.4495, 2.4495]])
    """
    H, W = z_depth.shape
    return z_depth / -camera_directions(H, W, K)[..., 2]


def ray_depth_to_z_depth(ray_depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Inverse of :func:`z_depth_to_ray_depth`: ``z = t * z_scale``.

    >>> K = np.array([[1.0, 0, 1], [0, 1.0, 1], [0, 0, 1]])
    >>> float(np.round(ray_depth_to_z_depth(np.full((2, 2), 2.4495), K)[0, 0], 4))
    2.0
    """
    H, W = ray_depth.shape
    return ray_depth * -camera_directions(H, W, K)[..., 2]


# %% 01_Data_Loading.ipynb · cell c56
def focal_from_fov(camera_angle_x: float, W: int) -> float:
    """Focal length in pixels from the horizontal field of view: ``f = 0.5 W / tan(0.5 fov_x)``.

    >>> round(float(focal_from_fov(0.6911112070083618, 800)), 3)   # NeRF-Synthetic at full resolution
    1111.111
    """
    return 0.5 * W / np.tan(0.5 * camera_angle_x)


def look_at(eye: np.ndarray, target=(0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Camera-to-world ``[4, 4]`` (OpenGL axes) of a camera at ``eye`` looking at ``target``.

    Columns: right ``x = up x z``, up ``y = z x x``, back ``z = (eye - target) / |eye - target|``.

    >>> np.round(look_at(np.array([0.0, -4.0, 0.0]))[:3], 3) + 0.0   # on -y, looking along +y, z up
    array([[ 1.,  0.,  0.,  0.],
           [ 0.,  0., -1., -4.],
           [ 0.,  1.,  0.,  0.]])
    """
    eye = np.asarray(eye, dtype=np.float64)
    back = eye - np.asarray(target, dtype=np.float64)
    back /= np.linalg.norm(back)
    right = np.cross(np.asarray(up, dtype=np.float64), back)
    right /= np.linalg.norm(right)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, np.cross(back, right), back, eye
    return pose


# %% 01_Data_Loading.ipynb · cell c113
def average_pose(poses: np.ndarray) -> np.ndarray:
    """The mean camera ``[4,4]``: mean centre, mean back axis, mean up (re-orthonormalised)."""
    back = poses[:, :3, 2].sum(0)
    back /= np.linalg.norm(back)
    right = np.cross(poses[:, :3, 1].sum(0), back)
    right /= np.linalg.norm(right)
    mean = np.eye(4)
    mean[:3, 0], mean[:3, 1], mean[:3, 2], mean[:3, 3] = right, np.cross(back, right), back, poses[:, :3, 3].mean(0)
    return mean


# %% 01_Data_Loading.ipynb · cell c117
def frustum_box(poses: np.ndarray, intrinsics: np.ndarray, H: int, W: int, near: float, far: float) -> np.ndarray:
    """Axis-aligned box ``[2,3]`` around every view's frustum between ray depths ``near`` and ``far``."""
    corners = []
    for pose, K in zip(poses, intrinsics):
        origins, dirs = ray_grid(pose, K, H, W)
        rim = dirs[[0, 0, -1, -1], [0, -1, 0, -1]]
        corners += [origins[0, 0] + t * rim for t in (near, far)]
    corners = np.concatenate(corners)
    return np.stack([corners.min(0), corners.max(0)]).astype(np.float32)
