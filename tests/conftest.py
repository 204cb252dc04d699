"""Shared by the study-notebook tests: one local Ray instance per test module (one such file at a time under
`make test`'s workers), and a runner that
executes a notebook headless in smoke with papermill and returns its printed output."""
import fcntl
import os
import tempfile
from pathlib import Path

import nbformat
import papermill
import pytest

from tools.export_notebooks import ROOT


@pytest.fixture(scope="module", autouse=True)
def one_ray_file_at_a_time(request):
    """The files marked ``ray`` run one at a time across pytest-xdist workers (an exclusive lock on a file in
    the temp folder): two Ray instances starting at once on a busy 2-core machine time out."""
    if request.node.get_closest_marker("ray") is None:
        yield
        return
    with open(Path(tempfile.gettempdir()) / "depthnerf-tests-ray.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def ray_address():
    """Address of a local Ray instance the notebooks join through ``RAY_ADDRESS`` (as on a cluster)."""
    ray = pytest.importorskip("ray")
    context = ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
    yield context.address_info["address"]
    ray.shutdown()


def execute_notebook(notebook: str, results, env: dict) -> str:
    """Run ``notebook`` in smoke into ``results`` with ``env`` set; return the text of every cell output."""
    old = dict(os.environ)
    os.environ.update({"DEPTHNERF_PROFILE": "smoke", "DEPTHNERF_RESULTS": str(results),
                       "OMP_WAIT_POLICY": "PASSIVE", **env})
    try:
        out = results / notebook.split("/")[-1]
        papermill.execute_notebook(str(ROOT / notebook), str(out), cwd=str(ROOT), progress_bar=False)
    finally:
        os.environ.clear()
        os.environ.update(old)
    nb = nbformat.read(out, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
