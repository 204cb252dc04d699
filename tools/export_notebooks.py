"""Write the exported code cells of the notebooks into the modules of the ``depthnerf`` package.

A code cell is exported when it is tagged ``export`` or starts with the directive
``#| export <module>``. The directive names the module the cell goes to (nbdev's idea); a tagged
cell without one goes to the notebook's default module, ``metadata.depthnerf.module``. So a
notebook keeps its story while the package is split by concern: notebook 04 sends its depth losses
to ``losses`` and its strategy to ``strategies``, next to those of 03 and 05.

A module is assembled from its cells in pipeline order (the numbered notebooks, then ``Analysis/``
and ``Experiments/``). The imports a cell opens with are hoisted to the top of the module (once
each, ``from __future__`` first); an import from the module itself (which a later notebook's cell
needs in its kernel) is dropped, since the module defines those names. Every cell's code is preceded by a marker
``# %% <notebook> · cell <id>``, so a traceback through a module leads to the cell to edit.
Built on nbconvert: a preprocessor keeps a module's cells and lifts their imports, a template
exporter writes them.

It also writes the repository's address (``pyproject.toml``, ``[project.urls] Repository``) where a
notebook needs it before any checkout exists: the bootstrap cell of every numbered notebook (from
``tools/templates/bootstrap_cell.py``), the Colab notebooks' ``repo_url`` and README's Colab links
(:func:`stamp_notebooks`).

Usage: ``python -m tools.export_notebooks [--out DIR]`` (``make export``).
"""
from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

import nbformat
from nbconvert.exporters import TemplateExporter
from nbconvert.preprocessors import Preprocessor

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "depthnerf"
EXPORT_TAG = "export"
DIRECTIVE = re.compile(r"^#\|\s*export(?:\s+([A-Za-z_][A-Za-z0-9_]*))?\s*$")
STUDY_FOLDERS = ("Analysis", "Experiments")


def module_name(notebook: nbformat.NotebookNode) -> str | None:
    """The default module of a notebook, from ``metadata.depthnerf.module`` (None: no default)."""
    return notebook.metadata.get("depthnerf", {}).get("module")


def cell_module(cell, default: str | None, where: str) -> str | None:
    """The module a cell exports to (None: not exported); ``where`` names the cell in errors."""
    if cell.cell_type != "code":
        return None
    first = cell.source.split("\n", 1)[0].strip()
    match = DIRECTIVE.match(first)
    if match and match.group(1):
        return match.group(1)
    if match or EXPORT_TAG in cell.metadata.get("tags", []):
        if default is None:
            raise ValueError(f"{where}: exported without a module (write '#| export <module>' or set "
                             f"metadata.depthnerf.module)")
        return default
    return None


def split_imports(source: str, where: str) -> tuple[list[str], str]:
    """The import statements a cell opens with (their source text) and the rest of the cell."""
    body = source.split("\n", 1)[1] if DIRECTIVE.match(source.split("\n", 1)[0].strip()) else source
    try:
        tree = ast.parse(body)
    except SyntaxError as err:
        raise ValueError(f"{where}: does not parse ({err})") from err
    imports, end = [], 0
    lines = body.splitlines(keepends=True)
    for node in tree.body:
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            break
        imports.append(ast.get_source_segment(body, node))
        end = node.end_lineno
    return imports, "".join(lines[end:]).strip("\n")


class ModuleCells(Preprocessor):
    """Keep the cells that export to ``module``, without their leading imports (collected in
    ``resources["imports"]``); each kept cell gets ``metadata.marker`` for the template."""

    def __init__(self, module: str, default: str | None, notebook: str, **kw):
        super().__init__(**kw)
        self.module, self.default, self.notebook = module, default, notebook

    def preprocess(self, nb, resources):
        kept, imports = [], resources.setdefault("imports", [])
        for index, cell in enumerate(nb.cells):
            where = f"{self.notebook} cell {cell.get('id', index)}"
            if cell_module(cell, self.default, where) != self.module:
                continue
            cell_imports, body = split_imports(cell.source, where)
            own = f"from {PACKAGE.name}.{self.module} import "
            imports.extend(i for i in cell_imports if not i.startswith(own))  # defined in the module itself
            if body:
                cell = nbformat.from_dict({**cell, "source": body})
                cell.metadata["marker"] = f"# %% {self.notebook} · cell {cell.get('id', index)}"
                kept.append(cell)
        nb.cells = kept
        return nb, resources


class ModuleExporter(TemplateExporter):
    """Render kept cells as module code, each under its marker line."""

    export_from_notebook = None
    output_mimetype = "text/x-python"

    def _file_extension_default(self):
        return ".py"

    def _template_name_default(self):
        return "depthnerf_module"

    def _extra_template_basedirs_default(self):
        return [str(Path(__file__).resolve().parent / "templates")]


def notebooks(root: Path = ROOT) -> list[Path]:
    """The numbered top-level notebooks, in pipeline order."""
    return sorted(root.glob("[0-9][0-9]_*.ipynb"))


