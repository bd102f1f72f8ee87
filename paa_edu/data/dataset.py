"""A torch ``Dataset`` over a DOTA-format folder: ``images/<stem>.png`` + ``labelTxt/<stem>.txt``.
Every label file is checked when the dataset is built (a bad one fails at once, ``file:line``)."""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from paa_edu.data.dota import (
    DOTA_CLASSES,
    LabelWarning,
    image_size,
    list_images,
    read_image,
    read_label_file,
)
from paa_edu.data.label_cache import parse_labels_cached
from paa_edu.data.transforms import TransformConfig, apply_transforms
from paa_edu.geometry import DEFAULT_ANGLE_VERSION, check_version


class DOTADataset(Dataset):
    """Images and rotated-box targets of one DOTA-format split folder.

    A label is an index into ``class_names``. ``lenient`` skips malformed objects with a warning; a
    fitted rectangle with a side under ``min_size`` px is degenerate; ``max_difficulty`` drops
    objects flagged above it (1 drops those our splitter marks 2), then ``filter_empty`` leaves out
    images without objects; ``cache`` reuses the parsed labels of an unchanged folder
    (:mod:`~paa_edu.data.label_cache`); ``train`` applies the random flips. Without ``labelTxt/``
    only ``labelled=False`` (a test set) is accepted; an image without objects has an empty label
    file. Items are ``(image (3, H, W) padded, target)``: ``boxes`` (M, 5), ``labels`` (M,),
    ``difficult`` (M,), ``image_id``, ``orig_size`` (H0, W0) and :func:`apply_transforms`' meta
    (divide predicted boxes' first four numbers by ``scale_factor`` for original pixels)."""

    def __init__(self, root_split_dir: str | Path, class_names: tuple[str, ...] | list[str]
                 = DOTA_CLASSES, version: str = DEFAULT_ANGLE_VERSION,
                 transforms: TransformConfig | None = None, train: bool = True,
                 lenient: bool = False, filter_empty: bool = False, min_size: float = 1.0,
                 cache: bool = True, max_difficulty: int | None = None,
                 labelled: bool = True):
        self.root = Path(root_split_dir)
        self.class_names = tuple(class_names)
        self.version = check_version(version)
        self.transforms = transforms or TransformConfig()
        self.train = train
        label_dir = self.root / "labelTxt"
        image_paths = list_images(self.root / "images")
        targets = [{"boxes": torch.zeros(0, 5), "labels": torch.zeros(0, dtype=torch.long),
                    "difficult": torch.zeros(0, dtype=torch.bool), "polygons": torch.zeros(0, 8)}
                   for _ in image_paths]
        if labelled:
            if not label_dir.is_dir():
                raise ValueError(f"{label_dir}: missing, so the images have no labels (an "
                                 f"image without objects needs an empty label file)")
            for path in image_paths:
                label_path = label_dir / f"{path.stem}.txt"
                if not label_path.is_file():
                    raise ValueError(f"{label_path}: label file missing for image {path}")
            by_stem = {path.stem: path for path in image_paths}
            orphans = sorted(p.name for p in label_dir.glob("*.txt") if p.stem not in by_stem)
            if orphans:
                warnings.warn(f"{label_dir}: {len(orphans)} label file(s) without an image, not "
                              f"used (e.g. {orphans[0]})", LabelWarning, stacklevel=2)

            def parse(label_path: Path) -> dict:  # objects outside their image are dropped
                target = read_label_file(label_path, self.class_names, version, lenient,
                                         min_size, image_size(by_stem[label_path.stem]))
                keep = (slice(None) if max_difficulty is None
                        else target["difficulty"] <= max_difficulty)  # (M,)
                return {"boxes": target["boxes"][keep], "labels": target["labels"][keep],
                        "difficult": target["difficult"][keep], "polygons": target["polys"][keep]}
            targets = parse_labels_cached(label_dir, [f"{p.stem}.txt" for p in image_paths],
                                          parse, (self.class_names, version, lenient,
                                                  float(min_size), "inside", max_difficulty),
                                          use_cache=cache)
        kept = [(path, target) for path, target in zip(image_paths, targets)
                if not filter_empty or len(target["labels"])]
        if not kept:
            raise ValueError(f"{self.root / 'images'}: no (non-empty) images found")
        self.image_paths = [path for path, _ in kept]
        self.annotations = [target for _, target in kept]

    def __len__(self) -> int:
        return len(self.image_paths)

    @property
    def image_ids(self) -> list[str]:  # stems, in dataset order
        return [p.stem for p in self.image_paths]

    def ground_truths(self) -> list[dict]:
        """Per image ``boxes``, ``labels``, ``difficult``, ``polygons`` in original pixels."""
        return [dict(target) for target in self.annotations]

    def __getitem__(self, index: int) -> tuple[Tensor, dict]:
        path, annotation = self.image_paths[index], self.annotations[index]
        image = read_image(path)  # (H0, W0, 3) uint8 RGB
        tensor, boxes, meta = apply_transforms(image, annotation["boxes"], self.transforms,
                                               self.train, self.version)
        target = {"boxes": boxes, "labels": annotation["labels"].clone(),
                  "difficult": annotation["difficult"].clone(), "image_id": path.stem,
                  "orig_size": tuple(image.shape[:2]), **meta}
        return tensor, target

