"""``paa-edu check-data``: every problem of a DOTA folder in one report, cached per file."""
from __future__ import annotations

import shutil

import pytest

from paa_edu.cli import main
from paa_edu.data import SYNTHETIC_CLASSES
from paa_edu.data.check import check_folder


@pytest.fixture
def clean_set(tiny_data_root):
    """conftest's 64 px set (read only here: the broken variants are copies)."""
    return tiny_data_root


def _broken_copy(clean_set, tmp_path):
    """A copy of the clean set with one fault of each kind (the oracle is this list)."""
    root = tmp_path / "bad"
    shutil.copytree(clean_set / "train", root / "train")
    images, labels = root / "train" / "images", root / "train" / "labelTxt"
    (images / "syn00000.png").write_bytes(b"")
    (images / "syn00001.png").write_bytes((images / "syn00001.png").read_bytes()[:300])
    (labels / "orphan.txt").write_text("1 1 5 1 5 5 1 5 plane 0\n")
    (labels / "syn00002.txt").write_text(
        "\ufeff1 1 20 1 20 20 1 20 plane 3\n"  # BOM accepted; difficult 3 refused
        "10 10 20 10 20 20 20 20 ship 0\n"  # repeated vertex
        "500 500 520 500 520 520 500 520 ship 0\n"  # wholly outside the 64 x 64 image
        "60 60 70 60 70 70 60 70 ship 0\n"  # slightly past the border: fine
        "5 5 30 5 30 30 5 30 boat 0\n")  # unknown class
    (labels / "syn00003.txt").write_bytes("1 1 20 1 20 20 1 20 caf\xe9 0\n".encode("latin-1"))
    shutil.copy(images / "syn00002.png", images / "copy.png")
    (labels / "copy.txt").write_text("")
    shutil.copy(images / "syn00002.png", images / "syn00002.jpg")
    return root


def test_a_clean_folder_has_nothing_to_report(clean_set):
    report = check_folder(clean_set, SYNTHETIC_CLASSES, progress=False, use_cache=False)
    assert report.errors == [] and report.warnings == []
    assert (report.images, report.label_files, report.sizes) == (6, 6, {(64, 64)})


def test_every_fault_is_reported_once_with_its_file(clean_set, tmp_path):
    root = _broken_copy(clean_set, tmp_path)
    report = check_folder(root, SYNTHETIC_CLASSES, progress=False, use_cache=False)
    labels = root / "train" / "labelTxt"
    expected_errors = [
        f"{root}/train/images/syn00002.jpg and {root}/train/images/syn00002.png: two images",
        f"{root}/train/images/syn00000.png: empty image file (0 bytes)",
        f"{root}/train/images/syn00001.png: cannot decode the image",
        f"{labels}/syn00002.txt:1: difficult must be 0, 1 (DOTA) or 2",
        f"{labels}/syn00002.txt:5: unknown class 'boat'",
        f"{labels}/syn00003.txt: not UTF-8 text (byte 0xe9 at offset 23)",
    ]
    expected_warnings = [
        f"{labels}/orphan.txt: label file without an image",
        f"{labels}/syn00002.txt:2: repeated vertex",
        f"{labels}/syn00002.txt:3: object wholly outside the 64x64 image",
        "identical image files:",
    ]
    for found, prefixes in ((report.errors, expected_errors),
                            (report.warnings, expected_warnings)):
        assert len(found) == len(prefixes), found
        for prefix in prefixes:
            assert sum(line.startswith(prefix) for line in found) == 1, (prefix, found)
    assert not any(":4:" in line for line in report.errors + report.warnings)


def test_the_command_prints_one_report_and_exits_1_on_errors(clean_set, tmp_path, capsys):
    assert main(["check-data", str(clean_set), "--classes", "synthetic", "--no-progress"]) == 0
    assert capsys.readouterr().out.strip().endswith("0 errors, 0 warnings")
    root = _broken_copy(clean_set, tmp_path)
    assert main(["check-data", str(root), "--classes", "synthetic", "--no-progress"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("error: ") for line in out) == 6
    assert out[-1].endswith("6 errors, 4 warnings")
    assert main(["check-data", str(tmp_path / "nothing")]) == 2


def test_a_second_check_reads_only_changed_files(clean_set, tmp_path, monkeypatch):
    import paa_edu.data.check as check
    root = _broken_copy(clean_set, tmp_path)
    first = check_folder(root, SYNTHETIC_CLASSES, progress=False)
    read = []
    real = check.read_image
    monkeypatch.setattr(check, "read_image", lambda path: read.append(path.name) or real(path))
    again = check_folder(root, SYNTHETIC_CLASSES, progress=False)
    assert read == [] and again.errors == first.errors and again.warnings == first.warnings
    (root / "train" / "labelTxt" / "syn00002.txt").write_text("1 1 20 1 20 20 1 20 plane 0\n")
    third = check_folder(root, SYNTHETIC_CLASSES, progress=False)
    assert sorted(read) == ["syn00002.jpg", "syn00002.png"]  # the pair of the changed file
    assert len(third.errors) == 4 and len(third.warnings) == 2