def study_notebooks(root: Path = ROOT) -> list[Path]:
    """The notebooks of the studies (``Analysis/``, ``Experiments/``), which may export modules too."""
    return [path for folder in STUDY_FOLDERS for path in sorted((root / folder).glob("*.ipynb"))]


def exporting_notebooks(root: Path = ROOT) -> list[Path]:
    """Every notebook that may export code: the pipeline's, then the studies'."""
    return notebooks(root) + study_notebooks(root)


def relative_name(path: Path) -> str:
    """``NN_Name.ipynb`` for a pipeline notebook, ``Analysis/name.ipynb`` for a study's."""
    return path.name if path.parent.name not in STUDY_FOLDERS else f"{path.parent.name}/{path.name}"


def exported_modules(path: Path) -> list[str]:
    """The modules a notebook's cells export to, in order of first appearance."""
    notebook = nbformat.read(path, as_version=4)
    default, name = module_name(notebook), relative_name(path)
    modules = [cell_module(c, default, f"{name} cell {c.get('id', i)}") for i, c in enumerate(notebook.cells)]
    found = list(dict.fromkeys(m for m in modules if m))
    if default is not None and default not in found:
        raise ValueError(f"{name}: names module {default!r} but has no cell tagged {EXPORT_TAG!r} for it")
    return found


def import_section(statement: str) -> int:
    """0 ``__future__``, 1 standard library, 2 third party, 3 this package (isort's sections)."""
    top = statement.split()[1].split(".")[0]
    if top == "__future__":
        return 0
    if top in sys.stdlib_module_names:
        return 1
    return 3 if top == PACKAGE.name else 2


def import_key(name: str) -> tuple:
    """isort's order of imported names: CONSTANTS, then Classes, then functions, each alphabetically."""
    bare = name.split(" as ")[0]
    return (0 if bare.isupper() else 1 if bare[:1].isupper() else 2, bare.lower(), name)


def merge_from_imports(statements: set[str]) -> set[str]:
    """One ``from module import a, b`` per module: the names of every ``from module import ...``
    statement merged (``import x`` statements kept as they are)."""
    merged, others = {}, set()
    for statement in statements:
        node = ast.parse(statement).body[0]
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            names = merged.setdefault(node.module, set())
            names.update(a.name if a.asname is None else f"{a.name} as {a.asname}" for a in node.names)
        else:
            others.add(statement)
    for module, names in merged.items():
        line = f"from {module} import {', '.join(sorted(names, key=import_key))}"
        if len(line) > 120:
            line = f"from {module} import (" + ", ".join(sorted(names, key=import_key)) + ")"
            line = wrap_import(line)
        others.add(line)
    return others


def wrap_import(line: str, width: int = 120) -> str:
    """Break a parenthesised ``from m import (a, b, ...)`` line before ``width``, indenting by 4."""
    head, names = line.split("(", 1)
    out, current = [], head + "("
    for name in names.rstrip(")").split(", "):
        piece = name + ", "
        if len(current) + len(piece) > width:
            out.append(current.rstrip())
            current = "    "
        current += piece
    out.append(current.rstrip(", ") + ")")
    return "\n".join(out)


def ordered_imports(statements: list[str]) -> str:
    """Each import once, in isort's sections separated by a blank line; in each, ``import x``
    lines before ``from x import y`` lines, alphabetically; ``from`` imports of one module merged.

    >>> print(ordered_imports(["import torch", "from pathlib import Path", "import os", "import torch",
    ...                        "from depthnerf.io import atomic_write", "from __future__ import annotations",
    ...                        "from depthnerf.io import TMP_PREFIX, read_saved"]))
    from __future__ import annotations
    <BLANKLINE>
    import os
    from pathlib import Path
    <BLANKLINE>
    import torch
    <BLANKLINE>
    from depthnerf.io import TMP_PREFIX, atomic_write, read_saved
    """
    sections: dict[int, set[str]] = {}
    for statement in statements:
        sections.setdefault(import_section(statement), set()).add(statement)
    key = lambda s: (s.startswith("from "), s.split()[1].lower(), s)  # noqa: E731
    return "\n\n".join("\n".join(sorted(merge_from_imports(sections[k]), key=key)) for k in sorted(sections))


def render_module(module: str, sources: list[Path]) -> str:
    """The source of ``module`` from its cells in ``sources`` (notebooks in pipeline order)."""
    imports, bodies, names = [], [], []
    for path in sources:
        notebook = nbformat.read(path, as_version=4)
        exporter = ModuleExporter()
        exporter.register_preprocessor(ModuleCells(module, module_name(notebook), relative_name(path)), enabled=True)
        resources = {"imports": []}
        body, resources = exporter.from_notebook_node(notebook, resources=resources)
        imports += resources["imports"]
        if body.strip():
            bodies.append(body.strip("\n"))
            names.append(relative_name(path))
    header = (f"# Generated from {', '.join(names)} by tools/export_notebooks.py: do not edit; "
              f"edit the notebook and run `make export`.")
    parts = [header, ordered_imports(imports)] + bodies
    return "\n\n\n".join(part for part in parts if part) + "\n"


