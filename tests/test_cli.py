"""The command line (`python -m depthnerf`): --set parsing, --help listing every setting, and the stages
run as a user would: train a depth strategy on a small nerfstudio-layout scene (with TensorBoard on),
evaluate, compare, render; errors are one line. Also the packaging metadata of the console script."""
import json
import os
import subprocess
import sys
import tomllib

import pytest
from tensorboard.backend.event_processing import event_accumulator

from depthnerf import __version__, cli
from depthnerf.config import STRATEGIES, TrainConfig, describe
from depthnerf.datasets import load_dataset
from depthnerf.nerfstudio import write_nerfstudio
from tools.export_notebooks import ROOT


def depthnerf(*args, cwd=ROOT, check=True) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "depthnerf", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"depthnerf {' '.join(map(str, args))} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done


def test_set_parses_json_values_nested_parameters_and_refuses_unknown_names():
    assert cli.parse_settings(["iterations=50", "strategy_params.hard_weight=0.01", "sampler=stratified",
                               "field_params.upsample=[[0.5, 64]]", "tensorboard=true"]) == {
        "iterations": 50, "strategy_params": {"hard_weight": 0.01}, "sampler": "stratified",
        "field_params": {"upsample": [[0.5, 64]]}, "tensorboard": True}
    with pytest.raises(ValueError, match="TrainConfig has no setting 'iteration'"):
        cli.parse_settings(["iteration=5"])
    with pytest.raises(ValueError, match="expected key=value"):
        cli.parse_settings(["iterations"])
    with pytest.raises(ValueError, match="only field_params and strategy_params take dotted keys"):
        cli.parse_settings(["seed.x=1"])


def test_train_help_documents_every_setting():
    text = depthnerf("train", "--help").stdout
    flat = " ".join(text.split())
    for name, doc in describe(TrainConfig).items():
        assert f"{name}: {doc}" in flat, name
    for name, entry in STRATEGIES.items():
        for param, doc in describe(entry.params).items():
            assert f"{param}: {doc}" in flat, (name, param)
    assert f"depthnerf {__version__}" in depthnerf("--version").stdout
    for command in ("prepare", "train", "evaluate", "render", "compare", "study"):
        assert command in depthnerf("--help").stdout


@pytest.fixture(scope="module")
def nerfstudio_scene(tmp_path_factory):
    """The embedded scene at 25x25 in nerfstudio's layout: 4 train, 2 val, 2 test views, 16-bit depth PNGs."""
    folder = tmp_path_factory.mktemp("scene") / "tiny_nerfstudio"
    write_nerfstudio(folder, {split: load_dataset("embedded", split, 8, max_views=n, root=ROOT / "data")
                              for split, n in (("train", 4), ("val", 2), ("test", 2))})
    return folder


