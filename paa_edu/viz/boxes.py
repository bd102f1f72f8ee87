"""Drawing rotated boxes, images and detections (the primitives every plot uses).

- :func:`plot_rotated_boxes`: the one routine that draws rotated boxes.
- :func:`plot_detections`: detections above a score threshold, coloured by class.
- :func:`plot_detections_vs_gt`: true / false positives and missed ground truth.

Resolution, fonts and colours come from :mod:`paa_edu.viz.style`. The figure functions return
the Figure; in a notebook end the line with ``;`` or it may be shown twice.
"""
from __future__ import annotations

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon
from torch import Tensor

from paa_edu.evaluation.rotated_ap import match_detections
from paa_edu.geometry.convert import obb2poly
from paa_edu.viz.style import (  # noqa: F401  (DPI and the colours are re-exported)
    DPI,
    FONT_SIZE,
    FP_COLOR,
    GT_COLOR,
    MISSED_COLOR,
    NEG_COLOR,
    POS_COLOR,
    TP_COLOR,
    VERMILLION,
    box_color,
    check_boxes,
    check_length,
    figure_and_axes,
    text_color_on,
)


def as_image(image) -> np.ndarray | None:
    """An (H, W, C) array for ``imshow``, C = 1 or 3, floats rescaled to [0, 1].

    Args:
        image: (3, H, W) or (1, H, W) tensor or array, (H, W, 3) / (H, W, 1) tensor or array,
            (H, W) grey image, or ``None``.
    Returns:
        the (H, W, C) array, or ``None`` for ``None``.
    Raises:
        ValueError: any other shape.
    """
    if image is None:
        return None
    if isinstance(image, Tensor):
        image = image.detach().cpu().float().numpy()
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    elif image.ndim == 3 and image.shape[0] in (1, 3) and image.shape[2] not in (1, 3):
        image = image.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    if image.ndim != 3 or image.shape[2] not in (1, 3) or 0 in image.shape:
        raise ValueError(f"image must be (3, H, W), (H, W, 3) or (H, W), got shape "
                         f"{tuple(image.shape)}")
    if image.dtype != np.uint8:  # floats: rescale whatever the normalisation to [0, 1]
        lo, hi = float(image.min()), float(image.max())
        image = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image, dtype=float)
    return image


def _check_ax(ax) -> None:
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"the first argument is the Axes (or None for a new figure), got "
                        f"{type(ax).__name__}: call plot_rotated_boxes(ax, boxes)")


def _fit_view(ax: Axes, corners: np.ndarray) -> None:
    """Frame ``corners`` (N, 4, 2) in image coordinates (y down) on an Axes nobody set up.

    An Axes that shows an image, or whose limits the caller set, is left alone.
    """
    if (len(corners) == 0 or ax.images or not ax.get_autoscalex_on()
            or not ax.get_autoscaley_on()):
        return
    ax.update_datalim(corners.reshape(-1, 2))
    ax.autoscale_view()
    ax.set_aspect("equal")
    if not ax.yaxis_inverted():
        ax.invert_yaxis()


def plot_rotated_boxes(ax, boxes, color=VERMILLION, labels=None, linewidth: float = 1.2,
                       text_color: str | None = None, figsize=None, label_colors=None,
                       **kwargs) -> list[Polygon]:
    """Draw rotated boxes (N, 5) as polygons (corners from :func:`obb2poly`).

    On an Axes without an image whose limits are still automatic (a fresh one), the view is
    fitted to the boxes, with equal aspect and y pointing down (image coordinates). An Axes that
    shows an image or has limits you set is left as it is.

    Args:
        ax: a matplotlib Axes, or ``None`` for a new figure (of size ``figsize``).
        boxes: (N, 5) cx, cy, w, h, theta in image coordinates (tensor, array or list).
        color: one colour (name or RGB(A) tuple), or a list of N colours.
        labels: optional list of N strings written at each box's first corner.
        linewidth: edge width.
        text_color: colour of the label text; ``None``: black or white, whichever reads on
            the box colour.
        figsize: (width, height) in inches of the new figure; only with ``ax=None``.
        label_colors: N background colours of the labels (default: the box colours).
        **kwargs: passed to ``matplotlib.patches.Polygon`` (``linestyle``, ``label``, ...).
    Returns:
        the N added patches (list of ``Polygon``); their Figure is ``ax.figure``, or
        ``plt.gcf()`` right after a call with ``ax=None``.
    Raises:
        ValueError: ``boxes`` is not (N, 5); ``color``, ``labels`` or ``label_colors`` is not
            of length N.
    """
    _check_ax(ax)
    boxes = check_boxes(boxes)
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
    _fit_view(ax, corners)
    return patches


