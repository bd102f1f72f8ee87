"""The anchor grid seen from one object: its nearest anchors, and its IoU with every anchor.

Both plots expect one anchor per location (the seed configs), levels in the order of the anchor
generator, and draw the object in black dashes (never yellow: the synthetic cars often are)."""
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from torch import Tensor

from paa_edu.geometry.iou import box_iou_rotated
from paa_edu.viz.boxes import as_image, corner_window, plot_rotated_boxes, show_image
from paa_edu.viz.style import (
    BLACK,
    FONT_SIZE,
    ORANGE,
    VERMILLION,
    add_colorbar,
    as_box_tensor,
    check_length,
    panels,
)


def _one_box(box) -> Tensor:
    """``box`` (5,) or (1, 5) as (1, 5); more than one box is refused (not silently cut)."""
    box = as_box_tensor(torch.as_tensor(box).reshape(-1, 5), "box")
    if len(box) != 1:
        raise ValueError(f"box must be one box (5,) or (1, 5), got {len(box)} boxes")
    return box


def level_iou_maps(box, level_anchors: list[Tensor], sizes: list[tuple[int, int]]) -> list[Tensor]:
    """IoU of one object ``box`` (5,) or (1, 5) with every anchor, one (H_l, W_l) map per
    level: entry (i, j) is the IoU with the anchor of cell (i, j). ``level_anchors`` are L
    tensors (H_l * W_l, 5), row-major over feature maps of ``sizes`` (H_l, W_l)."""
    box = _one_box(box)
    check_length(sizes, len(level_anchors), "sizes", of="levels")
    maps = []
    for anchors, (h, w) in zip(level_anchors, sizes):
        if len(anchors) != h * w:
            raise ValueError(f"a level of {h}x{w} cells has {len(anchors)} anchors: one anchor "
                             f"per location is needed")
        maps.append(box_iou_rotated(box, as_box_tensor(anchors)).reshape(h, w))  # (H_l, W_l)
    return maps


def _inside_image(window, image) -> tuple[float, float, float, float]:
    """``window`` (x0, x1, y0, y1) moved (not resized) to lie inside the image, where it fits."""
    if image is None:
        return window
    img = as_image(image)
    x0, x1, y0, y1 = window
    dx = max(0.0, -x0) - max(0.0, x1 - img.shape[1]) if x1 - x0 <= img.shape[1] else 0.0
    dy = max(0.0, -y0) - max(0.0, y1 - img.shape[0]) if y1 - y0 <= img.shape[0] else 0.0
    return x0 + dx, x1 + dx, y0 + dy, y1 + dy


def _legend(ax, anchors_label: str, color) -> None:
    ax.legend(handles=[Line2D([], [], color=BLACK, linestyle="--", label="object"),
                       Line2D([], [], color=color, label=anchors_label)],
              fontsize=FONT_SIZE, loc="lower left")


def plot_anchor_neighbourhood(image, box, level_anchors: list[Tensor], strides: list[int],
                              k: int = 9, figsize=None) -> Figure:
    """One panel per level: the ``k`` (ATSS's ``topk``) anchors whose centres are nearest the
    centre of the object ``box``; ``level_anchors`` are L tensors (N_l, 5), one per FPN level."""
    box = _one_box(box)
    check_length(strides, len(level_anchors), "strides", of="levels")
    fig, axes = panels(len(level_anchors), ncols=len(level_anchors), panel_size=3.5,
                       figsize=figsize)
    for ax, anchors, stride in zip(axes, level_anchors, strides):
        anchors = as_box_tensor(anchors, "level_anchors")
        near = (anchors[:, :2] - box[0, :2]).norm(dim=1).argsort()[:k]  # (k,) nearest centres
        best = float(box_iou_rotated(box, anchors[near]).max())
        show_image(ax, image, box)
        plot_rotated_boxes(ax, anchors[near], color=ORANGE, linewidth=1.0)
        ax.scatter(anchors[near, 0], anchors[near, 1], s=10, color=ORANGE)
        plot_rotated_boxes(ax, box, color=BLACK, linewidth=2.0, linestyle="--")
        x0, x1, y0, y1 = corner_window(torch.cat([anchors[near], box]), margin=8.0)
        ax.set(xlim=(x0, x1), ylim=(y1, y0))
        ax.set_title(f"stride {stride}: {anchors[0, 2]:.0f} px anchors\nbest IoU {best:.3f}",
                     fontsize=FONT_SIZE)
    _legend(axes[0], f"{k} nearest anchors", ORANGE)
    fig.tight_layout()
    return fig


def plot_iou_heatmap(image, box, level_anchors: list[Tensor], sizes: list[tuple[int, int]],
                     strides: list[int], margin: float = 64.0, figsize=None) -> Figure:
    """One panel per level: the object's IoU with the anchor of every cell, zoomed on it.

    Each cell is coloured by the IoU of the anchor centred there (one shared colour scale); the
    anchors tied at the level's best IoU are outlined in vermillion. ``box``, ``level_anchors`` and
    ``sizes`` are those of :func:`level_iou_maps`; ``strides`` the L strides in pixels (the spacing
    of the anchor centres); ``margin`` the pixels shown around the object."""
    box = _one_box(box)
    maps = level_iou_maps(box, level_anchors, sizes)
    check_length(strides, len(maps), "strides", of="levels")
    top = max(float(m.max()) for m in maps) or 1.0
    fig, axes = panels(len(maps), ncols=len(maps), panel_size=3.3, figsize=figsize)
    fig.set_layout_engine("constrained")
    x0, x1, y0, y1 = _inside_image(corner_window(box, margin), image)
    for ax, iou, anchors, stride in zip(axes, maps, level_anchors, strides):
        h, w = iou.shape
        first = anchors[0, :2].tolist()  # centre of cell (0, 0)
        extent = (first[0] - stride / 2, first[0] + (w - 0.5) * stride,
                  first[1] + (h - 0.5) * stride, first[1] - stride / 2)
        show_image(ax, image, box)
        shown = ax.imshow(iou.numpy(), extent=extent, cmap="viridis", vmin=0.0, vmax=top,
                          alpha=0.8, interpolation="nearest")
        tied = (iou.flatten() == iou.max()) & (iou.max() > 0)  # (H_l * W_l,)
        plot_rotated_boxes(ax, anchors[tied], color=VERMILLION, linewidth=1.2)
        plot_rotated_boxes(ax, box, color=BLACK, linewidth=1.8, linestyle="--")
        ax.set(xlim=(x0, x1), ylim=(y1, y0))
        ax.set_title(f"stride {stride}: best IoU {float(iou.max()):.3f}\n"
                     f"{int(tied.sum())} anchor(s) tied at it", fontsize=FONT_SIZE)
    add_colorbar(fig, shown, axes, "IoU of the cell's anchor with the object", shrink=0.8)
    _legend(axes[0], "best anchor(s)", VERMILLION)
    return fig
