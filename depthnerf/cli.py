# Generated from Experiments/custom_scenes.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import textwrap
from pathlib import Path

from depthnerf import __version__
from depthnerf.config import FIELDS, PROFILES, STRATEGIES, TrainConfig, describe, merge_settings


# %% Experiments/custom_scenes.ipynb · cell c37
PARAMETER_GROUPS = ("field_params", "strategy_params")


def parse_settings(items: list[str]) -> dict:
    """``["batch_rays=1024", "field_params.upsample=[]"]`` -> TrainConfig overrides: each value parsed as
    JSON (else kept as a string); ``a.b=v`` sets key ``b`` of the parameter dict ``a`` (``field_params``,
    ``strategy_params``). A name TrainConfig does not have is an error listing the ones it has.

    >>> parse_settings(["batch_rays=1024", "field_params.upsample=[]", "sampler=stratified", "tensorboard=true"])
    {'batch_rays': 1024, 'field_params': {'upsample': []}, 'sampler': 'stratified', 'tensorboard': True}
    """
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    settings: dict = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {item!r}: expected key=value")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        group, _, sub = key.partition(".")
        if group not in known:
            raise ValueError(f"--set {item!r}: TrainConfig has no setting {group!r}; it has {sorted(known)}")
        if sub and group not in PARAMETER_GROUPS:
            raise ValueError(f"--set {item!r}: only {' and '.join(PARAMETER_GROUPS)} take dotted keys")
        settings = merge_settings(settings, {group: {sub: value}}) if sub else {**settings, key: value}
    return settings


def _described(title: str, settings: dict[str, str], indent: str = "  ") -> list[str]:
    lines = [title]
    for name, doc in settings.items():
        lines += textwrap.wrap(f"{name}: {doc}", 100, initial_indent=indent, subsequent_indent=indent + "    ")
    return lines


def settings_help() -> str:
    """Every ``TrainConfig`` setting with its documentation and default, then the parameters of every
    registered strategy and field (``--set strategy_params.NAME=...``, ``--set field_params.NAME=...``)."""
    lines = _described("TrainConfig settings (--set NAME=VALUE; values are JSON):", describe(TrainConfig))
    for group, registry in (("strategy_params", STRATEGIES), ("field_params", FIELDS)):
        for name, entry in registry.items():
            params = describe(entry.params)
            if params:
                lines += _described(f"{group} of {name!r} (--set {group}.NAME=VALUE):", params)
    lines += ["profiles (--profile): " + "; ".join(f"{n}: {p.doc}" for n, p in PROFILES.items())]
    return "\n".join(lines)


# %% Experiments/custom_scenes.ipynb · cell c38
# The heavy modules (torch, matplotlib, pycolmap) are imported by the command that needs them, so that
# `depthnerf --help` answers at once.
MATCHERS = ("exhaustive", "sequential")  # depthnerf.prepare.MATCHERS
DEPTH_SOURCES = ("dataset", "triangulated", "colmap", "dsnerf")  # depthnerf.sweeps.DEPTH_SOURCES
EVALUATED = ("baseline", "soft", "hard", "hybrid")  # depthnerf.evaluate.STRATEGIES


def load_scene(data: str, split: str, downscale: int, **options):
    """``load_dataset``, with a nerfstudio folder (``transforms.json``) read by ``load_nerfstudio``."""
    from depthnerf.datasets import load_dataset
    from depthnerf.nerfstudio import is_nerfstudio_scene, load_nerfstudio

    if data != "embedded" and is_nerfstudio_scene(data):
        return load_nerfstudio(data, split, downscale, **options)
    return load_dataset(data, split, downscale, **options)


def _depth_options(depth_source: str) -> dict:
    return {"sparse_depth": depth_source} if depth_source in ("colmap", "dsnerf") else {}


