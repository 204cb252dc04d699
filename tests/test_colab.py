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


@pytest.mark.parametrize("path", [SETUP, PIPELINE], ids=lambda p: p.stem)
def test_every_requirement_maps_to_a_module_that_imports(path):
    """The setup cell skips pip when every requirements.txt line imports; a distribution whose module
    has another name (opencv-python-headless -> cv2) must be in IMPORT_NAMES, or setup installs it
    again and then reports it as still missing."""
    import ast
    import importlib
    import re
    source = "".join(c.source for c in nbformat.read(path, as_version=4).cells if "IMPORT_NAMES =" in c.source)
    names = ast.literal_eval(re.search(r"IMPORT_NAMES = (\{.*?\})", source).group(1))
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    for line in lines:
        package = re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0]
        importlib.import_module(names.get(package, package))


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
    assert "every requirement imports: install skipped" in text
    assert "profile 'smoke'" in text

    monkeypatch.delenv("DEPTHNERF_PROFILE")
    monkeypatch.delenv("DEPTHNERF_RESULTS")
    pipeline_out = tmp_path / "pipeline.ipynb"
    papermill.execute_notebook(str(PIPELINE), str(pipeline_out), cwd=str(COLAB), progress_bar=False,
                               parameters={"profile": "smoke", "results": str(results)})
    text = outputs_text(pipeline_out)
    assert f"using the checkout at {ROOT.resolve()}: clone skipped" in text
    assert "every requirement imports: install skipped" in text
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
