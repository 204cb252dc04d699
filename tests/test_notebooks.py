"""Notebook conventions, and every notebook executed headless in the smoke profile."""
import os
import re
import subprocess
import sys

import nbformat
import pytest

from tools.export_notebooks import ROOT, notebooks

NOTEBOOKS = notebooks()
STRATEGIES = ["baseline", "soft", "hard", "hybrid"]


def test_all_nine_notebooks_exist():
    assert [p.name[:2] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(9)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_notebook_metadata_and_one_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.metadata.language_info.name == "python"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected one cell tagged 'parameters', found {len(tagged)}"
    for var in ("DEPTHNERF_PROFILE", "DEPTHNERF_DATA", "DEPTHNERF_RESULTS"):
        assert var in tagged[0].source, f"{path.name}: parameters cell does not read {var}"


@pytest.mark.slow
def test_pipeline_runs_headless_in_smoke_profile(tmp_path):
    """`make pipeline` in miniature: papermill executes 00 -> 08 in order into a fresh results dir."""
    results = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "tools.run_pipeline", "--profile", "smoke", "--results", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    executed = sorted(p.name for p in (results / "notebooks").glob("*.ipynb"))
    assert executed == [p.name for p in NOTEBOOKS]
    artefacts = readme_artefacts()
    assert len(artefacts) > 30, artefacts
    empty = [a for a in artefacts if not (results / a).is_file() or (results / a).stat().st_size == 0]
    assert not empty, f"artefacts named in the README missing or empty after the smoke pipeline: {empty}"
    assert "comparison (results/evaluation_results.md)" in proc.stdout and "| baseline |" in proc.stdout


def expand(pattern: str) -> list[str]:
    """``a/{b,c}.{x,y}`` -> the four paths (shell-style braces, as the README writes them)."""
    match = re.search(r"\{([^}]*)\}", pattern)
    if not match:
        return [pattern]
    head, tail = pattern[:match.start()], pattern[match.end():]
    return [path for option in match.group(1).split(",") for path in expand(head + option + tail)]


def readme_artefacts() -> list[str]:
    """Every file the README's "Where results go" table names, relative to results/."""
    section = (ROOT / "README.md").read_text().split("## Where results go", 1)[1].split("\n## ", 1)[0]
    paths = []
    for row in section.splitlines():
        if not row.startswith("| `results/"):
            continue
        first_cell = row.split("|")[1]
        for name in re.findall(r"`results/([^`]+)`", first_cell):
            for path in expand(name):
                if "NN_*" in path:
                    continue
                if "<strategy>" in path:
                    paths += [path.replace("<strategy>", s) for s in STRATEGIES]
                else:
                    paths.append(path)
    return paths


def test_readme_artefact_list_is_parsed():
    artefacts = readme_artefacts()
    assert "baseline/model_baseline.pth" in artefacts and "soft/psnr_history.npy" in artefacts
    assert "hybrid/renders/depth.mp4" in artefacts and "evaluation_results.csv" in artefacts


@pytest.mark.slow
def test_plain_nbconvert_reads_parameters_from_environment(tmp_path):
    out = tmp_path / "00.ipynb"
    env = {**os.environ, "DEPTHNERF_PROFILE": "smoke", "DEPTHNERF_RESULTS": str(tmp_path)}
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
         str(ROOT / "00_Setup_and_Dependencies.ipynb"), "--output", str(out)],
        cwd=ROOT, env=env, check=True, capture_output=True, timeout=600,
    )
    text = "".join(
        o.get("text", "") for c in nbformat.read(out, as_version=4).cells for o in c.get("outputs", [])
    )
    assert "profile 'smoke'" in text


def test_pipeline_stops_at_first_failing_notebook(tmp_path, monkeypatch):
    import tools.run_pipeline as rp

    bad = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                            "display_name": "Python 3"},
                                             "language_info": {"name": "python"}})
    bad.cells = [nbformat.v4.new_code_cell("profile = 'x'", metadata={"tags": ["parameters"]}),
                 nbformat.v4.new_code_cell("raise ValueError('broken on purpose')")]
    good = nbformat.v4.new_notebook(metadata=bad.metadata)
    good.cells = [bad.cells[0]]
    for name, nb in [("00_A.ipynb", good), ("01_B.ipynb", bad), ("02_C.ipynb", good)]:
        nbformat.write(nb, tmp_path / name)
    monkeypatch.setattr(rp, "ROOT", tmp_path)
    for key in ("DEPTHNERF_PROFILE", "DEPTHNERF_DATA", "DEPTHNERF_RESULTS", "DEPTHNERF_PROGRESS", "OMP_WAIT_POLICY"):
        monkeypatch.setenv(key, "")  # recorded, so that what run() sets for its kernels is undone after the test
        monkeypatch.delenv(key)
    rc = rp.run("smoke", "embedded", str(tmp_path / "results"))
    assert rc == 1
    ran = sorted(p.name for p in (tmp_path / "results" / "notebooks").glob("*.ipynb"))
    assert ran == ["00_A.ipynb", "01_B.ipynb"]


def test_streamed_cell_output_is_one_line_per_printed_line():
    """papermill logs a printed line with its newline; the terminal gets it once, without a blank line after it,
    and papermill's bookkeeping records not at all."""
    import logging

    from tools.run_pipeline import CellOutput

    def record(message):
        return logging.LogRecord("papermill", logging.INFO, __file__, 1, message, (), None)
    printed = record("  [train baseline] step 81/800 (10%)\n")
    assert CellOutput().filter(printed) and printed.getMessage() == "  [train baseline] step 81/800 (10%)"
    assert not CellOutput().filter(record("\n"))
    assert not CellOutput().filter(record("Executing Cell 3---------------------------------------"))
