"""plot_gmm_split, plot_score_distributions and draw_gmm_split show PAA's record, and say how
to get one when they are not given one."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from paa_edu.assigners import PAAAssigner
from paa_edu.viz import plot_gmm_split, plot_score_distributions
from paa_edu.viz.gmm import draw_gmm_split


def test_plot_gmm_split_shows_the_record(paa_record):
    rec = paa_record
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


def test_plot_score_distributions_one_panel_per_gt(paa_record):
    fig = plot_score_distributions(paa_record)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 3 and titles[0].startswith("GT 0")  # GT 3 has no candidates
    assert len(plot_score_distributions(paa_record, gts=[0, 3]).axes) == 2
    fig = plot_score_distributions(paa_record, gts=[0, 2], figsize=(6, 2.5))
    assert tuple(fig.get_size_inches()) == (6, 2.5)
    with pytest.raises(ValueError, match=r"gt must be in \[0, 4\), got 7"):
        plot_score_distributions(paa_record, gts=[0, 7])


HOW = r"create PAAAssigner\(record=True\) and read last_record"


@pytest.mark.parametrize("plot", [plot_gmm_split, plot_score_distributions,
                                  lambda r: draw_gmm_split(None, r, 0)])
def test_a_missing_record_says_how_to_get_one(plot):
    assert PAAAssigner().last_record is None  # what a learner passes without record=True
    with pytest.raises(ValueError, match=HOW):
        plot(None)


def test_plot_gmm_split_draws_into_the_callers_axes(paa_record):
    fig, (left, right) = plt.subplots(1, 2)
    assert plot_gmm_split(paa_record, gt=2, ax=right) is fig
    assert right.get_title().startswith("GT 2") and not left.lines
    assert draw_gmm_split(left, paa_record, 0) is fig and left.lines
    fig = plot_gmm_split(paa_record, figsize=(5, 3))
    assert tuple(fig.get_size_inches()) == (5, 3)


def test_the_single_split_keeps_its_legend_off_the_data(paa_record):
    fig = plot_gmm_split(paa_record)
    ax = fig.axes[0]
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1  # right of the panel, covering nothing
    assert legend.x1 <= fig.bbox.x1 + 1  # ... and inside the figure
    with pytest.raises(ValueError, match="legend"):
        draw_gmm_split(None, paa_record, legend="below")
