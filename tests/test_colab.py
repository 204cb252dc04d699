"""The Colab notebooks: metadata; both executed headless in the smoke profile inside the checkout; setup cloning from outside one."""
import json
from pathlib import Path

import nbformat
import papermill
import pytest

from tools.export_notebooks import ROOT

COLAB = ROOT / "colab"
SETUP = COLAB / "00_Setup_Colab.ipynb"
PIPELINE = COLAB / "Full_Pipeline_Colab.ipynb"


def outputs_text(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "stream")


@pytest.mark.parametrize("path", [SETUP, PIPELINE], ids=lambda p: p.stem)
def test_colab_notebook_metadata_and_one_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.metadata.language_info.name == "python"
    assert "depthnerf" not in nb.metadata, f"{path.name} exports nothing, so it names no module"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected one cell tagged 'parameters', found {len(tagged)}"
    for var in ("DEPTHNERF_PROFILE", "DEPTHNERF_DATA", "DEPTHNERF_RESULTS", "repo_url"):
        assert var in tagged[0].source, f"{path.name}: parameters cell does not set {var}"
    assert not any("export" in c.metadata.get("tags", []) for c in nb.cells)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "committed with outputs"


def test_every_requirement_maps_to_a_module_that_imports():
    """Bootstrap skips pip when every requirements.txt line imports; a distribution whose module has
    another name (opencv-python-headless -> cv2) must be in IMPORT_NAMES, or it is installed again and
    then reported as still missing."""
    from depthnerf.bootstrap import missing_requirements
    assert missing_requirements(ROOT) == []


@pytest.mark.slow
def test_colab_notebooks_run_inside_the_checkout_in_smoke_profile(tmp_path, monkeypatch):
    """Setup from the repository root (parameters from the environment), the pipeline from colab/
    (parameters from papermill): both find the checkout, skip clone and install, and the pipeline
    writes the evaluation and the videos into the results folder it was given."""
    results = tmp_path / "results"
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # torch threads otherwise spin on a busy machine
    monkeypatch.setenv("DEPTHNERF_PROFILE", "smoke")
    monkeypatch.setenv("DEPTHNERF_RESULTS", str(results))
    setup_out = tmp_path / "setup.ipynb"
    papermill.execute_notebook(str(SETUP), str(setup_out), cwd=str(ROOT), progress_bar=False)
    text = outputs_text(setup_out)
    assert f"inside the repository at {ROOT.resolve()}: clone skipped" in text
    assert "[bootstrap] every requirement imports: nothing to install" in text
    assert "profile 'smoke'" in text

    monkeypatch.delenv("DEPTHNERF_PROFILE")
    monkeypatch.delenv("DEPTHNERF_RESULTS")
    pipeline_out = tmp_path / "pipeline.ipynb"
    papermill.execute_notebook(str(PIPELINE), str(pipeline_out), cwd=str(COLAB), progress_bar=False,
                               parameters={"profile": "smoke", "results": str(results)})
    text = outputs_text(pipeline_out)
    assert f"using the checkout at {ROOT.resolve()}: clone skipped" in text
    assert "[bootstrap] every requirement imports: nothing to install" in text
    assert "expected training time of profile 'smoke' here: about" in text
    assert all(f"{s:>8}: about" in text for s in ("baseline", "soft", "hard", "hybrid"))
    evaluation = json.loads((results / "evaluation_results.json").read_text())
    assert {"baseline", "soft", "hard", "hybrid"} <= set(evaluation)
    assert all("psnr" in evaluation[s] for s in ("baseline", "soft", "hard", "hybrid"))
    assert (results / "comparison.mp4").stat().st_size > 0
    assert (results / "hybrid" / "renders" / "rgb.mp4").stat().st_size > 0


@pytest.mark.slow
def test_setup_outside_a_checkout_clones_the_repository(tmp_path, monkeypatch):
    """Run from a folder that is not a checkout, the setup notebook clones `repo_url` (here this
    repository's local path, so no network is needed), works in the clone and generates the data there."""
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    clone = tmp_path / "clone"
    out = tmp_path / "setup.ipynb"
    papermill.execute_notebook(str(SETUP), str(out), cwd=str(tmp_path), progress_bar=False,
                               parameters={"profile": "smoke", "repo_url": str(ROOT), "clone_dir": str(clone)})
    text = outputs_text(out)
    assert "clone skipped" not in text
    assert f"[setup] working directory: {clone.resolve()}" in text
    assert (clone / "depthnerf").is_dir() and (clone / "data" / "embedded" / "transforms_train.json").is_file()


