"""plot_rotated_boxes, plot_detections and plot_detections_vs_gt: what they draw, where, and
what they refuse."""
from __future__ import annotations

import math
import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.patches import Polygon

from paa_edu.geometry import obb2poly
from paa_edu.viz import plot_detections, plot_detections_vs_gt, plot_rotated_boxes
from paa_edu.viz.boxes import as_image
from paa_edu.viz.style import FP_COLOR, GT_COLOR, MISSED_COLOR, TP_COLOR, YELLOW

BOXES = torch.tensor([[10.0, 20.0, 8.0, 4.0, 0.3], [30.0, 5.0, 6.0, 6.0, -1.0]])


def _dets():
    boxes = torch.tensor([[20.0, 20.0, 10.0, 5.0, 0.1], [50.0, 40.0, 8.0, 8.0, math.pi / 3],
                          [60.0, 60.0, 5.0, 5.0, 0.0]])
    return {"boxes": boxes, "scores": torch.tensor([0.9, 0.5, 0.1]),
            "labels": torch.tensor([0, 2, 1])}


def test_plot_rotated_boxes_draws_the_corners():
    fig, ax = plt.subplots()
    patches = plot_rotated_boxes(ax, BOXES, color=["red", "blue"], labels=["a", "b"])
    assert len(patches) == 2 and all(isinstance(p, Polygon) for p in patches)
    np.testing.assert_allclose(patches[0].get_xy()[:4], obb2poly(BOXES)[0].view(4, 2).numpy(),
                               atol=1e-5)
    assert [t.get_text() for t in ax.texts] == ["a", "b"]
    assert all(t.get_fontsize() >= 9 for t in ax.texts)
    with pytest.raises(ValueError, match="color"):
        plot_rotated_boxes(ax, BOXES, color=["red"])


@pytest.mark.parametrize("shape", [(2, 10), (3, 4), (5,), (2, 5, 1)])
def test_plot_rotated_boxes_refuses_what_is_not_n_by_5(shape):
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match=r"boxes must be \(N, 5\)"):
        plot_rotated_boxes(ax, torch.zeros(shape))
    assert not ax.patches  # nothing half-drawn


def test_plot_rotated_boxes_refuses_labels_of_the_wrong_length():
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="labels has 1 entries for 2 boxes"):
        plot_rotated_boxes(ax, BOXES, labels=["only one"])
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        plot_rotated_boxes(BOXES, BOXES)


def test_plot_rotated_boxes_frames_the_boxes_only_on_a_fresh_axes():
    # A 40 x 20 box turned by 90 degrees about (100, 50): corners by hand x in [90, 110],
    # y in [30, 70].
    _, ax = plt.subplots()
    plot_rotated_boxes(ax, [[100.0, 50.0, 40.0, 20.0, math.pi / 2]])
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert 80 <= x0 <= 90 and 110 <= x1 <= 120
    assert y0 > y1, "y must point down (image coordinates)"
    assert 70 <= y0 <= 80 and 20 <= y1 <= 30
    assert ax.get_aspect() == 1.0
    # ... but an Axes whose limits the caller set, or that shows an image, is left alone.
    _, ax = plt.subplots()
    ax.set_xlim(0, 500)
    ax.set_ylim(0, 300)
    plot_rotated_boxes(ax, BOXES)
    assert ax.get_xlim() == (0, 500) and ax.get_ylim() == (0, 300)
    _, ax = plt.subplots()
    ax.imshow(np.zeros((64, 48, 3)))
    before = ax.get_xlim(), ax.get_ylim()
    plot_rotated_boxes(ax, [[200.0, 200.0, 10.0, 10.0, 0.0]])  # outside the image
    assert (ax.get_xlim(), ax.get_ylim()) == before


def test_plot_rotated_boxes_without_an_axes_makes_a_figure_of_figsize():
    patches = plot_rotated_boxes(None, BOXES, figsize=(3, 2))
    fig = patches[0].figure
    assert fig is plt.gcf() and tuple(fig.get_size_inches()) == (3, 2) and fig.dpi >= 100


def test_plot_detections_filters_by_score():
    dets = _dets()
    image = np.zeros((80, 80, 3), dtype=np.uint8)
    fig = plot_detections(image, dets, class_names=["plane", "ship", "car"], score_thr=0.3)
    ax = fig.axes[0]
    assert len(ax.patches) == 2
    assert [t.get_text() for t in ax.texts] == ["plane 0.90", "car 0.50"]
    fig = plot_detections(image, (dets["boxes"], dets["scores"], dets["labels"]), score_thr=0.0)
    assert len(fig.axes[0].patches) == 3
    assert fig.axes[0].texts[0].get_text() == "0 0.90"
    with pytest.raises(ValueError, match="class_names has 2"):
        plot_detections(image, dets, class_names=["plane", "ship"])


