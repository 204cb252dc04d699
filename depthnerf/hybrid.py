# Generated from 06_Hybrid_Strategy.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import torch

from depthnerf.hard import HardStrategy
from depthnerf.soft import SoftStrategy, depth_loss
from depthnerf.train import photometric_loss


# %% 06_Hybrid_Strategy.ipynb · cell c02
class HybridStrategy(HardStrategy):
    """Hard's guided sampling; ``L = L_rgb + soft_weight * L_depth + hard_weight * (L_free + L_surface)``."""

    name = "hybrid"
    defaults = {**SoftStrategy.defaults, **HardStrategy.defaults}

    def losses(self, out: dict, batch: dict) -> dict[str, torch.Tensor]:
        p = self.params
        return {
            "rgb": photometric_loss(out["rgb"], batch["rgb"]),
            "depth": p["soft_weight"] * depth_loss(p["depth_loss"], out, batch, p["eps"], p["ds_sigma"]),
            "hard": self.hard_terms(out, batch),
        }