def command_prepare(args) -> int:
    from depthnerf.prepare import prepare

    stats = prepare(args.source, args.out, every=args.every, max_size=args.max_size, camera_model=args.camera_model,
                    matcher=args.matcher, threads=args.threads)
    print(f"{args.out}: {stats['registered']} of {stats['frames']} frames registered"
          f"{' (left out: ' + ', '.join(stats['unregistered']) + ')' if stats['unregistered'] else ''}, "
          f"{stats['points']} points, mean reprojection error {stats['mean_reprojection_error_px']:.2f} px, "
          f"{stats['total_seconds']:.1f} s; train on it with --data {args.out} --depth-source colmap")
    return 0


def command_train(args) -> int:
    from depthnerf.config import config_for_profile, profile_settings
    from depthnerf.triangulation import triangulate_sparse_depth
    from depthnerf.runtime import estimate_training_seconds
    from depthnerf.trainer import train

    settings = profile_settings(args.profile)
    config = config_for_profile(args.profile, args.strategy, **parse_settings(args.set))
    downscale = args.downscale or settings.downscale
    train_data = load_scene(args.data, "train", downscale, max_views=args.max_views or settings.max_train_views,
                            **_depth_options(args.depth_source))
    if args.depth_source == "triangulated":
        train_data, stats = triangulate_sparse_depth(train_data)
        print(f"triangulated {stats['points']} points from the training views")
    if args.estimate:
        estimate = estimate_training_seconds(train_data, config)
        print(f"{config.strategy}: {config.iterations} steps on {len(train_data)} views {train_data.H}x{train_data.W} "
              f"would train about {estimate['seconds']:.0f} s here (measured over {len(estimate['stages'])} stage(s) "
              f"in {estimate['probe_seconds']:.1f} s; untrained probes: approximate, see benchmarks/runtime_estimate.py)")
        return 0
    val_data = load_scene(args.data, "val", downscale, max_views=settings.val_views)
    out = Path(args.out or Path(args.results) / args.strategy)
    result = train(train_data, config, out, val_data=val_data, resume=not args.restart, progress=not args.quiet)
    if result.interrupted:
        print(f"{out}: stopped after step {result.steps} of {config.iterations}; run again to resume", file=sys.stderr)
        return 130
    val = "n/a" if result.final_val_psnr is None else f"{result.final_val_psnr:.2f} dB"
    print(f"{out}: {config.strategy} trained {result.steps} steps in {result.train_seconds:.1f} s on "
          f"{len(train_data)} views {train_data.H}x{train_data.W}; validation PSNR {val}")
    return 0


def command_evaluate(args) -> int:
    from depthnerf import evaluate, metrics
    from depthnerf.config import profile_settings
    from depthnerf.env import select_device

    settings = profile_settings(args.profile)
    test_data = load_scene(args.data, args.split, args.downscale or settings.downscale,
                           max_views=settings.max_test_views)
    weights, note = (None, "LPIPS not computed: --no-lpips") if args.no_lpips else metrics.find_alexnet_weights()
    lpips_net = metrics.lpips_model(weights, select_device()) if weights else None
    evaluation, _ = evaluate.evaluate_all(args.results, test_data, strategies=args.strategies, lpips_net=lpips_net,
                                          lpips_note=note, progress=not args.quiet)
    paths = evaluate.write_evaluation(evaluation, args.results)
    print(evaluate.markdown_table(evaluation))
    print("wrote", ", ".join(str(p) for p in paths.values()))
    return 0


def command_compare(args) -> int:
    from depthnerf import evaluate

    evaluation = evaluate.read_evaluation(args.results)
    print(evaluate.csv_text(evaluation) if args.csv else evaluate.markdown_table(evaluation), end="\n" * (not args.csv))
    return 0


