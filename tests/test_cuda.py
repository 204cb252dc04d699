"""The trainer, the samplers and the renderer on a CUDA device. Skipped (with the reason) on machines
without one, such as CI and the 2-core development machines; run them where a GPU is lent."""
import json

import numpy as np
import pytest
import torch

from depthnerf.config import TrainConfig
from depthnerf.datasets import load_dataset
from depthnerf.runs import load_run
from depthnerf.trainer import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA device here (torch.cuda.is_available() is False)")
CUDA = torch.device("cuda")


@pytest.fixture(scope="module")
def tiny():
    return (load_dataset("embedded", "train", downscale=8, max_views=6),
            load_dataset("embedded", "val", downscale=8, max_views=1))


def config(strategy, **kw):
    return TrainConfig(**{**dict(strategy=strategy, iterations=40, batch_rays=512, n_samples=32,
                                 field_params={"resolution": 24, "upsample": [[0.5, 32]]}, occupancy_resolution=16,
                                 occupancy_warmup=4, occupancy_every=4, val_every=20, checkpoint_every=20,
                                 color_threshold=1e-4), **kw})


@pytest.mark.parametrize("strategy", ["baseline", "soft", "hard", "hybrid"])
def test_every_strategy_trains_and_renders_on_cuda(tiny, tmp_path, strategy):
    train_data, val_data = tiny
    result = train(train_data, config(strategy), tmp_path / strategy, val_data=val_data, device=CUDA, progress=False)
    assert result.steps == 40 and np.isfinite(result.final_val_psnr)
    summary = json.loads((tmp_path / strategy / "summary.json").read_text())
    assert summary["device"].startswith("cuda") and summary["peak_memory_bytes"] > 0
    run = load_run(tmp_path / strategy, device=CUDA)
    assert next(run.field.parameters()).device.type == "cuda" and run.field.resolution == 32
    rendered = run.render_views(val_data, [0])
    assert rendered["rgb"].shape == val_data.images[:1].shape and np.isfinite(rendered["depth"]).all()


def test_a_cuda_run_resumes_from_its_checkpoint(tiny, tmp_path):
    """grid_sample's CUDA backward accumulates with atomics, so a resumed run matches an uninterrupted
    one closely rather than bit for bit (on the CPU the match is exact: tests/test_train.py)."""
    train_data, _ = tiny
    train(train_data, config("hard"), tmp_path / "straight", device=CUDA, progress=False)
    first = train(train_data, config("hard"), tmp_path / "resumed", device=CUDA, stop_at=20, progress=False)
    assert first.interrupted
    train(train_data, config("hard"), tmp_path / "resumed", device=CUDA, progress=False)
    a = torch.load(tmp_path / "straight" / "model_hard.pth", weights_only=True)["field"]
    b = torch.load(tmp_path / "resumed" / "model_hard.pth", weights_only=True)["field"]
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-2, rtol=1e-2), key
