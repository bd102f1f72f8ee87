"""PAA's candidates of one object on the image and in its score histogram, in the same colours and
numbered by rank (1 = the best, lowest score); candidates per object by initial assigner."""
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from torch import Tensor

from paa_edu.viz.boxes import as_image, plot_rotated_boxes, show_image
from paa_edu.viz.gmm import check_record
from paa_edu.viz.style import (
    FONT_SIZE,
    GT_COLOR,
    POS_COLOR,
    add_colorbar,
    as_box_tensor,
    figure_and_axes,
    grouped_bars,
    label_axes,
    panels,
)

# PAA scores in plasma (uniform, colour-blind safe, no sky blue), cut at 0.85: paler would vanish
SCORE_CMAP = ListedColormap(plt.get_cmap("plasma")(np.linspace(0.0, 0.85, 256)),
                            name="plasma_part")


def ranked_candidates(record, gt: int) -> tuple[Tensor, Tensor, Tensor]:
    """The candidates of GT ``gt`` in ``record`` (a :class:`paa_edu.assigners.PAARecord`), sorted
    by score, lowest (best) first: ``(anchor_inds, scores, positive)``, (n,) long indices into the
    image's anchors, (n,) float scores, (n,) bool final positives; candidate ``i`` has rank ``i +
    1``."""
    gt = check_record(record, gt)
    valid = record.valid[gt]  # (K,)
    scores = record.scores[gt][valid].float()  # (n,)
    order = torch.argsort(scores, stable=True)  # (n,)
    return (record.anchor_inds[gt][valid][order], scores[order],
            record.positives[gt][valid][order])


