"""Which anchors each assigner makes positive, drawn on the image."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor

from paa_edu.viz.boxes import GT_COLOR, new_figure, plot_rotated_boxes, show_image


def plot_assignments(image, gt_boxes: Tensor, anchors: Tensor, results: dict) -> Figure:
    """One panel per assigner: its positive anchors, coloured by GT, and positives per GT.

    Args:
        image: (3, H, W) tensor, (H, W, 3) array, or None.
        gt_boxes: (G, 5). anchors: (A, 5).
        results: name -> :class:`AssignResult` for these anchors.
    """
    if not results:
        raise ValueError("results is empty: pass {name: AssignResult}")
    gt_boxes, anchors = gt_boxes.detach().cpu(), anchors.detach().cpu()
    cmap = plt.get_cmap("tab10")
    fig, axes = new_figure(len(results), ncols=len(results), panel_size=3.6)
    for ax, (name, res) in zip(axes, results.items()):
        if res.num_anchors != len(anchors):
            raise ValueError(f"results[{name!r}] has {res.num_anchors} anchors, "
                             f"anchors has {len(anchors)}")
        show_image(ax, image, torch.cat([gt_boxes, anchors[res.pos_mask.cpu()]]))
        pos = res.pos_inds().cpu()
        gt_of_pos = res.pos_gt_inds().cpu()
        plot_rotated_boxes(ax, anchors[pos], color=[cmap(int(g) % 10) for g in gt_of_pos],
                           linewidth=1.4)
        counts = res.num_pos_per_gt().cpu()
        plot_rotated_boxes(ax, gt_boxes, color=GT_COLOR, linewidth=2.0, linestyle="--",
                           labels=[f"{int(c)}" for c in counts], text_color="black")
        ax.set_title(f"{name}: {int(counts.sum())} positives", fontsize=9)
    fig.tight_layout()
    return fig


def _zoom_window(box: Tensor, margin: float) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) of a square window centred on ``box`` (5,), side = long side + 2 margin."""
    cx, cy, w, h = (float(v) for v in box[:4])
    half = max(w, h) / 2 + margin
    return cx - half, cx + half, cy - half, cy + half


def plot_assignment_zoom(image, gt_boxes: Tensor, anchors: Tensor, results: dict, gts: list[int],
                         class_names: list[str] | None = None, gt_labels: Tensor | None = None,
                         margin: float = 20.0, panel_size: float = 2.6) -> Figure:
    """The same objects under several assigners, zoomed: rows = ``gts``, columns = assigners.

    Each panel shows the object (black dashed), its positive anchors (green, solid) and the
    anchors the assigner *ignores* whose centre lies in the window (grey, dotted: neither
    positive nor negative, e.g. MaxIoU's 0.4-0.5 band). The title counts both.

    Args:
        image: (3, H, W) tensor, (H, W, 3) array, or None.
        gt_boxes: (G, 5). anchors: (A, 5).
        results: name -> :class:`AssignResult` for these anchors (one column each).
        gts: indices of the objects to show (one row each).
        class_names, gt_labels: (G,) optional, to name the objects in the row titles.
        margin: pixels around the object's long side.
    Returns:
        the Figure.
    """
    if not results or not gts:
        raise ValueError("pass at least one result ({name: AssignResult}) and one gt index")
    gt_boxes, anchors = gt_boxes.detach().cpu(), anchors.detach().cpu()
    if any(not 0 <= int(g) < len(gt_boxes) for g in gts):
        raise ValueError(f"gts must be in [0, {len(gt_boxes)}), got {list(gts)}")
    fig, axes = new_figure(len(gts) * len(results), ncols=len(results), panel_size=panel_size)
    for r, g in enumerate(int(g) for g in gts):
        x0, x1, y0, y1 = _zoom_window(gt_boxes[g], margin)
        inside = ((anchors[:, 0] >= x0) & (anchors[:, 0] <= x1) & (anchors[:, 1] >= y0)
                  & (anchors[:, 1] <= y1))  # (A,) anchor centre in the window
        for c, (name, res) in enumerate(results.items()):
            ax = axes[r * len(results) + c]
            if res.num_anchors != len(anchors):
                raise ValueError(f"results[{name!r}] has {res.num_anchors} anchors, "
                                 f"anchors has {len(anchors)}")
            gt_inds = res.gt_inds.cpu()
            pos, ignored = gt_inds == g + 1, (gt_inds == -1) & inside  # (A,) each
            show_image(ax, image, gt_boxes[g:g + 1])
            plot_rotated_boxes(ax, anchors[ignored], color="0.5", linewidth=1.0, linestyle=":")
            plot_rotated_boxes(ax, anchors[pos], color="tab:green", linewidth=1.6)
            plot_rotated_boxes(ax, gt_boxes[g:g + 1], color="black", linewidth=1.8,
                               linestyle="--")
            ax.set(xlim=(x0, x1), ylim=(y1, y0))
            ax.set_title(f"{name}: {int(pos.sum())} pos, {int(ignored.sum())} ign", fontsize=9)
            if c == 0:
                w, h = gt_boxes[g, 2:4].tolist()
                kind = (f"{class_names[int(gt_labels[g])]} " if class_names is not None
                        and gt_labels is not None else "")
                ax.set_ylabel(f"GT {g}: {kind}{w:.0f}x{h:.0f}", fontsize=9)
            ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return fig


def draw_atss_threshold(ax, ious: Tensor, threshold: float, inside: Tensor,
                        title: str = "") -> None:
    """ATSS's decision for one GT: its candidates' IoUs, ``mean + std`` and the centre test.

    Args:
        ax: matplotlib Axes.
        ious: (K,) IoUs of the GT's candidates (the topk nearest anchors of every level).
        threshold: the GT's ``mean + std`` of ``ious``.
        inside: (K,) bool, the candidate's centre lies inside the rotated GT.
        title: panel title (the count of positives is appended).
    """
    ious, inside = ious.detach().cpu().double().numpy(), inside.detach().cpu().numpy()
    if ious.ndim != 1 or inside.shape != ious.shape:
        raise ValueError(f"ious and inside must be (K,) of the same length, got {ious.shape} "
                         f"and {inside.shape}")
    pos = (ious >= threshold) & inside
    ax.hist(ious, bins=min(20, max(5, len(ious) // 2)), color="lightsteelblue", alpha=0.6,
            label="candidate IoUs")
    for mask, color, name in ((pos, "tab:green", "positive"),
                              (~pos & inside, "tab:gray", "below threshold"),
                              (~inside, "tab:red", "centre outside")):
        ax.scatter(ious[mask], [0] * int(mask.sum()), c=color, marker="|", s=120, linewidths=2,
                   zorder=3, label=name)
    ax.axvline(ious.mean(), color="k", linestyle="--", linewidth=1, label=f"mean {ious.mean():.2f}")
    ax.axvline(threshold, color="tab:green", linestyle=":", label=f"mean+std {threshold:.2f}")
    ax.set_title(f"{title}{': ' if title else ''}{int(pos.sum())}/{len(ious)} positive",
                 fontsize=9)
    ax.set_xlabel("IoU of anchor and object", fontsize=9)
    ax.set_ylabel("candidates", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=7, loc="upper right")
