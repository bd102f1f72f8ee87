"""The command line when the user or the disk gets it wrong (issue #19): one line naming the path
or argument and the cause, exit 1 or 2, nothing lost, never a silent wrong answer.

Full and read-only disks are injected (any machine) and, where this process may mount one, real
small tmpfs mounts (skipped elsewhere).
"""
from __future__ import annotations

import errno
import shutil
import subprocess
from contextlib import contextmanager

import pytest
import torch

import paa_edu.engine.checkpoint as checkpoint_module
import paa_edu.engine.train as train_module
from paa_edu.cli import main
from paa_edu.engine.checkpoint import load_checkpoint


def _sets(*items: str) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


def _train_argv(root, tiny_overrides, out, *extra: str) -> list[str]:
    return ["train", "--out-dir", str(out), "--device", "cpu", "--no-progress",
            *_sets(*tiny_overrides, f"data.root={root}", "train.max_iters=1"), *extra]


@pytest.fixture(scope="module")
def trained(tiny_data_root, tmp_path_factory):
    """A one-iteration checkpoint."""
    from tests.conftest import TINY_OVERRIDES
    out = tmp_path_factory.mktemp("trained") / "run"
    assert main(_train_argv(tiny_data_root, TINY_OVERRIDES, out)) == 0
    return out / "last.pth"


def _one_error_line(capsys, start: str) -> str:
    """The one error line printed (other lines, e.g. "resumed from ...", may come before it)."""
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "Traceback" not in err and err.endswith(errors[0] + "\n"), err
    assert errors[0].startswith(start), err
    return errors[0]


# ---- 10. a full disk while saving a checkpoint ------------------------------------------------
def _full_disk_save(state, handle):
    """What torch.save does on a full disk: the OSError of the write, chained into a
    RuntimeError of its zip writer."""
    try:
        handle.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")
    except OSError:
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")


