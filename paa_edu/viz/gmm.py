"""PAA's split of candidate scores into two Gaussians, from a :class:`paa_edu.assigners.PAARecord`.

- :func:`plot_gmm_split`: one GT (``PAAAssigner(record=True).last_record``).
- :func:`plot_score_distributions`: small multiples of several GTs.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from paa_edu.viz.boxes import NEG_COLOR, POS_COLOR, new_figure


def _gaussian(x: np.ndarray, weight: float, mean: float, var: float) -> np.ndarray:
    return weight * np.exp(-0.5 * (x - mean) ** 2 / var) / math.sqrt(2 * math.pi * var)


def draw_gmm_split(ax, record, gt: int) -> None:
    """Candidate scores of one GT: histogram, strip (positives green), both components, cut."""
    if not 0 <= gt < record.num_gts:
        raise ValueError(f"gt must be in [0, {record.num_gts}), got {gt}")
    valid = record.valid[gt]
    scores = record.scores[gt][valid].double().numpy()  # (n,)
    pos = record.positives[gt][valid].numpy()  # (n,)
    if len(scores) == 0:
        ax.set_title(f"GT {gt}: no candidate", fontsize=9)
        return
    lo, hi = scores.min(), scores.max()
    pad = 0.1 * (hi - lo) + 0.1
    ax.hist(scores, bins=min(20, max(5, len(scores) // 2)), density=True,
            color="lightsteelblue", alpha=0.6, label="scores")
    ax.scatter(scores, np.zeros_like(scores), c=np.where(pos, POS_COLOR, NEG_COLOR), s=80,
               zorder=3, marker="|", linewidths=2)
    fit = record.fit
    if bool(fit.fitted[gt]):
        xs = np.linspace(lo - pad, hi + pad, 200)
        low = int(fit.low_component()[gt])
        for k in (low, 1 - low):  # the low-score (positive) component first, solid
            w, m, v = (float(t[gt, k]) for t in (fit.weights, fit.means, fit.variances))
            name, style = ("low", "-") if k == low else ("high", "--")
            ax.plot(xs, _gaussian(xs, w, m, v), style, color="k", linewidth=1,
                    label=f"{name}: w={w:.2f} mu={m:.2f}")
    thr = float(record.thresholds()[gt])
    if not math.isnan(thr):
        ax.axvline(thr, color=POS_COLOR, linestyle=":", label=f"cut {thr:.2f}")
    tag = " (fallback)" if bool(record.fallback[gt]) else ""
    ax.set_title(f"GT {gt}: {int(pos.sum())}/{len(scores)} positive{tag}", fontsize=9)
    ax.set_xlabel("anchor score (lower is better)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, loc="upper right")


def plot_gmm_split(record, gt: int = 0) -> Figure:
    """PAA's split of one GT: scores, both weighted Gaussians, the cut, positives in green."""
    fig, (ax,) = new_figure(1, panel_size=4.0)
    draw_gmm_split(ax, record, gt)
    fig.tight_layout()
    return fig


def plot_score_distributions(record, gts: list[int] | None = None, ncols: int = 4) -> Figure:
    """Small multiples of :func:`plot_gmm_split`; by default the first 8 GTs with candidates."""
    if gts is None:
        gts = record.valid.any(1).nonzero().squeeze(1).tolist()[:8]
    if not gts:
        raise ValueError("no GT to plot: the record has no GT with candidates")
    fig, axes = new_figure(len(gts), ncols=min(ncols, len(gts)))
    for ax, gt in zip(axes, gts):
        draw_gmm_split(ax, record, int(gt))
    fig.tight_layout()
    return fig
