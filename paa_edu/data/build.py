"""The datasets a :class:`~paa_edu.config.Config` names: class list, split folder, limits.

:func:`build_dataset` is what training, evaluation and the demo call: it writes the synthetic
set first for synthetic presets (never into a folder it did not write, and never over a set of
other settings, e.g. a ``paa-edu synth --num-train 12`` set: that stops and says what differs),
then reads the split folder under ``cfg.data.root``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from torch.utils.data import Dataset, Subset

from paa_edu.config import Config
from paa_edu.data.check import check_folder
from paa_edu.data.dataset import DOTADataset
from paa_edu.data.dota import DOTA_CLASSES
from paa_edu.data.manifest import ForeignFolderError
from paa_edu.data.synthetic import SYNTHETIC_CLASSES
from paa_edu.data.synthetic_writer import OtherSettingsError, write_synthetic_dataset
from paa_edu.data.transforms import TransformConfig


def class_names(cfg: Config) -> tuple[str, ...]:
    """The class list named by ``cfg.data.classes`` (``"dota"`` or ``"synthetic"``)."""
    names = {"dota": DOTA_CLASSES, "synthetic": SYNTHETIC_CLASSES}
    if cfg.data.classes not in names:
        raise ValueError(f"data.classes must be 'dota' or 'synthetic', got {cfg.data.classes!r}")
    return tuple(names[cfg.data.classes])


def build_dataset(cfg: Config, split: str, train: bool) -> Dataset:
    """The ``split`` folder under ``cfg.data.root`` (written first for synthetic presets).

    With ``train=True``: random flips, objects above ``data.max_train_difficulty`` dropped,
    then images left without objects dropped when ``data.filter_empty`` (the seed's dataset).
    """
    root = Path(cfg.data.root)
    if cfg.data.synthetic is not None:
        try:
            write_synthetic_dataset(root, cfg.data.synthetic, seed=0, progress=False,
                                    num_workers=cfg.data.num_workers, replace=False)
        except (ForeignFolderError, OtherSettingsError) as err:
            raise ValueError(f"{err}. data.synthetic={cfg.data.synthetic!r} would write its "
                             f"own images there; to train on the data in data.root as it is, "
                             f"pass --set data.synthetic=None (or give the preset another "
                             f"data.root)") from None
    split_dir = root / split
    if not (split_dir / "images").is_dir():
        raise FileNotFoundError(f"{split_dir / 'images'} does not exist (data.root="
                                f"{cfg.data.root!r}); run `paa-edu split` or `paa-edu synth`")
    d = cfg.data
    transforms = TransformConfig(max_size=d.max_size, hflip_prob=d.hflip_prob if train else 0.0,
                                 vflip_prob=d.vflip_prob if train else 0.0,
                                 normalize=False)  # uint8: the model normalises on the device
    names = class_names(cfg)
    check_before_training(split_dir, names)
    dataset = DOTADataset(split_dir, names, cfg.model.angle_version, transforms, train=train,
                          filter_empty=train and d.filter_empty,
                          max_difficulty=d.max_train_difficulty if train else None)
    check_labels_fit(dataset, cfg)
    limit = cfg.data.num_train if split == "train" else cfg.data.num_val
    if limit is not None:
        dataset = Subset(dataset, range(min(limit, len(dataset))))
    return dataset


def check_before_training(split_dir: Path, names: tuple[str, ...]) -> None:
    """The cached ``paa-edu check-data`` pass (:mod:`paa_edu.data.check`): refuse a folder
    with errors (a corrupt image, a bad label line) before the first step, not mid-epoch."""
    first_rank = os.environ.get("RANK", "0") == "0"  # one bar under torchrun: rank 0's
    report = check_folder(split_dir, names, progress=sys.stderr.isatty() and first_rank)
    if report.errors:
        raise ValueError(f"{split_dir}: {len(report.errors)} data error(s), the first: "
                         f"{report.errors[0]}; `paa-edu check-data {split_dir}` lists them all")


def check_labels_fit(dataset: DOTADataset, cfg: Config) -> None:
    """Every label is a class of the model: labels >= ``model.num_classes`` are refused."""
    names = class_names(cfg)
    for path, target in zip(dataset.image_paths, dataset.annotations):
        labels = target["labels"]
        if len(labels) and int(labels.max()) >= cfg.model.num_classes:
            k = int(labels.max())
            label_file = path.parent.parent / "labelTxt" / f"{path.stem}.txt"
            raise ValueError(f"{label_file}: class {names[k]!r} is label {k} of data.classes="
                             f"{cfg.data.classes!r} ({len(names)} classes), but the model has "
                             f"model.num_classes={cfg.model.num_classes}; set "
                             f"model.num_classes={len(names)} or other data.classes")
