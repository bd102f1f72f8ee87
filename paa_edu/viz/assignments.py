"""Which anchors each assigner makes positive, drawn on the image, and ATSS's ``mean + std`` rule.
"""
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from torch import Tensor

from paa_edu.viz.boxes import plot_rotated_boxes, show_image, square_window
from paa_edu.viz.style import (
    BLACK,
    FONT_SIZE,
    FP_COLOR,
    GT_COLOR,
    HIST_COLOR,
    IGNORED_COLOR,
    NEG_COLOR,
    POS_COLOR,
    as_box_tensor,
    box_color,
    figure_and_axes,
    label_axes,
    legend_below,
    panels,
)


def plot_assignments(image, gt_boxes: Tensor, anchors: Tensor, results: dict,
                     figsize=None) -> Figure:
    """One panel per assigner: its positive anchors, coloured by their GT, and positives per GT.

    Each GT is drawn dashed in ``GT_COLOR`` with its count of positives as a label whose background
    is the colour of its positives. The colours cycle through 6 (``BOX_PALETTE``), so with more GTs
    two objects share a colour; a GT's positives surround it. ``results`` is ``{name:
    AssignResult}`` of the ``anchors`` (A, 5) and ``gt_boxes`` (G, 5) (e.g. ``MaxIoUAssigner(0.5,
    0.4).assign(anchors, gt_boxes, gt_labels)``)."""
    gt_boxes, anchors = as_box_tensor(gt_boxes, "gt_boxes"), as_box_tensor(anchors, "anchors")
    fig, axes = panels(len(results), ncols=len(results), panel_size=3.6, figsize=figsize)
    for ax, (name, res) in zip(axes, results.items()):
        pos_mask = res.pos_mask.cpu()
        show_image(ax, image, torch.cat([gt_boxes, anchors[pos_mask]]))
        pos, gt_of_pos = res.pos_inds().cpu(), res.pos_gt_inds().cpu()
        plot_rotated_boxes(ax, anchors[pos], color=[box_color(g) for g in gt_of_pos.tolist()],
                           linewidth=1.4)
        counts = res.num_pos_per_gt().cpu()
        plot_rotated_boxes(ax, gt_boxes, color=GT_COLOR, linewidth=2.0, linestyle="--",
                           labels=[f"{int(c)}" for c in counts],  # on its positives' colour
                           label_colors=[box_color(g) for g in range(len(gt_boxes))])
        ax.set_title(f"{name}: {int(counts.sum())} positives", fontsize=FONT_SIZE + 1)
    legend_below(fig, [
        Line2D([], [], color=GT_COLOR, linestyle="--", linewidth=2,
               label="GT (label: its positives, on their colour)"),
        Line2D([], [], color=box_color(0), label="positive anchor (colour of its GT)")])
    return fig


