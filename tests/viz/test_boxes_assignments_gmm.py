"""The plotting hooks render (Agg) and draw what they are given."""
from __future__ import annotations

import math
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Polygon  # noqa: E402

from paa_edu.assigners import AssignResult, ATSSAssigner, MaxIoUAssigner, PAAAssigner  # noqa: E402
from paa_edu.geometry import obb2poly  # noqa: E402
from paa_edu.viz import (  # noqa: E402
    plot_assignments,
    plot_detections,
    plot_gmm_split,
    plot_rotated_boxes,
    plot_score_distributions,
)


def _record():
    gt_inds = torch.tensor([1, 1, 1, 1, 1, 1, 2, 0, 3, 3, 3])
    init = AssignResult(gt_inds, torch.where(gt_inds > 0, gt_inds - 1, -1),
                        torch.zeros(11), 4)  # GT 4 has no candidate
    scores = torch.tensor([0.2, 0.3, 0.25, 3.0, 3.3, 3.1, 1.0, 0.0, 0.5, 0.6, 2.5])
    paa = PAAAssigner(record=True)
    paa.reassign(init, scores, [6, 5])
    return paa.last_record


def test_plot_rotated_boxes_draws_the_corners():
    fig, ax = plt.subplots()
    boxes = torch.tensor([[10.0, 20.0, 8.0, 4.0, 0.3], [30.0, 5.0, 6.0, 6.0, -1.0]])
    patches = plot_rotated_boxes(ax, boxes, color=["red", "blue"], labels=["a", "b"])
    assert len(patches) == 2 and all(isinstance(p, Polygon) for p in patches)
    np.testing.assert_allclose(patches[0].get_xy()[:4], obb2poly(boxes)[0].view(4, 2).numpy(),
                               atol=1e-5)
    assert [t.get_text() for t in ax.texts] == ["a", "b"]
    with pytest.raises(ValueError, match="color"):
        plot_rotated_boxes(ax, boxes, color=["red"])


def test_plot_gmm_split_shows_the_record():
    rec = _record()
    assert len(plot_gmm_split(rec, gt=0, mixture=False).axes[0].lines) == 3  # 2 Gaussians, cut
    fig = plot_gmm_split(rec, gt=0)
    ax = fig.axes[0]
    assert len(ax.lines) == 5  # two weighted Gaussians, the mixture, the boundary, the cut
    # The boundary is where the two weighted Gaussians cross (scipy as the oracle).
    from scipy.stats import norm
    w, m, v = (t[0].numpy() for t in (rec.fit.weights, rec.fit.means, rec.fit.variances))
    x = ax.lines[3].get_xdata()[0]
    dens = w * norm.pdf(x, m, np.sqrt(v))
    step = (ax.lines[2].get_xdata()[1] - ax.lines[2].get_xdata()[0])
    assert m.min() < x < m.max() + 3 * np.sqrt(v).max()
    before = w * norm.pdf(x - step, m, np.sqrt(v))
    low = int(np.argmin(m))
    assert dens[1 - low] >= dens[low] and before[1 - low] <= before[low]
    cut = ax.lines[-1].get_xdata()[0]
    assert cut == pytest.approx(float(rec.thresholds()[0]))
    strip = ax.collections[0].get_offsets()[:, 0]
    np.testing.assert_allclose(np.sort(strip), np.sort(rec.scores[0][rec.valid[0]].numpy()))
    assert f"{int(rec.positives[0].sum())}/6" in ax.get_title()
    fallback = plot_gmm_split(rec, gt=1).axes[0]  # single candidate: no GMM, fallback
    assert "fallback" in fallback.get_title() and len(fallback.lines) == 1
    with pytest.raises(ValueError, match="gt"):
        plot_gmm_split(rec, gt=9)


def test_plot_score_distributions_one_panel_per_gt():
    rec = _record()
    fig = plot_score_distributions(rec)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 3 and titles[0].startswith("GT 0")  # GT 3 has no candidates
    assert len(plot_score_distributions(rec, gts=[0, 3]).axes) == 2


