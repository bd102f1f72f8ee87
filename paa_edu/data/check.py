"""``paa-edu check-data``: decode every image and read every label file once, report it all.
Errors: a corrupt image, two images of one stem, a bad label line, an image without a label
file, a split without ``labelTxt/``, an unfinished write. Warnings: identical images, a label
file without an image, a repeated vertex, an object outside its image. Each (image, label file)
pair's result is cached, keyed by both files' :func:`~paa_edu.data.label_cache.stat_key`, the
classes and the parser's source."""
from __future__ import annotations

import hashlib
import json
import warnings
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from paa_edu.data.dota import (
    DOTA_CLASSES,
    SkippedObjectWarning,
    list_images,
    read_image,
    read_label_file,
)
from paa_edu.data.files import write_text
from paa_edu.data.label_cache import cache_file, parser_source_hash, stat_key
from paa_edu.data.manifest import incomplete_write

CHECK_FORMAT = 2


@dataclass
class DataReport:
    """What :func:`check_folder` found: errors (training would fail or be wrong), warnings."""
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    images: int = 0
    label_files: int = 0
    objects: int = 0
    sizes: set = field(default_factory=set)  # distinct (H, W)

    def summary(self) -> str:
        sizes = sorted(self.sizes)
        span = f"{sizes[0][1]}x{sizes[0][0]} to {sizes[-1][1]}x{sizes[-1][0]}" if sizes else "-"
        return (f"{self.images} images ({span} px), {self.label_files} label files, "
                f"{self.objects} objects: {len(self.errors)} errors, "
                f"{len(self.warnings)} warnings")

    def format(self) -> str:
        lines = [f"error: {e}" for e in self.errors] + [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines + [self.summary()])


def check_folder(folder: str | Path, class_names: tuple[str, ...] | list[str] = DOTA_CLASSES,
                 progress: bool = True, use_cache: bool = True, labels: bool = True
                 ) -> DataReport:
    """Check ``folder`` (or its sub-folders with ``images/``); ``labels=False``: images only."""
    folder = Path(folder)
    splits = [folder] if (folder / "images").is_dir() else sorted(
        d for d in folder.glob("*") if (d / "images").is_dir())
    if not splits:
        raise FileNotFoundError(f"{folder}: no images/ folder in it or in its sub-folders")
    report, digests = DataReport(), {}
    for split_dir in splits:
        _check_split(split_dir, tuple(class_names), report, digests, progress, use_cache,
                     labels)
    for paths in digests.values():
        if len(paths) > 1:
            report.warnings.append(f"identical image files: {', '.join(map(str, paths))}")
    # two images of one stem share a label file: report its problems once
    report.errors, report.warnings = (list(dict.fromkeys(report.errors)),
                                      list(dict.fromkeys(report.warnings)))
    return report


def _check_split(split_dir: Path, class_names: tuple[str, ...], report: DataReport,
                 digests: dict, progress: bool, use_cache: bool, labels: bool) -> None:
    images = list_images(split_dir / "images")
    label_dir = split_dir / "labelTxt"
    labelled = labels and label_dir.is_dir()
    unfinished = incomplete_write(split_dir)
    if unfinished:
        report.errors.append(unfinished)
    if labels and not labelled and images:
        report.errors.append(f"{label_dir}: missing, so the {len(images)} images have no "
                             f"labels (an image without objects needs an empty label file; "
                             f"--no-labels checks the images of a test set)")
    stems: dict[str, Path] = {}
    for path in images:
        if path.stem in stems:
            report.errors.append(f"{stems[path.stem]} and {path}: two images of one name "
                                 f"(one label file would serve both)")
        stems[path.stem] = path
    if labelled:
        orphans = sorted(p for p in label_dir.glob("*.txt") if p.stem not in stems)
        report.warnings += [f"{p}: label file without an image (not used)" for p in orphans]
    cache_path, cache = cache_file("check", split_dir, ".json"), {}
    if use_cache:
        with suppress(OSError, ValueError):
            cache = json.loads(cache_path.read_text())
    salt = repr((CHECK_FORMAT, class_names, parser_source_hash()))
    fresh, seen_labels = {}, set()
    for path in tqdm(images, desc=f"check {split_dir.name}", disable=not progress):
        label_path = label_dir / f"{path.stem}.txt"
        stats = [stat_key(p.stat()) if p.exists() else None for p in (path, label_path)]
        key = hashlib.sha1(repr((salt, *stats, labelled)).encode()).hexdigest()
        entry = cache.get(path.name)
        result = entry[1] if entry and entry[0] == key else _check_pair(
            path, label_path if labelled else None, class_names)
        fresh[path.name] = [key, result]
        report.images += 1
        if labelled and label_path.is_file() and label_path not in seen_labels:
            seen_labels.add(label_path)
            report.label_files += 1
            report.objects += result["objects"]
        report.errors += result["errors"]
        report.warnings += result["warnings"]
        if result["size"]:
            report.sizes.add(tuple(result["size"]))
            digests.setdefault(result["sha1"], []).append(path)
    if use_cache:
        with suppress(OSError):  # an unwritable cache is skipped
            write_text(cache_path, json.dumps(fresh))


def _check_pair(image_path: Path, label_path: Path | None, class_names: tuple[str, ...]
                ) -> dict:
    result = {"size": None, "sha1": None, "objects": 0, "errors": [], "warnings": []}
    try:
        image = read_image(image_path)
        result["size"] = list(image.shape[:2])
        result["sha1"] = hashlib.sha1(image_path.read_bytes()).hexdigest()
    except ValueError as err:
        result["errors"].append(str(err))
    if label_path is None:
        return result
    if not label_path.is_file():
        result["errors"].append(f"{label_path}: label file missing for image {image_path}")
        return result
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            target = read_label_file(label_path, class_names, lenient=True,
                                     image_size=result["size"])
            result["objects"] = len(target["labels"])
        except ValueError as err:  # the whole file (e.g. not UTF-8)
            result["errors"].append(str(err))
    for warning in caught:
        text = str(warning.message).replace("; skipped (lenient mode)", "")
        is_error = issubclass(warning.category, SkippedObjectWarning)
        result["errors" if is_error else "warnings"].append(text)
    return result
