"""The synthetic set on disk: cached by its manifest, deterministic, safe for other folders."""
from __future__ import annotations

import json

import mmcv
import numpy as np
import pytest

from paa_edu.data import (
    SYNTHETIC_CLASSES,
    DOTADataset,
    SceneConfig,
    SyntheticPreset,
    make_preset_scene,
    write_synthetic_dataset,
)
from paa_edu.data.manifest import LOCK_NAME, MANIFEST_NAME, ForeignFolderError, read_manifest


def _small_preset(n_train=4, n_val=2):
    return SyntheticPreset(96, n_train, n_val, SceneConfig((10, 40), (2, 6)))


def test_writer_output_is_read_by_the_dota_reader_and_is_cached(tmp_path):
    dirs = write_synthetic_dataset(tmp_path / "a", _small_preset(), seed=1, progress=False)
    assert set(dirs) == {"train", "val"}
    assert len(list((dirs["train"] / "images").glob("*.png"))) == 4
    assert len(list((dirs["val"] / "labelTxt").glob("*.txt"))) == 2
    dataset = DOTADataset(dirs["train"], SYNTHETIC_CLASSES, train=False)
    assert len(dataset) == 4 and dataset[0][0].shape == (3, 96, 96)
    manifest = read_manifest(tmp_path / "a")
    assert manifest.info["seed"] == 1 and manifest.info["splits"] == {"train": 4, "val": 2}
    assert manifest.complete and len(manifest.files) == 2 * (4 + 2)
    image, _, labels = make_preset_scene(_small_preset(), "train", 0, seed=1)  # streamed
    np.testing.assert_array_equal(image, mmcv.imread(str(dirs["train"] / "images" /
                                                         "syn00000.png"), channel_order="rgb"))
    assert len(labels) == len(dataset.ground_truths()[0]["labels"])
    stamp = (dirs["train"] / "images" / "syn00000.png").stat().st_mtime_ns
    write_synthetic_dataset(tmp_path / "a", _small_preset(), seed=1, progress=False)
    assert (dirs["train"] / "images" / "syn00000.png").stat().st_mtime_ns == stamp
    write_synthetic_dataset(tmp_path / "a", _small_preset(2, 1), seed=1, progress=False)
    assert len(list((dirs["train"] / "images").iterdir())) == 2  # no stale files left
    assert len(list((dirs["train"] / "labelTxt").iterdir())) == 2


def test_writer_is_byte_deterministic_and_seed_dependent(tmp_path):
    a = write_synthetic_dataset(tmp_path / "a", _small_preset(2, 1), seed=5, progress=False)
    b = write_synthetic_dataset(tmp_path / "b", _small_preset(2, 1), seed=5, progress=False)
    c = write_synthetic_dataset(tmp_path / "c", _small_preset(2, 1), seed=6, progress=False)
    for split in ("train", "val"):
        for sub in ("images", "labelTxt"):
            files_a = sorted((a[split] / sub).iterdir())
            files_b = sorted((b[split] / sub).iterdir())
            assert [f.read_bytes() for f in files_a] == [f.read_bytes() for f in files_b]
    png = "images/syn00000.png"
    assert (a["train"] / png).read_bytes() != (c["train"] / png).read_bytes()
    assert (a["train"] / png).read_bytes() != (a["val"] / png).read_bytes()


def _write_small(root: str) -> None:
    from paa_edu.data import SceneConfig, SyntheticPreset, write_synthetic_dataset
    preset = SyntheticPreset(64, 12, 4, SceneConfig((12.0, 30.0), (2, 4), 0.0, 0.0, 0.0))
    write_synthetic_dataset(root, preset, seed=3, progress=False)


def test_two_processes_writing_one_dataset_leave_it_complete(tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_small, args=(str(tmp_path),)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert len(list((tmp_path / "train" / "images").glob("*.png"))) == 12
    assert len(list((tmp_path / "val" / "labelTxt").glob("*.txt"))) == 4
    assert read_manifest(tmp_path).complete


def _files(folder) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_writer_refuses_a_foreign_folder_and_leaves_it_untouched(tmp_path):
    """Issue 10 sec. 1: a real DOTA folder (with a file named like ours) gets nothing."""
    for name in ("train/images/P0001.png", "train/labelTxt/P0001.txt",
                 "train/images/syn00000.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"the user's " + name.encode())
    before = _files(tmp_path)
    with pytest.raises(ForeignFolderError, match="paa_edu did not write"):
        write_synthetic_dataset(tmp_path, _small_preset(2, 1), progress=False)
    assert _files(tmp_path) == before
    assert not (tmp_path / LOCK_NAME).exists()


def test_rewriting_removes_only_the_files_its_manifest_lists(tmp_path):
    write_synthetic_dataset(tmp_path, _small_preset(3, 1), seed=1, progress=False)
    user = {"train/images/syn00007.png": b"mine", "val/notes.txt": b"mine too"}
    for name, data in user.items():
        (tmp_path / name).write_bytes(data)
    write_synthetic_dataset(tmp_path, _small_preset(2, 1), seed=2, progress=False)
    files = _files(tmp_path)
    assert {k: files[k] for k in user} == user
    assert sorted(p.name for p in (tmp_path / "train" / "images").iterdir()) == \
        ["syn00000.png", "syn00001.png", "syn00007.png"]


def test_an_interrupted_write_is_cleaned_up_by_the_next_one(tmp_path, monkeypatch):
    import paa_edu.data.synthetic_writer as synthetic
    calls = []

    def dies_on_the_third(job):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(job)
        real(job)
    real = synthetic._write_one
    monkeypatch.setattr(synthetic, "_write_one", dies_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        write_synthetic_dataset(tmp_path, _small_preset(4, 1), progress=False)
    assert not read_manifest(tmp_path).complete
    monkeypatch.setattr(synthetic, "_write_one", real)
    write_synthetic_dataset(tmp_path, _small_preset(1, 1), progress=False)
    assert sorted(_files(tmp_path)) == sorted(
        ["train/images/syn00000.png", "train/labelTxt/syn00000.txt", "val/images/syn00000.png",
         "val/labelTxt/syn00000.txt", MANIFEST_NAME, LOCK_NAME])


def test_a_set_written_before_manifests_listed_files_is_reused(tmp_path):
    dirs = write_synthetic_dataset(tmp_path, _small_preset(2, 1), seed=4, progress=False)
    info = read_manifest(tmp_path).info
    (tmp_path / MANIFEST_NAME).unlink()
    (tmp_path / "manifest.json").write_text(json.dumps(info, indent=1))  # the old format
    stamp = (dirs["train"] / "images" / "syn00000.png").stat().st_mtime_ns
    write_synthetic_dataset(tmp_path, _small_preset(2, 1), seed=4, progress=False)
    assert (dirs["train"] / "images" / "syn00000.png").stat().st_mtime_ns == stamp
    write_synthetic_dataset(tmp_path, _small_preset(1, 1), seed=4, progress=False)
    assert not (tmp_path / "manifest.json").exists()  # listed, so replaced with the rest
    assert len(list((dirs["train"] / "images").iterdir())) == 1
