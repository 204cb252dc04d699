# Generated from Analysis/sweeps.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import dataclasses
import hashlib
import json
import os
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import depthnerf
from depthnerf.callbacks import PROGRESS_ENV
from depthnerf.config import TrainConfig, config_for_profile, profile_settings
from depthnerf.datasets import corrupt_depth, load_dataset, select_views
from depthnerf.evaluate import evaluate_run, read_cost
from depthnerf.io import atomic_json, atomic_write
from depthnerf.runs import load_run
from depthnerf.scene import SceneData
from depthnerf.strategies import make_strategy
from depthnerf.trainer import train
from depthnerf.triangulation import triangulate_sparse_depth


# %% Analysis/sweeps.ipynb · cell c03
DEPTH_SOURCES = ("dataset", "triangulated", "colmap", "dsnerf")


@dataclass
class Trial:
    """One training run of a study (written to ``trial.json``; its folder name comes from it)."""

    strategy: str
    n_views: int | None = None
    seed: int = 0
    data: str = "embedded"
    profile: str = "quick"
    downscale: int | None = None
    test_views: int | None = None
    eval_split: str = "test"  # "val" when a study chooses settings (never choose on the test split)
    test_data: str | None = None  # the folder the evaluation views come from (None: data), e.g. lego_test_every10
    train: dict = dataclasses.field(default_factory=dict)
    strategy_params: dict = dataclasses.field(default_factory=dict)
    depth_source: str = "dataset"
    corruption: dict = dataclasses.field(default_factory=dict)
    tags: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.depth_source not in DEPTH_SOURCES:
            raise ValueError(f"unknown depth_source {self.depth_source!r}: choose one of {DEPTH_SOURCES}")
        if self.eval_split not in ("test", "val"):
            raise ValueError(f"eval_split must be 'test' or 'val', got {self.eval_split!r}")
        if self.n_views is not None and self.n_views < 1:
            raise ValueError(f"n_views must be at least 1, got {self.n_views}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def trial_id(self) -> str:
        """``<strategy>-v<views>-s<seed>-<hash of the whole description>``; a field added after studies
        were run (``LATER_FIELDS``) enters the hash only when it is set, so finished trials keep their ids.

        >>> Trial("soft", n_views=4, seed=1).trial_id
        'soft-v4-s1-17656a47'
        """
        described = {k: v for k, v in self.to_dict().items() if not (k in LATER_FIELDS and v is None)}
        digest = hashlib.sha1(json.dumps(described, sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.strategy}-v{self.n_views or 'all'}-s{self.seed}-{digest}"


LATER_FIELDS = ("test_data",)


def trial_dir(results: Path | str, study: str, trial: Trial) -> Path:
    return Path(results) / "studies" / study / trial.trial_id


def is_finished(folder: Path | str, trial: Trial) -> bool:
    """True when ``folder/evaluation.json`` exists and was written for this very trial."""
    path = Path(folder) / "evaluation.json"
    if not path.exists():
        return False
    try:
        return json.loads(path.read_text())["trial"] == trial.to_dict()
    except (json.JSONDecodeError, KeyError):
        return False


# %% Analysis/sweeps.ipynb · cell c05
def resolve_data(data: str, workdir: Path | str) -> str:
    """``"embedded"`` as is; a relative folder relative to ``workdir`` (the driver's directory)."""
    if data == "embedded" or Path(data).is_absolute():
        return data
    return str(Path(workdir) / data)


def trial_config(trial: Trial) -> TrainConfig:
    """The ``TrainConfig`` of a trial: its profile's, with its seed, strategy parameters and ``train`` overrides.

    >>> trial = Trial("soft", profile="smoke", strategy_params={"soft_weight": 0.1}, train={"iterations": 5})
    >>> config = trial_config(trial)
    >>> config.iterations, config.batch_rays, config.strategy_params.soft_weight
    (5, 256, 0.1)
    """
    overrides = {"seed": trial.seed, "strategy_params": trial.strategy_params, **trial.train}
    return config_for_profile(trial.profile, trial.strategy, **overrides)


def load_trial_data(trial: Trial, workdir: Path | str) -> tuple[SceneData, SceneData, dict]:
    """``(train, evaluation views, depth_info)`` of a trial: its training views with the depth it is given,
    and the views of its ``eval_split`` it is scored on."""
    settings = profile_settings(trial.profile)
    downscale = trial.downscale or settings.downscale
    data = resolve_data(trial.data, workdir)
    root = Path(workdir) / "data"
    options = {"sparse_depth": trial.depth_source} if trial.depth_source in ("colmap", "dsnerf") else {}
    train_data = load_dataset(data, "train", downscale, root=root, **options)
    test_views = trial.test_views or settings.max_test_views
    source = resolve_data(trial.test_data, workdir) if trial.test_data else data
    test_data = load_dataset(source, trial.eval_split, downscale, root=root, max_views=test_views)
    views = np.arange(len(train_data))
    if trial.n_views is not None:
        views = select_views(train_data, trial.n_views, seed=trial.seed)
        train_data = train_data.subset(views)
    info = {"train_views": views.tolist()}
    if make_strategy(trial_config(trial)).needs_depth:
        if trial.depth_source == "triangulated":
            train_data, stats = triangulate_sparse_depth(train_data)
            info |= {"triangulated_points": stats["points"],
                     "mean_reprojection_error_px": stats["mean_reprojection_error"]}
        if trial.corruption:
            train_data = corrupt_depth(train_data, seed=trial.seed, **trial.corruption)
        if train_data.depth_mask is not None:
            info |= {"depth_pixels": int(train_data.depth_mask.sum()),
                     "depth_fraction": float(train_data.depth_mask.mean())}
    return train_data, test_data, info


def current_node() -> dict:
    """Where this code runs: Ray's node id (None outside Ray), host name and process id."""
    import ray

    node = ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
    return {"node_id": node, "host": socket.gethostname(), "pid": os.getpid()}


class TrialInterrupted(RuntimeError):
    """A trial's training was stopped (Ctrl-C, SIGTERM, Ray cancelling it) before it finished."""


def run_trial(trial: Trial, results: str, study: str, workdir: str) -> dict:
    """Train and evaluate one trial; return (and write) its ``evaluation.json`` record."""
    out_dir = trial_dir(results, study, trial)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        atomic_json(out_dir / "trial.json", trial.to_dict())
        train_data, test_data, depth_info = load_trial_data(trial, workdir)
        config = trial_config(trial)
        result = train(train_data, config, out_dir, progress=False)
        if result.interrupted:
            raise TrialInterrupted(f"{trial.trial_id}: interrupted after step {result.steps} of {config.iterations} "
                                   f"(checkpoint kept: run the sweep again to resume)")
        metrics, _ = evaluate_run(load_run(out_dir), test_data, progress=False)
        record = {"trial": trial.to_dict(), "trial_id": trial.trial_id, "study": study, "node": current_node(),
                  "metrics": metrics, "cost": read_cost(out_dir), "depth": depth_info,
                  "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        atomic_json(out_dir / "evaluation.json", record)
        (out_dir / "checkpoint.pth").unlink(missing_ok=True)
        (out_dir / "error.txt").unlink(missing_ok=True)
        return record
    except TrialInterrupted as err:
        message = f"interrupted: {err}\n"
        atomic_write(out_dir / "error.txt", lambda tmp: tmp.write_text(message))
        raise
    except BaseException:
        message = traceback.format_exc()
        atomic_write(out_dir / "error.txt", lambda tmp: tmp.write_text(message))
        raise


# %% Analysis/sweeps.ipynb · cell c07
class SweepError(RuntimeError):
    """Some trials of a sweep failed (each failed trial's folder holds ``error.txt``)."""


def connect_ray(num_cpus: int | None = None) -> dict:
    """Start or join Ray; return its resources. ``RAY_ADDRESS`` set: join that cluster."""
    import ray

    if not ray.is_initialized():
        runtime_env = {"py_modules": [depthnerf],
                       "env_vars": {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}}
        if os.environ.get("RAY_ADDRESS"):
            ray.init(address=os.environ["RAY_ADDRESS"], runtime_env=runtime_env)
        else:
            ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, runtime_env=runtime_env,
                     configure_logging=False)
    return ray.cluster_resources()


def trial_resources(cluster: dict, cpus_per_trial: int = 1) -> dict:
    """One GPU per trial when the cluster has GPUs, else ``cpus_per_trial`` CPUs.

    >>> trial_resources({"CPU": 16.0, "GPU": 2.0}), trial_resources({"CPU": 2.0})
    ({'num_cpus': 1, 'num_gpus': 1}, {'num_cpus': 1})
    """
    if cluster.get("GPU", 0) >= 1:
        return {"num_cpus": 1, "num_gpus": 1}
    return {"num_cpus": cpus_per_trial}


def stop_trials(running: list, futures: dict, timeout: float = 120.0) -> None:
    """Ctrl-C in the driver: ask every running trial to stop (Ray raises SIGINT in its worker, where
    the trainer finishes the step and checkpoints), wait for them, and say how to resume."""
    import ray

    for ref in running:
        ray.cancel(ref)
    ray.wait(running, num_returns=len(running), timeout=timeout)
    names = ", ".join(futures[ref].trial_id for ref in running)
    print(f"sweep interrupted: {len(running)} trials stopped with a checkpoint ({names}); "
          f"run the sweep again to resume them")


def sweep_line(study: str, trial_id: str, ok: bool, done: int, total: int, seconds: float) -> str:
    """The headless progress line of a sweep after a trial ends, with the time left at the pace so far.

    >>> sweep_line("few_view", "soft-v8-s0-1a2b3c4d", True, 3, 12, 90.0)
    '[sweep few_view] 3/12 trials (25%): soft-v8-s0-1a2b3c4d finished, 1.5 min so far, about 4.5 min left'
    """
    left = seconds / done * (total - done)
    return (f"[sweep {study}] {done}/{total} trials ({done / total:.0%}): {trial_id} "
            f"{'finished' if ok else 'FAILED'}, {seconds / 60:.1f} min so far, about {left / 60:.1f} min left")


def run_sweep(trials: list[Trial], study: str, results: Path | str = "results", cpus_per_trial: int = 1,
              num_cpus: int | None = None, progress: bool = True) -> list[dict]:
    """Run the unfinished ``trials`` of ``study`` on Ray; return every trial's record (finished ones read
    from disk). Raises :class:`SweepError` naming the failed trials after the others completed."""
    results = Path(results).resolve()
    ids = [t.trial_id for t in trials]
    if len(set(ids)) != len(ids):
        raise ValueError(f"study {study!r} lists the same trial twice")
    pending = [t for t in trials if not is_finished(trial_dir(results, study, t), t)]
    print(f"study {study!r}: {len(trials)} trials, {len(trials) - len(pending)} already finished, "
          f"{len(pending)} to run")
    failures = {}
    if pending:
        import ray

        started_here = not ray.is_initialized()
        resources = trial_resources(connect_ray(num_cpus), cpus_per_trial)
        task = ray.remote(run_trial).options(max_retries=0, **resources)
        workdir = str(Path.cwd())
        futures = {task.remote(t, str(results), study, workdir): t for t in pending}
        bar = tqdm(total=len(pending), desc=f"sweep {study}",
                   disable=not progress or os.environ.get(PROGRESS_ENV) == "lines")
        started, finished = time.perf_counter(), 0
        remaining = list(futures)
        try:
            while remaining:
                done, remaining = ray.wait(remaining, num_returns=1)
                trial = futures[done[0]]
                try:
                    ray.get(done[0])
                except Exception as err:  # a worker's exception arrives wrapped by Ray
                    failures[trial.trial_id] = f"{type(err).__name__}: {str(err).strip().splitlines()[-1]}"
                bar.update(1)
                finished += 1  # a disabled bar (headless) counts nothing
                if progress and os.environ.get(PROGRESS_ENV) == "lines":  # headless: a line per trial
                    print(sweep_line(study, trial.trial_id, trial.trial_id not in failures, finished, len(pending),
                                     time.perf_counter() - started), flush=True)
        except KeyboardInterrupt:
            stop_trials(remaining, futures)
            raise
        finally:
            bar.close()
        if started_here:
            ray.shutdown()
    if failures:
        listing = "\n".join(f"  {k}: {v} (see {trial_dir(results, study, t)}/error.txt)"
                            for t in trials for k, v in failures.items() if t.trial_id == k)
        raise SweepError(f"{len(failures)} of {len(pending)} trials of study {study!r} failed:\n{listing}")
    return [json.loads((trial_dir(results, study, t) / "evaluation.json").read_text()) for t in trials]


# %% Analysis/sweeps.ipynb · cell c11
ROW_METRICS = ("psnr", "ssim", "depth_absrel", "depth_rmse", "depth_delta1", "depth_absrel_object")


def collect(results: Path | str, study: str) -> list[dict]:
    """One flat row per finished trial of ``study`` (read from ``results/studies/<study>/*/evaluation.json``)."""
    rows = []
    for path in sorted((Path(results) / "studies" / study).glob("*/evaluation.json")):
        record = json.loads(path.read_text())
        trial = record["trial"]
        row = {key: trial[key] for key in ("strategy", "n_views", "seed", "data")}
        row |= {f"tag_{k}": v for k, v in trial["tags"].items()}
        row |= {key: record["metrics"].get(key) for key in ROW_METRICS}
        row |= {"train_seconds": record["cost"].get("train_seconds"), "iterations": record["cost"].get("iterations"),
                "depth_fraction": record["depth"].get("depth_fraction"), "trial_id": record["trial_id"],
                "node_id": record.get("node", {}).get("node_id")}
        rows.append(row)
    return rows


def summarise(rows: list[dict], by: tuple[str, ...], metrics: tuple[str, ...] = ("psnr", "depth_absrel")) -> list[dict]:
    """Mean, standard deviation (ddof=1; 0 for one trial) and count of ``metrics`` per group of ``by``.

    >>> rows = [{"s": "a", "psnr": 20.0}, {"s": "a", "psnr": 22.0}, {"s": "b", "psnr": 30.0}]
    >>> summarise(rows, ("s",), ("psnr",))
    [{'s': 'a', 'n': 2, 'psnr_mean': 21.0, 'psnr_std': 1.414...}, {'s': 'b', 'n': 1, 'psnr_mean': 30.0, 'psnr_std': 0.0}]
    """
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in by), []).append(row)
    summary = []
    for key in sorted(groups, key=lambda k: tuple((v is None, v if v is not None else 0) for v in k)):
        members = groups[key]
        entry = dict(zip(by, key)) | {"n": len(members)}
        for metric in metrics:
            values = np.array([m[metric] for m in members if m.get(metric) is not None], dtype=float)
            entry[f"{metric}_mean"] = float(values.mean()) if len(values) else None
            entry[f"{metric}_std"] = float(values.std(ddof=1)) if len(values) > 1 else (0.0 if len(values) else None)
        summary.append(entry)
    return summary


