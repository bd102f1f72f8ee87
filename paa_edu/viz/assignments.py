"""Which anchors each assigner makes positive, drawn on the image."""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor

from paa_edu.viz.boxes import GT_COLOR, new_figure, show_image, plot_rotated_boxes


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
