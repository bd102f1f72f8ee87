"""Split large DOTA images into overlapping square patches ("1024x1024,200" in the seed).

1. Window grid (as the DOTA devkit and mmrotate): step = patch_size - overlap along each axis;
   ``n = 1`` if the side fits in one patch, else ``ceil((side - patch_size) / step) + 1``, and
   the last window is shifted back to ``side - patch_size`` so no window leaves the image.
   An image smaller than a patch gets one window; the missing area is padded.
2. Objects: with IoF = area(polygon & window) / area(polygon) (shapely),

   * IoF = 1: the object is copied unchanged (shifted into patch coordinates);
   * IoF >= ``iof_thr`` (0.7): the clipped polygon is re-fitted to its minimum-area rectangle
     (clockwise, from the corner nearest the first vertex; it may poke slightly out of the
     patch, where the devkit clamps vertices) and keeps its difficulty;
   * 0 < IoF < ``iof_thr``: ``truncated="difficult"`` (DEFAULT, the DOTA devkit's ImgSplit)
     writes the re-fitted piece with difficulty 2, so evaluation ignores it;
     ``truncated="drop"`` (mmrotate's img_split) leaves it out. Pieces whose rectangle has a
     side under ``min_size`` px are always dropped. (For IoF >= 0.7 mmrotate keeps the
     *unclipped* polygon and marks it difficulty 2.)
3. Patches are written as PNG named ``{stem}__{patch_size}__{x}___{y}`` (x, y = the patch's
   top-left corner in the original image), which :mod:`paa_edu.data.merge` parses back.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from shapely.geometry import Polygon, box
from tqdm import tqdm

from paa_edu.data.dota import (
    LabelFile,
    list_images,
    parse_label_file,
    read_image,
    write_image,
    write_label_file,
)
from paa_edu.data.manifest import MANIFEST_NAME, ManifestWriter, claim_folder, remove_written
from paa_edu.data.merge import MIN_PATCH_SIZE

TRUNCATED_MODES = ("difficult", "drop")
WRITER = "split"  # the writer's name in its folder's manifest


@dataclass
class SplitStats:
    """Counts of one split run (what happened to the objects)."""
    images: int = 0
    patches: int = 0
    objects_whole: int = 0  # copies of objects entirely inside a patch
    objects_clipped: int = 0  # clipped copies kept with their difficulty (IoF >= iof_thr)
    objects_truncated: int = 0  # clipped copies written with difficulty 2
    objects_dropped: int = 0  # clipped copies left out (IoF < iof_thr with "drop", or slivers)

    def summary(self) -> str:
            return (f"{self.images} images -> {self.patches} patches; object copies: "
                f"{self.objects_whole} whole, {self.objects_clipped} clipped, "
                f"{self.objects_truncated} truncated (difficult 2), {self.objects_dropped} "
                f"dropped")

    def add(self, other: SplitStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def window_starts(length: int, patch_size: int = 1024, overlap: int = 200) -> list[int]:
    """Start coordinates of the windows along one axis (step 1)."""
    if patch_size <= 0 or not 0 <= overlap < patch_size:
        raise ValueError(f"need patch_size > 0 and 0 <= overlap < patch_size, got "
                         f"patch_size={patch_size}, overlap={overlap}")
    if length <= patch_size:
        return [0]
    step = patch_size - overlap
    count = math.ceil((length - patch_size) / step) + 1
    return [i * step for i in range(count - 1)] + [length - patch_size]


def window_origins(width: int, height: int, patch_size: int = 1024, overlap: int = 200
                   ) -> list[tuple[int, int]]:
    """The top-left corners (x, y) of an image's windows, rows (y) outer (the writing order)."""
    return [(x, y) for y in window_starts(height, patch_size, overlap)
            for x in window_starts(width, patch_size, overlap)]


def patch_name(stem: str, patch_size: int, x: int, y: int) -> str:
    """``P0001__1024__824___0``: image stem, patch size and the patch's top-left corner (a size
    under ``MIN_PATCH_SIZE`` would read as a DOTA devkit resize rate: refused)."""
    if patch_size < MIN_PATCH_SIZE:
        raise ValueError(f"patch_size must be >= {MIN_PATCH_SIZE}, got {patch_size}")
    return f"{stem}__{patch_size}__{x}___{y}"


