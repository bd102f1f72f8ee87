"""Write the synthetic benchmark to disk in the DOTA layout, safely and only once (the folder's
manifest, :mod:`paa_edu.data.manifest`, records the settings and every file)."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from paa_edu.config import differences
from paa_edu.data.dota import write_dota_sample
from paa_edu.data.files import exclusive_lock
from paa_edu.data.manifest import (
    LOCK_NAME,
    MANIFEST_NAME,
    ManifestWriter,
    claim_folder,
    remove_written,
)
from paa_edu.data.synthetic import (
    GENERATOR_VERSION,
    SYNTHETIC_CLASSES,
    SyntheticPreset,
    _resolve,
    make_preset_scene,
)
from paa_edu.data.workers import worker_map

WRITER = "synthetic"  # the writer's name in its folder's manifest


def _write_one(args: tuple) -> None:  # runs in a worker process
    split_dir, split, index, seed, preset = args
    image, polys, labels = make_preset_scene(preset, split, index, seed)
    write_dota_sample(split_dir, f"syn{index:05d}", image, polys,
                      [SYNTHETIC_CLASSES[i] for i in labels],
                      header={"imagesource": "paa_edu-synthetic", "gsd": "nan"})


def _adopt_legacy_manifest(root: Path) -> None:
    """A set with the older ``manifest.json`` (no file list): list the files it wrote."""
    legacy = root / "manifest.json"
    if (root / MANIFEST_NAME).exists() or not legacy.is_file():
        return
    try:
        old = json.loads(legacy.read_text())
        splits = dict(old["splits"]) if "generator_version" in old else None
    except (ValueError, KeyError, TypeError):
        splits = None
    if splits is None:
        return  # not ours: claim_folder refuses the folder
    with ManifestWriter(root, WRITER, old) as manifest:  # complete if every file is there
        for path in [legacy, *_set_files(root, splits)]:
            manifest.add(path)


def _set_files(root: Path, splits: dict) -> list[Path]:  # in writing order
    return [root / split / folder / f"syn{i:05d}{suffix}" for split, count in splits.items()
            for i in range(int(count)) for folder, suffix in (("images", ".png"),
                                                                ("labelTxt", ".txt"))]


class OtherSettingsError(ValueError):
    """The folder holds a whole synthetic set written with other settings."""


def write_synthetic_dataset(root: str | Path, preset: str | SyntheticPreset = "tiny",
                            seed: int = 0, num_workers: int = 0, progress: bool = True,
                            replace: bool = True) -> dict[str, Path]:
    """Write ``<root>/{train,val}/{images/*.png, labelTxt/*.txt}``; returns both split folders.
    ``root`` must be missing, empty, or written by this function. When its manifest matches
    (generator version, preset, seed, counts) and every file exists, nothing is redrawn; else the
    files it lists are removed and the set written again; a finished set only with ``replace``
    (else :class:`OtherSettingsError`). The same seed gives byte-identical files."""
    preset, root = _resolve(preset), Path(root)
    counts = {"train": preset.num_train, "val": preset.num_val}
    info = {"generator_version": GENERATOR_VERSION, "seed": seed,
            "preset": json.loads(json.dumps(asdict(preset))), "splits": counts}
    _adopt_legacy_manifest(root)
    claim_folder(root, WRITER)  # refuse a foreign folder before even creating the lock
    with exclusive_lock(root / LOCK_NAME):  # a concurrent writer finishes first
        previous = claim_folder(root, WRITER)
        if previous is not None and previous.complete:
            if previous.info == info and all((root / f).is_file() for f in previous.files):
                return {split: root / split for split in counts}  # already written
            if not replace:
                changes = [f"{key} {old!r} (wanted {new!r})" for key, (old, new)
                           in differences(previous.info, info).items()]
                more = f" and {len(changes) - 4} more" if len(changes) > 4 else ""
                raise OtherSettingsError(f"{root}: holds a synthetic set of other settings "
                                         f"({', '.join(changes[:4])}{more})")
        if previous is not None:
            remove_written(root, previous)
        jobs = [(root / split, split, i, seed, preset) for split, count in counts.items()
                for i in range(count)]
        with ManifestWriter(root, WRITER, info) as manifest:
            for path in _set_files(root, counts):
                manifest.add(path)
            done = (worker_map(_write_one, jobs, num_workers, chunksize=8) if num_workers > 0
                    else map(_write_one, jobs))  # the workers end with this process
            for _ in tqdm(done, total=len(jobs), desc="synthetic", disable=not progress):
                pass
    return {split: root / split for split in counts}