def _zoom(boxes: Tensor, margin: float) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) of the square that holds every box (N, 5) plus ``margin`` px."""
    half = boxes[:, 2:4].max(1).values / 2 * 1.5  # (N,) a rotated box stays inside this
    x0, x1 = float((boxes[:, 0] - half).min()), float((boxes[:, 0] + half).max())
    y0, y1 = float((boxes[:, 1] - half).min()), float((boxes[:, 1] + half).max())
    side = max(x1 - x0, y1 - y0) / 2 + margin
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return cx - side, cx + side, cy - side, cy + side


def _draw_anchors(ax, image, box: Tensor, anchors: Tensor, colors, positive: Tensor,
                  margin: float) -> None:
    """Left panel: the object (dotted sky blue), its candidates, numbered at their centres."""
    show_image(ax, image, box[None])
    x0, x1, y0, y1 = _zoom(torch.cat([box[None], anchors]), margin)
    # Labels of anchors with the same centre would cover each other: the k-th is moved k steps.
    at = anchors[:, :2].round()  # (n, 2)
    dy = torch.tensor([(at[:i] == at[i]).all(1).sum() * 0.05 * (x1 - x0) for i in range(len(at))])
    for i in torch.argsort(positive.long(), stable=True).tolist():  # positives on top
        plot_rotated_boxes(ax, anchors[i:i + 1], color=colors[i],
                           linewidth=2.2 if positive[i] else 1.4,
                           linestyle="-" if positive[i] else "--")
        ax.text(float(anchors[i, 0]), float(anchors[i, 1] + dy[i]), str(i + 1),
                fontsize=FONT_SIZE, ha="center", va="center", color="white", clip_on=True,
                fontweight="bold" if positive[i] else "normal",
                bbox=dict(facecolor=colors[i], alpha=0.85, pad=1, linewidth=0))
    plot_rotated_boxes(ax, box[None], color=GT_COLOR, linewidth=2.5, linestyle=":")
    if image is not None:  # stay on the image
        height, width = as_image(image).shape[:2]
        x0, x1, y0, y1 = max(x0, -0.5), min(x1, width - 0.5), max(y0, -0.5), min(y1, height - 0.5)
    ax.set(xlim=(x0, x1), ylim=(y1, y0))  # y points down, as in the image
    ax.legend(handles=[Line2D([], [], color="0.3", lw=2.2, label="positive"),
                       Line2D([], [], color="0.3", lw=1.4, ls="--", label="negative"),
                       Line2D([], [], color=GT_COLOR, lw=2.5, ls=":", label="object")],
              fontsize=FONT_SIZE, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=3,
              frameon=False)


def _draw_histogram(ax, scores: np.ndarray, colors, positive: np.ndarray, cut: float) -> None:
    """Right panel: the histogram, one tick per candidate in its colour, numbered by rank."""
    ax.hist(scores, bins=min(20, max(5, len(scores) // 2)), color="0.85", label="scores")
    ax.scatter(scores, np.zeros_like(scores), c=colors, marker="|", s=260, linewidths=2.5,
               zorder=3, clip_on=False)
    trans = ax.get_xaxis_transform()  # x in data, y in axes fractions
    for i, (s, pos) in enumerate(zip(scores, positive)):
        ax.text(s, 0.06 + 0.075 * (i % 4), str(i + 1), transform=trans, fontsize=FONT_SIZE,
                ha="center", color=colors[i], fontweight="bold" if pos else "normal")
    if np.isfinite(cut):
        ax.axvline(cut, color=POS_COLOR, linestyle=":", linewidth=2,
                   label=f"cut {cut:.2f}: {int(positive.sum())} positive")
    label_axes(ax, "PAA score (lower is better)", "candidates")
    ax.legend(fontsize=FONT_SIZE, loc="upper right")


def plot_candidate_scores(record, gt: int, anchors: Tensor, gt_boxes: Tensor, image=None,
                          title: str | None = None, margin: float = 6.0, figsize=None) -> Figure:
    """One object's PAA candidates, on the image and in the score histogram, linked by colour.

    Both panels use one colour per candidate, from its score (colour bar), and the same number, its
    rank (1 = the lowest, best score). Positives are solid boxes and bold numbers. ``record`` is
    the :class:`paa_edu.assigners.PAARecord` of the image whose ``anchors`` (A, 5) its
    ``anchor_inds`` index and whose objects are ``gt_boxes`` (G, 5); ``gt`` is the object's row;
    ``margin`` the pixels around the object and its candidates in the zoom."""
    anchors, gt_boxes = as_box_tensor(anchors, "anchors"), as_box_tensor(gt_boxes, "gt_boxes")
    inds, scores, positive = ranked_candidates(record, gt)
    if len(inds) == 0:
        raise ValueError(f"GT {gt} has no candidate: nothing to plot")
    norm = Normalize(float(scores.min()), float(scores.max()) + 1e-9)
    colors = [SCORE_CMAP(norm(float(s))) for s in scores]
    fig, (ax_img, ax_hist) = panels(2, ncols=2, figsize=figsize or (10.0, 4.6))
    _draw_anchors(ax_img, image, gt_boxes[gt], anchors[inds], colors, positive, margin)
    _draw_histogram(ax_hist, scores.double().numpy(), colors, positive.numpy(),
                    float(record.thresholds()[gt]))
    add_colorbar(fig, plt.cm.ScalarMappable(norm=norm, cmap=SCORE_CMAP), ax_img,
                 "PAA score (lower is better)", shrink=0.85)
    fig.suptitle(title or f"GT {gt}: {len(inds)} candidates, numbered by score",
                 fontsize=FONT_SIZE + 1)
    fig.tight_layout()
    return fig


def pool_size_counts(sizes: Tensor, max_size: int) -> Tensor:
    """(max_size + 2,) how many objects have 0, 1, ..., ``max_size``, more candidates, from
    ``sizes`` (N,) candidates per object (``AssignResult.num_pos_per_gt()``)."""
    sizes = torch.as_tensor(sizes).long().reshape(-1)
    return torch.bincount(sizes.clamp(max=max_size + 1), minlength=max_size + 2)


def plot_pool_sizes(pool_sizes: dict, max_size: int = 10, ax=None, figsize=None) -> Figure:
    """Share of objects per candidate-pool size, side by side for several initial assigners:
    ``pool_sizes`` maps names to (N,) candidates per object (e.g. ``{"maxiou": ..., "atss":
    ...}``); pools larger than ``max_size`` share the last bar, labelled ``> max_size``."""
    new_figure = ax is None
    fig, ax = figure_and_axes(ax, figsize, (7.0, 3.6))
    shares = {}  # {label: (max_size + 2,) % of the objects}
    for name, sizes in pool_sizes.items():
        counts = pool_size_counts(sizes, max_size).double()
        share = 100 * counts / counts.sum().clamp(min=1)
        shares[f"{name} ({len(sizes)} objects)"] = share.numpy()
    grouped_bars(ax, shares, max_size + 2)
    ax.set_xticks(range(max_size + 2), [str(b) for b in range(max_size + 1)] + [f">{max_size}"])
    label_axes(ax, "candidates of an object (its pool size)", "objects (%)")
    ax.legend(fontsize=FONT_SIZE)
    if new_figure:
        fig.tight_layout()
    return fig
