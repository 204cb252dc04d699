"""Execute the numbered notebooks 00 -> 08 (or the studies' notebooks) headless with papermill, in order.

Executed copies go to ``<results>/notebooks/``. The run stops at the first notebook that fails and
says which one, which cell and where its executed copy is. The parameters reach each notebook
both through papermill (``-p``) and the ``DEPTHNERF_*`` environment variables. Progress streams to
the terminal while a notebook runs: every cell's printed output goes through papermill's logger,
and the trainer prints a line at every tenth of a run (``DEPTHNERF_PROGRESS=lines``: plain text,
which the executed notebooks keep readable too, instead of a tqdm widget).

Usage: ``python -m tools.run_pipeline --profile quick --data embedded --results results``, or
``--notebooks Analysis/few_view_study.ipynb`` for a study (``make study STUDY=Analysis/few_view_study``).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import papermill
from papermill.exceptions import PapermillExecutionError

from tools.export_notebooks import ROOT, notebooks, relative_name


def run(profile: str, data: str, results: str, only: list[str] | None = None,
        chosen: list[Path] | None = None) -> int:
    """Execute ``chosen`` notebooks (default: 00 -> 08, or those numbered in ``only``) in order."""
    out_dir = Path(results) / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(DEPTHNERF_PROFILE=profile, DEPTHNERF_DATA=data, DEPTHNERF_RESULTS=results,
                      DEPTHNERF_PROGRESS="lines")
    stream_cell_output()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # kernels inherit it: no spinning threads
    if chosen is None:
        chosen = [p for p in notebooks(ROOT) if not only or p.name[:2] in only]
    started = time.perf_counter()
    for path in chosen:
        target = out_dir / relative_name(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        print(f"[pipeline] {path.name} (profile={profile}, data={data}, results={results})", flush=True)
        try:
            papermill.execute_notebook(
                str(path), str(target), cwd=str(ROOT), progress_bar=False, log_output=True,
                parameters={"profile": profile, "data": data, "results": results},
            )
        except PapermillExecutionError as err:
            print(
                f"\n[pipeline] FAILED in {path.name}, cell {err.exec_count}: {err.ename}: {err.evalue}\n"
                f"[pipeline] executed copy with the traceback: {target}",
                file=sys.stderr,
            )
            return 1
        print(f"[pipeline] {path.name} done in {time.perf_counter() - t0:.1f} s", flush=True)
    print(f"[pipeline] all {len(chosen)} notebooks done in {time.perf_counter() - started:.1f} s")
    summarise(Path(results))
    return 0


class CellOutput(logging.Filter):
    """Keep papermill's records of cell output (its own bookkeeping lines stay out of the terminal), without
    the newline a printed line already ends with (the handler adds one) and without empty records."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage().rstrip("\n")
        record.msg, record.args = message, ()
        return bool(message.strip()) and not message.startswith((
            "Executing", "Ending Cell", "Input Notebook", "Output Notebook", "Working directory", "Black is not",
            "Executing notebook"))


def stream_cell_output() -> None:
    """Print what the notebooks' cells print while they run (papermill logs it at INFO)."""
    logger = logging.getLogger("papermill")
    if not any(isinstance(h, logging.StreamHandler) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("  %(message)s"))
        handler.addFilter(CellOutput())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def summarise(results: Path) -> None:
    """Print the comparison table (when 07 ran) and every artefact under ``results`` (a study folder under
    ``results/studies/`` as one line: its trials and size)."""
    table = results / "evaluation_results.md"
    if table.exists():
        print("\n[pipeline] comparison (results/evaluation_results.md):\n" + table.read_text())
    print(f"[pipeline] artefacts under {results}/:")
    studies = results / "studies"
    for path in sorted(p for p in results.rglob("*") if p.is_file() and not p.name.startswith(".")
                       and studies not in p.parents):
        print(f"  {path.relative_to(results)}  ({path.stat().st_size / 1024:.0f} KiB)")
    for study in sorted(p for p in studies.glob("*") if p.is_dir()):
        files = [p for p in study.rglob("*") if p.is_file()]
        trials = sum(1 for p in study.glob("*/evaluation.json"))
        print(f"  {study.relative_to(results)}/  ({trials} finished trials, {len(files)} files, "
              f"{sum(p.stat().st_size for p in files) / 2**20:.0f} MiB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=os.environ.get("DEPTHNERF_PROFILE", "quick"),
                        choices=["smoke", "quick", "full"])
    parser.add_argument("--data", default=os.environ.get("DEPTHNERF_DATA", "embedded"))
    parser.add_argument("--results", default=os.environ.get("DEPTHNERF_RESULTS", "results"))
    parser.add_argument("--only", nargs="*", help="two-digit notebook numbers to run, e.g. 00 01")
    parser.add_argument("--notebooks", nargs="*", type=Path,
                        help="run these notebooks instead (e.g. Analysis/few_view_study.ipynb)")
    args = parser.parse_args(argv)
    chosen = [ROOT / p if not p.is_absolute() else p for p in args.notebooks] if args.notebooks else None
    missing = [str(p) for p in chosen or [] if not p.is_file()]
    if missing:
        parser.error(f"notebooks not found: {missing}")
    return run(args.profile, args.data, args.results, args.only, chosen)


if __name__ == "__main__":
    sys.exit(main())
