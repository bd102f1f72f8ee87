"""plot_assignments, plot_assignment_zoom and draw_atss_threshold draw what the assigners
decided, where they are asked to."""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from paa_edu.assigners import ATSSAssigner
from paa_edu.viz import draw_atss_threshold, plot_assignment_zoom, plot_assignments
from paa_edu.viz.style import BOX_PALETTE, GT_COLOR, YELLOW


def _hex(c):
    return matplotlib.colors.to_hex(c)


def test_plot_assignments_panels_and_counts(grid_scene):
    anchors, gts, _, results = grid_scene
    fig = plot_assignments(torch.rand(3, 96, 96), gts, anchors, results)
    assert [ax.get_title().split(":")[0] for ax in fig.axes] == ["MaxIoU", "ATSS"]
    for ax, res in zip(fig.axes, results.values()):
        assert len(ax.patches) == res.num_pos + 2
        assert [t.get_text() for t in ax.texts] == [str(int(c)) for c in res.num_pos_per_gt()]
    assert plot_assignments(None, gts, anchors, results) is not None


def test_plot_assignments_colours_positives_by_gt_and_gt_never_yellow(grid_scene):
    anchors, gts, _, results = grid_scene
    fig = plot_assignments(None, gts, anchors, results)
    ax, res = fig.axes[1], results["ATSS"]
    edges = [_hex(p.get_edgecolor()) for p in ax.patches]
    expected = [_hex(BOX_PALETTE[int(g)]) for g in res.pos_gt_inds()]
    assert edges[:res.num_pos] == expected  # positive anchors: the colour of their GT
    assert edges[res.num_pos:] == [_hex(GT_COLOR)] * 2 and _hex(YELLOW) not in edges
    labels = [_hex(t.get_bbox_patch().get_facecolor()) for t in ax.texts]
    assert labels == [_hex(BOX_PALETTE[0]), _hex(BOX_PALETTE[1])]  # count on its GT's colour
    assert len(fig.legends) == 1


def test_plot_assignments_honours_figsize_and_refuses_boxes_not_n_by_5(grid_scene):
    anchors, gts, _, results = grid_scene
    assert tuple(plot_assignments(None, gts, anchors, results, figsize=(7, 3))
                 .get_size_inches()) == (7, 3)
    with pytest.raises(ValueError, match=r"gt_boxes must be \(N, 5\)"):
        plot_assignments(None, gts.reshape(1, 10), anchors, results)


def test_plot_assignment_zoom_counts_positives_and_ignored_per_object(grid_scene):
    anchors, gts, labels, results = grid_scene
    fig = plot_assignment_zoom(torch.rand(3, 96, 96), gts, anchors, results, gts=[1, 0],
                               class_names=["a", "b"], gt_labels=labels, margin=10.0)
    assert len(fig.axes) == 4  # 2 objects x 2 assigners, row-major
    for ax, (g, name) in zip(fig.axes, [(1, "MaxIoU"), (1, "ATSS"), (0, "MaxIoU"), (0, "ATSS")]):
        gt_inds = results[name].gt_inds
        half = max(gts[g, 2], gts[g, 3]) / 2 + 10.0  # the window, by hand
        near = ((anchors[:, :2] - gts[g, :2]).abs() <= half).all(1)
        n_pos, n_ign = int((gt_inds == g + 1).sum()), int(((gt_inds == -1) & near).sum())
        assert ax.get_title() == f"{name}: {n_pos} pos, {n_ign} ign"
        assert len(ax.patches) == n_pos + n_ign + 1  # + the object itself
        assert ax.get_xlim() == pytest.approx((float(gts[g, 0] - half), float(gts[g, 0] + half)))
        assert ax.get_ylim()[0] > ax.get_ylim()[1]  # y points down
    assert fig.axes[0].get_ylabel() == "GT 1: b 30x10"
    with pytest.raises(ValueError, match="gts"):
        plot_assignment_zoom(None, gts, anchors, results, gts=[2])
    fig = plot_assignment_zoom(None, gts, anchors, results, gts=[0], figsize=(5, 2.5))
    assert tuple(fig.get_size_inches()) == (5, 2.5)


def test_draw_atss_threshold_marks_what_atss_keeps(grid_scene):
    anchors, gts, _, results = grid_scene
    cand, ious, thr, inside = ATSSAssigner(9).candidates(anchors, gts, [36])
    fig, ax = plt.subplots()
    assert draw_atss_threshold(ax, ious[0], float(thr[0]), inside[0], title="GT 0") is fig
    kept = set(cand[0][(ious[0] >= thr[0]) & inside[0]].tolist())
    assert kept == set(results["ATSS"].pos_inds().tolist()) & set(cand[0].tolist())
    green = ax.collections[0].get_offsets()[:, 0]  # the positives' ticks
    np.testing.assert_allclose(np.sort(green), np.sort(ious[0][(ious[0] >= thr[0]) & inside[0]]
                                                       .double().numpy()))
    assert ax.get_title() == f"GT 0: {len(green)}/{ious.shape[1]} positive"
    assert ax.lines[1].get_xdata()[0] == pytest.approx(float(thr[0]))
    by_hand = float(ious[0].mean() + ious[0].std())  # torch's unbiased std, as ATSS
    assert float(thr[0]) == pytest.approx(by_hand)
    new = draw_atss_threshold(None, ious[0], float(thr[0]), inside[0], figsize=(4, 3))
    assert new is not fig and tuple(new.get_size_inches()) == (4, 3)