@pytest.mark.slow
def test_train_evaluate_compare_render_on_a_nerfstudio_scene(tmp_path, nerfstudio_scene):
    results = tmp_path / "results"
    common = ["--data", nerfstudio_scene, "--profile", "smoke", "--downscale", 1, "--results", results, "--quiet"]
    done = depthnerf("train", "--strategy", "hard", *common, "--set", "iterations=50", "--set", "val_every=25",
                     "--set", "tensorboard=true")
    assert "hard trained 50 steps" in done.stdout and "4 views 25x25" in done.stdout
    run = results / "hard"
    assert (run / "model_hard.pth").is_file()
    config = TrainConfig(**json.loads((run / "config.json").read_text()))
    assert config.iterations == 50 and config.strategy == "hard" and config.tensorboard

    # TensorBoard: per-term losses, learning rate, validation PSNR and images, read back from the events file
    events = list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1
    log = event_accumulator.EventAccumulator(str(events[0]), size_guidance={"images": 0, "scalars": 0})
    log.Reload()
    tags = log.Tags()
    assert {"train/loss", "train/psnr", "loss/rgb", "lr/group0", "val/psnr"} <= set(tags["scalars"])
    assert any(t.startswith("loss/") and t != "loss/rgb" for t in tags["scalars"])  # hard's own terms
    assert [e.step for e in log.Scalars("train/loss")] == [1, 11, 21, 31, 41, 50]
    assert [e.step for e in log.Scalars("val/psnr")] == [25, 50]
    summary = json.loads((run / "summary.json").read_text())
    assert [round(e.value, 4) for e in log.Scalars("val/psnr")] == [round(v["psnr"], 4) for v in summary["val_psnr"]]
    lr = [e.value for e in log.Scalars("lr/group0")]
    assert lr[0] > lr[-1] > 0  # the schedule decays
    assert {"val/rgb", "val/depth"} <= set(tags["images"])
    image = log.Images("val/depth")[-1]
    assert (image.width, image.height) == (25, 25)

    done = depthnerf("evaluate", *common, "--strategies", "hard", "--no-lpips")
    assert "| hard |" in done.stdout
    table = depthnerf("compare", "--results", results).stdout
    header, _, row = (dict(enumerate(c.strip() for c in line.strip().strip("|").split("|")))
                      for line in table.strip().splitlines())
    column = {name: k for k, name in header.items()}
    assert len(table.strip().splitlines()) == 3 and row[column["strategy"]] == "hard"
    psnr = next(k for name, k in column.items() if name.startswith("PSNR"))
    assert 0 < float(row[psnr]) < 60 and float(row[column["train time (s)"]]) > 0
    assert "hard," in depthnerf("compare", "--results", results, "--csv").stdout

    done = depthnerf("render", *common, "--strategies", "hard,soft", "--frames", 2)
    assert "soft: MISSING" in done.stdout and (results / "hard" / "renders" / "rgb.mp4").stat().st_size > 0


def test_train_estimate_prints_the_measured_runtime_and_trains_nothing(tmp_path, nerfstudio_scene, capsys):
    results = tmp_path / "results"
    assert cli.main(["train", "--strategy", "soft", "--data", str(nerfstudio_scene), "--profile", "smoke",
                     "--downscale", "1", "--results", str(results), "--set", "iterations=40", "--estimate"]) == 0
    out = capsys.readouterr().out
    assert "soft: 40 steps on 4 views 25x25 would train about" in out and "measured over 1 stage(s)" in out
    assert not results.exists()


def test_errors_are_one_line_naming_the_problem(tmp_path, capsys):
    assert cli.main(["train", "--strategy", "hard", "--data", str(tmp_path / "nowhere"), "--profile", "smoke"]) == 2
    assert capsys.readouterr().err.splitlines() == [f"depthnerf train: error: {tmp_path / 'nowhere'}: dataset folder "
                                                    "not found (expected 'embedded' or a scene folder)"]
    assert cli.main(["train", "--strategy", "hard", "--set", "iteration=5"]) == 2
    assert "TrainConfig has no setting 'iteration'" in capsys.readouterr().err
    assert cli.main(["compare", "--results", str(tmp_path)]) == 2
    assert "run 07_Comprehensive_Evaluation.ipynb first" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: an unknown strategy is a usage error
        cli.main(["train", "--strategy", "deep"])
    assert "invalid choice: 'deep'" in capsys.readouterr().err


def test_tensorboard_on_without_the_package_says_what_to_install(monkeypatch):
    from depthnerf.callbacks import TensorBoardLog

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ImportError, match="needs the tensorboard package"):
        TensorBoardLog("unused", 10)


def test_console_script_is_declared_and_resolves():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "depthnerf" and project["scripts"]["depthnerf"] == "depthnerf.cli:main"
    assert "version" in project["dynamic"]
    module, _, name = project["scripts"]["depthnerf"].partition(":")
    assert getattr(__import__(module, fromlist=[name]), name) is cli.main


def test_the_cli_names_what_the_modules_define():
    from depthnerf import evaluate, prepare, sweeps

    assert cli.MATCHERS == prepare.MATCHERS and cli.DEPTH_SOURCES == sweeps.DEPTH_SOURCES
    assert cli.EVALUATED == evaluate.STRATEGIES