def square_window(box: Tensor, margin: float) -> tuple[float, float, float, float]:
    """The zoom around one box: a square centred on it, side = its long side + 2 ``margin``.

    Args:
        box: (5,) cx, cy, w, h, theta.
        margin: pixels each side of the long side.
    Returns:
        ``(x0, x1, y0, y1)`` for ``ax.set(xlim=(x0, x1), ylim=(y1, y0))``.
    """
    cx, cy, w, h = (float(v) for v in box[:4])
    half = max(w, h) / 2 + margin
    return cx - half, cx + half, cy - half, cy + half


SHARP_PIXELS_UP_TO = 1024


def show_image(ax: Axes, image, boxes_for_extent: Tensor) -> None:
    """``image`` on ``ax`` (or, without one, limits that frame ``boxes_for_extent``).

    Args:
        ax: the Axes.
        image: anything :func:`as_image` takes, or ``None``.
        boxes_for_extent: (N, 5) boxes the view must show when there is no image.
    Returns:
        None; the Axes gets equal aspect, y pointing down and no ticks.

    Images up to :data:`SHARP_PIXELS_UP_TO` px on their long side (the synthetic scenes, which
    the plots zoom into) are drawn with ``interpolation="nearest"``: a zoom shows the pixels as
    squares, as they are, and a stored PNG is 2-3 times smaller than with smoothing. Larger
    images, always shown shrunk, are smoothed (``"antialiased"``) against aliasing.
    """
    img = as_image(image)
    if img is not None:
        sharp = max(img.shape[:2]) <= SHARP_PIXELS_UP_TO
        ax.imshow(img.squeeze(-1) if img.shape[2] == 1 else img,
                  cmap="gray" if img.shape[2] == 1 else None,
                  interpolation="nearest" if sharp else "antialiased")
    elif len(boxes_for_extent):
        corners = obb2poly(check_boxes(boxes_for_extent)).reshape(-1, 2)
        ax.set_xlim(float(corners[:, 0].min()) - 5, float(corners[:, 0].max()) + 5)
        ax.set_ylim(float(corners[:, 1].max()) + 5, float(corners[:, 1].min()) - 5)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def _class_names(labels: Tensor, class_names) -> list[str]:
    if class_names is None:
        return [str(int(c)) for c in labels]
    if len(labels) and int(labels.max()) >= len(class_names):
        raise ValueError(f"label {int(labels.max())} has no name: class_names has "
                         f"{len(class_names)} entries")
    return [class_names[int(c)] for c in labels]


def _detection_tensors(dets) -> tuple[Tensor, Tensor, Tensor]:
    """(K, 5) boxes, (K,) scores, (K,) labels from a dict or a (boxes, scores, labels) tuple."""
    if isinstance(dets, dict):
        missing = {"boxes", "scores", "labels"} - set(dets)
        if missing:
            raise ValueError(f"dets is missing the keys {sorted(missing)}")
        dets = (dets["boxes"], dets["scores"], dets["labels"])
    if not isinstance(dets, (tuple, list)) or len(dets) != 3:
        raise TypeError("dets must be a dict with boxes/scores/labels or a (boxes, scores, "
                        f"labels) tuple, got {type(dets).__name__}")
    boxes = check_boxes(dets[0], "dets boxes")
    scores, labels = (torch.as_tensor(t).detach().cpu().reshape(-1) for t in dets[1:])
    if not len(boxes) == len(scores) == len(labels):
        raise ValueError(f"boxes, scores, labels lengths differ: "
                         f"{len(boxes)}, {len(scores)}, {len(labels)}")
    return boxes, scores, labels


