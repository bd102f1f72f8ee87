"""The shared conventions hold for every plot of boxes, assignments, GMM and history: figures
at >= 100 dpi, no text under 9 pt (titles, labels, ticks, legends, box labels); and the
style helpers themselves."""
from __future__ import annotations

import inspect

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.text import Text

from paa_edu import pretrained
from paa_edu.assigners import ATSSAssigner
from paa_edu.viz import assignments, boxes, gmm, history
from paa_edu.viz.style import (
    BOX_PALETTE,
    DPI,
    FONT_SIZE,
    GT_COLOR,
    YELLOW,
    as_box_tensor,
    box_color,
    check_length,
    text_color_on,
)

HELPERS = {"as_image", "show_image", "check_record",  # draw nothing themselves
           "legend_handles", "square_window", "corner_window"}


def _public_plots() -> set[str]:
    return {f"{m.__name__.rsplit('.', 1)[1]}.{name}" for m in (boxes, assignments, gmm, history)
            for name, fn in inspect.getmembers(m, inspect.isfunction)
            if fn.__module__ == m.__name__ and not name.startswith("_") and name not in HELPERS}


def _cases(paa_record, grid_scene):
    anchors, gts, labels, results = grid_scene
    image = torch.rand(3, 96, 96)
    _, ious, thr, inside = ATSSAssigner(9).candidates(anchors, gts, [36])
    dets = {"boxes": gts, "scores": torch.tensor([0.9, 0.4]), "labels": labels}
    snaps = {n: pretrained.load_snapshot_history(n) for n in ("atss", "paa_maxiou")}
    return {
        "boxes.plot_rotated_boxes": lambda: plot_rotated(gts),
        "boxes.plot_detections": lambda: boxes.plot_detections(image, dets, ["a", "b"]),
        "boxes.plot_detections_vs_gt": lambda: boxes.plot_detections_vs_gt(
            image, dets, {"boxes": gts, "labels": labels}, ["a", "b"]),
        "assignments.plot_assignments": lambda: assignments.plot_assignments(
            image, gts, anchors, results),
        "assignments.plot_assignment_zoom": lambda: assignments.plot_assignment_zoom(
            image, gts, anchors, results, gts=[0, 1], class_names=["a", "b"], gt_labels=labels),
        "assignments.draw_atss_threshold": lambda: assignments.draw_atss_threshold(
            None, ious[0], float(thr[0]), inside[0], title="GT 0"),
        "gmm.draw_gmm_split": lambda: gmm.draw_gmm_split(None, paa_record, 0),
        "gmm.plot_gmm_split": lambda: gmm.plot_gmm_split(paa_record),
        "gmm.plot_score_distributions": lambda: gmm.plot_score_distributions(paa_record),
        "history.plot_split_over_training": lambda: history.plot_split_over_training(
            snaps["paa_maxiou"], num_iterations=3),
        "history.plot_positives_over_training": lambda: history.plot_positives_over_training(
            snaps),
        "history.plot_cut_over_training": lambda: history.plot_cut_over_training(
            snaps["paa_maxiou"]),
    }


def plot_rotated(gts):
    boxes.plot_rotated_boxes(None, gts, labels=["a", "b"])
    return plt.gcf()


def test_every_plot_is_covered_by_the_sweep(paa_record, grid_scene):
    assert set(_cases(paa_record, grid_scene)) == _public_plots()


def test_every_plot_has_dpi_100_and_text_of_at_least_9_pt(paa_record, grid_scene):
    small = {}
    for name, make in _cases(paa_record, grid_scene).items():
        fig = make()
        assert fig.dpi >= DPI, name
        fig.canvas.draw()  # makes the tick labels
        texts = [t for t in fig.findobj(Text) if t.get_text().strip() and t.get_visible()]
        assert texts, name
        small[name] = sorted({(t.get_fontsize(), t.get_text()[:30]) for t in texts
                              if t.get_fontsize() < FONT_SIZE})[:3]
        plt.close(fig)
    assert not any(small.values()), {k: v for k, v in small.items() if v}


def test_as_box_tensor_refuses_what_is_not_n_by_5():
    assert as_box_tensor([[1, 2, 3, 4, 0.5]]).shape == (1, 5)
    assert as_box_tensor(np.zeros((0, 7))).shape == (0, 5)
    for shape in ((2, 10), (3, 4), (20,)):
        with pytest.raises(ValueError, match=rf"got shape \({shape[0]}"):
            as_box_tensor(torch.zeros(shape))
    with pytest.raises(ValueError, match="labels has 1 entries for 2 boxes"):
        check_length(["a"], 2, "labels")
    check_length(None, 2, "labels")


def test_box_colours_skip_yellow_and_the_gt_colour_and_text_stays_readable():
    assert [box_color(i) for i in range(7)] == BOX_PALETTE + BOX_PALETTE[:1]
    assert YELLOW not in BOX_PALETTE and GT_COLOR not in BOX_PALETTE
    assert text_color_on("white") == "black" and text_color_on("black") == "white"
    assert text_color_on(YELLOW) == "black"