def test_a_full_disk_while_saving_is_one_line_and_keeps_last_pth(tiny_data_root, tiny_overrides,
                                                                 tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    argv = _train_argv(tiny_data_root, tiny_overrides, out)
    assert main(argv) == 0
    before = (out / "last.pth").read_bytes()
    capsys.readouterr()
    monkeypatch.setattr(checkpoint_module.torch, "save", _full_disk_save)
    resume = [*argv, *_sets("train.max_iters=2"), "--resume"]
    assert main(resume) == 1
    line = _one_error_line(capsys, "paa-edu train: error: ")
    assert line.endswith(f"{out / 'last.pth'}: no space left on the device")
    assert (out / "last.pth").read_bytes() == before
    assert not list(out.glob(".*.tmp"))
    assert main(resume) == 1  # resuming on the still-full disk: the same one line
    assert _one_error_line(capsys, "paa-edu train: error: ") == line
    monkeypatch.undo()
    assert main(resume) == 0
    assert load_checkpoint(out / "last.pth")["iter"] == 2


# ---- 9. train --eval checks val/ before the first step ----------------------------------------
def test_train_eval_checks_val_before_the_first_step(tiny_data_root, tiny_overrides, tmp_path,
                                                     capsys, monkeypatch):
    root = tmp_path / "d"
    shutil.copytree(tiny_data_root / "train", root / "train")
    steps = []
    real = train_module.train_one_step
    monkeypatch.setattr(train_module, "train_one_step",
                        lambda *a, **k: steps.append(1) or real(*a, **k))
    assert main([*_train_argv(root, tiny_overrides, tmp_path / "run"), "--eval"]) == 2
    line = _one_error_line(capsys, "paa-edu train: error: ")
    assert f"{root / 'val' / 'images'} does not exist" in line
    assert steps == []


# ---- resume says where it goes on, and what it changes ----------------------------------------
def test_resume_prints_its_position_and_the_allowed_changes(tiny_data_root, tiny_overrides,
                                                            tmp_path, capsys):
    out = tmp_path / "run"
    argv = _train_argv(tiny_data_root, tiny_overrides, out)
    assert main(argv) == 0
    capsys.readouterr()
    assert main([*argv, *_sets("train.max_iters=2"), "--resume"]) == 0
    said = capsys.readouterr().out.splitlines()  # information, not a warning: stdout
    assert said[:2] == [f"resumed from epoch 1, iteration 1 ({out / 'last.pth'})",
                        "resume changes: train.max_iters: 1 -> 2"]


# ---- 7. a checkpoint stores the resolved data.root ---------------------------------------------
def test_eval_from_another_folder_uses_the_runs_data_or_says_it_is_gone(
        tiny_data_root, tiny_overrides, tmp_path, capsys, monkeypatch):
    shutil.copytree(tiny_data_root, tmp_path / "a" / "d12")
    (tmp_path / "b").mkdir()
    shutil.copytree(tiny_data_root / "train", tmp_path / "b" / "d12" / "val")  # another "val"
    monkeypatch.chdir(tmp_path / "a")
    argv = ["train", "--out-dir", "run", "--device", "cpu", "--no-progress",
            *_sets(*tiny_overrides, "data.root=d12", "train.max_iters=1")]
    assert main(argv) == 0
    ckpt = tmp_path / "a" / "run" / "last.pth"
    assert load_checkpoint(ckpt)["config"]["data"]["root"] == str(tmp_path / "a" / "d12")
    capsys.readouterr()
    monkeypatch.chdir(tmp_path / "b")
    assert main(["eval", "--checkpoint", str(ckpt), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path / 'a' / 'd12' / 'val'}" in out.splitlines()[-1]
    shutil.rmtree(tmp_path / "a" / "d12")
    assert main(["eval", "--checkpoint", str(ckpt), "--no-progress"]) == 2
    line = _one_error_line(capsys, "paa-edu eval: error: ")
    assert f"{tmp_path / 'a' / 'd12' / 'val'} must hold images/ and labelTxt/" in line
    assert "--data" in line
    monkeypatch.chdir(tmp_path / "a")  # resuming from the run's folder still matches
    shutil.copytree(tiny_data_root, tmp_path / "a" / "d12")
    assert main([*argv, *_sets("train.max_iters=2"), "--resume"]) == 0


# ---- 4. a submission folder never ships another run's files ------------------------------------
def test_predict_merge_refuses_earlier_task1_files_or_replaces_them(trained, tiny_data_root,
                                                                    tmp_path, capsys):
    patches = tmp_path / "patches"
    assert main(["split", "--src", str(tiny_data_root / "val"), "--dst", str(patches),
                 "--patch-size", "32", "--overlap", "8", "--no-progress"]) == 0
    out = tmp_path / "sub"
    out.mkdir()
    (out / "Task1_helicopter.txt").write_text("P0001 0.9 1 1 2 1 2 2 1 2\n")
    (out / "notes.txt").write_text("mine")
    argv = ["predict", "--checkpoint", str(trained), "--input", str(patches / "images"),
            "--merge", "--out", str(out), "--no-progress"]
    capsys.readouterr()
    assert main(argv) == 2
    line = _one_error_line(capsys, "paa-edu predict: error: ")
    assert "Task1_helicopter.txt" in line and "--overwrite" in line
    assert sorted(p.name for p in out.iterdir()) == ["Task1_helicopter.txt", "notes.txt"]
    assert main([*argv, "--overwrite"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert "Task1_helicopter.txt" not in names and "notes.txt" in names
    assert len([n for n in names if n.startswith("Task1_")]) == 7  # the synthetic classes


# ---- 13. library functions name a wrong argument -----------------------------------------------
def test_library_functions_name_a_wrong_argument(monkeypatch):
    from paa_edu import pretrained, viz
    with pytest.raises(TypeError, match="boxes must be a tensor, array or nested list of shape "
                                        r"\(N, 5\).*got str 'boxes'"):
        viz.plot_rotated_boxes(None, "boxes")
    with pytest.raises(TypeError, match="history must be a list of dicts.*got int 5"):
        viz.plot_loss_curves(5)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"pretrained.load\(device=...\): device 'cuda' but no "
                                         r"CUDA device is available"):
        pretrained.load("atss", device="cuda")


# ---- 11, 12. a read-only or full disk, for real (a small tmpfs, where mounting is allowed) -----
@contextmanager
def _tmpfs(path, options: str):
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_read_only_output_folder_is_one_line_in_every_command(trained, tiny_data_root,
                                                                tiny_overrides, tmp_path,
                                                                capsys):
    with _tmpfs(tmp_path / "ro", "ro,size=1m") as ro:
        commands = {
            "train": _train_argv(tiny_data_root, tiny_overrides, ro / "run"),
            "split": ["split", "--src", str(tiny_data_root / "val"), "--dst", str(ro / "p"),
                      "--patch-size", "32", "--overlap", "8", "--no-progress"],
            "predict": ["predict", "--checkpoint", str(trained), "--input",
                        str(tiny_data_root / "val"), "--out", str(ro / "pred"),
                        "--no-progress"],
            "synth": ["synth", "--root", str(ro / "syn"), "--size", "64", "--num-train", "1",
                      "--num-val", "1", "--no-progress"],
        }
        for command, argv in commands.items():
            capsys.readouterr()
            assert main(argv) == 1, command
            line = _one_error_line(capsys, f"paa-edu {command}: error: {ro / ''}")
            assert line.endswith(": read-only file system"), line
        assert list(ro.iterdir()) == []


def test_a_full_disk_is_one_line_and_leaves_no_partial_file(trained, tiny_data_root, tmp_path,
                                                            capsys):
    with _tmpfs(tmp_path / "full", "size=24k") as full:
        capsys.readouterr()
        assert main(["split", "--src", str(tiny_data_root / "train"), "--dst",
                     str(full / "p"), "--patch-size", "64", "--overlap", "8",
                     "--no-progress"]) == 1
        line = _one_error_line(capsys, f"paa-edu split: error: {full / 'p'}")
        assert line.endswith(": no space left on the device")
        assert not list(full.rglob("*.tmp"))
        for png in (full / "p" / "images").glob("*.png"):  # those there are whole
            assert png.read_bytes().endswith(b"IEND\xaeB`\x82")
        shutil.rmtree(full / "p")
        (full / "filler").write_bytes(b"\0" * 20_000)
        assert main(["predict", "--checkpoint", str(trained), "--input",
                     str(tiny_data_root / "val"), "--out", str(full / "pred"),
                     "--no-progress"]) == 1
        line = _one_error_line(capsys, f"paa-edu predict: error: {full / 'pred'}")
        assert line.endswith(": no space left on the device")
        assert not list(full.rglob("*.tmp"))
        for png in (full / "pred").glob("*.png"):
            assert png.read_bytes().endswith(b"IEND\xaeB`\x82")
