"""Studies on a real Ray cluster, as a user with one runs them: a head started with `ray start --head`, a
second node joined with `ray start --address`, sweeps submitted by drivers that only know RAY_ADDRESS
(`sweeps.connect_ray`), trials spread over both nodes, results read back from the files, a node stopped
mid-sweep and its trial resumed from its checkpoint when the sweep is run again (by `depthnerf study`).

Both nodes run on this machine with 1 CPU each. Ray rewrites 127.0.0.1 to the machine's outward address,
so the nodes use the loopback address 127.0.0.2; Ray's servers still listen on every interface (Ray has
no setting to restrict that), so the cluster requires a token (RAY_AUTH_MODE=token, a token file of its
own). The processes of the cluster are stopped by their ids (the process tree of each `ray start
--block`), never with `ray stop`, which would end every Ray process of the machine.
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

from depthnerf.sweeps import Trial, trial_dir
from tools.export_notebooks import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.cluster, pytest.mark.ray]
IP = "127.0.0.2"
RAY = str(Path(sys.executable).parent / "ray")

# The driver a user would write: join the cluster through RAY_ADDRESS and run a sweep. Its trials also
# record the node they ran on (a function of __main__ is pickled by value, so the workers need nothing).
DRIVER = '''
import json, sys, time
import ray
from depthnerf import sweeps

def run_trial_recording_node(trial, results, study, workdir):
    import ray
    from depthnerf import sweeps
    folder = sweeps.trial_dir(results, study, trial)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "nodes.txt", "a") as f:
        f.write(ray.get_runtime_context().get_node_id() + "\\n")
    return sweeps.run_trial(trial, results, study, workdir)

study, results, trials, nodes = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
sweeps.run_trial = run_trial_recording_node
sweeps.connect_ray()
deadline = time.time() + 120
while sum(n["Alive"] for n in ray.nodes()) < nodes:
    assert time.time() < deadline, "the cluster did not reach its nodes"
    time.sleep(0.5)
print("NODES", json.dumps({("head" if "node:__internal_head__" in n["Resources"] else "worker"): n["NodeID"]
                           for n in ray.nodes() if n["Alive"]}), flush=True)
try:
    sweeps.run_sweep([sweeps.Trial(**t) for t in trials], study, results, progress=False)
    code = 0
except sweeps.SweepError as err:
    print(err)
    code = 3
ray.shutdown()
sys.exit(code)
'''


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind((IP, 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def process_tree(root: int) -> list[int]:
    """``root`` and every process below it (from /proc), parents first."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


