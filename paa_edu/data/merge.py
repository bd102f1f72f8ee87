"""Merge patch detections back onto the original images and write DOTA Task-1 files.

1. Parse the patch's offset from its name ``{stem}__{patch_size}__{x}___{y}``
   (:func:`paa_edu.data.split.patch_name`) and shift its boxes by (+x, +y) (a translation
   leaves w, h and theta unchanged).
2. Group by original image and run class-wise rotated NMS (IoU 0.1, as mmrotate and the
   devkit's multi-process ResultMerge) with :func:`paa_edu.geometry.batched_nms_rotated`:
   an object seen in two overlapping patches is reported once.
3. :func:`write_task1_submission` writes one ``Task1_<class>.txt`` per class with lines
   ``imgname score x1 y1 x2 y2 x3 y3 x4 y4``, ready to zip for the DOTA server.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch

from paa_edu.geometry import batched_nms_rotated, check_boxes, obb2poly

_PATCH_NAME = re.compile(r"^(?P<stem>.+)__(?P<size>\d+(?:\.\d+)?)__(?P<x>-?\d+)___(?P<y>-?\d+)$")


def parse_patch_name(name: str) -> tuple[str, int, int]:
    """``"P0001__1024__824___0"`` -> ``("P0001", 824, 0)`` (stem, x offset, y offset).

    Raises:
        ValueError: if ``name`` does not follow the ``{stem}__{size}__{x}___{y}`` pattern.
    """
    match = _PATCH_NAME.match(Path(name).stem if name.endswith((".png", ".txt")) else name)
    if match is None:
        raise ValueError(f"patch name {name!r} does not match '{{stem}}__{{size}}__{{x}}___{{y}}'")
    return match["stem"], int(match["x"]), int(match["y"])


def merge_patch_detections(patch_detections: dict[str, dict], iou_threshold: float = 0.1
                           ) -> dict[str, dict]:
    """Merge per-patch detections into per-image detections (steps 1-2 above).

    Args:
        patch_detections: ``{patch name: dict(boxes (N, 5), scores (N,), labels (N,))}`` with
            boxes in patch coordinates.
        iou_threshold: class-wise rotated NMS threshold (suppress when IoU > threshold).
    Returns:
        ``{image stem: dict(boxes (K, 5), scores (K,), labels (K,))}`` in image coordinates,
        sorted by decreasing score, images in name order.
    """
    grouped: dict[str, list[dict]] = {}
    for name in sorted(patch_detections):
        det = patch_detections[name]
        check_boxes(det["boxes"], f"patch_detections[{name!r}]['boxes']")
        if not det["scores"].numel() == det["labels"].numel() == det["boxes"].shape[0]:
            raise ValueError(f"patch_detections[{name!r}]: boxes, scores and labels differ "
                             f"in length")
        stem, x, y = parse_patch_name(name)
        shifted = det["boxes"].clone()  # (N, 5)
        shifted[:, 0] += x
        shifted[:, 1] += y
        grouped.setdefault(stem, []).append({**det, "boxes": shifted})
    merged = {}
    for stem, parts in grouped.items():
        boxes = torch.cat([p["boxes"] for p in parts])  # (N, 5)
        scores = torch.cat([p["scores"] for p in parts])  # (N,)
        labels = torch.cat([p["labels"] for p in parts]).long()  # (N,)
        keep = batched_nms_rotated(boxes, scores, labels, iou_threshold)  # (K,)
        keep = keep[torch.argsort(scores[keep], descending=True, stable=True)]
        merged[stem] = {"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]}
    return merged


def write_task1_submission(out_dir: str | Path, detections: dict[str, dict],
                           class_names: tuple[str, ...] | list[str]) -> list[Path]:
    """Write ``Task1_<class>.txt`` for every class (empty files included, as the server wants).

    Args:
        out_dir: folder to write into (created).
        detections: ``{image stem: dict(boxes (K, 5), scores (K,), labels (K,))}`` in image
            coordinates, e.g. from :func:`merge_patch_detections`.
        class_names: C names; label ``c`` goes to ``Task1_<class_names[c]>.txt``.
    Returns:
        the C paths written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines: list[list[str]] = [[] for _ in class_names]
    for stem in sorted(detections):
        det = detections[stem]
        polys = obb2poly(det["boxes"].double()).tolist()  # (K, 8)
        for poly, score, label in zip(polys, det["scores"].tolist(), det["labels"].tolist()):
            if not 0 <= label < len(class_names):
                raise ValueError(f"detections[{stem!r}] has label {label} outside "
                                 f"[0, {len(class_names)})")
            coords = " ".join(f"{v:.2f}" for v in poly)
            lines[label].append(f"{stem} {score:.6f} {coords}")
    paths = []
    for name, class_lines in zip(class_names, lines):
        path = out_dir / f"Task1_{name}.txt"
        path.write_text("".join(line + "\n" for line in class_lines))
        paths.append(path)
    return paths