def paired_difference(rows: list[dict], metric: str = "psnr", reference: str = "baseline",
                      by: tuple[str, ...] = ("n_views",), pair: tuple[str, ...] = ("seed",)) -> list[dict]:
    """``metric`` of each trial minus the ``reference`` strategy's trial with the same ``by`` and ``pair``
    values (same views and seed), summarised per strategy and ``by`` as ``<metric>_gain``.

    >>> rows = [{"strategy": "baseline", "n_views": 2, "seed": 0, "psnr": 15.0},
    ...         {"strategy": "soft", "n_views": 2, "seed": 0, "psnr": 19.0},
    ...         {"strategy": "baseline", "n_views": 2, "seed": 1, "psnr": 16.0},
    ...         {"strategy": "soft", "n_views": 2, "seed": 1, "psnr": 18.0}]
    >>> paired_difference(rows)
    [{'strategy': 'soft', 'n_views': 2, 'n': 2, 'psnr_gain_mean': 3.0, 'psnr_gain_std': 1.414...}]
    """
    keys = by + pair
    ref = {tuple(r[k] for k in keys): r[metric] for r in rows if r["strategy"] == reference}
    gains = []
    for row in rows:
        base = ref.get(tuple(row[k] for k in keys))
        if row["strategy"] != reference and base is not None and row[metric] is not None:
            gains.append({"strategy": row["strategy"], **{k: row[k] for k in by}, f"{metric}_gain": row[metric] - base})
    return summarise(gains, ("strategy", *by), (f"{metric}_gain",))


