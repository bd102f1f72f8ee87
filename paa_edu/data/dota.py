"""DOTA labelTxt files: read, validate and write; polygons become rotated boxes.

A DOTA-v1.0 label file has optional header lines, then one object per line::

    imagesource:GoogleEarth
    gsd:0.146343590398
    2753 2408 2861 2385 2888 2468 2805 2502 plane 0      <- x1 y1 ... x4 y4 class difficult

The vertices go clockwise on screen (x right, y down); ``difficult`` is 0 or 1 (missing: 0;
our splitter writes 2 for objects truncated by a patch border).

Where the devkit and mmrotate silently skip malformed lines and tiny objects, every problem here
raises a ``ValueError`` naming ``file:line``, or with ``lenient=True`` is skipped with a warning.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import mmcv
import numpy as np
import torch
from PIL import Image

from paa_edu.data.files import atomic_write, write_text
from paa_edu.geometry import DEFAULT_ANGLE_VERSION, poly2obb

#: The 15 DOTA-v1.0 classes, in the order every toolbox uses (index = label).
DOTA_CLASSES = (
    "plane", "baseball-diamond", "bridge", "ground-track-field", "small-vehicle",
    "large-vehicle", "ship", "tennis-court", "basketball-court", "storage-tank",
    "soccer-ball-field", "roundabout", "harbor", "swimming-pool", "helicopter",
)

HEADER_KEYS = ("imagesource", "gsd")  # ``key:value`` lines before the objects
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


@dataclass
class LabelFile:
    """The raw content of one labelTxt file (no class mapping, no box fitting)."""
    polys: np.ndarray  # (M, 8) float64 x1, y1, ..., x4, y4
    names: list[str]  # M class names, as written
    difficult: np.ndarray  # (M,) int64 flags 0, 1 or 2
    line_numbers: list[int]  # M 1-based line numbers, for error messages
    header: dict[str, str] = field(default_factory=dict)  # the header lines present
    path: str = "<memory>"  # the file the objects came from

    def __len__(self) -> int:
        return len(self.names)


class SkippedObjectWarning(UserWarning):
    """A malformed object skipped in lenient mode (an error in strict mode)."""


class LabelWarning(UserWarning):
    """A doubtful but usable label (a repeated vertex, an object outside its image)."""


def _problem(message: str, where: str, lenient: bool) -> None:
    if not lenient:
        raise ValueError(f"{where}: {message}")
    warnings.warn(f"{where}: {message}; skipped (lenient mode)", SkippedObjectWarning,
                  stacklevel=3)


def _parse_object(tokens: list[str]) -> tuple[list[float], str, int]:
    if len(tokens) not in (9, 10):
        raise ValueError(f"expected 'x1 y1 ... x4 y4 class [difficult]' (9 or 10 fields), "
                         f"got {len(tokens)} fields")
    try:
        coords = [float(t) for t in tokens[:8]]
    except ValueError:
        raise ValueError(f"non-numeric coordinate in {tokens[:8]}") from None
    if not all(math.isfinite(c) for c in coords):
        raise ValueError(f"non-finite coordinate in {tokens[:8]}")
    difficult = 0
    if len(tokens) == 10:
        if tokens[9] not in ("0", "1", "2"):
            raise ValueError(f"difficult must be 0, 1 (DOTA) or 2 (truncated by a patch), "
                             f"got {tokens[9]!r}")
        difficult = int(tokens[9])
    return coords, tokens[8], difficult


def parse_label_file(path: str | Path, lenient: bool = False) -> LabelFile:
    """Read a labelTxt file into a :class:`LabelFile` (syntax checks only, ``file:line``)."""
    path = Path(path)
    try:
        content = path.read_text(encoding="utf-8-sig")  # a byte-order mark is accepted
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text (byte 0x{err.object[err.start]:02x} at "
                         f"offset {err.start}); save the label file as UTF-8/ASCII") from None
    polys, names, difficult, line_numbers, header = [], [], [], [], {}
    for number, line in enumerate(content.splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        key, sep, value = text.partition(":")
        if sep and key in HEADER_KEYS and not polys:
            header[key] = value.strip()
            continue
        try:
            coords, name, diff = _parse_object(text.split())
        except ValueError as err:
            _problem(str(err), f"{path}:{number}", lenient)
            continue
        corners = np.asarray(coords).reshape(4, 2)
        if len(np.unique(corners, axis=0)) < 4:
            warnings.warn(f"{path}:{number}: repeated vertex in {coords}: a triangle (or less) "
                          f"given as a quadrilateral; its box is the minimum-area rectangle "
                          f"of the distinct points", LabelWarning, stacklevel=2)
        polys.append(coords)
        names.append(name)
        difficult.append(diff)
        line_numbers.append(number)
    return LabelFile(np.asarray(polys, dtype=np.float64).reshape(-1, 8), names,
                     np.asarray(difficult, dtype=np.int64), line_numbers, header, str(path))


def read_label_file(path: str | Path, class_names: tuple[str, ...] | list[str] = DOTA_CLASSES,
                    version: str = DEFAULT_ANGLE_VERSION, lenient: bool = False,
                    min_size: float = 1.0, image_size: tuple[int, int] | None = None) -> dict:
    """Read a labelTxt file and fit a rotated box to every polygon (minimum-area rectangle,
    :func:`paa_edu.geometry.poly2obb`, in angle ``version``). A malformed line, an unknown class (a
    label is an index in ``class_names``) or a degenerate polygon (a fitted side under ``min_size``
    px) is a ``file:line`` error (or skipped with a warning when ``lenient``). Given the image's
    (H, W) ``image_size``, an object wholly outside it is dropped with a warning, and one reaching
    more than half the image's side past its border (a typo such as ``1e9``) is kept with a
    warning; objects slightly past the border stay quiet. ``difficult`` is any non-zero flag,
    ``difficulty`` the flag itself."""
    raw = parse_label_file(path, lenient=lenient)
    index = {name: i for i, name in enumerate(class_names)}
    polys = torch.from_numpy(raw.polys)  # (M, 8) float64
    boxes, valid = poly2obb(polys, version, return_valid=True)  # (M, 5), (M,)
    big_enough = (valid & (boxes[:, 2:4] >= min_size).all(dim=1)).tolist()  # M bools
    outside, far = _outside(raw.polys, image_size)
    keep = []
    for i, (name, number) in enumerate(zip(raw.names, raw.line_numbers)):
        where = f"{raw.path}:{number}"
        if name not in index:
            _problem(f"unknown class {name!r} (known: {list(class_names)})", where, lenient)
        elif not big_enough[i]:
            w, h = boxes[i, 2].item(), boxes[i, 3].item()
            _problem(f"degenerate polygon {raw.polys[i].tolist()} (fitted rectangle "
                     f"{w:.3g} x {h:.3g} px, min_size {min_size})", where, lenient)
        elif outside[i]:
            warnings.warn(f"{where}: object wholly outside the {image_size[1]}x{image_size[0]} "
                          f"image ({raw.polys[i].tolist()}); dropped", LabelWarning,
                          stacklevel=2)
        else:
            if far[i]:
                warnings.warn(f"{where}: object reaches far beyond the {image_size[1]}x"
                              f"{image_size[0]} image ({raw.polys[i].tolist()}): a typo in a "
                              f"coordinate?", LabelWarning, stacklevel=2)
            keep.append(i)
    return {
        "boxes": boxes[keep].float().reshape(-1, 5),  # (M, 5)
        "polys": torch.from_numpy(raw.polys[keep]).float().reshape(-1, 8),  # (M, 8)
        "labels": torch.tensor([index[raw.names[i]] for i in keep], dtype=torch.long),
        "difficult": torch.from_numpy(raw.difficult[keep] > 0).reshape(-1),  # (M,)
        "difficulty": torch.from_numpy(raw.difficult[keep]).reshape(-1),  # (M,) 0, 1 or 2
        "header": raw.header,
    }


def _outside(polys: np.ndarray, image_size: tuple[int, int] | None
             ) -> tuple[list[bool], list[bool]]:
    """Per polygon of ``polys`` (M, 8): its bounding box misses the (H, W) image; a vertex lies
    more than half the image's side beyond its border."""
    if image_size is None:
        return [False] * len(polys), [False] * len(polys)
    height, width = image_size
    x0, x1 = polys[:, 0::2].min(1), polys[:, 0::2].max(1)  # (M,) each
    y0, y1 = polys[:, 1::2].min(1), polys[:, 1::2].max(1)
    outside = (x1 <= 0) | (x0 >= width) | (y1 <= 0) | (y0 >= height)
    far = (x0 < -width / 2) | (x1 > 1.5 * width) | (y0 < -height / 2) | (y1 > 1.5 * height)
    return outside.tolist(), far.tolist()


