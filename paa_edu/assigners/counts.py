"""Positives per object under several assigner settings side by side (notebook 02's question)."""
from __future__ import annotations

import torch
from torch import Tensor

from paa_edu.assigners.result import AssignResult


def assign_settings(settings: dict, anchors: Tensor, gt_boxes: Tensor, gt_labels: Tensor,
                    num_level_anchors: list[int]) -> dict[str, AssignResult]:
    """name -> :class:`AssignResult` of every named assigner (anything with ``assign(anchors,
    gt_boxes, gt_labels, num_level_anchors)``) on the same anchors (A, 5) and GTs (G, 5), (G,)."""
    if not settings:
        raise ValueError("settings is empty: pass {name: assigner}")
    return {name: assigner.assign(anchors, gt_boxes, gt_labels, num_level_anchors)
            for name, assigner in settings.items()}


def positives_per_gt(results: dict[str, AssignResult]) -> dict[str, Tensor]:
    """name -> (G,) long positives of each object (entry ``g`` counts ``gt_inds == g + 1``)."""
    return {name: result.num_pos_per_gt().cpu() for name, result in results.items()}


def ignored_per_gt(result: AssignResult, ious: Tensor) -> Tensor:
    """(G,) ignored anchors (``gt_inds == -1``) counted for the object each overlaps most, from the
    (G, A) IoUs: MaxIoU ignores an anchor whose best IoU lies between its two thresholds."""
    G, A = result.num_gts, result.num_anchors
    if tuple(ious.shape) != (G, A):
        raise ValueError(f"ious must be (G, A) = ({G}, {A}), got {tuple(ious.shape)}")
    if G == 0:
        return torch.zeros(0, dtype=torch.long)
    ignored = result.ignore_mask.cpu()  # (A,)
    best_gt = ious.detach().cpu().argmax(dim=0)  # (A,) the object each anchor overlaps most
    return torch.bincount(best_gt[ignored], minlength=G)[:G]


def object_names(gt_boxes: Tensor, gt_labels: Tensor, class_names: list[str]) -> list[str]:
    """One short name per object: ``"13 large-vehicle 45x10"`` (index, class, w x h in px)."""
    if len(gt_boxes) != len(gt_labels):
        raise ValueError(f"gt_boxes has {len(gt_boxes)} rows, gt_labels {len(gt_labels)}")
    return [f"{g:2d} {class_names[int(label)]} {float(box[2]):.0f}x{float(box[3]):.0f}"
            for g, (box, label) in enumerate(zip(gt_boxes, gt_labels))]


def format_counts(columns: dict, gts: list[int], names: list[str]) -> str:
    """A text table, one row per object of ``gts`` (named by ``names``), one column per entry of
    ``columns`` (title -> (G,) values; counts print as integers, floats with 3 decimals)."""
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