def plot_detections(image, dets, class_names: list[str] | None = None, score_thr: float = 0.3,
                    ax=None, figsize=None) -> Figure:
    """Detections with score >= ``score_thr``, coloured by class (6 colours that cycle) and
    labelled "class score".

    Args:
        image: (3, H, W) tensor, (H, W, 3) array, or None (the view then frames the boxes).
        dets: a detector output dict with ``boxes`` (K, 5), ``scores`` (K,), ``labels`` (K,),
            or the tuple ``(boxes, scores, labels)``.
        class_names: names indexed by label (default: the label number).
        score_thr: detections below it are not drawn.
        ax: an Axes of your own layout, or ``None`` for a new figure.
        figsize: (width, height) in inches of the new figure (default 5 x 5).
    Returns:
        the Figure; in a notebook end the line with ``;`` or it may be shown twice.
    """
    boxes, scores, labels = _detection_tensors(dets)
    keep = scores >= score_thr
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    names = _class_names(labels, class_names)
    fig, ax = figure_and_axes(ax, figsize, (5.0, 5.0))
    show_image(ax, image, boxes)
    plot_rotated_boxes(ax, boxes, color=[box_color(int(c)) for c in labels],
                       labels=[f"{n} {float(s):.2f}" for n, s in zip(names, scores)])
    ax.set_title(f"{len(boxes)} detections (score >= {score_thr})", fontsize=FONT_SIZE + 1)
    fig.tight_layout()
    return fig


def _check_gt(gt) -> tuple[Tensor, Tensor]:
    if not isinstance(gt, dict) or {"boxes", "labels"} - set(gt):
        raise ValueError("gt must be a dict with 'boxes' (G, 5) and 'labels' (G,)")
    boxes = check_boxes(gt["boxes"], "gt boxes")
    labels = torch.as_tensor(gt["labels"]).reshape(-1)
    check_length(labels, len(boxes), "gt labels")
    return boxes, labels


def plot_detections_vs_gt(image, dets: dict, gt: dict, class_names: list[str] | None = None,
                          score_thr: float = 0.3, iou_threshold: float = 0.5, ax=None,
                          figsize=None) -> Figure:
    """Detections (score >= ``score_thr``) against the ground truth of one image.

    True positives in ``TP_COLOR`` (blue), false positives in ``FP_COLOR`` (vermillion), by
    the DOTA rule of :func:`paa_edu.evaluation.rotated_ap.match_detections` (IoU > ``iou_threshold`` with
    a GT of the same class, the highest-score one per GT); GT dashed, ``GT_COLOR`` (sky blue)
    when found, ``MISSED_COLOR`` (purple) when missed.

    Args:
        image: (3, H, W) tensor, (H, W, 3) array, or None.
        dets: ``boxes`` (K, 5), ``scores`` (K,), ``labels`` (K,) in the pixels of ``image``.
        gt: ``boxes`` (G, 5), ``labels`` (G,) (optional ``polygons``, ``difficult``).
        class_names: names indexed by label (default: the label number).
        score_thr: detections below it are neither drawn nor matched.
        iou_threshold: the IoU a detection needs to count as a true positive.
        ax: an Axes of your own layout, or ``None`` for a new figure.
        figsize: (width, height) in inches of the new figure (default 5 x 5).
    Returns:
        the Figure; in a notebook end the line with ``;`` or it may be shown twice.
    """

    if not isinstance(dets, dict):
        raise TypeError(f"dets must be a dict with boxes/scores/labels, got {type(dets).__name__}")
    boxes, scores, labels = _detection_tensors(dets)
    gt_boxes, _ = _check_gt(gt)
    keep = scores >= score_thr
    shown = {"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]}
    is_tp, found = match_detections(shown, gt, iou_threshold)
    names = _class_names(shown["labels"], class_names)
    fig, ax = figure_and_axes(ax, figsize, (5.0, 5.0))
    show_image(ax, image, torch.cat([gt_boxes, shown["boxes"]]))
    plot_rotated_boxes(ax, gt_boxes, color=[GT_COLOR if f else MISSED_COLOR for f in found],
                       linewidth=2.0, linestyle="--")
    plot_rotated_boxes(ax, shown["boxes"], color=[TP_COLOR if t else FP_COLOR for t in is_tp],
                       labels=[f"{n} {float(s):.2f}" for n, s in zip(names, shown["scores"])])
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
