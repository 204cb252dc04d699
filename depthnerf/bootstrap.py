# Generated from 00_Setup_and_Dependencies.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import importlib
import importlib.metadata
import re
import subprocess
import sys
import tempfile
from pathlib import Path


# %% 00_Setup_and_Dependencies.ipynb · cell c26
# distributions whose module has another name (everything else imports under its own name)
IMPORT_NAMES = {"scikit-image": "skimage", "imageio-ffmpeg": "imageio_ffmpeg", "jupyter": "jupyter_core",
                "opencv-python-headless": "cv2", "pytest-xdist": "xdist"}


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503).

    >>> canonical("Scikit_Image")
    'scikit-image'
    """
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(line: str) -> str:
    """The distribution a requirements line names.

    >>> requirement_name("scikit-image>=0.22,<0.26")
    'scikit-image'
    """
    return re.split(r"[<>=!~;\[ ]", line.strip(), maxsplit=1)[0]


def imports(line: str) -> bool:
    """Whether the module of a requirements line imports (a broken binary may raise anything)."""
    name = requirement_name(line)
    try:
        importlib.import_module(IMPORT_NAMES.get(name, name).replace("-", "_"))
        return True
    except Exception:
        return False


def missing_requirements(repo: Path) -> list[str]:
    """The lines of ``repo/requirements.txt`` whose module does not import."""
    lines = [line.strip() for line in (Path(repo) / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    return [line for line in lines if not imports(line)]


def install_command(repo: Path, missing: list[str], work: Path) -> list[str]:
    """The pip command installing ``missing``, constrained to ``repo/requirements.lock``'s versions of every
    package not installed yet (installed ones, e.g. Colab's torch and numpy, stay as they are)."""
    installed = {canonical(d.metadata["Name"]) for d in importlib.metadata.distributions() if d.metadata["Name"]}
    pins = [line for line in (Path(repo) / "requirements.lock").read_text().splitlines()
            if "==" in line and not line.startswith("#") and canonical(line.split("==")[0]) not in installed]
    (work / "requirements.txt").write_text("\n".join(missing) + "\n")
    (work / "constraints.txt").write_text("\n".join(pins) + "\n")
    return [sys.executable, "-m", "pip", "install", "-q", "-r", str(work / "requirements.txt"),
            "-c", str(work / "constraints.txt")]


def install_missing(repo: Path | str, dry_run: bool = False) -> list[str]:
    """Install what ``missing_requirements`` lists (nothing when everything imports); returns what was missing.
    ``dry_run``: print the pip command instead of running it."""
    repo = Path(repo)
    missing = missing_requirements(repo)
    if not missing:
        print("[bootstrap] every requirement imports: nothing to install")
        return []
    print(f"[bootstrap] installing what does not import yet: {missing}")
    work = Path(tempfile.mkdtemp(prefix="depthnerf_install_"))
    command = install_command(repo, missing, work)
    if dry_run:
        print("[bootstrap] would run:", " ".join(command))
        return missing
    subprocess.run(command, check=True)
    importlib.invalidate_caches()
    still = [line for line in missing if not imports(line)]
    if still:
        raise RuntimeError(f"still not importable after pip install: {still}; restart the runtime and run again")
    print("[bootstrap] requirements installed")
    return missing
