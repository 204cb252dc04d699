"""Evaluation: metric functions (depthnerf.metrics) on known inputs, LPIPS without downloads, and the whole table of two
tiny trained models checked against metrics computed independently here."""
import csv
import json
import subprocess
import sys

import lpips
import numpy as np
import pytest
import torch
import torchvision
from skimage.metrics import structural_similarity

from depthnerf import evaluate, figures, metrics
from depthnerf.config import TrainConfig
from depthnerf.datasets import load_dataset
from depthnerf.runs import load_run
from depthnerf.trainer import train

TRAINED = ("baseline", "soft")
ITERATIONS = 30


def test_psnr_of_a_known_mse_and_the_cap_for_identical_images():
    target = np.zeros((4, 5, 3))
    assert metrics.psnr(np.full((4, 5, 3), 0.1), target) == pytest.approx(20.0)   # MSE 0.01
    assert metrics.psnr(np.full((4, 5, 3), 0.01), target) == pytest.approx(40.0)  # MSE 1e-4
    assert metrics.psnr(target, target) == 100.0  # MSE floored at 1e-10


def test_ssim_is_one_for_identical_images_and_drops_with_noise():
    rng = np.random.default_rng(0)
    image = rng.uniform(size=(16, 16, 3))
    noisy = np.clip(image + rng.normal(0, 0.2, image.shape), 0, 1)
    assert metrics.ssim(image, image) == pytest.approx(1.0)
    assert metrics.ssim(noisy, image) < 0.9


def test_depth_metrics_by_hand():
    pred = np.array([[1.0, 2.0], [4.0, 7.0], [0.0, 3.0]])
    gt = np.array([[1.0, 1.0], [2.0, 0.0], [2.0, 5.0]])
    mask = np.array([[True, True], [True, True], [True, False]])
    # valid: (1,1), (2,1), (4,2), (0,2); gt = 0 and mask False are excluded
    m = metrics.depth_metrics(pred, gt, mask)
    assert m["pixels"] == 4
    assert m["absrel"] == pytest.approx((0 + 1 + 1 + 1) / 4)
    assert m["rmse"] == pytest.approx(np.sqrt((0 + 1 + 4 + 4) / 4))
    assert m["delta1"] == pytest.approx(1 / 4)  # ratios 1, 2, 2 and a zero prediction (a miss)
    assert metrics.depth_metrics(pred, gt, np.zeros_like(mask))["absrel"] is None


@pytest.mark.filterwarnings("ignore:.*(pretrained|weight enum).*:UserWarning")
def test_lpips_random_trunk_is_zero_for_identical_images():
    model = lpips.LPIPS(net="alex", pnet_rand=True, verbose=False)
    rng = np.random.default_rng(1)
    a, b = rng.uniform(size=(2, 32, 32, 3))
    assert metrics.lpips_distance(model, a, a) == pytest.approx(0.0, abs=1e-7)
    assert metrics.lpips_distance(model, a, b) > 0


