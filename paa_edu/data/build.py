"""The datasets a :class:`~paa_edu.config.Config` names: :func:`build_dataset` writes a synthetic
preset first (never over a foreign folder or a set of other settings), then checks the split
folder (``paa-edu check-data``, cached) and reads it."""
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
    return {"dota": DOTA_CLASSES, "synthetic": SYNTHETIC_CLASSES}[cfg.data.classes]


def build_dataset(cfg: Config, split: str, train: bool) -> Dataset:
    """The ``split`` folder under ``cfg.data.root``; with ``train=True``: random flips, objects
    above ``data.max_train_difficulty`` dropped, then empty images too (``data.filter_empty``)."""
    d, root = cfg.data, Path(cfg.data.root)
    if d.synthetic is not None:
        try:
            write_synthetic_dataset(root, d.synthetic, seed=0, progress=False,
                                    num_workers=d.num_workers, replace=False)
        except (ForeignFolderError, OtherSettingsError) as err:
            raise ValueError(f"{err}. data.synthetic={d.synthetic!r} would write its "
                             f"own images there; to train on the data in data.root as it is, "
                             f"pass --set data.synthetic=None (or give the preset another "
                             f"data.root)") from None
    split_dir = root / split
    if not (split_dir / "images").is_dir():
        raise FileNotFoundError(f"{split_dir / 'images'} does not exist (data.root="
                                f"{d.root!r}); run `paa-edu split` or `paa-edu synth`")
    names = class_names(cfg)
    # A corrupt image fails here, before the first step, not mid-epoch; one bar under torchrun.
    report = check_folder(split_dir, names,
                          progress=sys.stderr.isatty() and os.environ.get("RANK", "0") == "0")
    if report.errors:
        raise ValueError(f"{split_dir}: {len(report.errors)} data error(s), the first: "
                         f"{report.errors[0]}; `paa-edu check-data {split_dir}` lists them all")
    transforms = TransformConfig(max_size=d.max_size, hflip_prob=d.hflip_prob if train else 0.0,
                                 vflip_prob=d.vflip_prob if train else 0.0,
                                 normalize=False)  # uint8: the model normalises on the device
    dataset = DOTADataset(split_dir, names, cfg.model.angle_version, transforms, train=train,
                          filter_empty=train and d.filter_empty,
                          max_difficulty=d.max_train_difficulty if train else None)
    for path, target in zip(dataset.image_paths, dataset.annotations):  # labels fit the model
        k = int(target["labels"].max()) if len(target["labels"]) else -1
        if k >= cfg.model.num_classes:
            label_file = split_dir / "labelTxt" / f"{path.stem}.txt"
            raise ValueError(f"{label_file}: class {names[k]!r} is label {k} of data.classes="
                             f"{cfg.data.classes!r} ({len(names)} classes), but the model has "
                             f"model.num_classes={cfg.model.num_classes}; set "
                             f"model.num_classes={len(names)} or other data.classes")
    limit = d.num_train if split == "train" else d.num_val
    return dataset if limit is None else Subset(dataset, range(min(limit, len(dataset))))
