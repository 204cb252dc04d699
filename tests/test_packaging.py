"""Files that cannot run here (no Docker engine) are still checked for what they must contain."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_dockerfile_installs_requirements_and_runs_a_make_target():
    text = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM\s+(\S+)", text, re.M)
    assert base and base.group(1).startswith("python:3.11"), "base image must be named and match the venv's Python"
    assert "COPY requirements.txt" in text and "pip install --no-cache-dir -r requirements.txt -c requirements.lock" in text
    assert "ENV VENV=/opt/venv" in text, "the venv must live outside /depthnerf so a mounted checkout keeps it"
    assert "ARG TORCH=cpu" in text and "download.pytorch.org/whl/cpu torch==2.14.1" in text  # the CPU image
    entry = re.search(r'^ENTRYPOINT \["make"\]', text, re.M)
    cmd = re.search(r'^CMD \["(\w+)"\]', text, re.M)
    assert entry and cmd
    targets = re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.M)
    assert cmd.group(1) in targets and "jupyter" in targets


def test_dockerignore_keeps_local_venv_and_data_out_of_the_image():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and "data" in ignored


def test_compose_services_use_make_targets():
    text = (ROOT / "docker-compose.yml").read_text()
    targets = re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.M)
    for command in re.findall(r'command: \["(\w+)"', text):
        assert command in targets


def test_compose_runs_on_the_cpu_by_default_and_on_gpus_through_the_override():
    import yaml

    cpu = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    gpu = yaml.safe_load((ROOT / "docker-compose.gpu.yml").read_text())["services"]
    assert "nvidia" not in (ROOT / "docker-compose.yml").read_text()
    assert all("deploy" not in service for service in cpu.values()), "a GPU reservation fails without the NVIDIA runtime"
    assert all(service.get("shm_size") for service in cpu.values()), "Ray needs more than the default 64 MB /dev/shm"
    assert ".:/depthnerf" in cpu["jupyter"]["volumes"], "the jupyter service must mount the whole checkout"
    for name in ("pipeline", "jupyter"):
        assert gpu[name]["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"
        assert gpu[name]["build"]["args"]["TORCH"] == "cuda"


def test_project_has_a_licence_and_a_citation():
    import yaml

    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"].startswith("1.2") and citation["title"] and citation["license"] == "MIT"


def test_ci_runs_make_test_and_nothing_else():
    lines = [l for l in (ROOT / ".ci" / "run").read_text().splitlines()
             if l.strip() and not l.startswith("#") and not l.startswith("set ") and not l.startswith("cd ")]
    assert lines == ["make test"]


def lock_pins() -> dict:
    """``{canonical name: version}`` of requirements.lock (every line must be ``name==version``)."""
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version.strip(), f"requirements.lock: {line!r} is not pinned with =="
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_lock_pins_every_requirement_at_a_version_it_allows():
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = lock_pins()
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            name = canonicalize_name(req.name)
            assert name in pins, f"{req.name} is in requirements.txt but not pinned in requirements.lock: run make lock"
            assert req.specifier.contains(pins[name], prereleases=True), \
                f"requirements.lock pins {req.name}=={pins[name]}, which requirements.txt ({line}) excludes: run make lock"


def test_make_docker_and_colab_install_with_the_lock():
    assert "-r requirements.txt -c $(LOCK)" in (ROOT / "Makefile").read_text()
    assert "requirements.lock" in (ROOT / "Makefile").read_text()
    docker = (ROOT / "Dockerfile").read_text()
    assert "COPY requirements.txt requirements.lock" in docker and "-c requirements.lock" in docker
    for notebook in ("colab/00_Setup_Colab.ipynb", "colab/Full_Pipeline_Colab.ipynb"):
        assert "install_missing(repo)" in (ROOT / notebook).read_text(), notebook  # depthnerf.bootstrap's
    assert '"requirements.lock"' in (ROOT / "depthnerf" / "bootstrap.py").read_text()
