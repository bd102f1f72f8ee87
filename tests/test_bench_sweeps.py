"""Smoke runs of the DOTA-density sweeps of ``benchmarks/`` (working tree only, no baseline)."""
from __future__ import annotations

from script_loader import load_script


def test_assigner_and_nms_sweeps_run_and_agree(capsys):
    """Smoke runs of the DOTA-density sweeps (no baseline revision: the working tree only)."""
    rows = load_script("benchmarks/bench_assigners.py").main(
        ["--num-gts", "3", "20", "--image-size", "128", "--repeat", "1", "--memory"])
    assert len(rows) == 8 and all(r["new_mib"] >= 0 for r in rows)
    table = load_script("benchmarks/bench_nms.py").main(
        ["--num-boxes", "50", "200", "--repeat", "1", "--no-shapely"])
    assert all(row["same"] for row in table.values())
    assert "growth exponent wise default" in capsys.readouterr().out
