"""The parsed-label cache: reused while the folder is unchanged, parsed again on any change.

Oracle: ``read_label_file`` on every file, without any cache.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch

from paa_edu.data import (
    SYNTHETIC_CLASSES,
    DOTADataset,
    SceneConfig,
    SyntheticPreset,
    label_cache,
    read_label_file,
    write_label_file,
    write_synthetic_dataset,
)


@pytest.fixture
def split_dir(tmp_path, monkeypatch):
    """A fresh 6-image synthetic split and an empty cache folder of its own."""
    monkeypatch.setenv("PAA_EDU_CACHE_DIR", str(tmp_path / "cache"))
    preset = SyntheticPreset(64, 6, 1, SceneConfig((10, 30), (1, 5)))
    return write_synthetic_dataset(tmp_path / "syn", preset, seed=1, progress=False)["train"]


def _count_parses(monkeypatch) -> list:
    """Patch the dataset's parser to record every file it reads."""
    from paa_edu.data import dataset as dataset_module
    calls, real = [], dataset_module.read_label_file

    def counting(path, *args, **kwargs):
        calls.append(path.name)
        return real(path, *args, **kwargs)
    monkeypatch.setattr(dataset_module, "read_label_file", counting)
    return calls


def _assert_matches_parser(dataset: DOTADataset) -> None:
    for path, target in zip(dataset.image_paths, dataset.annotations):
        expected = read_label_file(dataset.root / "labelTxt" / f"{path.stem}.txt",
                                   SYNTHETIC_CLASSES)
        assert torch.equal(target["boxes"], expected["boxes"])
        assert torch.equal(target["labels"], expected["labels"])
        assert torch.equal(target["difficult"], expected["difficult"])
        assert torch.equal(target["polygons"], expected["polys"])


def test_second_build_reads_no_label_file(split_dir, monkeypatch):
    calls = _count_parses(monkeypatch)
    first = DOTADataset(split_dir, SYNTHETIC_CLASSES)
    assert len(calls) == 6
    second = DOTADataset(split_dir, SYNTHETIC_CLASSES)
    assert len(calls) == 6  # all from the cache
    _assert_matches_parser(second)
    assert [p.name for p in first.image_paths] == [p.name for p in second.image_paths]
    assert len(list((label_cache.cache_dir()).glob("labels-*.pt"))) == 1


def test_a_changed_file_is_parsed_again(split_dir, monkeypatch):
    calls = _count_parses(monkeypatch)
    DOTADataset(split_dir, SYNTHETIC_CLASSES)
    label = sorted((split_dir / "labelTxt").iterdir())[2]
    write_label_file(label, np.array([[1, 1, 20, 1, 20, 9, 1, 9]], float), ["plane"])
    stat = label.stat()
    os.utime(label, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a new mtime for sure
    rebuilt = DOTADataset(split_dir, SYNTHETIC_CLASSES)
    assert len(calls) == 12  # the whole folder again
    _assert_matches_parser(rebuilt)
    assert rebuilt.annotations[2]["labels"].tolist() == [SYNTHETIC_CLASSES.index("plane")]


def test_other_settings_or_use_cache_false_do_not_reuse(split_dir, monkeypatch):
    calls = _count_parses(monkeypatch)
    DOTADataset(split_dir, SYNTHETIC_CLASSES)
    DOTADataset(split_dir, SYNTHETIC_CLASSES, version="le90")  # another angle version
    assert len(calls) == 12
    DOTADataset(split_dir, SYNTHETIC_CLASSES, cache=False)
    assert len(calls) == 18


def test_a_broken_cache_file_is_ignored(split_dir, monkeypatch):
    DOTADataset(split_dir, SYNTHETIC_CLASSES)
    (cache_file,) = label_cache.cache_dir().glob("labels-*.pt")
    cache_file.write_bytes(b"not a torch file")
    calls = _count_parses(monkeypatch)
    _assert_matches_parser(DOTADataset(split_dir, SYNTHETIC_CLASSES))
    assert len(calls) == 6


def test_a_parse_that_warned_is_not_cached(split_dir, monkeypatch):
    label = sorted((split_dir / "labelTxt").iterdir())[0]
    with open(label, "a") as handle:
        handle.write("1 1 2 1 2 2 1 2 no-such-class 0\n")
    for _ in range(2):  # the warning shows at every build
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            DOTADataset(split_dir, SYNTHETIC_CLASSES, lenient=True)
        assert any("no-such-class" in str(w.message) for w in caught)
    assert not list(label_cache.cache_dir().glob("labels-*.pt"))
