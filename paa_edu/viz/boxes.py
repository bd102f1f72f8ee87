"""Drawing rotated boxes, images and detections: the primitives every plot uses
(:func:`plot_rotated_boxes` is the one routine that draws rotated boxes)."""
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon
from torch import Tensor

from paa_edu.evaluation.rotated_ap import match_detections
from paa_edu.geometry.convert import obb2poly
from paa_edu.viz.style import (
    FONT_SIZE,
    FP_COLOR,
    GT_COLOR,
    MISSED_COLOR,
    TP_COLOR,
    VERMILLION,
    as_box_tensor,
    box_color,
    check_length,
    figure_and_axes,
    text_color_on,
)


def as_image(image) -> np.ndarray | None:
    """An (H, W, C) array for ``imshow`` from (C, H, W), (H, W, C) or (H, W) (C = 1 or 3),
    floats rescaled to [0, 1]; ``None`` stays ``None``."""
    if image is None:
        return None
    if isinstance(image, Tensor):
        image = image.detach().cpu().float().numpy()
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    elif image.ndim == 3 and image.shape[0] in (1, 3) and image.shape[2] not in (1, 3):
        image = image.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    if image.dtype != np.uint8:  # floats: rescale whatever the normalisation to [0, 1]
        lo, hi = float(image.min()), float(image.max())
        image = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image, dtype=float)
    return image


def corner_window(boxes: Tensor, margin: float) -> tuple[float, float, float, float]:
    """``(x0, x1, y0, y1)`` framing the corners of ``boxes`` (N, 5) with ``margin`` pixels."""
    corners = obb2poly(boxes).reshape(-1, 2)  # (4N, 2)
    lo, hi = corners.min(0).values - margin, corners.max(0).values + margin
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def square_window(box: Tensor, margin: float) -> tuple[float, float, float, float]:
    """The zoom around one box (5,): a square centred on it, side = its long side + 2
    ``margin``, as ``(x0, x1, y0, y1)`` for ``ax.set(xlim=(x0, x1), ylim=(y1, y0))``."""
    cx, cy, w, h = (float(v) for v in box[:4])
    half = max(w, h) / 2 + margin
    return cx - half, cx + half, cy - half, cy + half


def plot_rotated_boxes(ax, boxes, color=VERMILLION, labels=None, linewidth: float = 1.2,
                       text_color: str | None = None, figsize=None, label_colors=None,
                       **kwargs) -> list[Polygon]:
    """Draw ``boxes`` (N, 5) as polygons (corners from :func:`obb2poly`) on ``ax``, or on a new
    figure (then ``plt.gcf()``) with ``ax=None``; returns the N patches. A fresh Axes (no image,
    limits still automatic) is fitted to the boxes, with equal aspect and y pointing down (image
    coordinates); one that shows an image or has limits you set is left as it is. ``color``: one
    colour (name or RGB(A) tuple) or a list of N; ``labels``: optional N strings at each box's
    first corner, on ``label_colors`` (default: the box colours) in ``text_color`` (default: black
    or white, whichever reads); ``kwargs`` go to ``matplotlib.patches.Polygon``."""
    boxes = as_box_tensor(boxes)
    colors = color if isinstance(color, list) else [color] * len(boxes)  # tuple = one RGB(A)
    check_length(colors, len(boxes), "color")
    check_length(labels, len(boxes), "labels")
    check_length(label_colors, len(boxes), "label_colors")
    label_colors = colors if label_colors is None else list(label_colors)
    _, ax = figure_and_axes(ax, figsize, (5.0, 5.0))
    corners = obb2poly(boxes).reshape(-1, 4, 2).numpy()  # (N, 4, 2)
    patches = []
    for i, pts in enumerate(corners):
        patch = Polygon(pts, closed=True, fill=False, edgecolor=colors[i], linewidth=linewidth,
                        **kwargs)
        ax.add_patch(patch)
        patches.append(patch)
        if labels is not None:
            text = ax.text(pts[0, 0], pts[0, 1], str(labels[i]), fontsize=FONT_SIZE,
                           color=text_color or text_color_on(label_colors[i]),
                           bbox=dict(facecolor=label_colors[i], alpha=0.7, pad=1, linewidth=0),
                           clip_on=True)  # a label past the border stays inside its panel
            text.set_in_layout(False)  # ... and never squeezes the layout
    if len(corners) and not ax.images and ax.get_autoscalex_on() and ax.get_autoscaley_on():
        ax.update_datalim(corners.reshape(-1, 2))
        ax.autoscale_view()
        ax.set_aspect("equal")
        if not ax.yaxis_inverted():
            ax.invert_yaxis()
    return patches


SHARP_PIXELS_UP_TO = 1024


