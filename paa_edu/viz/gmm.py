"""PAA's split of one GT's candidate scores into two Gaussians, from the
:class:`paa_edu.assigners.PAARecord` of ``PAAAssigner(record=True)`` after one assignment
(``paa.last_record``) or of a training snapshot (:func:`paa_edu.engine.snapshots.paa_record`)."""
import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from paa_edu.viz.style import (
    BLACK,
    FONT_SIZE,
    HIST_COLOR,
    NEG_COLOR,
    POS_COLOR,
    figure_and_axes,
    label_axes,
    panels,
)

LEGEND_PLACES = ("inside", "outside", "none")


def check_record(record, gt: int | None = None) -> int | None:
    """Refuse a missing record, saying how to get one, and a ``gt`` (returned as an int) that is
    not one of its rows: -1 would silently show the last GT."""
    if record is None:
        raise ValueError("record is None: create PAAAssigner(record=True) and read last_record "
                         "(after one assign / reassign)")
    if gt is not None and not 0 <= int(gt) < record.num_gts:
        raise ValueError(f"gt must be in [0, {record.num_gts}), got {gt}")
    return None if gt is None else int(gt)


def legend_handles() -> list:
    """Handles for one legend shared by many :func:`draw_gmm_split` panels (generic names)."""
    ticks = dict(marker="|", linestyle="", markersize=10, markeredgewidth=2)
    return [Patch(color=HIST_COLOR, alpha=0.4, label="scores"),
            Line2D([], [], color=POS_COLOR, label="positive", **ticks),
            Line2D([], [], color=NEG_COLOR, label="negative", **ticks),
            Line2D([], [], color=BLACK, linewidth=1, label="low component"),
            Line2D([], [], color=BLACK, linewidth=1, linestyle="--", label="high component"),
            Line2D([], [], color="0.5", linewidth=2, alpha=0.5, label="mixture"),
            Line2D([], [], color="0.4", linestyle="-.", label="boundary"),
            Line2D([], [], color=POS_COLOR, linestyle=":", label="cut")]


def draw_gmm_split(ax, record, gt: int = 0, mixture: bool = True, figsize=None,
                   legend: str = "inside") -> Figure:
    """Candidate scores of one GT: histogram, strip (positives green), both components, cut.

    ``gt`` is the GT's row in ``record`` (its index in the image's ``gt_boxes``). The cut (green
    dots) is mmdetection's rule: the most likely member of the low component. ``mixture`` adds the
    mixture density (grey) and the decision boundary, where the high component becomes the more
    likely one (grey dash-dot). ``legend``: ``"inside"`` (upper right, over the panel),
    ``"outside"`` (right of the panel, covering nothing) or ``"none"``."""
    if legend not in LEGEND_PLACES:
        raise ValueError(f"legend must be one of {LEGEND_PLACES}, got {legend!r}")
    gt = check_record(record, gt)
    fig, ax = figure_and_axes(ax, figsize, (4.0, 4.0))
    valid = record.valid[gt]
    scores = record.scores[gt][valid].double().numpy()  # (n,)
    pos = record.positives[gt][valid].numpy()  # (n,)
    if len(scores) == 0:
        ax.set_title(f"GT {gt}: no candidate", fontsize=FONT_SIZE)
        return fig
    lo, hi = scores.min(), scores.max()
    pad = 0.1 * (hi - lo) + 0.1
    ax.hist(scores, bins=min(20, max(5, len(scores) // 2)), density=True,
            color=HIST_COLOR, alpha=0.4, label="scores")
    ax.scatter(scores, np.zeros_like(scores), c=np.where(pos, POS_COLOR, NEG_COLOR), s=80,
               zorder=3, marker="|", linewidths=2)
    fit = record.fit
    if bool(fit.fitted[gt]):
        xs = np.linspace(lo - pad, hi + pad, 400)
        low = int(fit.low_component()[gt])
        curves = []
        for k in (low, 1 - low):  # the low-score (positive) component first, solid
            w, m, v = (float(t[gt, k]) for t in (fit.weights, fit.means, fit.variances))
            name, style = ("low", "-") if k == low else ("high", "--")
            curves.append(w * np.exp(-0.5 * (xs - m) ** 2 / v) / math.sqrt(2 * math.pi * v))
            ax.plot(xs, curves[-1], style, color=BLACK, linewidth=1,
                    label=f"{name}: w={w:.2f} mu={m:.2f} var={v:.3f}")
        if mixture:
            ax.plot(xs, curves[0] + curves[1], color="0.5", linewidth=2,
                    alpha=0.5, label="mixture")
            # the decision boundary: first x right of the low mean where the high one wins
            flips = np.flatnonzero((xs > float(fit.means[gt, low])) & (curves[1] > curves[0]))
            if len(flips):
                ax.axvline(xs[flips[0]], color="0.4", linestyle="-.",
                           label=f"boundary {xs[flips[0]]:.2f}")
    thr = float(record.thresholds()[gt])
    if not math.isnan(thr):
        ax.axvline(thr, color=POS_COLOR, linestyle=":", label=f"cut {thr:.2f}")
    tag = " (fallback)" if bool(record.fallback[gt]) else ""
    n_iter = int(fit.n_iter[gt])
    em = f", EM {n_iter} it" if n_iter > 0 else ""  # snapshots do not keep n_iter
    ax.set_title(f"GT {gt}: {int(pos.sum())}/{len(scores)} positive{tag}{em}",
                 fontsize=FONT_SIZE)
    label_axes(ax, "anchor score (lower is better)", "density")
    if legend == "inside":
        ax.legend(fontsize=FONT_SIZE, loc="upper right")
    elif legend == "outside":
        ax.legend(fontsize=FONT_SIZE, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  borderaxespad=0.0, frameon=False)
    return fig


def plot_gmm_split(record, gt: int = 0, mixture: bool = True, ax=None, figsize=None) -> Figure:
    """PAA's split of one GT (arguments of :func:`draw_gmm_split`), its legend with the fitted
    weights, means and variances right of the panel (a new figure is 7 x 3.6 in)."""
    if ax is None and figsize is None:
        figsize = (7.0, 3.6)
    fig = draw_gmm_split(ax, record, gt, mixture=mixture, figsize=figsize, legend="outside")
    fig.tight_layout()
    return fig


def plot_score_distributions(record, gts: list[int] | None = None, ncols: int = 4,
                             figsize=None) -> Figure:
    """Small multiples of :func:`draw_gmm_split` for ``gts`` (default: first 8 with candidates)."""
    check_record(record)
    if gts is None:
        gts = record.valid.any(1).nonzero().squeeze(1).tolist()[:8]
    gts = [check_record(record, g) for g in gts]
    fig, axes = panels(len(gts), ncols=min(ncols, len(gts)), figsize=figsize)
    for ax, gt in zip(axes, gts):
        draw_gmm_split(ax, record, gt)
    fig.tight_layout()
    return fig