def test_alexnet_weights_are_found_and_loaded_without_download(tmp_path, monkeypatch):
    monkeypatch.delenv(metrics.ALEXNET_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    path, note = metrics.find_alexnet_weights()
    assert path is None and metrics.ALEXNET_FILE in note and metrics.ALEXNET_ENV in note

    torch.manual_seed(3)
    state = torchvision.models.alexnet(weights=None).state_dict()
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(state, tmp_path / "hub" / "checkpoints" / metrics.ALEXNET_FILE)
    assert metrics.find_alexnet_weights() == (tmp_path / "hub" / "checkpoints" / metrics.ALEXNET_FILE, "")
    torch.save(state, tmp_path / "elsewhere.pth")
    monkeypatch.setenv(metrics.ALEXNET_ENV, str(tmp_path / "elsewhere.pth"))
    path, _ = metrics.find_alexnet_weights()
    assert path == tmp_path / "elsewhere.pth"

    model = metrics.lpips_model(path)
    trunk = dict(model.net.named_parameters())
    assert torch.equal(trunk["slice1.0.weight"], state["features.0.weight"])
    assert torch.equal(trunk["slice5.10.bias"], state["features.10.bias"])
    torch.save({"features.0.weight": state["features.0.weight"]}, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match="partial.pth.*features.3.weight"):
        metrics.lpips_model(tmp_path / "partial.pth")


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """Two tiny trained strategies (hard and hybrid left untrained) evaluated on 2 test views of
    40x40 pixels (LPIPS' AlexNet needs at least 31)."""
    results = tmp_path_factory.mktemp("results")
    train_data = load_dataset("embedded", "train", downscale=8, max_views=4)
    test_data = load_dataset("embedded", "test", downscale=5, max_views=2)
    for strategy in TRAINED:
        config = TrainConfig(strategy=strategy, iterations=ITERATIONS, batch_rays=256, n_samples=32,
                             sampler="stratified", field_params={"resolution": 24}, val_every=15,
                             checkpoint_every=ITERATIONS)
        train(train_data, config, results / strategy, val_data=test_data, progress=False)
    lpips_net = metrics.lpips_model(None)  # random trunk: exercises the code path only
    evaluation, renders = evaluate.evaluate_all(results, test_data, lpips_net=lpips_net, progress=False)
    evaluate.write_evaluation(evaluation, results)
    return results, test_data, evaluation, renders, lpips_net


def test_missing_strategies_are_reported_and_the_rest_evaluated(evaluated):
    results, _, evaluation, renders, _ = evaluated
    assert set(renders) == set(TRAINED)
    for strategy in ("hard", "hybrid"):
        assert "no model_<strategy>.pth" in evaluation[strategy]["missing"]
        assert str(results / strategy) in evaluation[strategy]["missing"]
    table = (results / "evaluation_results.md").read_text()
    assert "| hard | missing: no model_<strategy>.pth" in table


def test_evaluation_renders_what_the_saved_model_renders(evaluated):
    results, test_data, _, renders, _ = evaluated
    out = load_run(results / "baseline").render_views(test_data, [1])
    np.testing.assert_allclose(renders["baseline"]["rgb"][1], np.clip(out["rgb"][0], 0, 1), atol=1e-6)
    np.testing.assert_allclose(renders["baseline"]["depth"][1], out["depth"][0], atol=1e-6)


def test_unreadable_model_is_reported_missing_and_data_without_depth_has_null_depth(evaluated, tmp_path):
    results, test_data, *_ = evaluated
    (tmp_path / "soft").mkdir()
    (tmp_path / "soft" / "model_soft.pth").write_bytes(b"not a checkpoint")
    (tmp_path / "baseline").symlink_to(results / "baseline")
    no_depth = test_data.subset([0])
    no_depth.depth, no_depth.depth_mask = None, None
    evaluation, _ = evaluate.evaluate_all(tmp_path, no_depth, strategies=("soft", "baseline"), progress=False)
    assert "cannot read" in evaluation["soft"]["missing"] and "model_soft.pth" in evaluation["soft"]["missing"]
    baseline = evaluation["baseline"]
    assert all(baseline[key] is None for key in evaluate.DEPTH_KEYS + evaluate.DEPTH_OBJECT_KEYS)
    assert "no ground-truth depth" in baseline["depth_note"] and baseline["psnr"] > 0


def test_metrics_match_an_independent_computation(evaluated):
    results, test_data, evaluation, renders, lpips_net = evaluated
    saved = json.loads((results / "evaluation_results.json").read_text())
    rows = {cells[0]: cells for cells in ([c.strip() for c in line.strip("|").split("|")]
                                          for line in (results / "evaluation_results.md").read_text().splitlines()[2:])}
    for strategy in TRAINED:
        out = renders[strategy]
        rgb = out["rgb"]
        mse = np.mean((rgb.astype(np.float64) - test_data.images) ** 2, axis=(1, 2, 3))
        psnr = -10 * np.log10(mse)
        ssim = [structural_similarity(r.astype(np.float64), g.astype(np.float64), data_range=1, channel_axis=-1)
                for r, g in zip(rgb, test_data.images)]
        lp = [lpips_net(torch.from_numpy(r).permute(2, 0, 1)[None], torch.from_numpy(g).permute(2, 0, 1)[None],
                        normalize=True).item() for r, g in zip(rgb, test_data.images)]
        valid = test_data.depth_mask & (test_data.depth > 0)
        d, g = out["depth"][valid].astype(np.float64), test_data.depth[valid].astype(np.float64)
        absrel = np.mean(np.abs(d - g) / g)
        rmse = np.sqrt(np.mean((d - g) ** 2))
        with np.errstate(divide="ignore"):  # a zero prediction: ratio inf, a miss
            delta1 = np.mean(np.maximum(d / g, g / d) < 1.25)
        obj = valid & (test_data.alphas > 0.5)
        absrel_object = np.mean(np.abs(out["depth"][obj] - test_data.depth[obj]) / test_data.depth[obj])

        entry = saved[strategy]
        np.testing.assert_allclose(entry["per_view"]["psnr"], psnr, rtol=1e-6)
        np.testing.assert_allclose(entry["per_view"]["ssim"], ssim, rtol=1e-6)
        np.testing.assert_allclose(entry["per_view"]["lpips"], lp, rtol=1e-5)
        assert entry["psnr"] == pytest.approx(psnr.mean()) and entry["ssim"] == pytest.approx(np.mean(ssim))
        assert entry["depth_absrel"] == pytest.approx(absrel, rel=1e-5)
        assert entry["depth_rmse"] == pytest.approx(rmse, rel=1e-5)
        assert entry["depth_delta1"] == pytest.approx(delta1)
        assert entry["depth_absrel_object"] == pytest.approx(absrel_object, rel=1e-5)
        summary = json.loads((results / strategy / "summary.json").read_text())
        assert entry["train_seconds"] == summary["train_seconds"] and entry["iterations"] == ITERATIONS

        cells = rows[strategy]
        assert cells[1] == f"{psnr.mean():.2f}" and cells[2] == f"{np.mean(ssim):.3f}"
        assert cells[3] == f"{np.mean(lp):.3f}" and cells[4] == f"{absrel:.3f}"
        assert cells[5] == f"{rmse:.3f}" and cells[6] == f"{delta1:.3f}"
        assert cells[7] == f"{summary['train_seconds']:.1f}" and cells[8] == str(ITERATIONS)
        assert cells[9] == f"{summary['peak_memory_bytes'] / 2**20:.0f}"
    assert saved["meta"]["resolution"] == [40, 40] and saved["meta"]["test_views"] == [0, 1]


def test_files_and_the_table_command(evaluated):
    results, _, evaluation, _, _ = evaluated
    stored = np.load(results / "evaluation_results.npy", allow_pickle=True).item()
    assert stored["baseline"]["per_view"]["psnr"] == evaluation["baseline"]["per_view"]["psnr"]
    rows = list(csv.DictReader(open(results / "evaluation_results.csv")))
    assert [r["strategy"] for r in rows] == ["baseline", "soft", "hard", "hybrid"]
    assert float(rows[1]["psnr"]) == pytest.approx(evaluation["soft"]["psnr"]) and rows[2]["missing"]
    proc = subprocess.run([sys.executable, "-m", "depthnerf.evaluate", "--results", str(results)],
                          capture_output=True, text=True, check=True)
    assert proc.stdout == (results / "evaluation_results.md").read_text()


def test_figures_are_written(evaluated):
    results, test_data, evaluation, renders, _ = evaluated
    paths = [figures.plot_comparison(evaluation, results / "evaluation_comparison.png"),
             figures.plot_training_curves(results, TRAINED, results / "training_curves.png"),
             figures.plot_depth_error_maps(test_data, renders, results / "depth_error_maps.png")]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curves = figures.read_curves(results / "baseline")
    assert len(curves["seconds"]) == ITERATIONS and np.all(np.diff(curves["seconds"]) >= 0)
    assert curves["val_step"] == [15, 30]


def test_a_model_from_another_version_is_named_and_the_others_evaluated(evaluated, tmp_path):
    results, test_data, *_ = evaluated
    (tmp_path / "soft").mkdir()
    saved = torch.load(results / "soft" / "model_soft.pth", weights_only=True)
    saved["config"]["setting_from_the_future"] = True
    torch.save(saved, tmp_path / "soft" / "model_soft.pth")
    (tmp_path / "baseline").symlink_to(results / "baseline")
    evaluation, _ = evaluate.evaluate_all(tmp_path, test_data, strategies=("soft", "baseline"), progress=False)
    assert "model_soft.pth" in evaluation["soft"]["missing"]
    assert "setting_from_the_future" in evaluation["soft"]["missing"]
    assert evaluation["baseline"]["psnr"] > 0
