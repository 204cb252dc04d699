"""The Experiments/ notebooks (real forward-facing scenes, bring your own scene), executed headless in smoke.

Both notebooks join one local Ray instance started by this module (through ``RAY_ADDRESS``), so Ray
starts once for the file. The real-data parts need ``../shared/data`` (or ``data/``): without it the
real-scene study is skipped and the custom-scene notebook must say that it skipped its LLFF and
COLMAP steps.
"""
import json
import math

import pytest

from depthnerf.env import available_datasets
from conftest import execute_notebook
from tools.export_notebooks import ROOT

pytestmark = pytest.mark.ray

STRATEGIES = {"baseline", "soft", "hard", "hybrid"}


def execute(notebook: str, results, ray_address: str, env: dict) -> str:
    return execute_notebook(notebook, results, {"RAY_ADDRESS": ray_address, **env})


def table_rows(table: str, first_column: str) -> list[list[str]]:
    """The body rows of the markdown tables in ``table`` whose header starts with ``first_column``."""
    rows, inside = [], False
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|"):
            if cells[0] == first_column:
                inside = True
            elif inside and not set(cells[0]) <= {"-"}:
                rows.append(cells)
        else:
            inside = False
    return rows


def test_real_world_study_on_fern_two_views(tmp_path, ray_address):
    fern = available_datasets(ROOT)["fern"]
    if fern is None:
        pytest.skip("LLFF fern not found in data/ or ../shared/data/")
    text = execute("Experiments/real_world_data.ipynb", tmp_path, ray_address,
                   {"DEPTHNERF_REAL_SCENES": "fern", "DEPTHNERF_REAL_VIEWS": "2", "DEPTHNERF_REAL_SEEDS": "1",
                    "DEPTHNERF_REAL_RENDER_FRAMES": "2"})
    folder = tmp_path / "studies" / "real_world"
    summary = json.loads((folder / "summary.json").read_text())
    shipped = {e["strategy"]: e for e in summary["summary"] if e["tag_depth"] in ("none", "all views (leaks)")}
    assert set(shipped) == STRATEGIES
    for entry in shipped.values():
        assert entry["tag_scene"] == "fern" and entry["n_views"] == 2 and entry["n"] == 1
        assert math.isfinite(entry["psnr_mean"]) and 0 < entry["psnr_mean"] < 60
        assert entry["depth_absrel_mean"] is None  # fern's test views have no depth
    assert 0 < shipped["soft"]["depth_fraction_mean"] < 0.2  # sparse depth on few pixels
    # the depth made from the two selected views alone either trained or was refused with the reason
    own = {e["strategy"] for e in summary["summary"] if e["tag_depth"] == "trial views only"}
    assert own == STRATEGIES - {"baseline"} or "triangulation found no points" in text
    provenance = summary["shipped_depth_provenance"]["fern"]["2"]
    assert provenance["also_seen_by_a_test_view"] > 0 and provenance["seen_by_2_selected"] < provenance["points_seen"]
    rows = table_rows((folder / "table.md").read_text(), "tag_scene")
    assert {r[3] for r in rows} >= STRATEGIES and all(r[7] == "n/a" for r in rows)
    for name in ("render_fern.gif", "render_fern.png"):
        assert (folder / name).stat().st_size > 1000


def test_custom_scenes_notebook(tmp_path, ray_address):
    text = execute("Experiments/custom_scenes.ipynb", tmp_path, ray_address, {"DEPTHNERF_CUSTOM_TRAIN_REAL": "0"})
    assert "DataError:" in text and "depth holds 1 NaN" in text and "got shape (3, 15)" in text
    my_scene = tmp_path / "custom_scenes" / "my_scene"
    assert json.loads((my_scene / "transforms_train.json").read_text())["depth_type"] == "z"
    rows = table_rows((tmp_path / "studies" / "custom_scenes" / "table.md").read_text(), "strategy")
    assert {r[0] for r in rows} == STRATEGIES
    for row in rows:
        psnr, absrel = (float(row[i].split(" ± ")[0]) for i in (2, 4))
        assert math.isfinite(psnr) and psnr > 0 and math.isfinite(absrel)
    found = available_datasets(ROOT)
    if found["fern"] is None:
        assert "LLFF step skipped" in text
    else:
        assert "fern: training skipped" in text
    if found["dsnerf_poster_less"] is None:
        assert "COLMAP step skipped" in text and "prepare step skipped" in text
    else:
        assert (tmp_path / "custom_scenes" / "my_colmap_project" / "poses_bounds.npy").is_file()
        assert "poses differ by at most" in text
        # (e) prepare: COLMAP from the photographs, poses compared after a similarity alignment
        assert "prepare: 14 of 14 frames registered" in text
        rotation = float(text.split("rotation error max ")[1].split(" deg")[0])
        centres = float(text.split("camera centres max ")[1].split("%")[0])
        assert rotation < 1.5 and centres < 6.0
        assert (tmp_path / "custom_scenes" / "my_prepared_scene" / "sparse" / "0" / "points3D.bin").is_file()
    # (d) the Blender scene written in nerfstudio's layout loads back; without depth its bounds come from the cameras
    assert "my_nerfstudio: 20 training views" in text and "(from depth)" in text and "(from cameras)" in text
    assert float(text.split("images differ by at most ")[1].split("/255")[0]) <= 1.0
    assert float(text.split("ray depth differs by at most ")[1].split(" mm")[0]) < 0.6
    assert (tmp_path / "custom_scenes" / "my_nerfstudio" / "transforms.json").is_file()
    # (f) the command line
    assert "usage: depthnerf" in text and "{'iterations': 50, 'field_params': {'resolution': 64}" in text
