"""Data faults that once passed without a word (issue #19): missing labels, an interrupted split,
a label edited behind the cache's back, an absurd coordinate, a synthetic set of other settings.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from paa_edu.cli import main
from paa_edu.config import apply_overrides
from paa_edu.data import SYNTHETIC_CLASSES, DOTADataset, SceneConfig, SyntheticPreset
from paa_edu.data import split as split_module
from paa_edu.data.build import build_dataset
from paa_edu.data.check import check_folder
from paa_edu.data.manifest import MANIFEST_NAME
from paa_edu.data.synthetic_writer import OtherSettingsError, write_synthetic_dataset
from paa_edu.presets import tiny_synthetic


def _copy(tiny_data_root, tmp_path):
    root = tmp_path / "d"
    shutil.copytree(tiny_data_root, root, ignore=shutil.ignore_patterns(MANIFEST_NAME, ".*"))
    return root


def _check(folder, cache=False):
    return check_folder(folder, SYNTHETIC_CLASSES, progress=False, use_cache=cache)


# ---- 1. images without labels ---------------------------------------------------------------
def test_a_missing_label_folder_is_an_error_in_check_data_and_dataset(tiny_data_root, tmp_path,
                                                                       capsys):
    root = _copy(tiny_data_root, tmp_path)
    shutil.rmtree(root / "train" / "labelTxt")
    report = _check(root / "train")
    assert report.errors == [f"{root / 'train' / 'labelTxt'}: missing, so the 4 images have no "
                             f"labels (an image without objects needs an empty label file; "
                             f"--no-labels checks the images of a test set)"]
    assert main(["check-data", str(root), "--classes", "synthetic", "--no-progress"]) == 1
    assert "1 errors" in capsys.readouterr().out
    assert main(["check-data", str(root / "train"), "--no-labels", "--no-progress"]) == 0
    assert capsys.readouterr().out.endswith("0 label files, 0 objects: 0 errors, 0 warnings\n")
    with pytest.raises(ValueError, match="labelTxt: missing"):
        DOTADataset(root / "train", SYNTHETIC_CLASSES)
    assert len(DOTADataset(root / "train", SYNTHETIC_CLASSES, labelled=False)) == 4  # test set


def test_a_missing_label_file_is_an_error_and_an_empty_one_is_an_image_without_objects(
        tiny_data_root, tmp_path):
    root = _copy(tiny_data_root, tmp_path)
    labels = root / "train" / "labelTxt"
    (labels / "syn00000.txt").unlink()
    (labels / "syn00001.txt").write_text("")
    report = _check(root / "train")
    assert report.errors == [f"{labels / 'syn00000.txt'}: label file missing for image "
                             f"{root / 'train' / 'images' / 'syn00000.png'}"]
    (labels / "syn00000.txt").write_text("")
    assert _check(root / "train").errors == []


def test_training_refuses_a_folder_without_labels(tiny_data_root, tmp_path, tiny_overrides):
    root = _copy(tiny_data_root, tmp_path)
    shutil.rmtree(root / "train" / "labelTxt")
    cfg = apply_overrides(tiny_synthetic(), [*tiny_overrides, f"data.root={root}"])
    with pytest.raises(ValueError, match="labelTxt: missing"):
        build_dataset(cfg, "train", train=True)


# ---- 2. an interrupted split ----------------------------------------------------------------
def _stop_at_second_image(monkeypatch):
    real, calls = split_module.split_image, [0]

    def split_image(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 2:
            raise KeyboardInterrupt("SIGTERM")
        return real(*args, **kwargs)

    monkeypatch.setattr(split_module, "split_image", split_image)


def test_an_interrupted_split_is_refused_until_redone(tiny_data_root, tmp_path, monkeypatch,
                                                      capsys):
    dst = tmp_path / "patches"
    argv = ["split", "--src", str(tiny_data_root / "train"), "--dst", str(dst),
            "--patch-size", "32", "--overlap", "8", "--no-progress"]
    _stop_at_second_image(monkeypatch)
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert err == (f"paa-edu split: interrupted: SIGTERM: {dst} holds an incomplete split; "
                   f"redo it with --overwrite\n")
    monkeypatch.undo()
    assert len(list((dst / "images").iterdir())) == 9  # the first image's 3 x 3 patches
    report = _check(dst)
    assert len(report.errors) == 1 and report.errors[0].startswith(
        f"{dst}: incomplete split output") and "--overwrite" in report.errors[0]
    assert main(["check-data", str(dst), "--classes", "synthetic", "--no-progress"]) == 1
    capsys.readouterr()
    assert main(argv) == 2
    assert "already holds an incomplete split" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0
    assert capsys.readouterr().out.startswith("4 images -> 36 patches; object copies: ")
    assert _check(dst).errors == []


def test_sigterm_during_split_prints_one_line_and_leaves_an_incomplete_manifest(
        tiny_data_root, tmp_path):
    import signal
    import subprocess
    import sys
    import time
    dst = tmp_path / "patches"
    slow_writes = Path(__file__).resolve().parents[1] / "slow_writes.py"  # 0.3 s per file
    proc = subprocess.Popen([sys.executable, str(slow_writes), "0.3", "split", "--src",
                             str(tiny_data_root / "train"), "--dst", str(dst), "--patch-size",
                             "32", "--overlap", "8", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list((dst / "images").glob("*.png")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == [f"paa-edu split: interrupted: SIGTERM: {dst} holds an "
                                        f"incomplete split; redo it with --overwrite"]
    assert "incomplete split output" in _check(dst).errors[0]
    assert not list(dst.rglob("*.tmp"))  # the file being written went away with the run


# ---- 3. a synthetic preset never rewrites a set of other settings ----------------------------
def test_a_synthetic_preset_refuses_a_synthetic_set_of_other_settings(tmp_path, tiny_overrides):
    root = tmp_path / "synthetic"
    preset = SyntheticPreset(64, 3, 2, SceneConfig((12.0, 40.0), (2, 4), 0.0, 0.0, 0.0))
    write_synthetic_dataset(root, preset, progress=False)
    before = sorted(p.name for p in (root / "train" / "images").iterdir())
    with pytest.raises(OtherSettingsError, match=r"preset.num_train 3 \(wanted 200\)"):
        write_synthetic_dataset(root, "tiny", progress=False, replace=False)
    cfg = apply_overrides(tiny_synthetic(), [*tiny_overrides, "data.synthetic='tiny'",
                                             f"data.root={root}"])
    with pytest.raises(ValueError, match=r"preset.num_val 2 \(wanted 50\).*data.synthetic=None"):
        build_dataset(cfg, "train", train=True)
    assert sorted(p.name for p in (root / "train" / "images").iterdir()) == before
    cfg = apply_overrides(cfg, ["data.synthetic=None"])
    assert len(build_dataset(cfg, "train", train=False)) == 3  # the set as it is


# ---- 5. the caches see an edit whose size and mtime were restored ----------------------------
def _edit_keeping_size_and_mtime(path, old: str, new: str) -> None:
    stat = path.stat()
    text = path.read_text()
    assert len(old) == len(new) and old in text
    path.write_text(text.replace(old, new, 1))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as rsync -t, cp -p, touch -r
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)


def test_check_data_cache_sees_an_edit_with_the_old_size_and_mtime(tiny_data_root, tmp_path):
    root = _copy(tiny_data_root, tmp_path)
    label = root / "train" / "labelTxt" / "syn00000.txt"
    assert _check(root, cache=True).errors == []
    name = label.read_text().splitlines()[-1].split()[8]
    _edit_keeping_size_and_mtime(label, f" {name} ", " " + "x" * len(name) + " ")
    errors = _check(root, cache=True).errors
    assert len(errors) == 1 and errors[0].startswith(f"{label}:") and "unknown class" in errors[0]


def test_label_cache_sees_an_edit_with_the_old_size_and_mtime(tiny_data_root, tmp_path):
    root = _copy(tiny_data_root, tmp_path)
    label = root / "train" / "labelTxt" / "syn00000.txt"
    first = DOTADataset(root / "train", SYNTHETIC_CLASSES).annotations[0]["polygons"]
    line = label.read_text().splitlines()[-1]
    x1 = line.split()[0]
    moved = x1[:-1] + str((int(x1[-1]) + 1) % 10)  # the last digit changed: same size
    _edit_keeping_size_and_mtime(label, line, moved + line[len(x1):])
    again = DOTADataset(root / "train", SYNTHETIC_CLASSES).annotations[0]["polygons"]
    assert again[-1, 0].item() == pytest.approx(float(moved))
    assert first[-1, 0].item() == pytest.approx(float(x1))


# ---- 6. an absurd coordinate is warned about; DOTA's slightly-outside objects are not --------
def test_an_object_far_beyond_its_image_is_a_warning_with_file_and_line(tiny_data_root,
                                                                         tmp_path):
    root = _copy(tiny_data_root, tmp_path)
    label = root / "train" / "labelTxt" / "syn00000.txt"
    lines = label.read_text().splitlines()
    label.write_text("\n".join([*lines, "10 10 1e9 10 1e9 20 10 20 plane 0",
                                "-5 10 70 10 70 20 -5 20 plane 0"]) + "\n")  # 64 px image
    report = _check(root)
    assert report.errors == []
    assert report.warnings == [
        f"{label}:{len(lines) + 1}: object reaches far beyond the 64x64 image ([10.0, 10.0, "
        f"1000000000.0, 10.0, 1000000000.0, 20.0, 10.0, 20.0]): a typo in a coordinate?"]
    with pytest.warns(UserWarning, match=f"syn00000.txt:{len(lines) + 1}: object reaches far"):
        DOTADataset(root / "train", SYNTHETIC_CLASSES)


def test_split_writes_whole_png_and_label_files_only(tiny_data_root, tmp_path, monkeypatch):
    """A write that fails (a full disk) leaves no file under the real name."""
    import errno

    from paa_edu.data import files
    real, count = files.os.replace, [0]

    def replace(src, dst):
        count[0] += 1
        if count[0] == 4:  # 1: the manifest header, 2-3: the first patch and its labels
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(files.os, "replace", replace)
    dst = tmp_path / "patches"
    with pytest.raises(OSError) as caught:
        split_module.split_dataset(tiny_data_root / "train", dst, patch_size=32, overlap=8,
                                   progress=False)
    monkeypatch.undo()
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename == str(dst / "images" / "syn00000__32__24___0.png")
    written = sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file())
    assert written == ["images/syn00000__32__0___0.png", "labelTxt/syn00000__32__0___0.txt",
                       MANIFEST_NAME]
    manifest = [json.loads(line) for line in (dst / MANIFEST_NAME).read_text().splitlines()]
    assert {"complete": True} not in manifest
    assert np.asarray(manifest[1:]).tolist()[-1] == "images/syn00000__32__24___0.png"
