"""Datasets from a config: labels checked against the model, data checked before step one."""
from __future__ import annotations

import shutil

import pytest

from paa_edu.config import apply_overrides
from paa_edu.data import DOTADataset
from paa_edu.data.build import build_dataset
from paa_edu.data.dota import LabelWarning
from paa_edu.presets import tiny_synthetic


@pytest.fixture
def data_copy(tiny_data_root, tmp_path):
    shutil.copytree(tiny_data_root / "train", tmp_path / "data" / "train")
    return tmp_path / "data"


def _cfg(root, *items):
    return apply_overrides(tiny_synthetic(), ["data.synthetic=None", f"data.root={root}",
                                              *items])


def test_labels_beyond_model_num_classes_are_refused_when_the_dataset_is_built(data_copy):
    """Issue 10 sec. 4: num_classes=2 with 7 synthetic classes trained silently."""
    labels = DOTADataset(data_copy / "train", tiny_synthetic_classes()).annotations
    top = max(int(t["labels"].max()) for t in labels if len(t["labels"]))
    with pytest.raises(ValueError, match=rf"is label {top} of data.classes='synthetic' \(7 "
                                         rf"classes\), but the model has model.num_classes="
                                         rf"{top}; set model.num_classes=7"):
        build_dataset(_cfg(data_copy, f"model.num_classes={top}"), "train", train=True)
    assert len(build_dataset(_cfg(data_copy, f"model.num_classes={top + 1}"), "train",
                             train=True)) == 4


def tiny_synthetic_classes():
    from paa_edu.data import SYNTHETIC_CLASSES
    return SYNTHETIC_CLASSES


def test_a_corrupt_image_stops_the_build_naming_it_before_any_training(data_copy):
    victim = sorted((data_copy / "train" / "images").iterdir())[2]
    victim.write_bytes(victim.read_bytes()[:200])  # truncated
    with pytest.raises(ValueError, match=rf"1 data error\(s\), the first: {victim}: cannot "
                                         rf"decode.*paa-edu check-data"):
        build_dataset(_cfg(data_copy), "train", train=True)


def test_a_corrupt_image_read_by_the_loader_names_the_file(data_copy):
    dataset = DOTADataset(data_copy / "train", tiny_synthetic_classes())
    dataset.image_paths[1].write_bytes(b"")
    with pytest.raises(ValueError, match=rf"{dataset.image_paths[1]}: empty image file"):
        dataset[1]


def test_label_files_without_images_and_objects_outside_are_warned_about(data_copy):
    labels = data_copy / "train" / "labelTxt"
    (labels / "orphan.txt").write_text("")
    first = sorted(labels.glob("syn*.txt"))[0]
    lines = first.read_text().splitlines()
    count = sum(":" not in line for line in lines)  # objects, after the header lines
    with open(first, "a") as handle:
        handle.write("300 300 320 300 320 320 300 320 plane 0\n")  # the image is 64 x 64
    with pytest.warns(LabelWarning) as caught:
        dataset = DOTADataset(data_copy / "train", tiny_synthetic_classes(), cache=False)
    messages = sorted(str(w.message) for w in caught)
    assert any("1 label file(s) without an image" in m and "orphan.txt" in m for m in messages)
    assert any(f"{first}:{len(lines) + 1}: object wholly outside the 64x64 image" in m
               for m in messages)
    assert len(dataset.annotations[0]["labels"]) == count
