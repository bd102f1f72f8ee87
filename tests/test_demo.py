"""The demo's table rows describe the run that produced them."""
from __future__ import annotations

from paa_edu.config import apply_overrides
from paa_edu.presets import tiny_synthetic
from paa_edu.demo import method_name, table_row

METRICS = {"AP50": 0.5, "AP75": 0.25, "mAP": 0.3}


def test_table_row_names_the_schedule_backbone_and_data():
    cfg = tiny_synthetic()
    row = table_row(cfg, METRICS)
    assert (row["lr_schd"], row["backbone"], row["dataset"]) == (
        f"{cfg.train.epochs}ep", "ResNet18-w32", "synthetic-tiny,val")
    capped = table_row(apply_overrides(cfg, ["train.max_iters=120"]), METRICS)
    assert capped["lr_schd"] == "120it"


def test_method_names_call_plain_assigners_baselines():
    names = [method_name(apply_overrides(tiny_synthetic(), [f"model.assigner={a}",
                                                             f"model.paa_init={i}"]))
             for a, i in (("maxiou", "atss"), ("atss", "atss"), ("paa", "maxiou"),
                          ("paa", "atss"))]
    assert names == ["MaxIoU 0.5/0.4 (baseline)", "ATSS (baseline)", "PAA (MaxIoU init)",
                     "PAA (ATSS init)"]
