"""Write the synthetic benchmark to disk in the DOTA layout, safely and only once.

``<root>/{train,val}/{images/*.png, labelTxt/*.txt}`` are drawn by
:func:`paa_edu.data.synthetic.make_preset_scene`. The folder's manifest
(:mod:`paa_edu.data.manifest`) records the settings and every file, so that a second call
with the same settings reuses the set, a call with other settings either stops and says what
differs (``replace=False``: what training does, so a user's own ``paa-edu synth`` set is never
rewritten behind their back) or replaces exactly the files the first one wrote
(``paa-edu synth``), and a folder the writer did not create (a real DOTA copy) is refused.
"""
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
    read_manifest,
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


def _write_one(args: tuple) -> None:
    """Draw and write image ``index`` of a split (runs in a worker process)."""
    split_dir, split, index, seed, preset = args
    image, polys, labels = make_preset_scene(preset, split, index, seed)
    write_dota_sample(split_dir, f"syn{index:05d}", image, polys,
                      [SYNTHETIC_CLASSES[i] for i in labels],
                      header={"imagesource": "paa_edu-synthetic", "gsd": "nan"})


def _is_complete(root: Path, info: dict) -> bool:
    """Whether ``root`` already holds exactly this dataset (same settings, every file)."""
    manifest = read_manifest(root)
    if manifest is None or manifest.writer != WRITER or not manifest.complete \
            or manifest.info != info:
        return False
    return all((root / name).is_file() for name in manifest.files)


def _adopt_legacy_manifest(root: Path) -> None:
    """A set written before manifests listed their files (``manifest.json``, version 1 of
    this module): list the files it wrote, so that it can be replaced like any other."""
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
        manifest.add(legacy)
        for split, count in splits.items():
            for i in range(int(count)):
                manifest.add(root / split / "images" / f"syn{i:05d}.png")
                manifest.add(root / split / "labelTxt" / f"syn{i:05d}.txt")


class OtherSettingsError(ValueError):
    """The folder holds a whole synthetic set written with other settings."""


def write_synthetic_dataset(root: str | Path, preset: str | SyntheticPreset = "tiny",
                            seed: int = 0, num_workers: int = 0, progress: bool = True,
                            replace: bool = True) -> dict[str, Path]:
    """Write ``<root>/{train,val}/{images/*.png, labelTxt/*.txt}`` (skipped if already there).

    ``root`` must be missing, empty, or written by this function: its manifest
    (:mod:`paa_edu.data.manifest`; generator version, preset, seed, counts and every file)
    says so. When the manifest matches and every file exists, nothing is regenerated; when it
    differs, exactly the files it lists are removed and the set is written again (only with
    ``replace``, or when the earlier set was never finished).

    Args:
        root: output folder.
        preset: ``"tiny"``, ``"full"`` or a :class:`SyntheticPreset`.
        seed: dataset seed; the same seed gives byte-identical files.
        num_workers: processes drawing images in parallel (0 = in this process).
        progress: show a tqdm progress bar.
        replace: rewrite a whole set of other settings; ``False`` raises instead.
    Returns:
        ``{"train": <root>/train, "val": <root>/val}``.
    Raises:
        ForeignFolderError: ``root`` holds files this writer did not write.
        OtherSettingsError: ``replace`` is False and ``root`` holds a whole set of other
            settings (the message lists them).
    """
    preset = _resolve(preset)
    root = Path(root)
    counts = {"train": preset.num_train, "val": preset.num_val}
    info = {"generator_version": GENERATOR_VERSION, "seed": seed,
            "preset": json.loads(json.dumps(asdict(preset))), "splits": counts}
    _adopt_legacy_manifest(root)
    claim_folder(root, WRITER)  # refuse a foreign folder before even creating the lock
    with exclusive_lock(root / LOCK_NAME):  # a concurrent writer finishes first
        if not _is_complete(root, info):
            previous = claim_folder(root, WRITER)
            if previous is not None and previous.complete and not replace:
                raise OtherSettingsError(f"{root}: holds a synthetic set of other settings "
                                         f"({_what_differs(previous.info, info)})")
            if previous is not None:
                remove_written(root, previous)
            _write_all(root, info, seed, preset, num_workers, progress)
    return {split: root / split for split in counts}


def _what_differs(found: dict, wanted: dict) -> str:
    """``splits.train 12 (wanted 200), ...``: the settings in which two manifests differ."""
    changes = [f"{key} {old!r} (wanted {new!r})" for key, (old, new)
               in differences(found, wanted).items()]
    return ", ".join(changes[:4]) + (f" and {len(changes) - 4} more" if len(changes) > 4 else "")


def _write_all(root: Path, info: dict, seed: int, preset: SyntheticPreset,
               num_workers: int, progress: bool) -> None:
    """Record every file in the manifest, then draw and write every image of every split."""
    jobs = []
    with ManifestWriter(root, WRITER, info) as manifest:
        for split, count in info["splits"].items():
            for i in range(count):
                manifest.add(root / split / "images" / f"syn{i:05d}.png")
                manifest.add(root / split / "labelTxt" / f"syn{i:05d}.txt")
            jobs += [(root / split, split, i, seed, preset) for i in range(count)]
        bar = tqdm(total=len(jobs), desc="synthetic", disable=not progress)
        if num_workers > 0:
            for _ in worker_map(_write_one, jobs, num_workers, chunksize=8):
                bar.update()  # the workers end with this process (paa_edu.data.workers)
        else:
            for job in jobs:
                _write_one(job)
                bar.update()
        bar.close()