class Cluster:
    """A head and worker nodes started with ``ray start --block`` (1 CPU each) under a temp dir of their own."""

    def __init__(self):
        self.temp = tempfile.mkdtemp(prefix="dnr", dir="/tmp")  # short: Ray's socket paths must stay < 108 bytes
        (Path(self.temp) / "token").write_text(secrets.token_hex(32))
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": f"{self.temp}/token",
                    "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(ROOT)}
        self.port = free_ports(1)[0]
        self.address = f"{IP}:{self.port}"
        self.nodes: list[subprocess.Popen] = []

    def start(self, head: bool, attempts: int = 3) -> subprocess.Popen:
        """Start a node; a node whose raylet or GCS does not come up in time on a busy machine ("timed out
        during startup", Ray's own limit) is stopped and started again, up to ``attempts`` times."""
        for attempt in range(attempts):
            node, log = self._start_once(head)
            if node.poll() is None:
                return node
            text = log.read_text()
            self.stop(node)
            self.nodes.remove(node)
            assert "timed out during startup" in text and attempt < attempts - 1, f"ray start failed:\n{text[-3000:]}"
        raise AssertionError("unreachable")

    def _start_once(self, head: bool) -> tuple[subprocess.Popen, Path]:
        ports = free_ports(8)
        args = ["--block", "--node-ip-address", IP, "--num-cpus", "1", "--disable-usage-stats",
                "--object-store-memory", str(80 * 2**20), "--include-log-monitor", "false",
                "--node-manager-port", ports[0], "--object-manager-port", ports[1],
                "--dashboard-agent-listen-port", ports[2], "--dashboard-agent-grpc-port", ports[3],
                "--metrics-export-port", ports[4], "--runtime-env-agent-port", ports[5],
                "--min-worker-port", 0, "--max-worker-port", 0]
        if head:
            args += ["--head", "--port", self.port, "--ray-client-server-port", ports[6], "--include-dashboard",
                     "false", "--dashboard-host", IP, "--dashboard-port", ports[7], "--temp-dir", self.temp]
        else:
            args += ["--address", self.address]
        log = Path(self.temp) / f"node{len(self.nodes)}.log"
        node = subprocess.Popen([RAY, "start", *map(str, args)], env=self.env, stdout=open(log, "w"),
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.nodes.append(node)
        deadline = time.time() + 120
        while "Ray runtime started" not in log.read_text() and node.poll() is None:
            assert time.time() < deadline, f"ray start did not finish in 120 s:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
        return node, log

    def stop(self, node: subprocess.Popen) -> None:
        """Kill a node's processes (as `ray stop --force` on that node would), children first."""
        for pid in reversed(process_tree(node.pid)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        node.wait(30)

    def close(self) -> None:
        for node in self.nodes:
            self.stop(node)
        for entry in Path("/proc").iterdir():  # anything still naming this cluster's temp dir is ours
            try:
                if entry.name.isdigit() and self.temp.encode() in (entry / "cmdline").read_bytes():
                    os.kill(int(entry.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass
        shutil.rmtree(self.temp, ignore_errors=True)

    def run(self, *command, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *map(str, command)], cwd=ROOT, capture_output=True, text=True,
                              env={**self.env, "RAY_ADDRESS": self.address}, timeout=timeout)

    def driver(self, tmp_path, study: str, results, trials: list[Trial], nodes: int, background: bool = False):
        script = tmp_path / "driver.py"
        script.write_text(DRIVER)
        args = [sys.executable, script, study, results, json.dumps([t.to_dict() for t in trials]), nodes]
        kwargs = dict(cwd=ROOT, env={**self.env, "RAY_ADDRESS": self.address}, text=True)
        if background:
            return subprocess.Popen(list(map(str, args)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs)
        return subprocess.run(list(map(str, args)), capture_output=True, timeout=300, **kwargs)


@pytest.fixture
def cluster():
    cluster = Cluster()
    try:
        cluster.head = cluster.start(head=True)
        cluster.worker = cluster.start(head=False)
        yield cluster
    finally:
        cluster.close()


def node_ids(output: str) -> dict[str, str]:
    """``{"head": id, "worker": id}`` as the driver saw the cluster (the head has node:__internal_head__)."""
    return json.loads(next(line for line in output.splitlines() if line.startswith("NODES "))[len("NODES "):])


def test_a_sweep_on_a_two_node_cluster_survives_losing_a_node(tmp_path, cluster):
    results = tmp_path / "results"

    # 1. two short trials from a driver that knows only RAY_ADDRESS: one CPU per node, so one trial on
    #    each node; the results come back from the files
    short = [Trial(s, n_views=2, seed=0, profile="smoke", train={"iterations": 20}) for s in ("baseline", "soft")]
    done = cluster.driver(tmp_path, "spread", results, short, nodes=2)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    nodes = node_ids(done.stdout)
    assert set(nodes) == {"head", "worker"} and nodes["head"] != nodes["worker"]
    ran_on = {t.trial_id: (trial_dir(results, "spread", t) / "nodes.txt").read_text().split() for t in short}
    assert all(len(v) == 1 for v in ran_on.values())
    assert {v[0] for v in ran_on.values()} == {nodes["head"], nodes["worker"]}  # both nodes ran trials
    for trial in short:
        record = json.loads((trial_dir(results, "spread", trial) / "evaluation.json").read_text())
        assert record["trial"] == trial.to_dict() and record["cost"]["iterations"] == 20
        assert 0 < record["metrics"]["psnr"] < 60

    # 2. two long trials; the worker node is killed once its trial has a checkpoint
    settings = {"iterations": 240, "checkpoint_every": 20}
    long = [Trial(s, n_views=2, seed=5, profile="smoke", train=settings) for s in ("baseline", "soft")]
    driver = cluster.driver(tmp_path, "resume", results, long, nodes=2, background=True)
    victim, deadline = None, time.time() + 240  # (the driver's output is read when it ends: < 64 KiB)
    while victim is None:
        assert driver.poll() is None and time.time() < deadline, "no trial checkpointed on the worker node"
        for trial in long:
            folder = trial_dir(results, "resume", trial)
            if (folder / "nodes.txt").exists() and (folder / "nodes.txt").read_text().split() == [nodes["worker"]] \
                    and (folder / "checkpoint.pth").exists() and not (folder / "evaluation.json").exists():
                victim = trial
        time.sleep(0.2)
    cluster.stop(cluster.worker)
    output, _ = driver.communicate(timeout=240)
    assert driver.returncode == 3, output[-3000:]  # SweepError: the trial of the lost node failed
    assert "1 of 2 trials of study 'resume' failed" in output and victim.trial_id in output
    survivor = next(t for t in long if t is not victim)
    assert (trial_dir(results, "resume", survivor) / "evaluation.json").is_file()
    folder = trial_dir(results, "resume", victim)
    assert not (folder / "evaluation.json").exists()
    checkpoint_step = torch.load(folder / "checkpoint.pth", weights_only=True)["step"]
    assert 0 < checkpoint_step < 240
    before = [line for line in (folder / "metrics.jsonl").read_text().splitlines()
              if json.loads(line)["step"] <= checkpoint_step]

    # 3. the same study again, from the command line, on what is left of the cluster: the finished trial
    #    is skipped, the interrupted one resumes from its checkpoint
    done = cluster.run("-m", "depthnerf", "study", "resume", "--strategies", "baseline,soft", "--views", 2,
                       "--seeds", 5, "--profile", "smoke", "--results", results, "--quiet",
                       *[arg for k, v in settings.items() for arg in ("--set", f"{k}={v}")])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2 trials, 1 already finished, 1 to run" in done.stdout
    assert "| baseline | 2 | 1 |" in done.stdout and "| soft | 2 | 1 |" in done.stdout
    record = json.loads((folder / "evaluation.json").read_text())
    assert record["cost"]["iterations"] == 240 and not (folder / "checkpoint.pth").exists()
    after = (folder / "metrics.jsonl").read_text().splitlines()
    assert after[:len(before)] == before  # the records up to the checkpoint are the first run's: resumed
    assert json.loads(after[-1])["step"] > checkpoint_step
