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


def _decision_boundary(xs: np.ndarray, fit, gt: int, low: int) -> float | None:
    """First x (on the grid ``xs``) right of the low mean where the high component wins."""
    w, m, v = (fit.weights[gt].double().numpy(), fit.means[gt].double().numpy(),
               fit.variances[gt].double().numpy())
    dens = np.stack([_gaussian(xs, w[k], m[k], v[k]) for k in (low, 1 - low)])  # (2, X)
    flips = np.flatnonzero((xs > m[low]) & (dens[1] > dens[0]))
    return float(xs[flips[0]]) if len(flips) else None


def draw_gmm_split(ax, record, gt: int, mixture: bool = True) -> None:
    """Candidate scores of one GT: histogram, strip (positives green), both components, cut.

    Args:
        ax: matplotlib Axes to draw on.
        record: a :class:`paa_edu.assigners.PAARecord` (``PAAAssigner(record=True)``).
        gt: row of the GT in the record.
        mixture: also draw the mixture density (grey) and the decision boundary, where the
            high component becomes the more likely one (grey dash-dot); the cut (green dots)
            is mmdetection's rule: the most likely member of the low component.
    """
    if record is None:
        raise ValueError("record is None: create PAAAssigner(record=True) and read last_record")
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
        xs = np.linspace(lo - pad, hi + pad, 400)
        low = int(fit.low_component()[gt])
        total = np.zeros_like(xs)
        for k in (low, 1 - low):  # the low-score (positive) component first, solid
            w, m, v = (float(t[gt, k]) for t in (fit.weights, fit.means, fit.variances))
            name, style = ("low", "-") if k == low else ("high", "--")
            curve = _gaussian(xs, w, m, v)
            total += curve
            ax.plot(xs, curve, style, color="k", linewidth=1,
                    label=f"{name}: w={w:.2f} mu={m:.2f} var={v:.3f}")
        if mixture:
            ax.plot(xs, total, color="0.5", linewidth=2, alpha=0.5, label="mixture")
            boundary = _decision_boundary(xs, fit, gt, low)
            if boundary is not None:
                ax.axvline(boundary, color="0.4", linestyle="-.",
                           label=f"boundary {boundary:.2f}")
    thr = float(record.thresholds()[gt])
    if not math.isnan(thr):
        ax.axvline(thr, color=POS_COLOR, linestyle=":", label=f"cut {thr:.2f}")
    tag = " (fallback)" if bool(record.fallback[gt]) else ""
    n_iter = int(fit.n_iter[gt])
    em = f", EM {n_iter} it" if n_iter > 0 else ""  # snapshots do not keep n_iter
    ax.set_title(f"GT {gt}: {int(pos.sum())}/{len(scores)} positive{tag}{em}", fontsize=9)
    ax.set_xlabel("anchor score (lower is better)", fontsize=9)
    ax.set_ylabel("density", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=7, loc="upper right")


def plot_gmm_split(record, gt: int = 0, mixture: bool = True) -> Figure:
    """PAA's split of one GT: scores, both weighted Gaussians, the cut, positives in green
    (see :func:`draw_gmm_split`; ``mixture`` adds the mixture density and decision boundary)."""
    fig, (ax,) = new_figure(1, panel_size=4.0)
    draw_gmm_split(ax, record, gt, mixture=mixture)
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
