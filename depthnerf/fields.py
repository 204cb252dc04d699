# Generated from 02_Core_Components.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from depthnerf.config import FIELDS, MLPParams, TensoRFParams, build_settings


# %% 02_Core_Components.ipynb · cell c07
def positional_encoding(x: Tensor, n_freqs: int) -> Tensor:
    """``[x, sin(2^k x), cos(2^k x) for k < n_freqs]``: ``[..., D] -> [..., D (1 + 2 n_freqs)]``.

    >>> positional_encoding(torch.zeros(5, 3), 10).shape
    torch.Size([5, 63])
    >>> import math
    >>> positional_encoding(torch.tensor([[math.pi / 2]]), 1)
    tensor([[ 1.5708e+00,  1.0000e+00, -4.3711e-08]])
    """
    scales = 2.0 ** torch.arange(n_freqs, device=x.device, dtype=x.dtype)
    angles = (x[..., None, :] * scales[:, None]).flatten(-2)
    return torch.cat([x, torch.sin(angles), torch.cos(angles)], -1)


class NeRFMLP(nn.Module):
    """The NeRF paper's field: 8x256 MLP, skip at layer 4, PE 10/4 frequencies, view-dependent colour.

    ``aabb`` is accepted for the field protocol and not used (the MLP is unbounded).

    >>> field = NeRFMLP()
    >>> rgb, sigma = field(torch.zeros(2, 3), torch.tensor([[0., 0., 1.]] * 2))
    >>> rgb.shape, sigma.shape, bool((sigma >= 0).all())
    (torch.Size([2, 3]), torch.Size([2]), True)
    """

    def __init__(self, aabb=None, params: MLPParams | None = None):
        super().__init__()
        self.params = params = params or MLPParams()
        depth, width, pos_freqs, dir_freqs, skip = params.depth, params.width, params.pos_freqs, params.dir_freqs, params.skip
        self.pos_freqs, self.dir_freqs, self.skip = pos_freqs, dir_freqs, skip
        pos_dim, dir_dim = 3 * (1 + 2 * pos_freqs), 3 * (1 + 2 * dir_freqs)
        self.layers = nn.ModuleList(
            [nn.Linear(pos_dim, width)]
            + [nn.Linear(width + (pos_dim if i == skip + 1 else 0), width) for i in range(1, depth)]
        )
        self.sigma_head = nn.Linear(width, 1)
        self.feature = nn.Linear(width, width)
        self.view_layer = nn.Linear(width + dir_dim, width // 2)
        self.rgb_head = nn.Linear(width // 2, 3)

    def _trunk(self, points: Tensor) -> Tensor:
        x_enc = positional_encoding(points, self.pos_freqs)
        h = x_enc
        for i, layer in enumerate(self.layers):
            if i == self.skip + 1:
                h = torch.cat([x_enc, h], -1)
            h = F.relu(layer(h))
        return h

    def density(self, points: Tensor) -> Tensor:
        return F.relu(self.sigma_head(self._trunk(points))).squeeze(-1)

    def forward(self, points: Tensor, directions: Tensor) -> tuple[Tensor, Tensor]:
        h = self._trunk(points)
        sigma = F.relu(self.sigma_head(h)).squeeze(-1)
        h = torch.cat([self.feature(h), positional_encoding(directions, self.dir_freqs)], -1)
        rgb = torch.sigmoid(self.rgb_head(F.relu(self.view_layer(h))))
        return rgb, sigma

    def color(self, points: Tensor, directions: Tensor) -> Tensor:
        """Colour alone ``[M,3]`` (the MLP's trunk is shared, so this costs a full query)."""
        return self(points, directions)[0]

    def param_groups(self) -> list[dict]:
        """One Adam group at the paper's learning rate."""
        return [{"params": list(self.parameters()), "lr": self.params.lr}]

    def regularization(self) -> None:
        """The MLP adds nothing to the loss."""
        return None

    def training_callbacks(self, iterations: int) -> list:
        return []

    def load_state(self, state_dict: dict) -> None:
        self.load_state_dict(state_dict)


# %% 02_Core_Components.ipynb · cell c32
# (plane axes, line axis) of the three vector-matrix pairs: planes XY, XZ, YZ with lines Z, Y, X
_VM_PLANES = ((0, 1), (0, 2), (1, 2))
_VM_LINES = (2, 1, 0)


class TensoRFField(nn.Module):
    """TensoRF-VM grid field inside ``aabb [2,3]``; pure PyTorch (``grid_sample``), fast on a CPU.

    ``params`` (:class:`~depthnerf.config.TensoRFParams`): ``resolution`` grid points per axis,
    ``density_components`` / ``app_components`` channels per plane-line pair, ``app_dim`` basis
    outputs decoded by a ``hidden``-wide MLP with view PE of ``view_freqs`` frequencies.

    >>> field = TensoRFField(torch.tensor([[-1., -1, -1], [1, 1, 1]]), TensoRFParams(resolution=16))
    >>> with torch.no_grad():
    ...     rgb, sigma = field(torch.tensor([[0., 0, 0], [2, 0, 0]]), torch.tensor([[0., 0, 1]] * 2))
    >>> rgb.shape, float(sigma[1]), bool(sigma[0] < 0.01)  # outside the box: 0; empty at start
    (torch.Size([2, 3]), 0.0, True)
    """

    def __init__(self, aabb, params: TensoRFParams | None = None):
        super().__init__()
        self.params = p = params or TensoRFParams()
        self.register_buffer("aabb", torch.as_tensor(aabb, dtype=torch.float32).reshape(2, 3).clone())
        self.resolution = int(p.resolution)
        self.density_shift, self.density_scale, self.view_freqs = p.density_shift, p.density_scale, p.view_freqs
        self.n_density = p.density_components
        G, init_scale = self.resolution, p.init_scale
        self.density_planes = nn.Parameter(init_scale * torch.randn(3, p.density_components, G, G))
        self.density_lines = nn.Parameter(init_scale * torch.randn(3, p.density_components, G, 1))
        self.app_planes = nn.Parameter(init_scale * torch.randn(3, p.app_components, G, G))
        self.app_lines = nn.Parameter(init_scale * torch.randn(3, p.app_components, G, 1))
        self.basis = nn.Linear(3 * p.app_components, p.app_dim, bias=False)
        widths = [p.app_dim + 3 * (1 + 2 * p.view_freqs)] + [p.hidden] * p.hidden_layers
        self.decoder = nn.Sequential(
            *[m for a, b in zip(widths[:-1], widths[1:]) for m in (nn.Linear(a, b), nn.ReLU(inplace=True))],
            nn.Linear(widths[-1], 3),
        )

    def normalize(self, points: Tensor) -> Tensor:
        """Box coordinates in ``[-1,1]^3`` (outside the box: beyond +-1)."""
        return (points - self.aabb[0]) / (self.aabb[1] - self.aabb[0]) * 2 - 1

    @staticmethod
    def _vm_features(planes: Tensor, lines: Tensor, x: Tensor, group: int = 4) -> Tensor:
        """Products of plane and line samples, ``[3, C, M]``, for normalised points ``x [M,3]``.

        ``grid_sample`` runs on groups of ``group`` channels (as extra batch entries): its CPU
        backward scatters into the whole ``[C,G,G]`` gradient per batch entry, and small groups
        keep that in cache: on 2 cores, at G = 320, groups of 4 look up lego's density factors 1.19x
        faster than groups of 8 (``lookup`` in ``benchmarks/scaling.py``, forward + backward).
        """
        C, G, M = planes.shape[1], planes.shape[2], x.shape[0]
        k = C // group if C % group == 0 else 1
        plane_xy = torch.stack([x[:, list(ab)] for ab in _VM_PLANES])[:, None, :, None]  # [3,1,M,1,2]
        line_xy = torch.stack([torch.stack([torch.zeros_like(x[:, c]), x[:, c]], -1) for c in _VM_LINES])
        line_xy = line_xy[:, None, :, None]
        p = F.grid_sample(planes.reshape(3 * k, C // k, G, G), plane_xy.expand(3, k, M, 1, 2).reshape(3 * k, M, 1, 2),
                          mode="bilinear", align_corners=True)
        v = F.grid_sample(lines.reshape(3 * k, C // k, G, 1), line_xy.expand(3, k, M, 1, 2).reshape(3 * k, M, 1, 2),
                          mode="bilinear", align_corners=True)
        return (p * v).reshape(3, C, M)

    def _features(self, points: Tensor, with_app: bool) -> tuple[Tensor, Tensor | None, Tensor]:
        x = self.normalize(points)
        inside = (x.abs() <= 1).all(-1)
        if with_app:  # one grid_sample for density and appearance channels together
            planes = torch.cat([self.density_planes, self.app_planes], 1)
            lines = torch.cat([self.density_lines, self.app_lines], 1)
            sigma_feat, app_feat = self._vm_features(planes, lines, x).split(
                [self.n_density, planes.shape[1] - self.n_density], 1)
            app_feat = app_feat.reshape(-1, x.shape[0])  # [3 C_app, M]
        else:
            sigma_feat, app_feat = self._vm_features(self.density_planes, self.density_lines, x), None
        raw = sigma_feat.sum((0, 1))
        sigma = self.density_scale * F.softplus(raw + self.density_shift)
        return torch.where(inside, sigma, torch.zeros_like(sigma)), app_feat, inside

    def density(self, points: Tensor) -> Tensor:
        return self._features(points, with_app=False)[0]

    def forward(self, points: Tensor, directions: Tensor) -> tuple[Tensor, Tensor]:
        sigma, app_feat, _ = self._features(points, with_app=True)
        return self._decode(app_feat, directions), sigma

    def color(self, points: Tensor, directions: Tensor) -> Tensor:
        """Colour alone ``[M,3]``: only the appearance factors are looked up."""
        app_feat = self._vm_features(self.app_planes, self.app_lines, self.normalize(points))
        return self._decode(app_feat.reshape(3 * self.app_planes.shape[1], points.shape[0]), directions)

    def _decode(self, app_feat: Tensor, directions: Tensor) -> Tensor:
        """Appearance features ``[3 C_app, M]`` and view directions ``[M,3]`` -> colour ``[M,3]``."""
        h = torch.cat([(self.basis.weight @ app_feat).t(), positional_encoding(directions, self.view_freqs)], -1)
        return torch.sigmoid(self.decoder(h))

    def regularization(self) -> Tensor | None:
        """``density_l1 * (mean|density planes| + mean|density lines|)`` + ``tv_weight * (TV(density
        planes) + 0.1 TV(app planes))``, TV being the mean squared difference of neighbouring plane
        entries along both plane axes (both weights from the field's parameters); a term whose weight
        is 0 is not computed, and with both 0 it is None (nothing to add or differentiate)."""
        terms = []
        if self.params.density_l1 > 0:
            terms.append(self.params.density_l1 * (self.density_planes.abs().mean() + self.density_lines.abs().mean()))
        if self.params.tv_weight > 0:
            def tv(p: Tensor) -> Tensor:
                return (p[..., 1:, :] - p[..., :-1, :]).pow(2).mean() + (p[..., :, 1:] - p[..., :, :-1]).pow(2).mean()
            terms.append(self.params.tv_weight * (tv(self.density_planes) + 0.1 * tv(self.app_planes)))
        return sum(terms) if terms else None

    @torch.no_grad()
    def upsample(self, new_resolution: int) -> None:
        """Resample every plane and line to ``new_resolution`` points per axis (new Parameters:
        rebuild the optimizer afterwards)."""
        G = int(new_resolution)
        for name in ("density_planes", "app_planes"):
            old = getattr(self, name)
            setattr(self, name, nn.Parameter(F.interpolate(old.data, size=(G, G), mode="bilinear", align_corners=True)))
        for name in ("density_lines", "app_lines"):
            old = getattr(self, name)
            setattr(self, name, nn.Parameter(F.interpolate(old.data, size=(G, 1), mode="bilinear", align_corners=True)))
        self.resolution = G

    def param_groups(self) -> list[dict]:
        """Adam groups: the factors at ``lr``, the basis and colour MLP at ``lr * network_lr_factor``
        (TensoRF's 0.04 and 0.003)."""
        factors = [self.density_planes, self.density_lines, self.app_planes, self.app_lines]
        network = list(self.basis.parameters()) + list(self.decoder.parameters())
        return [{"params": factors, "lr": self.params.lr},
                {"params": network, "lr": self.params.lr * self.params.network_lr_factor}]

    def training_callbacks(self, iterations: int) -> list:
        """Coarse to fine: a :class:`GridUpsample` at ``round(fraction * iterations)`` for each entry of
        ``params.upsample``."""
        if not self.params.upsample:
            return []
        return [GridUpsample({round(f * iterations): g for f, g in self.params.upsample})]

    def load_state(self, state_dict: dict) -> None:
        """Load weights saved at any resolution (after an upsample): resample to it first."""
        saved = state_dict["density_planes"].shape[-1]
        if saved != self.resolution:
            self.upsample(saved)
        self.load_state_dict(state_dict)


class GridUpsample:
    """Training callback of :class:`TensoRFField`: at the scheduled steps ``{step: resolution}``
    resample the factors and restart Adam (its moments belong to the old grid), as TensoRF does.

    >>> GridUpsample({300: 256, 100: 128}).milestones
    [100, 300]
    """

    def __init__(self, schedule: dict[int, int]):
        self.schedule = dict(schedule)

    @property
    def milestones(self) -> list[int]:
        """The steps after which a step costs more (:func:`depthnerf.runtime.estimate_training_seconds` probes each)."""
        return sorted(self.schedule)

    def before_step(self, trainer, step: int) -> None:
        if step in self.schedule:
            trainer.field.upsample(self.schedule[step])
            trainer.rebuild_optimizer()


# %% 02_Core_Components.ipynb · cell c33
class Field(Protocol):
    """What the trainer, samplers and renderer ask of a field (shapes: ``M`` points)."""

    def forward(self, points: Tensor, directions: Tensor) -> tuple[Tensor, Tensor]: ...  # rgb [M,3], sigma [M]
    def density(self, points: Tensor) -> Tensor: ...  # sigma [M] >= 0
    def color(self, points: Tensor, directions: Tensor) -> Tensor: ...  # rgb [M,3] in [0, 1]
    def param_groups(self) -> list[dict]: ...  # Adam parameter groups with their "lr"
    def regularization(self) -> Tensor | None: ...  # added to the loss every step
    def training_callbacks(self, iterations: int) -> list: ...  # trainer callbacks (see 03)
    def load_state(self, state_dict: dict) -> None: ...  # weights saved at any resolution


def make_field(name: str, aabb, params=None) -> nn.Module:
    """The field registered as ``name`` (``FIELDS``) in the box ``aabb [2,3]`` with ``params`` (its
    parameters class, or a dict of them; None: the defaults).

    >>> type(make_field("tensorf", [[-1, -1, -1], [1, 1, 1]], {"resolution": 8})).__name__
    'TensoRFField'
    """
    if name not in FIELDS:
        raise ValueError(f"unknown field {name!r}: choose one of {sorted(FIELDS)}")
    entry = FIELDS[name]
    return entry.builder()(aabb, build_settings(entry.params, params if params is not None else {}, f"field {name!r}"))
