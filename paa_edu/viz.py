"""Plots that show what the assigners and the detector do (matplotlib; each returns the Figure).

- :func:`plot_rotated_boxes`: the one routine that draws rotated boxes; every plot uses it.
- :func:`plot_gmm_split` / :func:`plot_score_distributions`: PAA's split of one / several GTs,
  from a :class:`paa_edu.assigners.PAARecord` (``PAAAssigner(record=True).last_record``).
- :func:`plot_assignments`: the positives of several assigners on the same image.
- :func:`plot_detections`: detections above a score threshold.

Figures are small (``dpi`` 80) so that notebooks stay small.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from torch import Tensor

from paa_edu.geometry.convert import obb2poly

DPI = 80
POS_COLOR, NEG_COLOR, GT_COLOR = "tab:green", "tab:gray", "yellow"


def _new_figure(n_panels: int = 1, ncols: int = 1, panel_size: float = 3.2):
    nrows = math.ceil(n_panels / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * ncols, panel_size * nrows),
                             dpi=DPI, squeeze=False)
    for ax in axes.flat[n_panels:]:
        ax.axis("off")
    return fig, list(axes.flat[:n_panels])


def _as_image(image) -> np.ndarray | None:
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


def _gaussian(x: np.ndarray, weight: float, mean: float, var: float) -> np.ndarray:
    return weight * np.exp(-0.5 * (x - mean) ** 2 / var) / math.sqrt(2 * math.pi * var)


def _draw_gmm_split(ax, record, gt: int) -> None:
    """Candidate scores of one GT: histogram, strip (positives green), both components, cut."""
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
        xs = np.linspace(lo - pad, hi + pad, 200)
        low = int(fit.low_component()[gt])
        for k in (low, 1 - low):  # the low-score (positive) component first, solid
            w, m, v = (float(t[gt, k]) for t in (fit.weights, fit.means, fit.variances))
            name, style = ("low", "-") if k == low else ("high", "--")
            ax.plot(xs, _gaussian(xs, w, m, v), style, color="k", linewidth=1,
                    label=f"{name}: w={w:.2f} mu={m:.2f}")
    thr = float(record.thresholds()[gt])
    if not math.isnan(thr):
        ax.axvline(thr, color=POS_COLOR, linestyle=":", label=f"cut {thr:.2f}")
    tag = " (fallback)" if bool(record.fallback[gt]) else ""
    ax.set_title(f"GT {gt}: {int(pos.sum())}/{len(scores)} positive{tag}", fontsize=9)
    ax.set_xlabel("anchor score (lower is better)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, loc="upper right")


def plot_gmm_split(record, gt: int = 0) -> Figure:
    """PAA's split of one GT: scores, both weighted Gaussians, the cut, positives in green."""
    fig, (ax,) = _new_figure(1, panel_size=4.0)
    _draw_gmm_split(ax, record, gt)
    fig.tight_layout()
    return fig


def plot_score_distributions(record, gts: list[int] | None = None, ncols: int = 4) -> Figure:
    """Small multiples of :func:`plot_gmm_split`; by default the first 8 GTs with candidates."""
    if gts is None:
        gts = record.valid.any(1).nonzero().squeeze(1).tolist()[:8]
    if not gts:
        raise ValueError("no GT to plot: the record has no GT with candidates")
    fig, axes = _new_figure(len(gts), ncols=min(ncols, len(gts)))
    for ax, gt in zip(axes, gts):
        _draw_gmm_split(ax, record, int(gt))
    fig.tight_layout()
    return fig


def _show_image(ax, image, boxes_for_extent: Tensor) -> None:
    img = _as_image(image)
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
    fig, axes = _new_figure(len(results), ncols=len(results), panel_size=3.6)
    for ax, (name, res) in zip(axes, results.items()):
        if res.num_anchors != len(anchors):
            raise ValueError(f"results[{name!r}] has {res.num_anchors} anchors, "
                             f"anchors has {len(anchors)}")
        _show_image(ax, image, torch.cat([gt_boxes, anchors[res.pos_mask.cpu()]]))
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
    fig, (ax,) = _new_figure(1, panel_size=5.0)
    _show_image(ax, image, boxes)
    plot_rotated_boxes(ax, boxes, color=[cmap(int(c) % 20) for c in labels],
                       labels=[f"{n} {float(s):.2f}" for n, s in zip(names, scores)])
    ax.set_title(f"{len(boxes)} detections (score >= {score_thr})", fontsize=9)
    fig.tight_layout()
    return fig
