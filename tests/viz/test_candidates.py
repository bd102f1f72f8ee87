"""PAA's candidates linked between the image and the histogram; pool sizes per initial assigner."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from figure_checks import assert_readable
from matplotlib.colors import to_rgba
from matplotlib.patches import Polygon

from paa_edu.assigners import AssignResult, PAAAssigner
from paa_edu.viz import plot_candidate_scores, plot_pool_sizes
from paa_edu.viz.candidates import SCORE_CMAP, pool_size_counts, ranked_candidates

# Two FPN levels of 4 anchors. Six candidates of GT 0 (anchors 0-5, on both levels), one of GT 1
# (anchor 6); GT 2 has none. The record sorts by score inside each level only.
SCORES = torch.tensor([0.2, 0.3, 0.25, 3.0, 0.22, 3.1, 1.0, 0.0])
RANKED = [0, 4, 2, 1, 3, 5]  # by hand: 0.2 < 0.22 < 0.25 < 0.3 < 3.0 < 3.1
ANCHORS = torch.tensor([[20.0 + 4 * i, 30.0, 8.0, 8.0, 0.0] for i in range(8)])
GT_BOXES = torch.tensor([[30.0, 30.0, 20.0, 10.0, 0.0], [45.0, 30.0, 6.0, 6.0, 0.0],
                         [80.0, 80.0, 6.0, 6.0, 0.0]])


def _record():
    gt_inds = torch.tensor([1, 1, 1, 1, 1, 1, 2, 0])
    init = AssignResult(gt_inds, torch.where(gt_inds > 0, gt_inds - 1, -1), torch.zeros(8), 3)
    paa = PAAAssigner(record=True)
    paa.reassign([init], [SCORES], [4, 4])
    return paa.last_record


def test_ranked_candidates_sorts_by_score_and_keeps_anchor_indices():
    rec = _record()
    inds, scores, positive = ranked_candidates(rec, 0)
    assert rec.anchor_inds[0, :6].tolist() != RANKED  # the table is not sorted across levels
    assert inds.tolist() == RANKED
    np.testing.assert_allclose(scores.numpy(), [0.2, 0.22, 0.25, 0.3, 3.0, 3.1], rtol=1e-6)
    # the positives are the record's, moved with their anchors; the split keeps the low mode
    row = {int(a): bool(p) for a, p in zip(rec.anchor_inds[0], rec.positives[0]) if a >= 0}
    assert positive.tolist() == [row[i] for i in inds.tolist()]
    # low mode 0.2-0.3, mean 0.2425: its most likely member is 0.25 (rank 3), the cut keeps 1-3
    assert positive[:3].all() and not positive[3:].any()
    assert ranked_candidates(rec, 2)[0].numel() == 0
    with pytest.raises(ValueError, match="record=True"):
        ranked_candidates(None, 0)
    with pytest.raises(ValueError, match="gt must be"):
        ranked_candidates(rec, 3)


def test_candidates_share_colours_and_numbers_between_the_panels():
    rec = _record()
    fig = plot_candidate_scores(rec, 0, ANCHORS, GT_BOXES)
    ax_img, ax_hist = fig.axes[:2]
    img_labels = {t.get_text(): t for t in ax_img.texts}
    hist_labels = {t.get_text(): t for t in ax_hist.texts}
    assert set(img_labels) == set(hist_labels) == {"1", "2", "3", "4", "5", "6"}
    cmap = SCORE_CMAP
    for rank, anchor in enumerate(RANKED, start=1):
        label = img_labels[str(rank)]
        # numbered at its anchor's centre, the same colour in both panels
        assert label.get_position() == pytest.approx(ANCHORS[anchor, :2].tolist())
        face = label.get_bbox_patch().get_facecolor()[:3]
        assert to_rgba(hist_labels[str(rank)].get_color())[:3] == pytest.approx(face)
    # best score = the colormap's first colour, worst = its last
    assert to_rgba(hist_labels["1"].get_color()) == pytest.approx(cmap(0.0))
    assert to_rgba(hist_labels["6"].get_color()) == pytest.approx(cmap(1.0))
    ticks = ax_hist.collections[0]
    np.testing.assert_allclose(ticks.get_offsets()[:, 0], [0.2, 0.22, 0.25, 0.3, 3.0, 3.1],
                               rtol=1e-6)
    # positives solid, negatives dashed, the object dotted
    styles = [p.get_linestyle() for p in ax_img.patches if isinstance(p, Polygon)]
    n_pos = int(ranked_candidates(rec, 0)[2].sum())
    assert styles.count("-") == n_pos and styles.count("--") == 6 - n_pos
    assert styles.count(":") == 1
    assert any("PAA score" in a.get_ylabel() for a in fig.axes[2:])  # the colour bar
    assert_readable(fig)


def test_plot_candidate_scores_checks_its_inputs_and_honours_figsize():
    rec = _record()
    fig = plot_candidate_scores(rec, 1, ANCHORS, GT_BOXES, figsize=(8, 3))
    assert tuple(fig.get_size_inches()) == pytest.approx((8, 3))
    with pytest.raises(ValueError, match="no candidate"):
        plot_candidate_scores(rec, 2, ANCHORS, GT_BOXES)
    with pytest.raises(ValueError, match=r"\(N, 5\)"):
        plot_candidate_scores(rec, 0, ANCHORS.reshape(10, 4), GT_BOXES)


def test_pool_size_counts_by_hand():
    counts = pool_size_counts(torch.tensor([0, 1, 1, 3, 12, 4]), max_size=3)
    assert counts.tolist() == [1, 2, 0, 1, 2]  # 0, 1, 2, 3 and "> 3" (4 and 12)


def test_plot_pool_sizes_draws_the_shares_side_by_side():
    sizes = {"maxiou": torch.tensor([3, 5, 12, 2]), "atss": torch.tensor([0, 1, 1, 2])}
    fig = plot_pool_sizes(sizes, max_size=10)
    ax = fig.axes[0]
    bars = ax.patches
    assert len(bars) == 2 * 12  # 0..10 and "> 10", for each start
    heights = np.array([b.get_height() for b in bars]).reshape(2, 12)
    np.testing.assert_allclose(heights[0, [2, 3, 5, 11]], [25, 25, 25, 25])
    np.testing.assert_allclose(heights[1, [0, 1, 2]], [25, 50, 25])
    assert heights.sum(1) == pytest.approx([100, 100])
    assert ax.get_xticklabels()[-1].get_text() == ">10"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "maxiou (4 objects)", "atss (4 objects)"]
    assert_readable(fig)


def test_plot_pool_sizes_honours_ax_and_figsize():
    own_fig, own_ax = plt.subplots(1, 2)
    sizes = {"atss": torch.tensor([0, 1])}
    assert plot_pool_sizes(sizes, ax=own_ax[1]) is own_fig
    assert len(own_ax[1].patches) == 12 and not own_ax[0].patches
    assert tuple(plot_pool_sizes(sizes, figsize=(5, 2)).get_size_inches()) == (5, 2)
    with pytest.raises(ValueError, match="not both"):
        plot_pool_sizes(sizes, ax=own_ax[0], figsize=(5, 2))
