# Bootstrap (the same in every numbered notebook; written by `make export` from tools/templates/bootstrap_cell.py).
# In a checkout it does nothing. Opened alone (e.g. in Colab from GitHub): clone the repository (or reuse the
# clone), work from its root, install the requirements that do not import yet (see notebook 00).
import os
import sys
from pathlib import Path

if not Path("depthnerf/__init__.py").is_file():
    REPO_URL = os.environ.get("DEPTHNERF_REPO_URL", "{repository_url}")  # pyproject.toml [project.urls]
    CLONE = Path(os.environ.get("DEPTHNERF_CLONE_DIR", "/content/depthnerf")).resolve()
    if not (CLONE / "depthnerf/__init__.py").is_file():
        if "<your-account>" in REPO_URL:
            raise RuntimeError("not inside a depthnerf checkout, and no repository to clone: set [project.urls] "
                               "Repository in pyproject.toml and run `make export`, or set DEPTHNERF_REPO_URL")
        import subprocess
        print(f"[bootstrap] cloning {REPO_URL} into {CLONE}")
        subprocess.run(["git", "clone", "--depth", "1", REPO_URL, str(CLONE)], check=True)
    os.chdir(CLONE)
    sys.path.insert(0, str(CLONE))
    from depthnerf.bootstrap import install_missing

    install_missing(CLONE)
    print(f"[bootstrap] working directory: {CLONE}")
