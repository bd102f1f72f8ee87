"""The demo's table rows describe the run that produced them."""
from __future__ import annotations

import torch

from paa_edu.config import apply_overrides
from paa_edu.evaluation.report import method_name, table_row
from paa_edu.presets import tiny_synthetic

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


def test_trainings_side_by_side_give_the_table_of_one_after_another(tiny_data_root, tmp_path,
                                                                       tiny_overrides):
    """A reduced demo (2 iterations, tiny model): 2 worker processes == sequential."""
    from paa_edu.config import VARIANTS
    from paa_edu.demo import run_demo
    from paa_edu.engine.checkpoint import load_model
    overrides = [*tiny_overrides, f"data.root={tiny_data_root}", "train.max_iters=2"]
    tables = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        tables[workers] = run_demo(out, device="cpu", overrides=overrides, progress=False,
                                   workers=workers)
        text = (out / "results.md").read_text()
        assert text.startswith(tables[workers]) and f"{workers} training(s) at a time" in text
        assert (out / "assignments.png").is_file() and (out / "gmm_split.png").is_file()
    assert tables[1] == tables[2]
    assert tables[1].count("2it") == 4
    # The untrained table is all zeros, so compare what was trained: bit for bit.
    states = []
    for name, _, _ in VARIANTS:
        one, two = (load_model(tmp_path / f"w{w}" / name / "last.pth")[0].state_dict()
                    for w in (1, 2))
        assert one.keys() == two.keys() and all(torch.equal(one[k], two[k]) for k in one)
        states.append(one)
    assert not all(torch.equal(states[0][k], states[2][k]) for k in states[0])  # 4 models