def _grid_scene():
    """36 anchors on a 6 x 6 grid, two objects, MaxIoU and ATSS results."""
    ys, xs = torch.meshgrid(torch.arange(6), torch.arange(6), indexing="ij")
    ctr = (torch.stack([xs, ys], -1).reshape(-1, 2).float() + 0.5) * 16
    anchors = torch.cat([ctr, torch.full((36, 2), 32.0), torch.zeros(36, 1)], 1)
    gts = torch.tensor([[40.0, 40.0, 50.0, 20.0, 0.4], [70.0, 20.0, 30.0, 10.0, 1.2]])
    labels = torch.tensor([0, 1])
    results = {"MaxIoU": MaxIoUAssigner(0.5, 0.4).assign(anchors, gts, labels),
               "ATSS": ATSSAssigner(9).assign(anchors, gts, labels, [36])}
    return anchors, gts, labels, results


def test_plot_assignments_panels_and_counts():
    anchors, gts, labels, results = _grid_scene()
    image = torch.rand(3, 96, 96)
    fig = plot_assignments(image, gts, anchors, results)
    assert [ax.get_title().split(":")[0] for ax in fig.axes] == ["MaxIoU", "ATSS"]
    for ax, res in zip(fig.axes, results.values()):
        assert len(ax.patches) == res.num_pos + 2
        assert [t.get_text() for t in ax.texts] == [str(int(c)) for c in res.num_pos_per_gt()]
    assert plot_assignments(None, gts, anchors, results) is not None


def test_plot_assignment_zoom_counts_positives_and_ignored_per_object():
    from paa_edu.viz import plot_assignment_zoom
    anchors, gts, labels, results = _grid_scene()
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


def test_draw_atss_threshold_marks_what_atss_keeps():
    from paa_edu.viz import draw_atss_threshold
    anchors, gts, _, results = _grid_scene()
    cand, ious, thr, inside = ATSSAssigner(9).candidates(anchors, gts, [36])
    fig, ax = plt.subplots()
    draw_atss_threshold(ax, ious[0], float(thr[0]), inside[0], title="GT 0")
    kept = set(cand[0][(ious[0] >= thr[0]) & inside[0]].tolist())
    assert kept == set(results["ATSS"].pos_inds().tolist()) & set(cand[0].tolist())
    green = ax.collections[0].get_offsets()[:, 0]  # the positives' ticks
    np.testing.assert_allclose(np.sort(green), np.sort(ious[0][(ious[0] >= thr[0]) & inside[0]]
                                                       .double().numpy()))
    assert ax.get_title() == f"GT 0: {len(green)}/{ious.shape[1]} positive"
    assert ax.lines[1].get_xdata()[0] == pytest.approx(float(thr[0]))
    by_hand = float(ious[0].mean() + ious[0].std())  # torch's unbiased std, as ATSS
    assert float(thr[0]) == pytest.approx(by_hand)
    with pytest.raises(ValueError, match="same length"):
        draw_atss_threshold(ax, ious[0], 0.1, inside[0][:3])
    plt.close(fig)


def test_plot_detections_filters_by_score():
    boxes = torch.tensor([[20.0, 20.0, 10.0, 5.0, 0.1], [50.0, 40.0, 8.0, 8.0, math.pi / 3],
                          [60.0, 60.0, 5.0, 5.0, 0.0]])
    dets = {"boxes": boxes, "scores": torch.tensor([0.9, 0.5, 0.1]),
            "labels": torch.tensor([0, 2, 1])}
    image = np.zeros((80, 80, 3), dtype=np.uint8)
    fig = plot_detections(image, dets, class_names=["plane", "ship", "car"], score_thr=0.3)
    ax = fig.axes[0]
    assert len(ax.patches) == 2
    assert [t.get_text() for t in ax.texts] == ["plane 0.90", "car 0.50"]
    fig = plot_detections(image, (boxes, dets["scores"], dets["labels"]), score_thr=0.0)
    assert len(fig.axes[0].patches) == 3
    assert fig.axes[0].texts[0].get_text() == "0 0.90"
    with pytest.raises(ValueError, match="scores"):
        plot_detections(image, {"boxes": boxes, "labels": dets["labels"]})


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
    plt.close(fig)