def summary_table(summary: list[dict], by: tuple[str, ...], metrics: tuple[str, ...], digits: dict | None = None) -> str:
    """A markdown table of :func:`summarise`'s output: ``mean ± std`` per metric (the mean alone when
    ``n`` is 1: one run has no spread to show), and ``n``.

    >>> print(summary_table([{"s": "a", "n": 2, "psnr_mean": 21.0, "psnr_std": 1.41},
    ...                      {"s": "b", "n": 1, "psnr_mean": 20.0, "psnr_std": 0.0}], ("s",), ("psnr",)))
    | s | n | psnr |
    |---|---|---|
    | a | 2 | 21.00 ± 1.41 |
    | b | 1 | 20.00 |
    """
    digits = {"depth_absrel": 3, "ssim": 3, "depth_delta1": 3, "depth_absrel_object": 3, "depth_absrel_gain": 3,
              **(digits or {})}
    lines = ["| " + " | ".join([*by, "n", *metrics]) + " |", "|" + "---|" * (len(by) + 1 + len(metrics))]
    for entry in summary:
        cells = [str(entry[k]) for k in by] + [str(entry["n"])]
        for metric in metrics:
            mean, std = entry[f"{metric}_mean"], entry[f"{metric}_std"]
            d = digits.get(metric, 2)
            cells.append("n/a" if mean is None else f"{mean:.{d}f}" if entry["n"] == 1 else f"{mean:.{d}f} ± {std:.{d}f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_metric(summary: list[dict], x: str, metric: str, ax, group: str = "strategy", log_x: bool = True,
                label_prefix: str = "") -> None:
    """One line per ``group`` value: ``metric`` mean vs ``x`` with ±1 std error bars."""
    for name in dict.fromkeys(entry[group] for entry in summary):
        points = sorted((e[x], e[f"{metric}_mean"], e[f"{metric}_std"]) for e in summary
                        if e[group] == name and e[f"{metric}_mean"] is not None)
        if points:
            xs, means, stds = map(np.array, zip(*points))
            ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=f"{label_prefix}{name}")
    if log_x:
        ax.set_xscale("log", base=2)
    ax.set(xlabel=x, ylabel=metric)
    ax.legend()
