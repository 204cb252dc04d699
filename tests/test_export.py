"""The generated package must match the notebooks it comes from, and the exporter's rules hold:
per-cell module directives, hoisted and merged imports, cell markers, no module too long."""
import ast
import re
import shutil

import nbformat
import pytest

from tools.export_notebooks import (PACKAGE, export_all, exported_modules, exporting_notebooks, notebooks,
                                    relative_name)

HEADER = "# Generated from "
MAX_LINES = 500


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
    named = {m for p in exporting_notebooks() for m in exported_modules(p)}
    assert generated == named, f"generated modules without a notebook: {sorted(generated - named)}"


def test_generated_modules_name_their_notebooks_and_mark_every_cell():
    for path in exporting_notebooks():
        for module in exported_modules(path):
            text = (PACKAGE / f"{module}.py").read_text()
            first = text.splitlines()[0]
            assert first.startswith(HEADER) and relative_name(path) in first and "do not edit" in first
            nb = nbformat.read(path, as_version=4)
            cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(f"#| export {module}\n")]
            for cell in cells:
                assert f"# %% {relative_name(path)} · cell {cell.id}" in text, (module, cell.id)


def test_modules_are_small_and_import_only_at_the_top():
    for path in PACKAGE.glob("*.py"):
        text = path.read_text()
        assert len(text.splitlines()) <= MAX_LINES, f"{path.name}: {len(text.splitlines())} lines"
        tree = ast.parse(text)
        imports = (ast.Import, ast.ImportFrom)
        first_code = next((n.lineno for n in tree.body if not isinstance(n, imports)), 0)
        late = [n.lineno for n in tree.body if isinstance(n, imports) and n.lineno > first_code]
        assert not late, f"{path.name}: imports in the middle of the module at lines {late}"
        own = f"from depthnerf.{path.stem} import"
        assert own not in text, f"{path.name} imports from itself"


def test_a_cell_goes_to_the_module_its_directive_names_with_its_imports_hoisted(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("#| export alpha\nimport math\n\nfrom depthnerf.beta import b\n\nA = math.pi"),
        nbformat.v4.new_code_cell("print('a demo, not exported')"),
        nbformat.v4.new_code_cell("#| export beta\nimport math\n\nb = 2"),
        nbformat.v4.new_code_cell("#| export alpha\nfrom depthnerf.alpha import A\nfrom depthnerf.beta import c\n\nB = A + b"),
    ]
    nb.cells[0].id, nb.cells[3].id = "first", "fourth"
    nbformat.write(nb, tmp_path / "00_Test.ipynb")
    written = export_all(tmp_path / "out", root=tmp_path)
    assert sorted(written) == ["alpha", "beta"]
    alpha = written["alpha"].read_text()
    assert alpha.startswith("# Generated from 00_Test.ipynb")
    assert "import math\n\nfrom depthnerf.beta import b, c\n" in alpha  # merged, hoisted, own import dropped
    assert "from depthnerf.alpha" not in alpha and "a demo" not in alpha
    assert alpha.index("# %% 00_Test.ipynb · cell first") < alpha.index("A = math.pi") < alpha.index("B = A + b")


def test_editing_an_exported_cell_without_export_is_detected(tmp_path):
    for path in notebooks():
        shutil.copy(path, tmp_path / path.name)
    export_all(tmp_path / "before", root=tmp_path)
    victim = tmp_path / "00_Setup_and_Dependencies.ipynb"
    nb = nbformat.read(victim, as_version=4)
    cell = next(c for c in nb.cells if c.source.startswith("#| export env"))
    cell.source += "\nEDITED_WITHOUT_EXPORT = True\n"
    nbformat.write(nb, victim)
    after = export_all(tmp_path / "after", root=tmp_path)
    assert after["env"].read_text() != (tmp_path / "before" / "env.py").read_text()
    assert "EDITED_WITHOUT_EXPORT" in after["env"].read_text()


def test_untagged_cells_are_not_exported():
    source = (PACKAGE / "env.py").read_text()
    assert "check_dependencies()\nfor s in statuses" not in source  # a demo cell of 00
    assert "profile = os.environ.get" not in source  # the parameters cell


def test_notebook_naming_a_module_without_export_cells_fails(tmp_path):
    nb = nbformat.v4.new_notebook(metadata={"depthnerf": {"module": "empty"}})
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, tmp_path / "09_Empty.ipynb")
    with pytest.raises(ValueError, match="09_Empty.ipynb.*no cell tagged"):
        export_all(tmp_path / "out", root=tmp_path)


def test_no_notebook_docstring_points_at_markdown_that_is_not_exported():
    for path in PACKAGE.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"(equation|markdown|table) above", text), path.name