def export_all(out_dir: Path = PACKAGE, root: Path = ROOT) -> dict[str, Path]:
    """Export every notebook's cells into ``out_dir``; return ``{module: written path}``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sources: dict[str, list[Path]] = {}
    for path in exporting_notebooks(root):
        for module in exported_modules(path):
            sources.setdefault(module, []).append(path)
    written: dict[str, Path] = {}
    for module, paths in sources.items():
        source = render_module(module, paths)
        target = out_dir / f"{module}.py"
        if not target.exists() or target.read_text() != source:
            target.write_text(source)
        written[module] = target
    return written


BOOTSTRAP_TAG = "bootstrap"
REPO_URL_LINE = re.compile(r'^repo_url = "[^"]*"', re.M)
BADGES_START, BADGES_END = "<!-- colab-badges:start -->", "<!-- colab-badges:end -->"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def repository_url(root: Path = ROOT) -> str:
    """The one place the repository's address is set: ``pyproject.toml``, ``[project.urls] Repository``."""
    import tomllib
    urls = tomllib.loads((root / "pyproject.toml").read_text()).get("project", {}).get("urls", {})
    if "Repository" not in urls:
        raise ValueError(f"{root / 'pyproject.toml'}: no [project.urls] Repository (the repository's address)")
    return urls["Repository"].removesuffix(".git")


def bootstrap_source(root: Path = ROOT) -> str:
    """The bootstrap cell of the numbered notebooks: the template with the repository's git URL."""
    template = (root / "tools/templates/bootstrap_cell.py").read_text()
    return template.replace("{repository_url}", repository_url(root) + ".git").rstrip("\n")


def colab_badges(root: Path = ROOT) -> str:
    """README's "Open in Colab" links of the Colab notebooks and the numbered ones, from the repository URL."""
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+)", repository_url(root))
    if not match:
        raise ValueError(f"{root / 'pyproject.toml'}: [project.urls] Repository {repository_url(root)!r} is not "
                         f"https://github.com/<owner>/<name> (Colab opens notebooks from GitHub)")
    base = f"https://colab.research.google.com/github/{match.group(1)}/{match.group(2)}/blob/main"
    paths = ["colab/00_Setup_Colab.ipynb", "colab/Full_Pipeline_Colab.ipynb"] + [relative_name(p) for p in notebooks(root)]
    return "\n".join([BADGES_START] + [f"[![Open In Colab]({COLAB_BADGE})]({base}/{path}) `{path}`  " for path in paths]
                     + [BADGES_END])


def stamp_notebooks(root: Path = ROOT, write: bool = True) -> list[Path]:
    """Write the repository URL where it is needed: the bootstrap cell (first code cell, tagged
    ``bootstrap``) of every numbered notebook, the ``repo_url = "..."`` line of the Colab notebooks and
    README's Colab links. Returns the files that changed (``write=False``: that would change)."""
    changed = []
    cell_source = bootstrap_source(root)
    for path in notebooks(root):
        notebook = nbformat.read(path, as_version=4)
        cells = [c for c in notebook.cells if BOOTSTRAP_TAG in c.metadata.get("tags", [])]
        if len(cells) > 1:
            raise ValueError(f"{path}: {len(cells)} cells tagged {BOOTSTRAP_TAG!r}, expected one")
        if cells and cells[0].source == cell_source:
            continue
        if cells:
            cells[0].source = cell_source
        else:
            first_code = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code")
            cell = nbformat.v4.new_code_cell(cell_source, metadata={"tags": [BOOTSTRAP_TAG]})
            cell.id = "bootstrap"
            notebook.cells.insert(first_code, cell)
        changed.append(path)
        if write:
            nbformat.write(notebook, path)
    line = f'repo_url = "{repository_url(root)}.git"'
    for path in sorted((root / "colab").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        edited = False
        for cell in notebook.cells:
            source = REPO_URL_LINE.sub(line, cell.source) if cell.cell_type == "code" else cell.source
            if source != cell.source:
                cell.source, edited = source, True
        if edited:
            changed.append(path)
            if write:
                nbformat.write(notebook, path)
    readme = root / "README.md"
    text = readme.read_text()
    if BADGES_START in text:
        head, rest = text.split(BADGES_START, 1)
        new = head + colab_badges(root) + rest.split(BADGES_END, 1)[1]
        if new != text:
            changed.append(readme)
            if write:
                readme.write_text(new)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PACKAGE, help="folder to write modules into")
    args = parser.parse_args(argv)
    for name, target in export_all(args.out).items():
        print(f"exported {name:12s} -> {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    for path in stamp_notebooks():
        print(f"stamped the repository URL into {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
