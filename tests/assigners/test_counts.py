"""Positives per object under several settings, on a 3-anchor row worked by hand."""
from __future__ import annotations

import pytest
import torch

from paa_edu.assigners import (
    AssignResult,
    ATSSAssigner,
    MaxIoUAssigner,
    assign_settings,
    format_counts,
    ignored_per_gt,
    object_names,
    positives_per_gt,
)
from paa_edu.geometry import box_iou_rotated

ROW = torch.tensor([[-40.0, 0, 20, 20, 0], [10, 0, 20, 20, 0], [20, 0, 20, 20, 0]])  # 3 anchors
# GT 0 is anchor 0 (IoUs 1, 0, 0). GT 1, 4 x 4 px, lies inside anchors 1 and 2, so both have
# IoU 16 / 400 = 0.04 with it, exactly tied (IoUs 0, 0.04, 0.04).
GTS = torch.tensor([[-40.0, 0, 20, 20, 0], [15, 0, 4, 4, 0]])
LABELS = torch.tensor([4, 2])


def _by_hand(result: AssignResult) -> list[int]:
    """The oracle: count, one GT at a time, the anchors whose gt_inds is g + 1."""
    return [sum(int(v == g + 1) for v in result.gt_inds.tolist()) for g in range(result.num_gts)]


def test_positives_per_gt_on_the_hand_worked_row():
    settings = {"0.5/0.4": MaxIoUAssigner(0.5, 0.4),  # GT 1: its 2 tied low-quality matches
                "0.5/0.4 one": MaxIoUAssigner(0.5, 0.4, gt_max_assign_all=False),
                "min 0.1": MaxIoUAssigner(0.5, 0.4, min_pos_iou=0.1),  # 0.04 < 0.1: none
                "no low quality": MaxIoUAssigner(0.5, 0.03, match_low_quality=False),
                # ATSS: GT 1's candidates (0, 0.04, 0.04) give mean + std = 0.027 + 0.023 > 0.04
                "ATSS k=3": ATSSAssigner(topk=3)}
    results = assign_settings(settings, ROW, GTS, LABELS, [3])
    counts = positives_per_gt(results)
    assert list(counts) == list(settings)
    expected = {"0.5/0.4": [1, 2], "0.5/0.4 one": [1, 1], "min 0.1": [1, 0],
                "no low quality": [1, 0], "ATSS k=3": [1, 0]}
    assert {name: c.tolist() for name, c in counts.items()} == expected
    for name, result in results.items():
        assert counts[name].tolist() == _by_hand(result)
        assert counts[name].dtype == torch.long


def test_assign_settings_refuses_nothing_to_run():
    with pytest.raises(ValueError, match="settings is empty"):
        assign_settings({}, ROW, GTS, LABELS, [3])


def test_ignored_anchors_are_counted_for_their_best_object():
    ious = box_iou_rotated(GTS, ROW)  # (2, 3)
    banded = MaxIoUAssigner(0.5, 0.03, match_low_quality=False).assign(ROW, GTS, LABELS)
    assert banded.gt_inds.tolist() == [1, -1, -1]  # 0.04 lies in the 0.03-0.5 band
    assert ignored_per_gt(banded, ious).tolist() == [0, 2]
    # Hand-made: anchor 0 overlaps GT 0 most, anchor 1 GT 1; anchors 2, 3 are not ignored.
    made = AssignResult(torch.tensor([-1, -1, 0, 1]), torch.tensor([-1, -1, -1, 0]),
                        torch.zeros(4), 2)
    hand = torch.tensor([[0.45, 0.1, 0.0, 0.9], [0.2, 0.42, 0.3, 0.1]])
    assert ignored_per_gt(made, hand).tolist() == [1, 1]
    with pytest.raises(ValueError, match=r"\(G, A\) = \(2, 4\)"):
        ignored_per_gt(made, hand.T)


def test_object_names_and_table():
    names = object_names(GTS, LABELS, ["a", "b", "car", "d", "truck"])
    assert names == [" 0 truck 20x20", " 1 car 4x4"]
    table = format_counts({"IoU": torch.tensor([1.0, 0.04]), "MaxIoU": torch.tensor([1, 2])},
                          [1, 0], names)
    assert table.splitlines() == ["object            IoU MaxIoU",
                                  " 1 car 4x4      0.040      2",
                                  " 0 truck 20x20  1.000      1"]
    with pytest.raises(ValueError, match="one value per object"):
        format_counts({"MaxIoU": torch.tensor([1, 2, 3])}, [0], names)