def command_render(args) -> int:
    from depthnerf import render
    from depthnerf.config import profile_settings
    from depthnerf.runs import load_run
    from depthnerf.scene import DataError

    settings = profile_settings(args.profile)
    scene = load_scene(args.data, "train", args.downscale or settings.render_downscale,
                       max_views=settings.max_train_views)
    path = render.camera_path(scene, args.frames or settings.render_frames)
    renders = {}
    for strategy in args.strategies:
        try:
            run = load_run(Path(args.results) / strategy)
        except (FileNotFoundError, RuntimeError, ValueError) as err:
            print(f"{strategy}: MISSING - {err}")
            continue
        renders[strategy] = render.render_path(run, path, scene.intrinsics[0], scene.H, scene.W, scene.background,
                                               progress=not args.quiet)
    if not renders:
        raise DataError(f"{args.results}: no trained strategy among {list(args.strategies)}: train first")
    lo, hi = render.depth_range(renders, scene.near, scene.far)
    for strategy, frames in renders.items():
        written = render.write_strategy_videos(frames, Path(args.results) / strategy / "renders", lo, hi)
        print(strategy, "->", ", ".join(str(p) for p in written.values()))
    columns = {name: [render.to_uint8(f["rgb"]), render.colorize_depth(f["depth"], lo, hi)] for name, f in renders.items()}
    print("->", render.write_mp4(Path(args.results) / "comparison.mp4", render.side_by_side(columns)))
    return 0


def command_study(args) -> int:
    from depthnerf.config import profile_settings
    from depthnerf.sweeps import Trial, collect, run_sweep, summarise, summary_table

    settings = profile_settings(args.profile)
    overrides = {**settings.study_train, **parse_settings(args.set)}
    trials = [Trial(strategy, n_views=views, seed=seed, data=args.data, profile=args.profile, downscale=args.downscale,
                    depth_source=args.depth_source, train=overrides)
              for strategy in args.strategies for views in args.views for seed in args.seeds]
    run_sweep(trials, args.name, args.results, progress=not args.quiet)
    ids = {t.trial_id for t in trials}
    rows = [r for r in collect(args.results, args.name) if r["trial_id"] in ids]
    columns = ("psnr", "ssim", "depth_absrel", "train_seconds")
    print(summary_table(summarise(rows, ("strategy", "n_views"), columns), ("strategy", "n_views"), columns,
                        digits={"train_seconds": 1}))
    return 0


# %% Experiments/custom_scenes.ipynb · cell c39
def _list(kind):
    """An argparse type: comma-separated values of ``kind`` (``all`` -> None for view counts)."""
    def parse(text: str) -> list:
        return [None if kind is int and v == "all" else kind(v) for v in text.split(",") if v]
    return parse


