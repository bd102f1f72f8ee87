"""Drawing rotated boxes, images and detections (the primitives every plot uses).

- :func:`plot_rotated_boxes`: the one routine that draws rotated boxes.
- :func:`plot_detections`: detections above a score threshold, coloured by class.

Resolution, fonts and colours come from :mod:`paa_edu.viz.style`.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from torch import Tensor

from paa_edu.geometry.convert import obb2poly
from paa_edu.viz.style import (  # noqa: F401  (DPI and the colours are re-exported)
    DPI,
    FP_COLOR,
    GT_COLOR,
    MISSED_COLOR,
    NEG_COLOR,
    POS_COLOR,
    TP_COLOR,
    panels,
)


def new_figure(n_panels: int = 1, ncols: int = 1, panel_size: float = 3.2):
    """A figure with ``n_panels`` square panels on ``ncols`` columns; returns (fig, axes)."""
    return panels(n_panels, ncols, panel_size)


def as_image(image) -> np.ndarray | None:
    """(H, W, 3) array for imshow from a (3, H, W) tensor or an (H, W, 3) array."""
    if image is None:
        return None
    if isinstance(image, Tensor):
        image = image.detach().cpu()
        if image.dim() == 3 and image.shape[0] in (1, 3):
            image = image.permute(1, 2, 0)
        image = image.float().numpy()
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"image must be (3, H, W) or (H, W, 3), got {image.shape}")
    if image.dtype != np.uint8:  # floats: rescale whatever the normalisation to [0, 1]
        lo, hi = float(image.min()), float(image.max())
        image = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
    return image


def plot_rotated_boxes(ax, boxes: Tensor, color="tab:red", labels=None, linewidth: float = 1.2,
                       text_color: str = "white", **kwargs) -> list[Polygon]:
    """Draw rotated boxes (N, 5) on ``ax`` as polygons (corners from :func:`obb2poly`).

    Args:
        ax: a matplotlib Axes.
        boxes: (N, 5) cx, cy, w, h, theta in image coordinates.
        color: one colour (name or RGB(A) tuple), or a list of N colours.
        labels: optional list of N strings written at each box's first corner.
        text_color: colour of the label text.
        linewidth: edge width; other keyword arguments go to ``matplotlib.patches.Polygon``.
    Returns:
        the N added patches.
    """
    boxes = torch.as_tensor(boxes).detach().cpu().reshape(-1, 5).float()
    corners = obb2poly(boxes).reshape(-1, 4, 2).numpy()  # (N, 4, 2)
    colors = color if isinstance(color, list) else [color] * len(corners)  # tuple = one RGB(A)
    if len(colors) != len(corners):
        raise ValueError(f"color has {len(colors)} entries for {len(corners)} boxes")
    patches = []
    for i, pts in enumerate(corners):
        patch = Polygon(pts, closed=True, fill=False, edgecolor=colors[i], linewidth=linewidth,
                        **kwargs)
        ax.add_patch(patch)
        patches.append(patch)
        if labels is not None:
            text = ax.text(pts[0, 0], pts[0, 1], str(labels[i]), color=text_color, fontsize=7,
                           bbox=dict(facecolor=colors[i], alpha=0.7, pad=1, linewidth=0),
                           clip_on=True)  # a label past the border stays inside its panel
            text.set_in_layout(False)  # ... and never squeezes the layout
    return patches


def show_image(ax, image, boxes_for_extent: Tensor) -> None:
    """``image`` on ``ax`` (or, without one, limits that frame ``boxes_for_extent``)."""
    img = as_image(image)
    if img is not None:
        ax.imshow(img.squeeze(-1) if img.shape[2] == 1 else img,
                  cmap="gray" if img.shape[2] == 1 else None)
    elif len(boxes_for_extent):
        corners = obb2poly(boxes_for_extent.detach().cpu().float()).reshape(-1, 2)
        ax.set_xlim(float(corners[:, 0].min()) - 5, float(corners[:, 0].max()) + 5)
        ax.set_ylim(float(corners[:, 1].max()) + 5, float(corners[:, 1].min()) - 5)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_detections(image, dets, class_names: list[str] | None = None,
                    score_thr: float = 0.3) -> Figure:
    """Detections with score >= ``score_thr``, coloured and named by class.

    Args:
        image: (3, H, W) tensor, (H, W, 3) array, or None.
        dets: a detector output dict with ``boxes`` (K, 5), ``scores`` (K,), ``labels`` (K,),
            or the tuple ``(boxes, scores, labels)``.
        class_names: names indexed by label (default: the label number).
        score_thr: detections below it are not drawn.
    """
    if isinstance(dets, dict):
        missing = {"boxes", "scores", "labels"} - set(dets)
        if missing:
            raise ValueError(f"dets is missing the keys {sorted(missing)}")
        dets = (dets["boxes"], dets["scores"], dets["labels"])
    if not isinstance(dets, (tuple, list)) or len(dets) != 3:
        raise TypeError("dets must be a dict with boxes/scores/labels or a (boxes, scores, "
                        f"labels) tuple, got {type(dets)}")
    boxes, scores, labels = (torch.as_tensor(t).detach().cpu() for t in dets)
    if not len(boxes) == len(scores) == len(labels):
        raise ValueError(f"boxes, scores, labels lengths differ: "
                         f"{len(boxes)}, {len(scores)}, {len(labels)}")
    keep = scores >= score_thr
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    cmap = plt.get_cmap("tab20")
    names = [class_names[int(c)] if class_names else str(int(c)) for c in labels]
    fig, (ax,) = new_figure(1, panel_size=5.0)
    show_image(ax, image, boxes)
    plot_rotated_boxes(ax, boxes, color=[cmap(int(c) % 20) for c in labels],
                       labels=[f"{n} {float(s):.2f}" for n, s in zip(names, scores)])
    ax.set_title(f"{len(boxes)} detections (score >= {score_thr})", fontsize=9)
    fig.tight_layout()
    return fig


def plot_detections_vs_gt(image, dets: dict, gt: dict, class_names: list[str] | None = None,
                          score_thr: float = 0.3, iou_threshold: float = 0.5) -> Figure:
    """Detections (score >= ``score_thr``) against the ground truth of one image.

    True positives green, false positives red (the DOTA rule of
    :func:`paa_edu.evaluation.match_detections`: IoU > ``iou_threshold`` with a GT of the same
    class, the highest-score one per GT), GT dashed: yellow when found, orange when missed.

    Args:
        image: (3, H, W) tensor, (H, W, 3) array, or None.
        dets: ``boxes`` (K, 5), ``scores`` (K,), ``labels`` (K,) in the pixels of ``image``.
        gt: ``boxes`` (G, 5), ``labels`` (G,) (optional ``polygons``, ``difficult``).
    """
    from paa_edu.evaluation import match_detections

    for name, d in (("dets", dets), ("gt", gt)):
        missing = {"boxes", "labels"} - set(d) | ({"scores"} - set(d) if name == "dets" else set())
        if missing:
            raise ValueError(f"{name} is missing the keys {sorted(missing)}")
    keep = torch.as_tensor(dets["scores"]).cpu() >= score_thr
    shown = {k: torch.as_tensor(dets[k]).detach().cpu()[keep] for k in ("boxes", "scores", "labels")}
    is_tp, found = match_detections(shown, gt, iou_threshold)
    names = [class_names[int(c)] if class_names else str(int(c)) for c in shown["labels"]]
    gt_boxes = torch.as_tensor(gt["boxes"]).detach().cpu().reshape(-1, 5)
    fig, (ax,) = new_figure(1, panel_size=5.0)
    show_image(ax, image, torch.cat([gt_boxes, shown["boxes"].reshape(-1, 5)]))
    plot_rotated_boxes(ax, gt_boxes, color=[GT_COLOR if f else MISSED_COLOR for f in found],
                       linewidth=2.0, linestyle="--")
    plot_rotated_boxes(ax, shown["boxes"], color=[TP_COLOR if t else FP_COLOR for t in is_tp],
                       labels=[f"{n} {float(s):.2f}" for n, s in zip(names, shown["scores"])])
    ax.set_title(f"{int(is_tp.sum())} TP, {int((~is_tp).sum())} FP, "
                 f"{int((~found).sum())} missed GT (score >= {score_thr}, IoU > "
                 f"{iou_threshold})", fontsize=8)
    fig.tight_layout()
    return fig
