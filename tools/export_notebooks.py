"""Write the code cells tagged ``export`` of each notebook into its module of the ``depthnerf`` package.

A notebook names its module in its metadata (``{"depthnerf": {"module": "data"}}`` makes
``01_Data_Loading.ipynb`` write ``depthnerf/data.py``); notebooks without that key export nothing.
The numbered pipeline notebooks are read first, then the studies' (``Analysis/``, ``Experiments/``).
Built on nbconvert: a preprocessor keeps the tagged cells, a template exporter writes them.

Usage: ``python -m tools.export_notebooks [--out DIR]`` (``make export``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbconvert.exporters import TemplateExporter
from nbconvert.preprocessors import Preprocessor

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "depthnerf"
EXPORT_TAG = "export"


class KeepExportCells(Preprocessor):
    """Drop every cell that is not a code cell tagged ``export``."""

    def preprocess(self, nb, resources):
        nb.cells = [
            cell
            for cell in nb.cells
            if cell.cell_type == "code" and EXPORT_TAG in cell.metadata.get("tags", [])
        ]
        return nb, resources


class ModuleExporter(TemplateExporter):
    """Render the kept cells as one Python module, headed by a do-not-edit line."""

    export_from_notebook = None
    output_mimetype = "text/x-python"

    def _file_extension_default(self):
        return ".py"

    def _template_name_default(self):
        return "depthnerf_module"

    def _extra_template_basedirs_default(self):
        return [str(Path(__file__).resolve().parent / "templates")]


def module_name(notebook: nbformat.NotebookNode) -> str | None:
    """The module a notebook exports to, from ``metadata.depthnerf.module`` (None: exports nothing)."""
    return notebook.metadata.get("depthnerf", {}).get("module")


def notebooks(root: Path = ROOT) -> list[Path]:
    """The numbered top-level notebooks, in pipeline order."""
    return sorted(root.glob("[0-9][0-9]_*.ipynb"))


STUDY_FOLDERS = ("Analysis", "Experiments")


def study_notebooks(root: Path = ROOT) -> list[Path]:
    """The notebooks of the studies (``Analysis/``, ``Experiments/``), which may export modules too."""
    return [path for folder in STUDY_FOLDERS for path in sorted((root / folder).glob("*.ipynb"))]


def exporting_notebooks(root: Path = ROOT) -> list[Path]:
    """Every notebook that may export a module: the pipeline's, then the studies'."""
    return notebooks(root) + study_notebooks(root)


def relative_name(path: Path) -> str:
    """``NN_Name.ipynb`` for a pipeline notebook, ``Analysis/name.ipynb`` for a study's."""
    return path.name if path.parent.name not in STUDY_FOLDERS else f"{path.parent.name}/{path.name}"


def render_module(path: Path) -> tuple[str, str] | None:
    """Return ``(module_name, source)`` for one notebook, or None when it exports nothing."""
    notebook = nbformat.read(path, as_version=4)
    name = module_name(notebook)
    if name is None:
        return None
    exporter = ModuleExporter()
    exporter.register_preprocessor(KeepExportCells(), enabled=True)
    source, _ = exporter.from_notebook_node(notebook, resources={"depthnerf_notebook": relative_name(path)})
    if not source.strip().splitlines()[1:]:
        raise ValueError(f"{relative_name(path)}: names module {name!r} but has no cell tagged {EXPORT_TAG!r}")
    return name, source.rstrip() + "\n"


def export_all(out_dir: Path = PACKAGE, root: Path = ROOT) -> dict[str, Path]:
    """Export every numbered notebook into ``out_dir``; return ``{module: written path}``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for path in exporting_notebooks(root):
        rendered = render_module(path)
        if rendered is None:
            continue
        name, source = rendered
        if name in written:
            raise ValueError(f"{relative_name(path)}: module {name!r} is already exported by another notebook")
        target = out_dir / f"{name}.py"
        if not target.exists() or target.read_text() != source:
            target.write_text(source)
        written[name] = target
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PACKAGE, help="folder to write modules into")
    args = parser.parse_args(argv)
    for name, target in export_all(args.out).items():
        print(f"exported {name:10s} -> {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
