"""Merge patch detections back onto the original images and write DOTA Task-1 files.

1. Parse the patch's origin from its name ``{stem}__{middle}__{x}___{y}``
   (:func:`parse_patch_name`) and map its boxes back: ``(cx + x) / rate``, ``(cy + y) / rate``,
   ``w / rate``, ``h / rate``, theta unchanged. The middle field is either ours and mmrotate's
   **patch size**, an integer >= 16 (``P0001__1024__824___0``, rate 1), or the DOTA devkit's
   **resize rate**, a number below 16: a box at x = 100 in ``P0001__0.5__824___0`` lies at
   (100 + 824) / 0.5 = 1848 in ``P0001``. Patches of several rates of one image merge together.
2. Group by original image and run class-wise rotated NMS (IoU 0.1, as mmrotate and the
   devkit's ResultMerge): an object seen in two overlapping patches is reported once.
3. :func:`write_task1_submission` writes one ``Task1_<class>.txt`` per class with lines
   ``imgname score x1 y1 x2 y2 x3 y3 x4 y4`` (so an image name with whitespace is refused).
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor

from paa_edu.data.files import write_text
from paa_edu.geometry import batched_nms_rotated, obb2poly

_PATCH_NAME = re.compile(
    r"^(?P<stem>.+)__(?P<middle>\d+(?:\.\d+)?)__(?P<x>-?\d+)___(?P<y>-?\d+)$")
#: A middle field below this is a devkit resize rate, at or above it (an integer) a patch size.
MIN_PATCH_SIZE = 16


class PatchName(NamedTuple):
    """What a patch name says: the original image, the patch's origin and the resize rate."""
    stem: str  # the original image's name
    x: int  # top-left corner of the patch, in the (resized) image
    y: int
    rate: float  # 1.0 for size-named patches; original = (patch coordinate + x) / rate


def check_image_name(name: str, where: str = "image name") -> str:
    """``name``, if it can be a Task-1 image name (no whitespace)."""
    if not name or any(c.isspace() for c in name):
        raise ValueError(f"{where} {name!r} contains whitespace (or is empty): DOTA Task-1 lines "
                         f"are whitespace-separated, so the server would misread it; rename the "
                         f"file")
    return name


def parse_patch_name(name: str) -> PatchName:
    """``"P0001__1024__824___0"`` -> ``PatchName("P0001", 824, 0, 1.0)``; a devkit rate name
    ``"P0001__0.5__824___0"`` -> ``PatchName("P0001", 824, 0, 0.5)`` (module docstring, step 1)."""
    text = Path(name).stem if name.endswith((".png", ".txt")) else name
    match = _PATCH_NAME.match(text)
    if match is None:
        raise ValueError(f"patch name {name!r} does not match '{{stem}}__{{size}}__{{x}}___{{y}}' "
                         f"(as written by paa-edu split)")
    middle, value = match["middle"], float(match["middle"])
    if "." not in middle and value >= MIN_PATCH_SIZE:
        rate = 1.0  # our / mmrotate's patch size
    elif 0 < value < MIN_PATCH_SIZE and math.isfinite(value):
        rate = value  # the DOTA devkit's resize rate
    else:
        raise ValueError(f"patch name {name!r}: middle field {middle!r} is neither a patch size "
                         f"(an integer >= {MIN_PATCH_SIZE}) nor a DOTA devkit resize rate (a "
                         f"number in (0, {MIN_PATCH_SIZE}))")
    return PatchName(match["stem"], int(match["x"]), int(match["y"]), rate)


def patch_to_image(boxes: Tensor, x: float, y: float, rate: float = 1.0) -> Tensor:
    """Boxes (N, 5) of the patch at offset (x, y) of an image resized by ``rate``, in the
    original image's pixels (step 1 above); a new tensor."""
    shifted = boxes.clone()  # (N, 5)
    shifted[:, 0] += x
    shifted[:, 1] += y
    if rate != 1.0:
        shifted[:, :4] /= rate
    return shifted


def merge_patch_detections(patch_detections: dict[str, dict], iou_threshold: float = 0.1
                           ) -> dict[str, dict]:
    """Merge ``{patch name: dict(boxes (N, 5), scores (N,), labels (N,))}`` (patch
    coordinates) into ``{image stem: dict(boxes (K, 5), scores (K,), labels (K,))}`` in image
    coordinates, by decreasing score (steps 1-2 above; NMS suppresses IoU > ``iou_threshold``)."""
    grouped: dict[str, list[dict]] = {}
    for name in sorted(patch_detections):
        det = patch_detections[name]
        stem, x, y, rate = parse_patch_name(name)
        check_image_name(stem, f"patch {name!r}: image name")
        shifted = patch_to_image(det["boxes"], x, y, rate)  # (N, 5)
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
    """Write ``out_dir/Task1_<class_names[c]>.txt`` for every class c (empty ones included)
    from merged detections in image coordinates; a bad image name writes nothing."""
    for stem in detections:
        check_image_name(stem, "detections: image name")
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
    return [write_text(out_dir / f"Task1_{name}.txt", "".join(f"{line}\n" for line in part))
            for name, part in zip(class_names, lines)]
