"""The synthetic benchmark: determinism, label validity, class properties, the on-disk writer."""
from __future__ import annotations

import json
from collections import Counter

import mmcv
import numpy as np
import pytest
import torch
from shapely.geometry import Polygon

from paa_edu.data import (
    PRESETS,
    SYNTHETIC_CLASSES,
    DOTADataset,
    SceneConfig,
    SyntheticPreset,
    make_preset_scene,
    make_scene,
    write_synthetic_dataset,
)
from paa_edu.data.manifest import LOCK_NAME, MANIFEST_NAME, ForeignFolderError, read_manifest
from paa_edu.data.synthetic import CLASS_SPECS
from paa_edu.geometry import poly2obb

TINY = PRESETS["tiny"].scene


def test_same_seed_same_scene_different_seed_different_scene():
    a, b, c = make_scene(3, 256, TINY), make_scene(3, 256, TINY), make_scene(4, 256, TINY)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_scene_arrays_and_polygons_are_valid():
    image, polys, labels = make_scene(0, (200, 300), SceneConfig(num_objects=(20, 30)))
    assert image.shape == (200, 300, 3) and image.dtype == np.uint8
    assert polys.shape == (len(labels), 8) and labels.dtype == np.int64
    assert len(labels) >= 5 and labels.min() >= 0 and labels.max() < len(SYNTHETIC_CLASSES)
    assert (polys[:, 0::2] >= 0).all() and (polys[:, 0::2] <= 300).all()
    assert (polys[:, 1::2] >= 0).all() and (polys[:, 1::2] <= 200).all()
    shapes = [Polygon(p.reshape(4, 2)) for p in polys]
    for poly in polys:  # DOTA order: clockwise on screen (positive shoelace with y down)
        x, y = poly[0::2], poly[1::2]
        assert np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) > 0
    for i, a in enumerate(shapes):  # objects never overlap
        assert all(a.intersection(b).area < 1e-6 for b in shapes[i + 1:])


def test_tiny_scenes_cover_all_classes_with_class_specific_sizes_and_shapes():
    boxes, labels = [], []
    for seed in range(40):
        _, polys, lab = make_scene(seed, 256, TINY)
        boxes.append(poly2obb(torch.from_numpy(polys), "le135"))
        labels.append(torch.from_numpy(lab))
    boxes, labels = torch.cat(boxes), torch.cat(labels)  # (N, 5), (N,)
    counts = Counter(labels.tolist())
    assert set(counts) == set(range(len(SYNTHETIC_CLASSES))), counts
    assert boxes[:, 2].min() >= 10 - 1e-3 and boxes[:, 2].max() <= 80 + 1e-3  # tiny clamp
    assert 4 <= len(labels) / 40 <= 20  # objects per scene
    for cls, name in enumerate(SYNTHETIC_CLASSES):
        ratio = (boxes[labels == cls, 2] / boxes[labels == cls, 3]).mean().item()
        low, high = CLASS_SPECS[name].aspect
        assert min(low, 1 / high) - 0.05 <= ratio <= max(high, 1 / low) + 0.05, (name, ratio)
    small = boxes[labels == SYNTHETIC_CLASSES.index("small-vehicle")]
    assert small[:, 2].max() <= 20 + 1e-3
    # orientations are arbitrary: many distinct angles
    assert len(torch.unique((boxes[:, 4] * 10).round())) > 20


def test_parking_lots_give_dense_aligned_rows():
    config = SceneConfig(object_size=(10, 80), num_objects=(30, 30), parking_prob=1.0,
                         water_prob=0.0)
    _, polys, labels = make_scene(1, 256, config)
    cars = poly2obb(torch.from_numpy(polys[labels == 3]), "le135")
    assert len(cars) >= 5
    angles = torch.remainder(cars[:, 4], np.pi)  # (N,)
    diff = (angles[:, None] - angles[None]).abs()  # (N, N)
    aligned = torch.minimum(diff, np.pi - diff) < 0.1
    assert aligned.sum(1).max() >= 5  # one lot = at least 5 cars with the same orientation


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


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(ValueError, match="unknown preset"):
        write_synthetic_dataset(tmp_path, "huge")
    with pytest.raises(ValueError, match="at least 32"):
        make_scene(0, 16)


def test_presets_are_as_documented():
    tiny, full = PRESETS["tiny"], PRESETS["full"]
    assert tiny.image_size == 256 and (tiny.num_train, tiny.num_val) == (200, 50)
    assert tiny.scene.object_size == (10.0, 80.0) and tiny.scene.num_objects == (4, 20)
    assert full.image_size == 1024 and full.num_train >= 1000


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
    import paa_edu.data.synthetic as synthetic
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