def test_plot_detections_draws_into_the_callers_axes():
    fig, (left, right) = plt.subplots(1, 2)
    out = plot_detections(np.zeros((80, 80, 3)), _dets(), ax=right)
    assert out is fig and len(right.patches) == 2 and not left.patches
    fig = plot_detections(None, _dets(), figsize=(4, 3))
    assert tuple(fig.get_size_inches()) == (4, 3)
    with pytest.raises(ValueError, match="either ax= .* or figsize="):
        plot_detections(None, _dets(), ax=right, figsize=(4, 3))


def test_plot_detections_colours_by_class_never_yellow():
    dets = {"boxes": torch.tensor([[10.0 * i + 10, 20.0, 6.0, 4.0, 0.0] for i in range(8)]),
            "scores": torch.ones(8), "labels": torch.arange(8)}
    fig = plot_detections(None, dets, score_thr=0.0)
    edges = {matplotlib.colors.to_hex(p.get_edgecolor()) for p in fig.axes[0].patches}
    assert YELLOW.lower() not in edges and len(edges) == 6  # the 6 box colours, cycling


def test_labels_at_the_image_border_do_not_break_the_layout():
    # Labels of boxes hanging over the borders are clipped to their panel and kept out of the
    # layout, so tight_layout never gives up (pyproject turns its warning into an error).
    g = torch.Generator().manual_seed(0)
    n = 60
    boxes = torch.cat([torch.rand(n, 2, generator=g) * 140 - 6, torch.full((n, 2), 12.0),
                       torch.rand(n, 1, generator=g)], dim=1)
    dets = {"boxes": boxes, "scores": torch.ones(n), "labels": torch.arange(n) % 7}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_detections(np.zeros((128, 128, 3)), dets,
                              class_names=["a-very-long-class-name"] * 7)
    texts = fig.axes[0].texts
    assert len(texts) == n and all(t.get_clip_on() for t in texts)


def test_detections_vs_gt_colours_tp_fp_and_missed():
    gt = {"boxes": torch.tensor([[20.0, 20, 10, 10, 0], [60, 60, 10, 10, 0]]),
          "labels": torch.tensor([0, 0])}
    dets = {"boxes": torch.tensor([[20.0, 20, 10, 10, 0], [90, 90, 8, 8, 0], [60, 60, 10, 10, 0]]),
            "scores": torch.tensor([0.9, 0.8, 0.1]), "labels": torch.tensor([0, 0, 0])}
    fig = plot_detections_vs_gt(None, dets, gt, ["a"], score_thr=0.3)
    edges = [matplotlib.colors.to_hex(p.get_edgecolor()) for p in fig.axes[0].patches]
    hexes = [matplotlib.colors.to_hex(c) for c in (GT_COLOR, MISSED_COLOR, TP_COLOR, FP_COLOR)]
    # GT 0 found, GT 1 missed (its detection is below the threshold); 1 TP, 1 FP
    assert edges == hexes
    assert fig.axes[0].get_title().startswith("1 TP, 1 FP, 1 missed GT")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["true positive", "false positive", "GT found", "GT missed"]
    fig2, ax = plt.subplots()
    assert plot_detections_vs_gt(None, dets, gt, ax=ax) is fig2 and len(ax.patches) == 4
    with pytest.raises(ValueError, match=r"gt boxes must be \(N, 5\)"):
        plot_detections_vs_gt(None, dets, {"boxes": torch.zeros(2, 10), "labels": [0, 0]})


def test_as_image_takes_chw_hwc_and_grey():
    chw = np.random.default_rng(0).random((3, 8, 6))
    assert as_image(chw).shape == (8, 6, 3)
    assert as_image(torch.as_tensor(chw)).shape == (8, 6, 3)
    assert as_image(chw.transpose(1, 2, 0)).shape == (8, 6, 3)
    assert as_image(np.ones((8, 6))).shape == (8, 6, 1)


def test_small_images_are_drawn_pixel_sharp_and_large_ones_smoothed():
    from paa_edu.viz.boxes import SHARP_PIXELS_UP_TO, show_image

    for side, expected in ((256, "nearest"), (SHARP_PIXELS_UP_TO + 1, "antialiased")):
        fig, ax = plt.subplots()
        show_image(ax, np.zeros((side, 8, 3), dtype=np.uint8), BOXES)
        assert ax.images[0].get_interpolation() == expected
        plt.close(fig)