def _format_number(value: float) -> str:
    """Coordinates are written with 2 decimals, trailing zeros removed (``12.5``, ``7``)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def write_label_file(path: str | Path, polys: np.ndarray | torch.Tensor, names: list[str],
                     difficult: np.ndarray | torch.Tensor | list[int] | None = None,
                     header: dict[str, str] | None = None) -> Path:
    """Write (M, 8) clockwise polygons, M class names, (M,) difficulty flags (all 0 when
    ``None``) and an optional ``{"imagesource": ..., "gsd": ...}`` header to a labelTxt file."""
    polys = np.asarray(polys, dtype=np.float64).reshape(-1, 8)
    if not np.isfinite(polys).all():
        raise ValueError("polys contains NaN or Inf")
    flags = np.zeros(len(polys), np.int64) if difficult is None else np.asarray(difficult)
    lines = [f"{key}:{value}" for key, value in (header or {}).items()]
    for poly, name, flag in zip(polys, names, flags):
        if not name or any(c.isspace() for c in name):
            raise ValueError(f"class name {name!r} must be non-empty without spaces")
        coords = " ".join(_format_number(v) for v in poly)
        lines.append(f"{coords} {name} {int(flag)}")
    return write_text(path, "".join(line + "\n" for line in lines))  # whole or absent


def list_images(image_dir: str | Path) -> list[Path]:
    """All image files of a folder, sorted by name (deterministic order)."""
    image_dir = Path(image_dir)
    if not image_dir.is_dir():
        raise ValueError(f"image folder {image_dir} does not exist")
    return sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)


def read_image(path: str | Path, channel_order: str = "rgb") -> np.ndarray:
    """(H, W, 3) uint8 RGB (or BGR); a ``ValueError`` naming the file if empty or corrupt."""
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise ValueError(f"{path}: empty image file (0 bytes)")
    try:
        image = mmcv.imread(str(path), channel_order=channel_order)
    except Exception as err:  # OpenCV raises bare assertions  # noqa: BLE001
        raise ValueError(f"{path}: cannot decode the image (corrupt or truncated file?; "
                         f"{type(err).__module__}.{type(err).__name__})") from None
    if image is None:
        raise ValueError(f"{path}: cannot decode the image (corrupt or truncated file?)")
    return image


def write_image(path: str | Path, image: np.ndarray) -> Path:
    """Write an (H, W, 3) uint8 **BGR** image (PNG, JPEG, ... by the suffix); never partial."""
    encoded = cv2.imencode(Path(path).suffix, image)[1]
    return atomic_write(path, lambda handle: handle.write(encoded.tobytes()), durable=False)


def image_size(path: str | Path) -> tuple[int, int]:
    """(H, W) of an image from its header only (fast); ``ValueError`` naming the file."""
    try:
        with Image.open(path) as image:
            return image.height, image.width
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read the image header ({err})") from None


def write_dota_sample(split_dir: str | Path, stem: str, image: np.ndarray, polys,
                      names: list[str], header: dict[str, str] | None = None
                      ) -> tuple[Path, Path]:
    """Write an (H, W, 3) RGB image and its labels as ``split_dir/{images,labelTxt}/<stem>``."""
    image_path = Path(split_dir) / "images" / f"{stem}.png"
    atomic_write(image_path, lambda handle: Image.fromarray(image).save(
        handle, format="PNG", compress_level=1), durable=False)
    label_path = write_label_file(Path(split_dir) / "labelTxt" / f"{stem}.txt", polys, names,
                                  header=header)
    return image_path, label_path