def test_repository_url_is_written_everywhere_it_is_needed():
    """pyproject.toml is the one place: every numbered notebook's first code cell is the bootstrap
    cell made from it, the Colab notebooks' repo_url and README's Colab links agree (`make export`)."""
    from tools.export_notebooks import BOOTSTRAP_TAG, bootstrap_source, notebooks, repository_url, stamp_notebooks
    assert stamp_notebooks(write=False) == [], "run `make export`"
    url = repository_url()
    for path in notebooks():
        code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        assert BOOTSTRAP_TAG in code[0].metadata.get("tags", []) and code[0].source == bootstrap_source(), path.name
        assert sum(BOOTSTRAP_TAG in c.metadata.get("tags", []) for c in code) == 1, path.name
    for path in (SETUP, PIPELINE):
        sources = "".join(c.source for c in nbformat.read(path, as_version=4).cells)
        assert f'repo_url = "{url}.git"' in sources
    assert f"github/{url.removeprefix('https://github.com/')}/blob/main/03_Baseline_NeRF.ipynb" in (ROOT / "README.md").read_text()


def test_bootstrap_cell_outside_a_checkout_clones_then_reuses_and_imports_the_clone(tmp_path):
    """The bootstrap cell run as Colab runs it: from a folder that is no checkout, in a fresh
    interpreter. It clones (here from this repository's committed HEAD), works from the clone and
    imports the package from it; run again it reuses the clone; without a repository URL it stops
    and says where to set one."""
    import os
    import subprocess
    import sys
    from tools.export_notebooks import bootstrap_source, repository_url
    elsewhere, clone = tmp_path / "content", tmp_path / "content" / "depthnerf"
    elsewhere.mkdir()
    script = bootstrap_source() + "\nimport depthnerf\nprint('IMPORTED', depthnerf.__file__, os.getcwd())\n"
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
           "DEPTHNERF_REPO_URL": ROOT.as_uri(), "DEPTHNERF_CLONE_DIR": str(clone)}
    runs = [subprocess.run([sys.executable, "-c", script], cwd=elsewhere, env=env, capture_output=True, text=True,
                           timeout=300) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
        assert f"IMPORTED {clone / 'depthnerf' / '__init__.py'} {clone}" in run.stdout
        assert "every requirement imports: nothing to install" in run.stdout
    assert "[bootstrap] cloning" in runs[0].stdout and "[bootstrap] cloning" not in runs[1].stdout
    env.pop("DEPTHNERF_REPO_URL")
    env["DEPTHNERF_CLONE_DIR"] = str(tmp_path / "nowhere")
    if "<your-account>" in repository_url():  # the placeholder pyproject.toml ships until the address is known
        refused = subprocess.run([sys.executable, "-c", bootstrap_source()], cwd=elsewhere, env=env, capture_output=True,
                                 text=True, timeout=60)
        assert refused.returncode != 0 and "set [project.urls] Repository in pyproject.toml" in refused.stderr
        assert not (tmp_path / "nowhere").exists()


def test_install_missing_installs_only_what_does_not_import_at_the_locked_versions(tmp_path, capsys):
    from depthnerf.bootstrap import install_command, install_missing, missing_requirements
    (tmp_path / "requirements.txt").write_text("# comment\nnumpy>=1.20\nsurely-absent-distribution>=1.0\n")
    (tmp_path / "requirements.lock").write_text("numpy==0.0.1\nsurely-absent-distribution==1.2.3\n")
    assert missing_requirements(tmp_path) == ["surely-absent-distribution>=1.0"]
    work = tmp_path / "work"
    work.mkdir()
    command = install_command(tmp_path, missing_requirements(tmp_path), work)
    assert command[1:4] == ["-m", "pip", "install"]
    assert (work / "requirements.txt").read_text() == "surely-absent-distribution>=1.0\n"
    assert (work / "constraints.txt").read_text() == "surely-absent-distribution==1.2.3\n"  # installed numpy stays
    assert install_missing(tmp_path, dry_run=True) == ["surely-absent-distribution>=1.0"]
    assert "would run:" in capsys.readouterr().out
