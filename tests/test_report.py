"""The results table printer reproduces the seed's table layout and numbers."""
from __future__ import annotations

import math

import pytest

from paa_edu.evaluation.report import COLUMNS, SEED_TABLE_ROWS, format_results_table, results_row


def test_seed_rows_print_as_in_the_seed():
    table = format_results_table(SEED_TABLE_ROWS).splitlines()
    assert len(table) == 4
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert header == ["Method", "angle", "Backbone", "Lr schd", "Dataset", "preprocess",
                      "$AP_{0.5}$", "$AP_{0.75}$", "$mAP$"]
    assert set(table[1].replace("|", "").replace(" ", "")) == {"-"}
    first = [cell.strip() for cell in table[2].strip("|").split("|")]
    assert first == ["RetinaNet-(maxiou)", "v2", "ResNet50", "1x", "DOTA-v1.0,trainval",
                     "1024x1024,200", "72.50", "42.10", "41.97"]
    assert len({len(line) for line in table}) == 1  # aligned columns
    assert table[3] == SEED_README_LAST_LINE  # byte-identical to the seed's README


SEED_README_LAST_LINE = ("| RetinaNet-(ATSS)   | v2    | ResNet50 | 1x      | DOTA-v1.0,trainval "
                         "| 1024x1024,200 | 72.75      | 43.46       | 42.46 |")


def test_results_row_from_metrics():
    metrics = {"AP50": 0.5, "AP75": 0.123456, "mAP": math.nan, "per_class_AP50": [0.5]}
    row = results_row("RetinaNet-(PAA)", metrics, dataset="synthetic-tiny,val",
                      preprocess="256x256")
    assert set(row) == {key for key, _ in COLUMNS}
    line = format_results_table([row]).splitlines()[2]
    assert "| 50.00 " in line and "| 12.35 " in line and "n/a" in line


def test_bad_rows_raise():
    with pytest.raises(ValueError, match="empty"):
        format_results_table([])
    with pytest.raises(ValueError, match="lacks"):
        results_row("m", {"AP50": 0.1})


def test_per_class_table_lists_every_class():
    import torch

    from paa_edu.evaluation.report import format_per_class_table
    from paa_edu.evaluation.rotated_ap import evaluate_rotated
    gt = {"boxes": torch.tensor([[50.0, 50.0, 40.0, 20.0, 0.0], [150.0, 50.0, 40.0, 20.0, 0.0]]),
          "labels": torch.tensor([0, 1])}
    det = {"boxes": gt["boxes"][:1].clone(), "scores": torch.tensor([0.9]),
           "labels": torch.tensor([0])}
    table = format_per_class_table(evaluate_rotated([det], [gt], num_classes=3), ["a", "b", "c"])
    lines = table.splitlines()
    assert lines[0] == "| class |   GT |   AP50 |    mAP |"
    assert lines[2:] == ["| a     |    1 | 100.00 | 100.00 |",
                         "| b     |    1 |   0.00 |   0.00 |",
                         "| c     |    0 |    n/a |    n/a |"]
    with pytest.raises(ValueError, match="class names"):
        format_per_class_table(evaluate_rotated([det], [gt], num_classes=3), ["a"])


def test_repeated_runs_print_mean_and_sample_std():
    row = {**SEED_TABLE_ROWS[0], "AP50": [0.70, 0.72, 0.74], "AP75": [0.4], "mAP": (0.5, 0.5)}
    cells = [c.strip() for c in format_results_table([row]).splitlines()[2].strip("|").split("|")]
    assert cells[-3:] == ["72.00 ± 2.00", "40.00 ± 0.00", "50.00 ± 0.00"]
    row = {**SEED_TABLE_ROWS[0], "AP50": [0.70, float("nan")]}  # a repeat without a value
    assert "| n/a " in format_results_table([row]).splitlines()[2]
