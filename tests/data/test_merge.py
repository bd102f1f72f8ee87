"""Merging patch detections: offsets, class-wise NMS, Task-1 files; merge undoes the split."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from paa_edu.data import (
    SYNTHETIC_CLASSES,
    merge_patch_detections,
    parse_patch_name,
    read_label_file,
    write_task1_submission,
)
from paa_edu.geometry import box_iou_rotated, poly2obb


def test_parse_patch_name():
    assert parse_patch_name("P0001__1024__824___0") == ("P0001", 824, 0, 1.0)
    assert parse_patch_name("P0001__1024__824___976.png") == ("P0001", 824, 976, 1.0)
    assert parse_patch_name("a__b__1__512__0___16") == ("a__b__1", 0, 16, 1.0)
    # the DOTA devkit's names carry the resize rate in the middle field
    assert parse_patch_name("P0003__1__100___200") == ("P0003", 100, 200, 1.0)
    assert parse_patch_name("P0003__0.5__824___0") == ("P0003", 824, 0, 0.5)
    assert parse_patch_name("P0003__1.5__0___8.txt").rate == 1.5
    for bad in ("P0001", "P0001__1024__x___0", "P0001__1024__5__0", "P0001__-1__5___0"):
        with pytest.raises(ValueError, match="does not match"):
            parse_patch_name(bad)
    for bad in ("P0001__0__5___0", "P0001__1024.0__5___0", "P0001__0.0__5___0"):
        with pytest.raises(ValueError, match="neither a patch size"):
            parse_patch_name(bad)


def test_patch_sizes_that_would_read_as_a_rate_are_refused():
    from paa_edu.data import patch_name
    assert parse_patch_name(patch_name("P0001", 16, 3, 4)) == ("P0001", 3, 4, 1.0)
    with pytest.raises(ValueError, match="patch_size must be >= 16"):
        patch_name("P0001", 8, 0, 0)


def _det(boxes, scores, labels):
    return {"boxes": torch.tensor(boxes, dtype=torch.float64).reshape(-1, 5),
            "scores": torch.tensor(scores, dtype=torch.float64),
            "labels": torch.tensor(labels, dtype=torch.long)}


def test_offsets_and_classwise_nms():
    patches = {
        "A__100__0___0": _det([[90, 50, 20, 10, 0.3]], [0.9], [1]),
        "A__100__80___0": _det([[10, 50, 20, 10, 0.3], [10, 50, 20, 10, 0.3]], [0.8, 0.7],
                               [1, 2]),
        "B__100__0___80": _det([[5, 5, 4, 2, 0.0]], [0.5], [0]),
    }
    merged = merge_patch_detections(patches)
    assert sorted(merged) == ["A", "B"]
    # the label-1 copies coincide after the shift -> one kept; the label-2 box survives
    assert merged["A"]["labels"].tolist() == [1, 2]
    assert merged["A"]["scores"].tolist() == pytest.approx([0.9, 0.7])
    torch.testing.assert_close(merged["A"]["boxes"][:, :2],
                               torch.tensor([[90.0, 50.0], [90.0, 50.0]], dtype=torch.float64))
    torch.testing.assert_close(merged["B"]["boxes"][0, :2],
                               torch.tensor([5.0, 85.0], dtype=torch.float64))


def test_devkit_rate_names_are_divided_by_the_rate():
    """As the devkit's ResultMerge: original = (patch coordinate + offset) / rate, and patches
    of several rates of one image merge together."""
    box = [100.0, 20.0, 30.0, 10.0, 0.4]
    merged = merge_patch_detections({
        "P0001__0.5__824___0": _det([box], [0.9], [0]),
        "P0001__1__0___0": _det([[10.0, 10.0, 4.0, 4.0, 0.0]], [0.8], [0]),
        "P0001__2__600___40": _det([[1848.0 * 2 - 600, 40.0, 60.0, 20.0, 0.4]], [0.7], [0]),
    })
    assert list(merged) == ["P0001"]
    boxes = merged["P0001"]["boxes"]  # the rate-2 copy coincides with the rate-0.5 one
    assert merged["P0001"]["scores"].tolist() == pytest.approx([0.9, 0.8])
    torch.testing.assert_close(boxes[0], torch.tensor([1848.0, 40.0, 60.0, 20.0, 0.4],
                                                      dtype=torch.float64))
    torch.testing.assert_close(boxes[1], torch.tensor([10.0, 10.0, 4.0, 4.0, 0.0],
                                                      dtype=torch.float64))


def test_task1_refuses_image_names_with_whitespace(tmp_path):
    with pytest.raises(ValueError, match="'P 0001' contains whitespace"):
        write_task1_submission(tmp_path / "out", {"P 0001": _det([[1, 1, 2, 2, 0]], [0.1], [0])},
                               ["a"])
    assert not (tmp_path / "out").exists()  # nothing written
    with pytest.raises(ValueError, match="whitespace"):
        merge_patch_detections({"P\t1__1024__0___0": _det([[1, 1, 2, 2, 0]], [0.1], [0])})


def test_merge_rejects_a_name_that_is_not_a_patch_name():
    with pytest.raises(ValueError, match="does not match"):
        merge_patch_detections({"A": _det([[1, 1, 2, 2, 0]], [0.1], [0])})


def test_merge_undoes_the_split(split_scene):
    """Patch labels used as detections merge back to exactly the original objects."""
    names = SYNTHETIC_CLASSES
    patch_dets = {}
    for path in sorted((split_scene["dst"] / "labelTxt").iterdir()):
        target = read_label_file(path, names)
        keep = ~target["difficult"]  # a detector is not asked to find truncated slivers
        boxes = target["boxes"][keep].double()  # (K, 5)
        # whole copies have the largest area, so NMS keeps them over clipped copies
        patch_dets[path.stem] = {"boxes": boxes, "scores": boxes[:, 2] * boxes[:, 3] / 1e5,
                                 "labels": target["labels"][keep]}
    merged = merge_patch_detections(patch_dets, iou_threshold=0.1)["P0001"]
    truth = read_label_file(split_scene["src"] / "labelTxt" / "P0001.txt", names)
    assert len(merged["boxes"]) == len(truth["boxes"])
    ious = box_iou_rotated(truth["boxes"].double(), merged["boxes"])  # (M, M)
    best, best_j = ious.max(dim=1)
    assert torch.all(best > 0.999)
    assert torch.equal(merged["labels"][best_j], truth["labels"])
    assert len(set(best_j.tolist())) == len(best_j)


def test_task1_files(tmp_path):
    dets = {"P0002": _det([[50, 40, 30, 10, 0.5]], [0.25], [1]),
            "P0001": _det([[10, 10, 8, 4, 0.0], [20, 30, 8, 4, 1.0]], [0.9, 0.8], [1, 0])}
    paths = write_task1_submission(tmp_path, dets, ["plane", "ship", "harbor"])
    assert [p.name for p in paths] == ["Task1_plane.txt", "Task1_ship.txt", "Task1_harbor.txt"]
    assert paths[2].read_text() == ""
    lines = paths[1].read_text().splitlines()
    assert [line.split()[:2] for line in lines] == [["P0001", "0.900000"], ["P0002", "0.250000"]]
    polys = torch.tensor([[float(v) for v in line.split()[2:]] for line in lines],
                         dtype=torch.float64)  # (2, 8)
    back = poly2obb(polys, "le135")
    expected = torch.cat([dets["P0001"]["boxes"][:1], dets["P0002"]["boxes"]])
    assert torch.all(box_iou_rotated(back, expected, aligned=True) > 0.999)
    with pytest.raises(ValueError, match="label 5"):
        write_task1_submission(tmp_path, {"X": _det([[1, 1, 2, 2, 0]], [0.1], [5])}, ["a"])
    assert np.isclose(float(paths[0].read_text().split()[1]), 0.8)
