# Generated from 08_Rendering_and_Visualization.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import math
from pathlib import Path

import imageio.v2 as imageio
import imageio.v3 as iio
import matplotlib
import matplotlib.font_manager
import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from tqdm.auto import tqdm

from depthnerf.cameras import average_pose, look_at
from depthnerf.figures import DEPTH_CMAP, DEPTH_LABEL, depth_colors, masked_cmap, save_figure
from depthnerf.io import atomic_npy, atomic_write
from depthnerf.metrics import SURFACE_MIN_ACC, psnr, surface_depth
from depthnerf.rays import camera_rays
from depthnerf.rendering import render_chunked, render_rays


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
VIDEO_COLOR_THRESHOLD = 1e-4  # appearance mask of the path videos (0: the exact renderer)
PATH_KEYS = ("rgb", "depth", "depth_normalized", "acc")


@torch.no_grad()
def render_frame(run, rays, background, chunk: int = 8192, color_threshold: float = 0.0) -> dict:
    """``rgb``, ``depth``, ``depth_normalized``, ``acc`` tensors of ``rays`` rendered with the run's evaluation
    sampler; ``color_threshold = 0`` is ``rendering.render_chunked`` itself."""
    if color_threshold <= 0:
        out = render_chunked(run.field, run.eval_sampler, rays, background, chunk)
        return {key: out[key] for key in PATH_KEYS}
    parts: dict[str, list] = {key: [] for key in PATH_KEYS}
    for start in range(0, len(rays), chunk):
        part = rays[start:start + chunk]
        samples = run.eval_sampler(part, perturb=False, field=run.field)
        out = render_rays(run.field, part, *samples, background=background, color_threshold=color_threshold)
        for key in PATH_KEYS:
            parts[key].append(out[key])
    return {key: torch.cat(values) for key, values in parts.items()}


def render_path(run, poses: np.ndarray, intrinsics: np.ndarray, H: int, W: int, background,
                chunk: int = 8192, progress: bool = True, color_threshold: float = 0.0) -> dict[str, np.ndarray]:
    """Render ``poses [F,4,4]`` of a ``runs.TrainedRun`` with one pinhole ``intrinsics [3,3]``: numpy
    ``rgb [F,H,W,3]`` (clipped to [0, 1]), ``depth`` (expected ray depth), ``depth_normalized`` and
    ``acc [F,H,W]`` (see :func:`render_frame` for ``color_threshold``)."""
    device = next(run.field.parameters()).device
    background = torch.as_tensor(np.asarray(background), dtype=torch.float32, device=device)
    frames: dict[str, list] = {key: [] for key in PATH_KEYS}
    for pose in tqdm(poses, desc=f"render {run.config.strategy}", disable=not progress):
        rays = camera_rays(torch.as_tensor(intrinsics, device=device), torch.as_tensor(pose, device=device), H, W)
        out = render_frame(run, rays, background, chunk, color_threshold)
        for key in frames:
            frames[key].append(out[key].reshape(H, W, *out[key].shape[1:]).cpu().numpy())
    result = {key: np.stack(value) for key, value in frames.items()}
    result["rgb"] = np.clip(result["rgb"], 0.0, 1.0)
    return result


# %% 08_Rendering_and_Visualization.ipynb · cell c07
def depth_range(renders: dict, near: float, far: float, min_acc: float = SURFACE_MIN_ACC) -> tuple[float, float]:
    """One ``(lo, hi)`` for every strategy: 1st/99th percentile of the pooled depth (normalised when the renders
    have it) where ``acc > min_acc``, else ``(near, far)``.

    >>> depth_range({"a": {"depth": np.array([2.0, 3.0]), "acc": np.array([1.0, 0.0])}}, 2.0, 6.0)
    (2.0, 2.0)
    """
    pooled = np.concatenate([r.get("depth_normalized", r["depth"])[r["acc"] > min_acc].ravel()
                             for r in renders.values()] + [np.zeros(0)])
    if pooled.size == 0:
        return float(near), float(far)
    return float(np.percentile(pooled, 1)), float(np.percentile(pooled, 99))


