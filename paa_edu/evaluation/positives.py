"""Positives during training against detection at test time: are the objects a model misses the
ones its assigner gave few anchors?"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from paa_edu.assigners import assign
from paa_edu.evaluation.rotated_ap import _check_inputs, match_detections
from paa_edu.model.detector import target_image_shapes

#: The groups of the table: 0, 1, 2 and 3 or more positives.
POSITIVE_BINS = (0, 1, 2, 3)


@torch.no_grad()
def training_positives(model, dataset) -> list[Tensor]:
    """Per image a (G_i,) long tensor: how many anchors the model's training assignment gives
    each object (the model in eval mode; PAA scores with its predictions)."""
    model.eval()
    device = next(model.parameters()).device
    counts = []
    for i in range(len(dataset)):
        image, target = dataset[i]
        dense = model.predict_dense(image[None].to(device), target_image_shapes([target]))
        targets = [{"boxes": target["boxes"].to(device), "labels": target["labels"].to(device)}]
        counts.append(assign(model.assigner, dense, targets)[0].num_pos_per_gt().cpu())
    return counts


def found_per_gt(detections: list[dict], ground_truths: list[dict],
                 iou_threshold: float = 0.5) -> list[np.ndarray]:
    """Per image a (G_i,) bool array: the objects some detection finds at ``iou_threshold``."""
    _check_inputs(detections, ground_truths)
    return [match_detections(d, g, iou_threshold)[1] for d, g in zip(detections, ground_truths)]


def _bools(values) -> np.ndarray:
    return torch.as_tensor(values).reshape(-1).bool().numpy()


def recall_by_positives(positives: list, found: list, difficult: list | None = None,
                        bins: tuple[int, ...] = POSITIVE_BINS, keep: list | None = None
                        ) -> list[dict]:
    """Recall of the objects grouped by their number of training positives: per image (G_i,)
    ``positives``, ``found``, optional ``difficult`` (left out) and ``keep`` (e.g. ``labels ==
    3``). Group k holds the counts in ``[bins[k], bins[k + 1])`` (the last: from ``bins[-1]``);
    one dict per group: ``label`` ("0", ..., "3+"), ``objects``, ``found``, ``recall``."""
    for extra in (found, difficult, keep):
        if extra is not None and len(extra) != len(positives):
            raise ValueError(f"positives, found (difficult, keep) need one entry per image, "
                             f"got {len(positives)} and {len(extra)}")
    if not bins or list(bins) != sorted(set(bins)) or bins[0] < 0:
        raise ValueError(f"bins must be increasing lower edges >= 0, got {bins}")
    counts, hits = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=bool)]
    for i, p in enumerate(positives):
        p = torch.as_tensor(p).reshape(-1).numpy()
        none, every = np.zeros(len(p), dtype=bool), np.ones(len(p), dtype=bool)
        flags = {"found": _bools(found[i]),
                 "difficult": none if difficult is None else _bools(difficult[i]),
                 "keep": every if keep is None else _bools(keep[i])}
        for name, value in flags.items():
            if len(value) != len(p):
                raise ValueError(f"image {i}: {len(p)} positive counts for {len(value)} {name} "
                                 f"flags")
        counted = flags["keep"] & ~flags["difficult"]  # (G_i,)
        counts.append(p[counted])
        hits.append(flags["found"][counted])
    counts, hits = np.concatenate(counts), np.concatenate(hits)
    edges = list(bins) + [np.inf]
    rows = []
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        inside = (counts >= lo) & (counts < hi)
        label = f"{lo}+" if k == len(bins) - 1 else (f"{lo}" if hi == lo + 1 else f"{lo}-{hi - 1}")
        n, n_found = int(inside.sum()), int(hits[inside].sum())
        rows.append({"label": label, "objects": n, "found": n_found,
                     "recall": n_found / n if n else float("nan")})
    return rows


def format_recall_table(tables: dict[str, list[dict]]) -> str:
    """One row per model (name -> :func:`recall_by_positives` rows, the same groups for all),
    one column per group: ``recall (found/objects)``; header first."""
    if not tables:
        raise ValueError("tables is empty: pass {model name: recall_by_positives(...)}")
    labels = [row["label"] for row in next(iter(tables.values()))]
    if any([row["label"] for row in rows] != labels for rows in tables.values()):
        raise ValueError("every model's table must have the same groups")
    width = max(12, *(len(name) for name in tables))
    lines = [f"{'positives':{width}s}" + "".join(f"{label:>18s}" for label in labels)]
    for name, rows in tables.items():
        cells = [f"{row['recall']:.2f} ({row['found']:3d}/{row['objects']:3d})"
                 if row["objects"] else "-" for row in rows]
        lines.append(f"{name:{width}s}" + "".join(f"{c:>18s}" for c in cells))
    return "\n".join(lines)
