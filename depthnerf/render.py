# Generated from 08_Rendering_and_Visualization.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import math
from pathlib import Path

import imageio.v2 as imageio
import imageio.v3 as iio
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from depthnerf.cameras import average_pose, look_at
from depthnerf.figures import save_figure
from depthnerf.io import atomic_write
from depthnerf.rays import camera_rays
from depthnerf.rendering import render_chunked


# %% 08_Rendering_and_Visualization.ipynb · cell c03
FORWARD_FACING_AGREEMENT = 0.9
UP_SNAP_DEGREES = 25.0


def normalize(v: np.ndarray) -> np.ndarray:
    """``v`` divided by its length along the last axis."""
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def is_forward_facing(poses: np.ndarray) -> bool:
    """True when the viewing axes ``-z`` of ``poses [N,4,4]`` all roughly agree (LLFF-like).

    >>> is_forward_facing(np.stack([np.eye(4)] * 3))
    True
    """
    axes = -poses[:, :3, 2]
    return bool(np.linalg.norm(normalize(axes).mean(0)) > FORWARD_FACING_AGREEMENT)


def scene_up(poses: np.ndarray) -> np.ndarray:
    """Mean camera up axis of ``poses [N,4,4]``, snapped to the nearest signed world axis within 25 deg.

    >>> scene_up(np.stack([look_at([4.0, 0.0, 2.0]), look_at([0.0, 4.0, 2.0])])).tolist()
    [0.0, 0.0, 1.0]
    """
    up = normalize(poses[:, :3, 1].astype(np.float64).mean(0))
    axis = np.zeros(3)
    axis[np.argmax(np.abs(up))] = np.sign(up[np.argmax(np.abs(up))])
    return axis if up @ axis > math.cos(math.radians(UP_SNAP_DEGREES)) else up