def colorize_depth(depth: np.ndarray, lo: float, hi: float, cmap: str = DEPTH_CMAP, acc: np.ndarray | None = None,
                   min_acc: float = SURFACE_MIN_ACC) -> np.ndarray:
    """``[..., H, W]`` depth -> ``[..., H, W, 3]`` uint8 colours of ``cmap`` over ``[lo, hi]``; with ``acc``, pixels
    with ``acc <= min_acc`` are ``figures.NO_SURFACE`` grey.

    >>> colorize_depth(np.array([[0.0, 10.0]]), 0.0, 10.0).shape
    (1, 2, 3)
    >>> colorize_depth(np.array([[0.0]]), 0.0, 10.0, acc=np.array([[0.0]]))[0, 0].tolist()
    [209, 209, 209]
    """
    return (depth_colors(depth, acc, lo, hi, min_acc, cmap) * 255).round().astype(np.uint8)


def shown_depth(frames: dict) -> np.ndarray:
    """The depth shown for rendered frames: normalised where ``acc > 0.5``, expected depth elsewhere."""
    return surface_depth(frames["depth"], frames.get("depth_normalized", frames["depth"]), frames["acc"])


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Images in [0, 1] -> uint8 (clipped, rounded)."""
    return (np.clip(images, 0.0, 1.0) * 255).round().astype(np.uint8)


# %% 08_Rendering_and_Visualization.ipynb · cell c09
VIDEO_MIN_WIDTH = 200  # px: the narrowest tile a video shows (the embedded scene's native width)
VIDEO_MIN_FRAMES = 16
VIDEO_FPS = 8.0  # frames per second of every video: 16 frames loop in 2 s


def video_settings(native_width: int, downscale: int, frames: int, min_width: int = VIDEO_MIN_WIDTH,
                   min_frames: int = VIDEO_MIN_FRAMES) -> tuple[int, int]:
    """``(downscale, frames)`` of the videos for data ``native_width`` px wide and a profile's ``downscale`` and
    ``frames``: the downscale lowered so a tile is at least ``min_width`` px (at least 1), the frames scaled
    by the pixel ratio ``(new / old downscale)^2`` but kept within ``[min_frames, frames]``; profiles with
    fewer than ``min_frames`` frames are kept as they are.

    >>> video_settings(200, 2, 40), video_settings(200, 8, 3), video_settings(800, 2, 40), video_settings(200, 1, 120)
    ((1, 16), (8, 3), (2, 40), (1, 120))
    """
    if frames < min_frames:
        return downscale, frames
    new = max(1, min(downscale, native_width // min_width))
    return new, min(frames, max(min_frames, round(frames * (new / downscale) ** 2)))


def pad_even(frames: np.ndarray) -> np.ndarray:
    """Pad ``[F,H,W,C]`` frames by repeating the last row/column so that H and W are even."""
    H, W = frames.shape[1:3]
    return np.pad(frames, ((0, 0), (0, H % 2), (0, W % 2), (0, 0)), mode="edge")


def write_gif(path: Path | str, frames: np.ndarray, fps: float = VIDEO_FPS) -> Path:
    """``frames [F,H,W,3]`` uint8 -> looping GIF (written atomically)."""
    return atomic_write(path, lambda tmp: iio.imwrite(tmp, frames, extension=".gif",
                                                      duration=1000.0 / fps, loop=0))


def write_mp4(path: Path | str, frames: np.ndarray, fps: float = VIDEO_FPS) -> Path:
    """``frames [F,H,W,3]`` uint8 -> H.264 MP4 (written atomically; odd sizes padded to even)."""
    def write(tmp):
        with imageio.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                pixelformat="yuv420p", macro_block_size=1, quality=8) as writer:
            for frame in pad_even(frames):
                writer.append_data(frame)

    return atomic_write(path, write)


# %% 08_Rendering_and_Visualization.ipynb · cell c28
def label_font(size: int):
    """DejaVu Sans (shipped with matplotlib) at ``size`` px; Pillow's default font when it cannot be read."""
    try:
        return ImageFont.truetype(matplotlib.font_manager.findfont("DejaVu Sans"), size)
    except OSError:
        return ImageFont.load_default()


