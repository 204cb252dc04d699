"""The generated package must match the notebooks it comes from."""
import shutil

import nbformat
import pytest

from tools.export_notebooks import EXPORT_TAG, PACKAGE, export_all, exporting_notebooks, module_name, notebooks, relative_name

HEADER = "# Generated from "


def test_committed_modules_match_notebooks(tmp_path):
    fresh = export_all(tmp_path)
    assert fresh, "no notebook exports a module"
    stale = [
        name for name, path in fresh.items()
        if not (PACKAGE / f"{name}.py").exists() or (PACKAGE / f"{name}.py").read_text() != path.read_text()
    ]
    assert not stale, f"depthnerf modules out of sync with their notebooks: {stale}; run `make export`"


def test_every_generated_module_has_a_notebook():
    generated = {p.stem for p in PACKAGE.glob("*.py") if p.read_text().startswith(HEADER)}
    named = {module_name(nbformat.read(p, as_version=4)) for p in exporting_notebooks()} - {None}
    assert generated == named, f"generated modules without a notebook: {sorted(generated - named)}"


def test_generated_module_names_its_notebook():
    for path in exporting_notebooks():
        name = module_name(nbformat.read(path, as_version=4))
        if name:
            first = (PACKAGE / f"{name}.py").read_text().splitlines()[0]
            assert first.startswith(f"{HEADER}{relative_name(path)} ") and "do not edit" in first


def test_editing_an_export_cell_without_export_is_detected(tmp_path):
    for path in notebooks():
        shutil.copy(path, tmp_path / path.name)
    export_all(tmp_path / "before", root=tmp_path)
    victim = tmp_path / "00_Setup_and_Dependencies.ipynb"
    nb = nbformat.read(victim, as_version=4)
    cell = next(c for c in nb.cells if EXPORT_TAG in c.metadata.get("tags", []))
    cell.source += "\nEDITED_WITHOUT_EXPORT = True\n"
    nbformat.write(nb, victim)
    after = export_all(tmp_path / "after", root=tmp_path)
    assert after["env"].read_text() != (tmp_path / "before" / "env.py").read_text()
    assert "EDITED_WITHOUT_EXPORT" in after["env"].read_text()


def test_untagged_cells_are_not_exported(tmp_path):
    source = (PACKAGE / "env.py").read_text()
    assert "check_dependencies()\nfor s in statuses" not in source  # a demo cell of 00
    assert "profile = os.environ.get" not in source  # the parameters cell


def test_notebook_naming_a_module_without_export_cells_fails(tmp_path):
    nb = nbformat.v4.new_notebook(metadata={"depthnerf": {"module": "empty"}})
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, tmp_path / "09_Empty.ipynb")
    with pytest.raises(ValueError, match="09_Empty.ipynb.*no cell tagged"):
        export_all(tmp_path / "out", root=tmp_path)