# %% 08_Rendering_and_Visualization.ipynb · cell c19
def orbit_poses(poses: np.ndarray, n_frames: int, target=(0.0, 0.0, 0.0)) -> np.ndarray:
    """``n_frames`` camera-to-world poses ``[n,4,4]`` on a full circle around ``target``, at the
    median radius and elevation of ``poses`` (up: the cameras' mean up axis), looking at ``target``.

    >>> ring = np.stack([look_at([4 * math.cos(a), 4 * math.sin(a), 2.0]) for a in (0.1, 1.9, 4.0)])
    >>> path = orbit_poses(ring, 4)
    >>> radius, height = np.linalg.norm(path[:, :3, 3], axis=1), path[:, 2, 3]
    >>> np.round(radius.astype(float), 4).tolist(), np.round(height.astype(float), 4).tolist()
    ([4.4721, 4.4721, 4.4721, 4.4721], [2.0, 2.0, 2.0, 2.0])
    """
    target = np.asarray(target, dtype=np.float64)
    up = scene_up(poses)
    offsets = poses[:, :3, 3] - target
    radius = float(np.median(np.linalg.norm(offsets, axis=1)))
    elevation = float(np.median(np.arcsin(np.clip(normalize(offsets) @ up, -1.0, 1.0))))
    e1 = normalize(np.cross(up, [1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.cross(up, [0.0, 1.0, 0.0]))
    e2 = np.cross(up, e1)
    angles = 2 * np.pi * np.arange(n_frames) / n_frames
    eyes = target + radius * (math.cos(elevation) * (np.cos(angles)[:, None] * e1 + np.sin(angles)[:, None] * e2)
                              + math.sin(elevation) * up)
    return np.stack([look_at(eye, target, up) for eye in eyes]).astype(np.float32)


# %% 08_Rendering_and_Visualization.ipynb · cell c22
def spiral_poses(poses: np.ndarray, near: float, far: float, n_frames: int, n_turns: float = 2.0,
                 z_rate: float = 0.5, radius_percentile: float = 90.0) -> np.ndarray:
    """LLFF-style spiral ``[n,4,4]`` around ``average_pose(poses)``: the centre offset by
    ``r * (cos t, -sin t, -sin(z_rate t))`` in that pose's frame (``r``: the ``radius_percentile`` of
    the cameras' absolute offsets per axis) for ``t`` over ``n_turns`` turns, every camera looking at
    the point on the average viewing axis at the focus distance ``1 / (0.75 / (5 far) + 0.25 / (0.9 near))``.

    >>> fan = np.stack([np.eye(4)] * 3); fan[:, 0, 3] = [-0.1, 0.0, 0.1]
    >>> path = spiral_poses(fan, 1.0, 10.0, 8)
    >>> bool(np.all(np.abs(path[:, 0, 3]) <= 0.1 + 1e-6)), bool(np.all(path[:, 2, 2] > 0.99))
    (True, True)
    """
    center = average_pose(poses)
    offsets = (poses[:, :3, 3] - center[:3, 3]) @ center[:3, :3]  # in the average camera's frame
    radii = np.percentile(np.abs(offsets), radius_percentile, axis=0)
    focus = 1.0 / (0.75 / (5.0 * far) + 0.25 / (0.9 * near))
    focus_point = center[:3, 3] - focus * center[:3, 2]
    path = []
    for theta in np.linspace(0.0, 2 * np.pi * n_turns, n_frames, endpoint=False):
        local = radii * np.array([math.cos(theta), -math.sin(theta), -math.sin(theta * z_rate)])
        eye = center[:3, 3] + center[:3, :3] @ local
        path.append(look_at(eye, focus_point, center[:3, 1]))
    return np.stack(path).astype(np.float32)


# %% 08_Rendering_and_Visualization.ipynb · cell c25
def path_kind(data) -> str:
    """``"spiral"`` for a forward-facing scene (or one marked ``ndc``), else ``"orbit"``.

    >>> path_kind(type("Rig", (), {"poses": np.stack([np.eye(4)] * 3)})())
    'spiral'
    """
    return "spiral" if getattr(data, "ndc", False) or is_forward_facing(data.poses) else "orbit"


def camera_path(data, n_frames: int) -> np.ndarray:
    """The ``n_frames`` poses ``[n,4,4]`` of a scene's render path: a spiral when it is forward-facing,
    else an orbit (:func:`path_kind`)."""
    if path_kind(data) == "spiral":
        return spiral_poses(data.poses, data.near, data.far, n_frames)
    return orbit_poses(data.poses, n_frames)


# %% 08_Rendering_and_Visualization.ipynb · cell c05
def render_path(run, poses: np.ndarray, intrinsics: np.ndarray, H: int, W: int, background,
                chunk: int = 8192, progress: bool = True) -> dict[str, np.ndarray]:
    """Render ``poses [F,4,4]`` of a ``runs.TrainedRun`` with one pinhole ``intrinsics [3,3]``:
    ``rgb [F,H,W,3]`` (clipped to [0, 1]), ``depth`` (expected ray depth) and ``acc [F,H,W]`` as numpy
    arrays."""
    device = next(run.field.parameters()).device
    background = torch.as_tensor(np.asarray(background), dtype=torch.float32, device=device)
    frames: dict[str, list] = {"rgb": [], "depth": [], "acc": []}
    for pose in tqdm(poses, desc=f"render {run.config.strategy}", disable=not progress):
        rays = camera_rays(torch.as_tensor(intrinsics, device=device), torch.as_tensor(pose, device=device), H, W)
        out = render_chunked(run.field, run.eval_sampler, rays, background, chunk)
        for key in frames:
            frames[key].append(out[key].reshape(H, W, *out[key].shape[1:]).cpu().numpy())
    result = {key: np.stack(value) for key, value in frames.items()}
    result["rgb"] = np.clip(result["rgb"], 0.0, 1.0)
    return result


# %% 08_Rendering_and_Visualization.ipynb · cell c07
def depth_range(renders: dict, near: float, far: float, min_acc: float = 0.5) -> tuple[float, float]:
    """One ``(lo, hi)`` for every strategy: 1st/99th percentile of the pooled depth where
    ``acc > min_acc``, else ``(near, far)``.

    >>> depth_range({"a": {"depth": np.array([2.0, 3.0]), "acc": np.array([1.0, 0.0])}}, 2.0, 6.0)
    (2.0, 2.0)
    """
    pooled = np.concatenate([r["depth"][r["acc"] > min_acc].ravel() for r in renders.values()] + [np.zeros(0)])
    if pooled.size == 0:
        return float(near), float(far)
    return float(np.percentile(pooled, 1)), float(np.percentile(pooled, 99))


def colorize_depth(depth: np.ndarray, lo: float, hi: float, cmap: str = "turbo") -> np.ndarray:
    """``[..., H, W]`` depth -> ``[..., H, W, 3]`` uint8 colours of ``cmap`` over ``[lo, hi]``.

    >>> colorize_depth(np.array([[0.0, 10.0]]), 0.0, 10.0).shape
    (1, 2, 3)
    """
    scaled = np.clip((depth - lo) / max(hi - lo, 1e-8), 0.0, 1.0)
    return (matplotlib.colormaps[cmap](scaled)[..., :3] * 255).round().astype(np.uint8)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Images in [0, 1] -> uint8 (clipped, rounded)."""
    return (np.clip(images, 0.0, 1.0) * 255).round().astype(np.uint8)


# %% 08_Rendering_and_Visualization.ipynb · cell c09
def pad_even(frames: np.ndarray) -> np.ndarray:
    """Pad ``[F,H,W,C]`` frames by repeating the last row/column so that H and W are even."""
    H, W = frames.shape[1:3]
    return np.pad(frames, ((0, 0), (0, H % 2), (0, W % 2), (0, 0)), mode="edge")


def write_gif(path: Path | str, frames: np.ndarray, fps: float = 10.0) -> Path:
    """``frames [F,H,W,3]`` uint8 -> looping GIF (written atomically)."""
    return atomic_write(path, lambda tmp: iio.imwrite(tmp, frames, extension=".gif",
                                                      duration=1000.0 / fps, loop=0))


def write_mp4(path: Path | str, frames: np.ndarray, fps: float = 10.0) -> Path:
    """``frames [F,H,W,3]`` uint8 -> H.264 MP4 (written atomically; odd sizes padded to even)."""
    def write(tmp):
        with imageio.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                pixelformat="yuv420p", macro_block_size=1, quality=8) as writer:
            for frame in pad_even(frames):
                writer.append_data(frame)

    return atomic_write(path, write)


# %% 08_Rendering_and_Visualization.ipynb · cell c28
def label_banner(text: str, width: int, height: int = 16) -> np.ndarray:
    """A white ``[height, width, 3]`` uint8 strip with ``text`` in black (Pillow's default font)."""
    banner = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(banner).text((3, 2), text, fill="black")
    return np.asarray(banner)


def side_by_side(columns: dict[str, list[np.ndarray]], min_width: int = 160, gap: int = 2) -> np.ndarray:
    """Stack frames ``{label: [frames [F,H,W,3] uint8, ...]}``: one labelled column per label, its
    frame sets stacked vertically; small frames enlarged by an integer factor to ``min_width``;
    columns separated by ``gap`` white pixels."""
    tiles = []
    for label, stacks in columns.items():
        column = np.concatenate(stacks, axis=1)
        scale = max(1, math.ceil(min_width / column.shape[2]))
        column = column.repeat(scale, axis=1).repeat(scale, axis=2)
        banner = np.broadcast_to(label_banner(label, column.shape[2]), (len(column), 16, column.shape[2], 3))
        tile = np.concatenate([banner, column], axis=1)
        if tiles:
            tiles.append(np.full((*tile.shape[:2], gap, 3), 255, np.uint8))
        tiles.append(tile)
    return np.concatenate(tiles, axis=2)


# %% 08_Rendering_and_Visualization.ipynb · cell c31
def write_strategy_videos(renders: dict, out_dir: Path | str, lo: float, hi: float, fps: float = 10.0) -> dict:
    """``rgb.gif``, ``rgb.mp4``, ``depth.gif``, ``depth.mp4`` of one strategy into ``out_dir``."""
    out_dir = Path(out_dir)
    rgb, depth = to_uint8(renders["rgb"]), colorize_depth(renders["depth"], lo, hi)
    return {name: writer(out_dir / name, frames, fps)
            for name, writer, frames in (("rgb.gif", write_gif, rgb), ("rgb.mp4", write_mp4, rgb),
                                         ("depth.gif", write_gif, depth), ("depth.mp4", write_mp4, depth))}


# %% 08_Rendering_and_Visualization.ipynb · cell c11
def plot_test_view(test_data, views: dict, path_rgb: Path | str, path_depth: Path | str,
                   lo: float, hi: float, view: int = 0) -> tuple[Path, Path]:
    """Write the colour and depth still frames of test view ``view`` (``views``: strategy ->
    ``run.render_views`` output for ``[view]``)."""
    columns = len(views) + 1
    fig, axes = plt.subplots(1, columns, figsize=(2.8 * columns, 3.2), squeeze=False)
    axes[0, 0].imshow(test_data.images[view])
    axes[0, 0].set_title("ground truth")
    for ax, (name, out) in zip(axes[0, 1:], views.items()):
        ax.imshow(np.clip(out["rgb"][0], 0, 1))
        ax.set_title(name)
    for ax in axes.ravel():
        ax.axis("off")
    rgb_path = save_figure(fig, path_rgb)

    fig, axes = plt.subplots(1, columns, figsize=(2.8 * columns, 3.2), squeeze=False)
    if test_data.depth is not None:
        gt = np.where(test_data.depth_mask[view], test_data.depth[view], np.nan)
        axes[0, 0].imshow(gt, cmap="turbo", vmin=lo, vmax=hi)
        axes[0, 0].set_title("ground-truth ray depth")
    else:
        axes[0, 0].text(0.5, 0.5, "no ground-truth depth", ha="center", va="center")
    image = None
    for ax, (name, out) in zip(axes[0, 1:], views.items()):
        image = ax.imshow(out["depth"][0], cmap="turbo", vmin=lo, vmax=hi)
        ax.set_title(f"{name} ray depth")
    for ax in axes.ravel():
        ax.axis("off")
    if image is not None:
        fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="ray depth (scene units)")
    return rgb_path, save_figure(fig, path_depth)
