"""Positives per object: how many anchors each assigner setting gives each ground truth.

The question notebook 02 asks of every rule ("how many anchors learn from this object?"),
answered for several settings side by side:

- :func:`assign_settings` runs each named assigner on the same anchors and objects;
- :func:`positives_per_gt` counts each object's positives, :func:`ignored_per_gt` the ignored
  anchors that overlap it most;
- :func:`object_names` and :func:`format_counts` print one row per object.
"""
from __future__ import annotations

import torch
from torch import Tensor

from paa_edu.assigners.result import AssignResult


def assign_settings(settings: dict, anchors: Tensor, gt_boxes: Tensor, gt_labels: Tensor,
                    num_level_anchors: list[int]) -> dict[str, AssignResult]:
    """Run every named assigner on the same image.

    Args:
        settings: name -> assigner (anything with ``assign(anchors, gt_boxes, gt_labels,
            num_level_anchors)``, e.g. ``MaxIoUAssigner(0.3, 0.2)`` or ``ATSSAssigner(topk=3)``).
        anchors: (A, 5) cx, cy, w, h, theta, concatenated level by level.
        gt_boxes: (G, 5). gt_labels: (G,) integer classes.
        num_level_anchors: anchors per FPN level (sums to A).
    Returns:
        name -> :class:`AssignResult`, in the order of ``settings``.
    """
    if not settings:
        raise ValueError("settings is empty: pass {name: assigner}")
    return {name: assigner.assign(anchors, gt_boxes, gt_labels, num_level_anchors)
            for name, assigner in settings.items()}


def positives_per_gt(results: dict[str, AssignResult]) -> dict[str, Tensor]:
    """Each object's number of positive anchors, per setting.

    Args:
        results: name -> :class:`AssignResult` (e.g. from :func:`assign_settings`).
    Returns:
        name -> (G,) long: entry ``g`` counts the anchors with ``gt_inds == g + 1``.
    """
    return {name: result.num_pos_per_gt().cpu() for name, result in results.items()}


def ignored_per_gt(result: AssignResult, ious: Tensor) -> Tensor:
    """Ignored anchors (``gt_inds == -1``) counted for the object each overlaps most.

    An ignored anchor belongs to no object; MaxIoU ignores it because its best IoU lies in the
    band between ``neg_iou_thr`` and ``pos_iou_thr``, so it is counted for that best object.

    Args:
        result: an :class:`AssignResult` of A anchors and G objects.
        ious: (G, A) IoU of every object with every anchor (``geometry.box_iou_rotated``).
    Returns:
        (G,) long; zeros when nothing is ignored.
    """
    G, A = result.num_gts, result.num_anchors
    if tuple(ious.shape) != (G, A):
        raise ValueError(f"ious must be (G, A) = ({G}, {A}), got {tuple(ious.shape)}")
    if G == 0:
        return torch.zeros(0, dtype=torch.long)
    ignored = result.ignore_mask.cpu()  # (A,)
    best_gt = ious.detach().cpu().argmax(dim=0)  # (A,) the object each anchor overlaps most
    return torch.bincount(best_gt[ignored], minlength=G)[:G]


def object_names(gt_boxes: Tensor, gt_labels: Tensor, class_names: list[str]) -> list[str]:
    """One short name per object: ``"13 large-vehicle 45x10"`` (index, class, w x h in px).

    Args:
        gt_boxes: (G, 5). gt_labels: (G,) indices into ``class_names``.
    Returns:
        G strings.
    """
    if len(gt_boxes) != len(gt_labels):
        raise ValueError(f"gt_boxes has {len(gt_boxes)} rows, gt_labels {len(gt_labels)}")
    return [f"{g:2d} {class_names[int(label)]} {float(box[2]):.0f}x{float(box[3]):.0f}"
            for g, (box, label) in enumerate(zip(gt_boxes, gt_labels))]


def format_counts(columns: dict, gts: list[int], names: list[str]) -> str:
    """A text table: one row per object in ``gts``, one column per entry of ``columns``.

    Args:
        columns: title -> (G,) values indexed by object (counts print as integers, float
            tensors with 3 decimals).
        gts: the objects to list, in this order.
        names: G row names (e.g. :func:`object_names`).
    Returns:
        the table, header first, rows joined by newlines.
    """
    cols = {title: torch.as_tensor(values).cpu() for title, values in columns.items()}
    for title, values in cols.items():
        if values.dim() != 1 or len(values) != len(names):
            raise ValueError(f"column {title!r} has shape {tuple(values.shape)}, expected "
                             f"({len(names)},): one value per object")
    width = max(len(names[g]) for g in gts) if gts else 6
    widths = [max(len(title), 6) for title in cols]
    lines = [f"{'object':{width}s} " + " ".join(f"{t:>{w}s}" for t, w in zip(cols, widths))]
    for g in gts:
        cells = [f"{float(v[g]):{w}.3f}" if v.is_floating_point() else f"{int(v[g]):{w}d}"
                 for v, w in zip(cols.values(), widths)]
        lines.append(f"{names[g]:{width}s} " + " ".join(cells))
    return "\n".join(lines)
