"""The benchmark scripts run and report what they claim (tiny settings, no timing asserted)."""
from __future__ import annotations

import pytest
from script_loader import load_script


def load(name: str):
    return load_script(f"benchmarks/{name}.py")


def fake_run(variant: str, seed: int, ap50: float, fallback=None) -> dict:
    row = {"method": variant, "angle": "le135", "backbone": "R", "lr_schd": "1ep",
           "dataset": "d", "preprocess": "orig", "AP50": ap50, "AP75": ap50 / 2, "mAP": ap50 / 3}
    return {"variant": variant, "seed": seed, "row": row, "AP50": ap50, "AP75": ap50 / 2,
            "mAP": ap50 / 3, "paa_fallback_rate": fallback}


@pytest.fixture(scope="module")
def compare():
    return load("compare_assigners")


def test_ordering_verdict(compare):
    runs = {name: fake_run(name, 0, ap) for name, ap in
            (("maxiou", 0.5), ("atss", 0.6), ("paa_maxiou", 0.55), ("paa_atss", 0.7))}
    assert compare.ordering_holds(runs, "AP50") == "yes"  # the best PAA row counts
    runs["atss"] = fake_run("atss", 0, 0.4)
    assert compare.ordering_holds(runs, "AP50") == "no"
    del runs["atss"]
    assert compare.ordering_holds(runs, "AP50") == "n/a"


def test_summary_is_mean_and_std_over_seeds_in_variant_order(compare):
    results = [fake_run("paa_atss", s, ap) for s, ap in ((0, 0.70), (1, 0.74))]
    results += [fake_run("maxiou", s, ap) for s, ap in ((0, 0.5), (1, 0.5))]
    lines = compare.summary_table(results).splitlines()
    assert len(lines) == 4 and lines[2].startswith("| maxiou")  # VARIANTS order, not input's
    assert "72.00 ± 2.83" in lines[3] and "1ep, 2 seeds" in lines[3]
    seed_lines = compare.per_seed_lines(results)
    assert seed_lines[0].startswith("- seed 0") and "maxiou 50.00" in seed_lines[0]


def test_finished_runs_are_not_trained_again(compare, tmp_path):
    run_dir = tmp_path / "atss_s3"
    run_dir.mkdir()
    (run_dir / "metrics.json").write_text('{"variant": "atss", "seed": 3, "AP50": 0.25}')
    result = compare.run_one([], "tiny_synthetic", "atss", 3, tmp_path)
    assert result["AP50"] == 0.25
    assert [r["seed"] for r in compare.load_results(tmp_path)] == [3]


def test_train_step_breakdown_counts_ops(capsys):
    load("bench_train_step").main(["--image-size", "64", "--batch", "1", "--iters", "1",
                                   "--warmup", "0", "--count-ops"])
    out = capsys.readouterr().out
    assert "PAA assignment (scoring + GMM split):" in out
    counted = {line.split("|")[1].strip(): int(line.split("|")[2]) for line in out.splitlines()
               if line.startswith("| ") and line.count("|") == 4 and line.split("|")[2].strip()
               .isdigit()}
    assert set(counted) == {"forward", "initial assign", "PAA scoring", "PAA GMM split", "loss"}
    assert all(n > 0 for n in counted.values())


def test_fallback_line_averages_per_variant(compare):
    results = [fake_run("paa_atss", 0, 0.7, 0.1), fake_run("paa_atss", 1, 0.7, 0.2),
               fake_run("maxiou", 0, 0.5)]
    assert compare.fallback_line(results).endswith("paa_atss 15.00 %")
    assert compare.fallback_line(results[2:]) == ""


def test_polygon_eval_benchmark_compares_both_gt_shapes(tmp_path, capsys, monkeypatch):
    bench = load("bench_polygon_eval")
    gts = bench.synthetic_gts(0, images=2, per_image=15)
    assert all(g["polygons"].shape == (15, 8) for g in gts)
    dets = bench.simulate_detections(gts, 0)
    assert 15 < sum(len(d["labels"]) for d in dets) < 60
    monkeypatch.setattr("sys.argv", ["bench_polygon_eval.py", "--seed", "1"])
    bench.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[3].startswith("| polygon |") and lines[4].startswith("| box |")
    assert lines[5].startswith("| box - polygon |")