IOF_STATUSES = ("outside", "whole", "clipped", "truncated")  # classify_iof codes 0..3


def clip_to_window(poly: np.ndarray, x: float, y: float, patch_size: float,
                   where: str = "polygon") -> tuple[Polygon, float]:
    """The part of an (8,) polygon (image pixels) inside the window at (x, y), and its IoF =
    area(piece) / area(polygon). A self-intersecting polygon is replaced by its convex hull;
    one of zero area is an error naming ``where`` (``file:line``)."""
    poly = np.asarray(poly, np.float64).reshape(8)
    shape = Polygon(poly.reshape(4, 2))
    if not shape.is_valid:
        shape = shape.convex_hull
    if shape.area <= 0:
        raise ValueError(f"{where}: degenerate polygon {poly.tolist()} (zero area)")
    piece = shape.intersection(box(x, y, x + patch_size, y + patch_size))
    return piece, piece.area / shape.area


def classify_iof(iof: float, iof_thr: float = 0.7) -> int:
    """Step 2's case for an object of this IoF: an index into :data:`IOF_STATUSES`."""
    if iof <= 0:
        return 0
    if iof >= 1 - 1e-9:
        return 1
    return 2 if iof >= iof_thr else 3


def refit_quadrilateral(piece: Polygon, first_vertex: np.ndarray) -> np.ndarray | None:
    """Minimum-area rectangle of a clipped polygon as a clockwise (8,) DOTA polygon starting
    at the corner nearest the (2,) ``first_vertex``; ``None`` if it collapses to a line."""
    rect = piece.minimum_rotated_rectangle
    if rect.is_empty or rect.geom_type != "Polygon" or rect.area <= 0:
        return None
    corners = np.asarray(rect.exterior.coords)[:4]  # (4, 2)
    x, y = corners[:, 0], corners[:, 1]
    if np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) < 0:  # > 0 = clockwise with y down
        corners = corners[::-1]
    start = int(np.argmin(np.linalg.norm(corners - first_vertex, axis=1)))
    return np.roll(corners, -start, axis=0).reshape(8)


def crop_objects(labels: LabelFile, x: int, y: int, patch_size: int, iof_thr: float = 0.7,
                 truncated: str = "difficult", min_size: float = 1.0
                 ) -> tuple[np.ndarray, list[str], np.ndarray, SplitStats]:
    """Step 2: the objects of ``labels`` in the patch at (x, y), in patch coordinates: polys (K,
    8), names (K), difficult (K,) int64, stats."""
    polys, names, flags, stats = [], [], [], SplitStats()
    xs, ys = labels.polys[:, 0::2], labels.polys[:, 1::2]  # (M, 4) each
    near = ((xs.max(1) > x) & (xs.min(1) < x + patch_size)
            & (ys.max(1) > y) & (ys.min(1) < y + patch_size))  # (M,) bounding boxes overlap
    for i in np.nonzero(near)[0]:
        piece, iof = clip_to_window(labels.polys[i], x, y, patch_size,
                                    f"{labels.path}:{labels.line_numbers[i]}")
        status = classify_iof(iof, iof_thr)
        if status == 0:
            continue
        difficult = int(labels.difficult[i])
        if status == 1:
            poly = labels.polys[i].copy()
            stats.objects_whole += 1
        else:
            poly = refit_quadrilateral(piece, labels.polys[i, :2])  # a rectangle, or None
            too_thin = poly is None or min(np.hypot(*(poly[2:4] - poly[:2])),
                                           np.hypot(*(poly[4:6] - poly[2:4]))) < min_size
            if too_thin or (status == 3 and truncated == "drop"):
                stats.objects_dropped += 1
                continue
            if status == 3:
                difficult = 2
                stats.objects_truncated += 1
            else:
                stats.objects_clipped += 1
        polys.append(poly - np.tile([x, y], 4))
        names.append(labels.names[i])
        flags.append(difficult)
    return (np.asarray(polys, np.float64).reshape(-1, 8), names,
            np.asarray(flags, np.int64), stats)


