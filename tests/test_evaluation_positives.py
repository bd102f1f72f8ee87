"""recall_by_positives on a hand-worked table, found_per_gt against the DOTA rule, and
training_positives against the assigner run by hand on the model's anchors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from paa_edu import pretrained
from paa_edu.assigners import ATSSAssigner
from paa_edu.evaluation.positives import (
    format_recall_table,
    found_per_gt,
    recall_by_positives,
    training_positives,
)

# image 0: objects with 0, 1, 3 positives, found F, T, T; image 1: 2, 5, 1, found F, T, F.
POSITIVES = [torch.tensor([0, 1, 3]), torch.tensor([2, 5, 1])]
FOUND = [np.array([False, True, True]), np.array([False, True, False])]


def test_recall_by_positives_hand_worked():
    rows = recall_by_positives(POSITIVES, FOUND)
    assert [(r["label"], r["objects"], r["found"]) for r in rows] == [
        ("0", 1, 0), ("1", 2, 1), ("2", 1, 0), ("3+", 2, 2)]
    assert [r["recall"] for r in rows] == [0.0, 0.5, 0.0, 1.0]


def test_difficult_objects_are_left_out_and_bins_can_change():
    difficult = [torch.tensor([False, False, True]), torch.tensor([False, False, False])]
    rows = recall_by_positives(POSITIVES, FOUND, difficult)
    assert rows[-1] == {"label": "3+", "objects": 1, "found": 1, "recall": 1.0}
    rows = recall_by_positives(POSITIVES, FOUND, bins=(0, 2, 10))
    assert [(r["label"], r["objects"], r["found"]) for r in rows] == [
        ("0-1", 3, 1), ("2-9", 3, 2), ("10+", 0, 0)]
    assert math.isnan(rows[-1]["recall"])
    keep = [torch.tensor([True, False, True]), torch.tensor([False, True, True])]
    rows = recall_by_positives(POSITIVES, FOUND, difficult, keep=keep)  # objects 0, 4, 5
    assert [(r["label"], r["objects"], r["found"]) for r in rows] == [
        ("0", 1, 0), ("1", 1, 0), ("2", 0, 0), ("3+", 1, 1)]


def test_format_recall_table():
    text = format_recall_table({"atss": recall_by_positives(POSITIVES, FOUND)})
    header, row = text.splitlines()
    assert header.split() == ["positives", "0", "1", "2", "3+"]
    assert row.split() == ["atss", "0.00", "(", "0/", "1)", "0.50", "(", "1/", "2)", "0.00",
                           "(", "0/", "1)", "1.00", "(", "2/", "2)"]
    empty = recall_by_positives(POSITIVES, FOUND, bins=(0, 10))
    assert format_recall_table({"m": empty}).splitlines()[1].split()[-1] == "-"


def test_found_per_gt_follows_the_dota_rule():
    gt = {"boxes": torch.tensor([[20.0, 20, 10, 10, 0], [60, 20, 10, 10, 0]]),
          "labels": torch.tensor([0, 1])}
    det = {"boxes": torch.tensor([[20.0, 20, 10, 10, 0], [60, 20, 10, 10, 0]]),
           "scores": torch.tensor([0.9, 0.8]), "labels": torch.tensor([0, 0])}  # 2nd: wrong class
    assert [f.tolist() for f in found_per_gt([det], [gt])] == [[True, False]]
    shifted = {**det, "boxes": det["boxes"] + torch.tensor([4.0, 0, 0, 0, 0])}  # IoU 6/14
    assert found_per_gt([shifted], [gt], iou_threshold=0.4)[0].tolist() == [True, False]
    assert found_per_gt([shifted], [gt])[0].tolist() == [False, False]


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="one entry per image"):
        recall_by_positives(POSITIVES, FOUND[:1])
    with pytest.raises(ValueError, match="image 1: 3 positive counts for 2 found"):
        recall_by_positives(POSITIVES, [FOUND[0], FOUND[1][:2]])
    with pytest.raises(ValueError, match="increasing lower edges"):
        recall_by_positives(POSITIVES, FOUND, bins=(2, 1))
    with pytest.raises(ValueError, match="image 0: 3 positive counts for 2 difficult flags"):
        recall_by_positives(POSITIVES, FOUND, [torch.zeros(2), torch.zeros(3)])
    with pytest.raises(ValueError, match="detections has 1 images but ground_truths has 2"):
        found_per_gt([{}], [{}, {}])
    with pytest.raises(ValueError, match="tables is empty"):
        format_recall_table({})


def test_training_positives_is_the_models_own_assignment():
    model, cfg = pretrained.load("atss")  # ATSS: the geometry alone decides
    gt_boxes = torch.tensor([[60.0, 60, 40, 12, 0.3], [150, 100, 20, 20, 0.0],
                             [200, 200, 8, 4, 1.0]])
    target = {"boxes": gt_boxes, "labels": torch.tensor([4, 2, 3]), "img_shape": (256, 256)}
    image = torch.zeros(3, 256, 256)
    counts = training_positives(model, [(image, target)])
    anchors, levels = model.anchors_for([(256 // s, 256 // s) for s in cfg.model.strides],
                                        torch.device("cpu"))
    expected = ATSSAssigner(topk=cfg.model.topk).assign(anchors, gt_boxes, target["labels"],
                                                        levels).num_pos_per_gt()
    assert len(counts) == 1 and counts[0].tolist() == expected.tolist()
    assert counts[0].sum() > 0