def plot_assignment_zoom(image, gt_boxes: Tensor, anchors: Tensor, results: dict, gts: list[int],
                         class_names: list[str] | None = None, gt_labels: Tensor | None = None,
                         margin: float = 20.0, panel_size: float = 2.6, figsize=None) -> Figure:
    """The same objects under several assigners, zoomed: rows = ``gts``, columns = assigners.

    Each panel shows the object (black dashed), its positive anchors (green, solid) and the anchors
    the assigner *ignores* whose centre lies in the window (grey, dotted: neither positive nor
    negative, e.g. MaxIoU's 0.4-0.5 band). The title counts both. ``results`` are those of
    :func:`plot_assignments`; ``class_names`` with ``gt_labels`` (G,) name the rows; ``margin`` is
    the pixels around the object's long side."""
    gt_boxes, anchors = as_box_tensor(gt_boxes, "gt_boxes"), as_box_tensor(anchors, "anchors")
    gts = [int(g) for g in gts]
    if any(not 0 <= g < len(gt_boxes) for g in gts):  # -1 would silently show the last GT
        raise ValueError(f"gts must be in [0, {len(gt_boxes)}), got {gts}")
    fig, axes = panels(len(gts) * len(results), ncols=len(results), panel_size=panel_size,
                       figsize=figsize)
    for r, g in enumerate(gts):
        x0, x1, y0, y1 = square_window(gt_boxes[g], margin)
        inside = ((anchors[:, 0] >= x0) & (anchors[:, 0] <= x1) & (anchors[:, 1] >= y0)
                  & (anchors[:, 1] <= y1))  # (A,) anchor centre in the window
        for c, (name, res) in enumerate(results.items()):
            ax = axes[r * len(results) + c]
            gt_inds = res.gt_inds.cpu()
            pos, ignored = gt_inds == g + 1, (gt_inds == -1) & inside  # (A,) each
            show_image(ax, image, gt_boxes[g:g + 1])
            plot_rotated_boxes(ax, anchors[ignored], color=IGNORED_COLOR, linewidth=1.4,
                               linestyle=":")
            plot_rotated_boxes(ax, anchors[pos], color=POS_COLOR, linewidth=1.6)
            plot_rotated_boxes(ax, gt_boxes[g:g + 1], color=BLACK, linewidth=1.8,
                               linestyle="--")
            ax.set(xlim=(x0, x1), ylim=(y1, y0))
            ax.set_title(f"{name}: {int(pos.sum())} pos, {int(ignored.sum())} ign",
                         fontsize=FONT_SIZE)
            if c == 0:
                w, h = gt_boxes[g, 2:4].tolist()
                kind = ("" if class_names is None or gt_labels is None
                        else f"{class_names[int(gt_labels[g])]} ")
                ax.set_ylabel(f"GT {g}: {kind}{w:.0f}x{h:.0f}", fontsize=FONT_SIZE)
    legend_below(fig, [Line2D([], [], color=BLACK, linestyle="--", linewidth=1.8, label="object"),
                       Line2D([], [], color=POS_COLOR, linewidth=1.6, label="positive anchor"),
                       Line2D([], [], color=IGNORED_COLOR, linestyle=":",
                              label="ignored anchor (centre in the window)")])
    return fig


def draw_atss_threshold(ax, ious: Tensor, threshold: float, inside: Tensor, title: str = "",
                        figsize=None) -> Figure:
    """ATSS's decision for one GT: its candidates' IoUs, ``mean + std`` and the centre test.

    ``ious`` (K,) are the IoUs of the GT's candidates (the topk nearest anchors of every level),
    e.g. row ``g`` of ``ATSSAssigner(9).candidates(anchors, gt_boxes, num_level_anchors)[1]``;
    ``threshold`` their ``mean + std``; ``inside`` (K,) bool, whether the candidate's centre lies
    inside the rotated GT; ``title`` gets the count of positives appended."""
    ious = torch.as_tensor(ious).detach().cpu().double().numpy()
    inside = torch.as_tensor(inside).detach().cpu().bool().numpy()
    fig, ax = figure_and_axes(ax, figsize, (4.8, 3.6))
    pos = (ious >= threshold) & inside
    ax.hist(ious, bins=min(20, max(5, len(ious) // 2)), color=HIST_COLOR, alpha=0.4,
            label="candidate IoUs")
    for mask, color, name in ((pos, POS_COLOR, "positive"),
                              (~pos & inside, NEG_COLOR, "below threshold"),
                              (~inside, FP_COLOR, "centre outside")):
        ax.scatter(ious[mask], [0] * int(mask.sum()), c=color, marker="|", s=120, linewidths=2,
                   zorder=3, label=name)
    ax.axvline(ious.mean(), color=BLACK, linestyle="--", linewidth=1,
               label=f"mean {ious.mean():.2f}")
    ax.axvline(threshold, color=POS_COLOR, linestyle=":", label=f"mean+std {threshold:.2f}")
    ax.set_title(f"{title}{': ' if title else ''}{int(pos.sum())}/{len(ious)} positive",
                 fontsize=FONT_SIZE + 1)
    label_axes(ax, "IoU of anchor and object", "candidates")
    ax.legend(fontsize=FONT_SIZE, loc="upper right")
    return fig