def build_parser() -> argparse.ArgumentParser:
    """The ``depthnerf`` command line: one subcommand per stage, each calling the code the notebooks call."""
    parser = argparse.ArgumentParser(prog="depthnerf", description="NeRF with four depth-supervision strategies: "
                                     "prepare a scene, train, evaluate, render, compare, run a study.")
    parser.add_argument("--version", action="version", version=f"depthnerf {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_options(sub, downscale_help: str):
        sub.add_argument("--data", default="embedded", help="'embedded' or a scene folder: Blender, nerfstudio "
                         "(transforms.json) or LLFF layout (default: embedded)")
        sub.add_argument("--profile", default="quick", choices=sorted(PROFILES), help="stage sizes (default: quick)")
        sub.add_argument("--results", default="results", help="results folder (default: results)")
        sub.add_argument("--downscale", type=int, default=None, help=downscale_help)
        sub.add_argument("--quiet", action="store_true", help="no progress bars")

    p = commands.add_parser("prepare", help="photos or a video -> an LLFF scene (COLMAP poses, sparse depth)",
                            description="Frames -> pycolmap features, matching, incremental mapping, undistortion "
                            "-> OUT/images, OUT/sparse/0, OUT/poses_bounds.npy (depthnerf.prepare.prepare).")
    p.add_argument("source", help="a folder of photos (PNG/JPEG, one camera) or a video file")
    p.add_argument("out", help="the scene folder to write (new or empty)")
    p.add_argument("--every", type=int, default=10, help="video: keep every k-th frame (default: 10)")
    p.add_argument("--max-size", type=int, default=1600, help="longest image side in pixels (default: 1600)")
    p.add_argument("--camera-model", default="SIMPLE_RADIAL", help="COLMAP camera model (default: SIMPLE_RADIAL)")
    p.add_argument("--matcher", choices=MATCHERS, default=None, help="default: sequential for a video, else exhaustive")
    p.add_argument("--threads", type=int, default=None, help="COLMAP threads (default: all cores)")
    p.set_defaults(run=command_prepare)

    p = commands.add_parser("train", help="train one strategy into RESULTS/<strategy>",
                            formatter_class=argparse.RawDescriptionHelpFormatter, epilog=settings_help(),
                            description="Train one strategy (depthnerf.trainer.train) on the training split, "
                            "validated on the val split; resumes from a checkpoint unless --restart.")
    p.add_argument("--strategy", required=True, choices=sorted(STRATEGIES), help="the strategy to train")
    data_options(p, "image downscaling (default: the profile's)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="change a TrainConfig setting "
                   "(repeatable; see the list below)")
    p.add_argument("--depth-source", default="dataset", choices=DEPTH_SOURCES, help="dataset: the scene's own depth "
                   "files; colmap / dsnerf: sparse depth of an LLFF scene; triangulated: from the training views")
    p.add_argument("--max-views", type=int, default=None, help="at most this many training views")
    p.add_argument("--out", default=None, help="run folder (default: RESULTS/<strategy>)")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    p.add_argument("--estimate", action="store_true", help="print the expected training seconds, measured by "
                   "timing a few steps of each stage here (depthnerf.runtime.estimate_training_seconds), and exit")
    p.set_defaults(run=command_train)

    p = commands.add_parser("evaluate", help="score the trained strategies on the test split; write the tables",
                            description="depthnerf.evaluate.evaluate_all + write_evaluation (notebook 07).")
    data_options(p, "image downscaling (default: the profile's)")
    p.add_argument("--strategies", type=_list(str), default=list(EVALUATED), help="comma-separated (default: all four)")
    p.add_argument("--split", default="test", choices=("test", "val"), help="the split scored (default: test)")
    p.add_argument("--no-lpips", action="store_true", help="skip LPIPS even when the AlexNet weights are here")
    p.set_defaults(run=command_evaluate)

    p = commands.add_parser("render", help="render a camera path of every trained strategy to videos",
                            description="depthnerf.render.camera_path + render_path + write_strategy_videos (08).")
    data_options(p, "image downscaling (default: the profile's render_downscale)")
    p.add_argument("--strategies", type=_list(str), default=list(EVALUATED), help="comma-separated (default: all four)")
    p.add_argument("--frames", type=int, default=None, help="frames of the path (default: the profile's)")
    p.set_defaults(run=command_render)

    p = commands.add_parser("compare", help="print the comparison table of RESULTS/evaluation_results.json")
    p.add_argument("--results", default="results", help="results folder (default: results)")
    p.add_argument("--csv", action="store_true", help="CSV instead of markdown")
    p.set_defaults(run=command_compare)

    p = commands.add_parser("study", help="a sweep of strategies x training views x seeds on Ray (RAY_ADDRESS: a cluster)",
                            description="depthnerf.sweeps.run_sweep over the grid; finished trials are skipped; "
                            "prints the summary table of RESULTS/studies/NAME.")
    p.add_argument("name", help="the study's name: its trials go to RESULTS/studies/NAME")
    data_options(p, "image downscaling (default: the profile's)")
    p.add_argument("--strategies", type=_list(str), default=list(EVALUATED), help="comma-separated (default: all four)")
    p.add_argument("--views", type=_list(int), default=[None], help="training-view counts, comma-separated, or all")
    p.add_argument("--seeds", type=_list(int), default=[0], help="seeds, comma-separated (default: 0)")
    p.add_argument("--depth-source", default="dataset", choices=DEPTH_SOURCES, help="as for train")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="TrainConfig settings of every "
                   "trial, over the profile's study_train (see depthnerf train --help)")
    p.set_defaults(run=command_study)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``depthnerf COMMAND ...`` (``python -m depthnerf``); a data or settings error is one line on stderr, exit 2."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError, FileExistsError) as err:  # DataError is a ValueError
        print(f"depthnerf {args.command}: error: {err}", file=sys.stderr)
        return 2