def banner_height(width: int) -> int:
    """Height of a column's label strip: a font of ``clip(width // 10, 12, 28)`` px plus 8 px.

    >>> banner_height(200), banner_height(40)
    (28, 20)
    """
    return int(np.clip(width // 10, 12, 28)) + 8


def label_banner(text: str, width: int, height: int | None = None) -> np.ndarray:
    """A white ``[height, width, 3]`` uint8 strip with ``text`` in black, centred (DejaVu Sans)."""
    height = height or banner_height(width)
    banner = Image.new("RGB", (width, height), "white")
    draw, font = ImageDraw.Draw(banner), label_font(height - 8)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.text(((width - right + left) / 2 - left, (height - bottom + top) / 2 - top), text, fill="black", font=font)
    return np.asarray(banner)


def depth_colorbar(height: int, lo: float, hi: float, cmap: str = DEPTH_CMAP, label: str = DEPTH_LABEL,
                   ticks: int = 5) -> np.ndarray:
    """A white ``[height, W, 3]`` uint8 panel: a vertical ``cmap`` bar (``hi`` on top), ``ticks`` labelled values
    and ``label`` written upwards beside it."""
    size = int(np.clip(height // 16, 11, 18))
    font = label_font(size)
    bar_w, pad = max(12, height // 16), 6
    panel = Image.new("RGB", (bar_w + 5 * size + 2 * size + 3 * pad, height), "white")
    top, bottom = size, height - size
    ramp = np.linspace(1.0, 0.0, bottom - top)[:, None].repeat(bar_w, 1)
    panel.paste(Image.fromarray((matplotlib.colormaps[cmap](ramp)[..., :3] * 255).astype(np.uint8)), (pad, top))
    draw = ImageDraw.Draw(panel)
    for value in np.linspace(lo, hi, ticks):
        y = bottom - (value - lo) / max(hi - lo, 1e-8) * (bottom - top)
        draw.line([(pad + bar_w, y), (pad + bar_w + 4, y)], fill="black")
        draw.text((pad + bar_w + 6, y - size / 2), f"{value:.2f}", fill="black", font=font)
    text = Image.new("RGB", (height, size + 4), "white")
    ImageDraw.Draw(text).text((height / 2, 2), label, fill="black", font=font, anchor="mt")
    panel.paste(text.rotate(90, expand=True), (panel.width - size - 4 - pad // 2, 0))
    return np.asarray(panel)


def side_by_side(columns: dict[str, list[np.ndarray]], min_width: int = 160, gap: int = 2,
                 colorbar: np.ndarray | None = None, colorbar_row: int = -1) -> np.ndarray:
    """Stack frames ``{label: [frames [F,H,W,3] uint8, ...]}``: one labelled column per label, its frame sets
    stacked vertically; frames narrower than ``min_width`` enlarged by an integer factor; columns separated
    by ``gap`` white pixels; ``colorbar`` (``[h, w, 3]``, e.g. :func:`depth_colorbar`) beside frame set
    ``colorbar_row``."""
    tiles = []
    for label, stacks in columns.items():
        column = np.concatenate(stacks, axis=1)
        scale = max(1, math.ceil(min_width / column.shape[2]))
        column = column.repeat(scale, axis=1).repeat(scale, axis=2)
        banner = label_banner(label, column.shape[2])
        tile = np.concatenate([np.broadcast_to(banner, (len(column), *banner.shape)), column], axis=1)
        if tiles:
            tiles.append(np.full((*tile.shape[:2], gap, 3), 255, np.uint8))
        tiles.append(tile)
    frames = np.concatenate(tiles, axis=2)
    if colorbar is not None:
        F, H = frames.shape[:2]
        rows = len(next(iter(columns.values())))
        top = banner.shape[0] + (colorbar_row % rows) * ((H - banner.shape[0]) // rows)
        strip = np.full((H, colorbar.shape[1], 3), 255, np.uint8)
        bar = colorbar[:min(len(colorbar), H - top)]
        strip[top:top + len(bar)] = bar
        frames = np.concatenate([frames, np.broadcast_to(strip, (F, *strip.shape))], axis=2)
    return frames


# %% 08_Rendering_and_Visualization.ipynb · cell c31
def write_strategy_videos(renders: dict, out_dir: Path | str, lo: float, hi: float, fps: float = VIDEO_FPS) -> dict:
    """``rgb.gif``, ``rgb.mp4``, ``depth.gif``, ``depth.mp4`` (depth masked by opacity when ``renders`` has
    ``acc``) and the raw ``depth.npy`` (shown depth, float32) and ``acc.npy`` of one strategy into ``out_dir``."""
    out_dir = Path(out_dir)
    acc = renders.get("acc")
    shown = shown_depth(renders) if acc is not None else renders["depth"]
    rgb, depth = to_uint8(renders["rgb"]), colorize_depth(shown, lo, hi, acc=acc)
    written = {name: writer(out_dir / name, frames, fps)
               for name, writer, frames in (("rgb.gif", write_gif, rgb), ("rgb.mp4", write_mp4, rgb),
                                            ("depth.gif", write_gif, depth), ("depth.mp4", write_mp4, depth))}
    written["depth.npy"] = atomic_npy(out_dir / "depth.npy", shown.astype(np.float32))
    if acc is not None:
        written["acc.npy"] = atomic_npy(out_dir / "acc.npy", acc.astype(np.float32))
    return written


# %% 08_Rendering_and_Visualization.ipynb · cell c11
def differing_crop(images: list[np.ndarray], size: int) -> tuple[int, int]:
    """Top-left ``(row, col)`` of the ``size x size`` window where ``images`` (``[H,W,3]`` each) differ most:
    the largest sum over the window of the per-pixel standard deviation across the images (mean over channels).

    >>> a = np.zeros((8, 8, 3)); b = a.copy(); b[5:7, 1:3] = 1.0
    >>> differing_crop([a, b], 2)
    (5, 1)
    """
    spread = np.std(np.stack(images), axis=0).mean(-1)
    summed = np.pad(spread.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    windows = summed[size:, size:] - summed[:-size, size:] - summed[size:, :-size] + summed[:-size, :-size]
    row, col = np.unravel_index(np.argmax(windows), windows.shape)
    return int(row), int(col)


def plot_test_view(test_data, views: dict, path_rgb: Path | str, path_depth: Path | str,
                   lo: float, hi: float, view: int = 0) -> tuple[Path, Path]:
    """Write the colour and depth still frames of test view ``view`` (``views``: strategy -> ``run.render_views``
    output for ``[view]``): PSNR per panel and zoomed crops; depth masked by opacity on ``[lo, hi]``."""
    gt = test_data.images[view]
    rgbs = {name: np.clip(out["rgb"][0], 0, 1) for name, out in views.items()}
    size = max(8, min(test_data.H, test_data.W) // 4)
    row, col = differing_crop(list(rgbs.values()), size) if len(rgbs) > 1 else (0, 0)
    columns = len(views) + 1
    fig, axes = plt.subplots(2, columns, figsize=(2.8 * columns, 5.9), squeeze=False)
    for k, (name, image) in enumerate([("ground truth", gt), *rgbs.items()]):
        axes[0, k].imshow(image)
        axes[0, k].add_patch(plt.Rectangle((col - 0.5, row - 0.5), size, size, fill=False, ec="yellow", lw=1.2))
        crop = image[row:row + size, col:col + size]
        axes[1, k].imshow(crop, interpolation="nearest")
        if k == 0:
            axes[0, k].set_title(name, fontsize=9)
            axes[1, k].set_title(f"crop {size}x{size} px", fontsize=9)
        else:
            axes[0, k].set_title(f"{name}\nPSNR {psnr(image, gt):.2f} dB", fontsize=9)
            axes[1, k].set_title(f"crop PSNR {psnr(crop, gt[row:row + size, col:col + size]):.2f} dB", fontsize=9)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(f"test view {view} ({test_data.H}x{test_data.W}); crops where the strategies differ most", fontsize=10)
    rgb_path = save_figure(fig, path_rgb)

    fig, axes = plt.subplots(1, columns, figsize=(2.8 * columns + 1.0, 3.3), squeeze=False)
    cmap, image = masked_cmap(DEPTH_CMAP), None
    obj = None
    if test_data.depth is not None:
        valid = test_data.depth_mask[view] & (test_data.depth[view] > 0)
        obj = valid & (test_data.alphas[view] > 0.5) if test_data.alphas is not None else valid
        image = axes[0, 0].imshow(np.where(valid, test_data.depth[view], np.nan), cmap=cmap, vmin=lo, vmax=hi)
        axes[0, 0].set_title("ground-truth ray depth", fontsize=9)
    else:
        axes[0, 0].text(0.5, 0.5, "no ground-truth depth", ha="center", va="center")
    for ax, (name, out) in zip(axes[0, 1:], views.items()):
        shown = shown_depth({key: out[key][0] for key in ("depth", "depth_normalized", "acc")})
        image = ax.imshow(np.where(out["acc"][0] > SURFACE_MIN_ACC, shown, np.nan), cmap=cmap, vmin=lo, vmax=hi)
        title = name
        if obj is not None and obj.any():
            title += f"\nAbsRel object {np.mean(np.abs(shown[obj] - test_data.depth[view][obj]) / test_data.depth[view][obj]):.4f}"
        ax.set_title(title, fontsize=9)
    for ax in axes.ravel():
        ax.axis("off")
    if image is not None:
        fig.colorbar(image, ax=axes[0].tolist(), shrink=0.85, label=DEPTH_LABEL)
    fig.suptitle("depth masked by opacity (grey: no surface rendered / no ground truth)", fontsize=10)
    return rgb_path, save_figure(fig, path_depth)