def split_image(image_path: str | Path, labels: LabelFile | None, dst_dir: str | Path,
                patch_size: int = 1024, overlap: int = 200, iof_thr: float = 0.7,
                truncated: str = "difficult", pad_value: int = 0, min_size: float = 1.0,
                manifest: ManifestWriter | None = None) -> SplitStats:
    """Split one image and its objects (``None``: unlabelled, no label files) into
    ``dst_dir/images`` and ``dst_dir/labelTxt``; ``manifest`` records every file first."""
    image = read_image(image_path, channel_order="bgr")  # (H, W, 3) BGR uint8
    height, width = image.shape[:2]
    stem, dst_dir, stats = Path(image_path).stem, Path(dst_dir), SplitStats(images=1)
    record = manifest.add if manifest is not None else Path
    for x, y in window_origins(width, height, patch_size, overlap):
        name = patch_name(stem, patch_size, x, y)
        patch = np.full((patch_size, patch_size, 3), pad_value, dtype=image.dtype)  # padded
        crop = image[y:y + patch_size, x:x + patch_size]
        patch[:crop.shape[0], :crop.shape[1]] = crop
        write_image(record(dst_dir / "images" / f"{name}.png"), patch)
        stats.patches += 1
        if labels is not None:
            polys, names, flags, patch_stats = crop_objects(
                labels, x, y, patch_size, iof_thr, truncated, min_size)
            write_label_file(record(dst_dir / "labelTxt" / f"{name}.txt"), polys, names,
                             flags, header=labels.header)
            stats.add(patch_stats)
    return stats


def split_dataset(src_dir: str | Path, dst_dir: str | Path, patch_size: int = 1024,
                  overlap: int = 200, iof_thr: float = 0.7, truncated: str = "difficult",
                  pad_value: int = 0, min_size: float = 1.0, lenient: bool = False,
                  progress: bool = True, overwrite: bool = False) -> SplitStats:
    """``paa-edu split``: split every image of ``src_dir/images`` (and its label file, when
    ``src_dir/labelTxt`` exists) into ``dst_dir``, which must be missing, empty, or hold an
    earlier split that ``overwrite`` replaces (the files its manifest lists are removed first)."""
    src_dir, dst_dir = Path(src_dir), Path(dst_dir)
    if truncated not in TRUNCATED_MODES:
        raise ValueError(f"truncated must be one of {TRUNCATED_MODES}, got {truncated!r}")
    if not 0.0 < iof_thr <= 1.0:
        raise ValueError(f"iof_thr must be in (0, 1], got {iof_thr}")
    window_starts(patch_size, patch_size, overlap)  # validates patch_size and overlap
    images = list_images(src_dir / "images")
    label_dir = src_dir / "labelTxt"
    labelled = label_dir.is_dir()
    previous = claim_folder(dst_dir, WRITER)
    if previous is not None and not overwrite:
        state = "a split" if previous.complete else "an incomplete split (it was stopped)"
        raise ValueError(f"{dst_dir}: already holds {state} ({len(previous.files)} files, "
                         f"{MANIFEST_NAME}); pass --overwrite to replace it (only the files "
                         f"it lists are removed)")
    if previous is not None:
        remove_written(dst_dir, previous)
    for sub in ("images", "labelTxt") if labelled else ("images",):
        (dst_dir / sub).mkdir(parents=True, exist_ok=True)
    stats = SplitStats()
    info = {"src": str(src_dir.absolute()), "patch_size": patch_size, "overlap": overlap,
            "iof_thr": iof_thr, "truncated": truncated, "pad_value": pad_value,
            "min_size": min_size}
    with ManifestWriter(dst_dir, WRITER, info) as manifest:
        for image_path in tqdm(images, desc="split", disable=not progress):
            labels = None
            if labelled:
                label_path = label_dir / f"{image_path.stem}.txt"
                if not label_path.is_file():
                    raise ValueError(f"{label_path}: label file missing for image {image_path}")
                labels = parse_label_file(label_path, lenient=lenient)
            stats.add(split_image(image_path, labels, dst_dir, patch_size, overlap, iof_thr,
                                  truncated, pad_value, min_size, manifest))
    return stats