def show_image(ax: Axes, image, boxes_for_extent: Tensor) -> None:
    """``image`` on ``ax`` (or, without one, limits that frame ``boxes_for_extent`` (N, 5));
    equal aspect, y pointing down, no ticks. Images up to :data:`SHARP_PIXELS_UP_TO` px (the
    synthetic scenes, which the plots zoom into) show their pixels as squares, as they are
    (``"nearest"``); larger ones, always shown shrunk, are smoothed (``"antialiased"``)."""
    img = as_image(image)
    if img is not None:
        sharp = max(img.shape[:2]) <= SHARP_PIXELS_UP_TO
        ax.imshow(img.squeeze(-1) if img.shape[2] == 1 else img,
                  cmap="gray" if img.shape[2] == 1 else None,
                  interpolation="nearest" if sharp else "antialiased")
    elif len(boxes_for_extent):
        x0, x1, y0, y1 = corner_window(as_box_tensor(boxes_for_extent), 5.0)
        ax.set(xlim=(x0, x1), ylim=(y1, y0))
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def _shown_detections(dets, score_thr: float,
                      class_names) -> tuple[Tensor, Tensor, Tensor, list[str]]:
    """Boxes (K, 5), scores (K,), labels (K,) with score >= ``score_thr``, and their labels
    "class score", from a dict or a ``(boxes, scores, labels)`` tuple."""
    if isinstance(dets, dict):
        dets = (dets["boxes"], dets["scores"], dets["labels"])
    boxes = as_box_tensor(dets[0], "dets boxes")
    scores, labels = (torch.as_tensor(t).detach().cpu().reshape(-1) for t in dets[1:])
    keep = scores >= score_thr
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    if class_names is not None and len(labels) and int(labels.max()) >= len(class_names):
        raise ValueError(f"label {int(labels.max())} has no name: class_names has "
                         f"{len(class_names)} entries")
    names = [str(int(c)) if class_names is None else class_names[int(c)] for c in labels]
    return boxes, scores, labels, [f"{n} {float(s):.2f}" for n, s in zip(names, scores)]


def plot_detections(image, dets, class_names: list[str] | None = None, score_thr: float = 0.3,
                    ax=None, figsize=None) -> Figure:
    """Detections ``dets`` (a dict of ``boxes`` (K, 5), ``scores`` (K,), ``labels`` (K,), or
    that tuple) coloured by class (6 colours that cycle) and labelled "class score"."""
    boxes, _, labels, texts = _shown_detections(dets, score_thr, class_names)
    fig, ax = figure_and_axes(ax, figsize, (5.0, 5.0))
    show_image(ax, image, boxes)
    plot_rotated_boxes(ax, boxes, color=[box_color(int(c)) for c in labels], labels=texts)
    ax.set_title(f"{len(boxes)} detections (score >= {score_thr})", fontsize=FONT_SIZE + 1)
    fig.tight_layout()
    return fig


def plot_detections_vs_gt(image, dets: dict, gt: dict, class_names: list[str] | None = None,
                          score_thr: float = 0.3, iou_threshold: float = 0.5, ax=None,
                          figsize=None) -> Figure:
    """Detections (score >= ``score_thr``) against the ground truth of one image.

    True positives in ``TP_COLOR`` (blue), false positives in ``FP_COLOR`` (vermillion), by the
    DOTA rule of :func:`paa_edu.evaluation.rotated_ap.match_detections` (IoU > ``iou_threshold``
    with a GT of the same class, the highest-score one per GT); GT dashed, ``GT_COLOR`` (sky blue)
    when found, ``MISSED_COLOR`` (purple) when missed. ``dets`` are those of
    :func:`plot_detections`, ``gt`` a dict of ``boxes`` (G, 5), ``labels`` (G,) (optional
    ``polygons``, ``difficult``); detections below ``score_thr`` are neither drawn nor matched."""
    boxes, scores, labels, texts = _shown_detections(dets, score_thr, class_names)
    gt_boxes = as_box_tensor(gt["boxes"], "gt boxes")
    shown = {"boxes": boxes, "scores": scores, "labels": labels}
    is_tp, found = match_detections(shown, gt, iou_threshold)
    fig, ax = figure_and_axes(ax, figsize, (5.0, 5.0))
    show_image(ax, image, torch.cat([gt_boxes, boxes]))
    plot_rotated_boxes(ax, gt_boxes, color=[GT_COLOR if f else MISSED_COLOR for f in found],
                       linewidth=2.0, linestyle="--")
    plot_rotated_boxes(ax, boxes, color=[TP_COLOR if t else FP_COLOR for t in is_tp],
                       labels=texts)
    ax.set_title(f"{int(is_tp.sum())} TP, {int((~is_tp).sum())} FP, "
                 f"{int((~found).sum())} missed GT (score >= {score_thr}, IoU > "
                 f"{iou_threshold})", fontsize=FONT_SIZE)
    ax.legend(handles=[Line2D([], [], color=c, linestyle=ls, label=n) for c, ls, n in (
        (TP_COLOR, "-", "true positive"), (FP_COLOR, "-", "false positive"),
        (GT_COLOR, "--", "GT found"), (MISSED_COLOR, "--", "GT missed"))],
        fontsize=FONT_SIZE, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2,
        frameon=False)  # under the image, not over the objects
    fig.tight_layout()
    return fig
