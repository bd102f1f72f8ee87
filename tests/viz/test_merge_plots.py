"""The merge on a seam (before / after NMS) and merged detections with capped labels."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from figure_checks import assert_readable
from matplotlib.colors import to_hex
from matplotlib.patches import Polygon

from paa_edu import data
from paa_edu.viz import plot_merge_seam, plot_merged_detections
from paa_edu.viz.merge import class_color, shift_patch_detections
from paa_edu.viz.style import YELLOW, palette_color, text_color_on


def _dets(boxes, scores, labels=None):
    boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 5)
    labels = torch.zeros(len(boxes), dtype=torch.long) if labels is None else torch.tensor(labels)
    return {"boxes": boxes, "scores": torch.tensor(scores), "labels": labels}


# Two 100 px patches of a 180 x 100 image overlapping on x in [80, 100]: the object at
# x = 90 is seen by both (at 90 in the first, at 10 in the second); one more in each alone.
PATCHES = {
    "P__100__80___0": _dets([[10.0, 50.0, 12.0, 6.0, 0.0], [60.0, 20.0, 8.0, 8.0, 0.0]],
                            [0.8, 0.9]),
    "P__100__0___0": _dets([[90.5, 50.0, 12.0, 6.0, 0.0], [30.0, 30.0, 8.0, 8.0, 0.0]],
                           [0.7, 0.6]),
}


def test_shift_patch_detections_moves_boxes_by_their_patch_origin():
    boxes, scores, patch, names = shift_patch_detections(
        {**PATCHES, "P__100__0___60": _dets([[5.0, 7.0, 4.0, 4.0, 0.0]], [0.5])})
    assert names == ["P__100__0___0", "P__100__80___0", "P__100__0___60"]  # rows, then x
    np.testing.assert_allclose(boxes[:, 0].numpy(), [90.5, 30.0, 90.0, 140.0, 5.0])
    np.testing.assert_allclose(boxes[:, 1].numpy(), [50.0, 30.0, 50.0, 20.0, 67.0])
    assert patch.tolist() == [0, 0, 1, 1, 2]
    assert scores.tolist() == pytest.approx([0.7, 0.6, 0.8, 0.9, 0.5])
    with pytest.raises(ValueError, match="rate 1"):
        shift_patch_detections({"P__0.5__0___0": PATCHES["P__100__0___0"]})


def test_plot_merge_seam_shows_the_duplicates_then_one_box():
    merged = data.merge_patch_detections(PATCHES, iou_threshold=0.1)["P"]
    assert len(merged["boxes"]) == 3  # the duplicate at x = 90 is gone
    image = np.zeros((100, 180, 3), np.uint8)
    fig = plot_merge_seam(image, PATCHES, merged, region=(70, 110, 30, 70), score_thr=0.5,
                          patch_size=100, overlap=20)
    before, after = fig.axes[:2]
    assert before.get_title().startswith("before NMS: 2 boxes")
    assert after.get_title().startswith("after the merge's NMS: 1 boxes")
    drawn = [to_hex(p.get_edgecolor()) for p in before.patches if isinstance(p, Polygon)]
    assert sorted(drawn) == sorted([to_hex(palette_color(0)), to_hex(palette_color(1))])
    assert [t.get_text() for t in before.get_legend().get_texts()] == list(sorted(PATCHES))
    strips = [p for p in before.patches if not isinstance(p, Polygon)]
    assert len(strips) == 1 and strips[0].get_x() == pytest.approx(80)  # x in [80, 100]
    assert_readable(fig)
    assert tuple(plot_merge_seam(image, PATCHES, merged, (0, 180, 0, 100), patch_size=100,
                                 overlap=20, figsize=(6, 3)).get_size_inches()) == (6, 3)


def test_plot_merged_detections_caps_the_labels():
    scores = [0.9, 0.3, 0.8, 0.7, 0.95, 0.5]
    dets = _dets([[20.0 + 25 * i, 50.0, 10.0, 6.0, 0.0] for i in range(6)], scores,
                 [0, 1, 0, 1, 2, 2])
    image = np.zeros((100, 180, 3), np.uint8)
    fig = plot_merged_detections(image, dets, ["a", "b", "c"], score_thr=0.4, max_labels=3)
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["0.80", "0.90", "0.95"]  # best 3 of 5
    drawn = {to_hex(p.get_edgecolor()) for p in ax.patches if isinstance(p, Polygon)}
    assert drawn == {to_hex(class_color(c)) for c in (0, 1, 2)}
    seven = [to_hex(class_color(c)) for c in range(7)]
    assert len(set(seven)) == 7 and to_hex(YELLOW) not in seven  # one colour per class
    light = plot_merged_detections(image, _dets([[50.0, 50.0, 9.0, 9.0, 0.0]], [0.9], [5]))
    assert light.axes[0].texts[0].get_color() == text_color_on(class_color(5)) == "black"
    assert sum(isinstance(p, Polygon) for p in ax.patches) == 5  # 0.3 is below the threshold
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c"]
    assert ax.get_title().startswith("5 merged detections")
    assert_readable(fig)
    own_fig, own_ax = plt.subplots()
    assert plot_merged_detections(image, dets, ax=own_ax) is own_fig
    with pytest.raises(ValueError, match="not both"):
        plot_merged_detections(image, dets, ax=own_ax, figsize=(3, 3))
