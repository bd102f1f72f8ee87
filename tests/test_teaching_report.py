"""benchmarks/teaching_report.py: its snapshot tables count what the snapshots hold."""
from __future__ import annotations

import torch
from script_loader import load_script

from paa_edu import pretrained


def _module():
    return load_script("benchmarks/teaching_report.py")


def test_pool_table_counts_single_candidate_pools_and_fallbacks():
    report = _module()
    hist = {n: pretrained.load_snapshot_history(n) for n in pretrained.NAMES}
    rows = report.pool_table(hist)
    # independent per-GT loop over the same snapshots
    n = single = fell = 0
    for s in hist["paa_atss"][1:]:
        e = s["assigners"]["paa_atss"]
        for g in range(len(e["cut"])):
            k = int(e["cand_valid"][g].sum())
            if k:
                n, single, fell = n + 1, single + (k == 1), fell + bool(e["fallback"][g])
    assert rows[-1].startswith(f"| paa_atss | {n} | {100 * single / n:.1f} % | "
                               f"{100 * fell / n:.1f} % |")


def test_snapshot_table_means_and_changes():
    report = _module()
    hist = {n: pretrained.load_snapshot_history(n) for n in pretrained.NAMES}
    rows = report.snapshot_tables(hist)
    counts = torch.stack([s["assigners"]["atss"]["num_pos_per_gt"] for s in hist["atss"]])
    assert rows[3].startswith(f"| atss | {counts.shape[1]} | {counts[0].double().mean():.2f}")
    assert rows[3].endswith("| 0 |")  # ATSS's positives are geometry: no GT ever changes
