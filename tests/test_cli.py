"""The ``paa-edu`` commands end to end on a tiny generated set (one iteration each)."""
from __future__ import annotations

import shutil

import pytest

from paa_edu.cli import main
from paa_edu.data import SYNTHETIC_CLASSES


def _sets(*items: str) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


@pytest.fixture
def trained(tiny_data_root, tiny_overrides, tmp_path, capsys):
    """A checkpoint from ``paa-edu train`` (one iteration)."""
    out = tmp_path / "run"
    argv = ["train", "--config", "tiny_synthetic", "--out-dir", str(out), "--device", "cpu",
            "--no-progress", "--eval",
            *_sets(*tiny_overrides, f"data.root={tiny_data_root}", "train.max_iters=1",
                   "train.epochs=1")]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "$AP_{0.5}$" in printed and "PAA (ATSS init)" in printed
    return out / "last.pth"


def test_eval_prints_the_seed_table(trained, tiny_data_root, capsys):
    assert main(["eval", "--checkpoint", str(trained), "--data", str(tiny_data_root / "val"),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("| Method") and "synthetic" not in out.split("|")[1]
    assert "not DOTA test-server numbers" in out.splitlines()[-1]


def test_predict_writes_task1_files_and_pngs(trained, tiny_data_root, tmp_path):
    out = tmp_path / "pred"
    assert main(["predict", "--checkpoint", str(trained), "--input",
                 str(tiny_data_root / "val"), "--out", str(out), "--score-thr", "0.0"]) == 0
    assert len(list(out.glob("*_det.png"))) == 2
    assert len(list((out / "task1").glob("Task1_*.txt"))) == 7
    single = next((tiny_data_root / "val" / "images").glob("*.png"))
    assert main(["predict", "--checkpoint", str(trained), "--input", str(single),
                 "--out", str(tmp_path / "one")]) == 0


def test_predict_merge_with_a_trained_checkpoint(trained, tiny_data_root, tmp_path):
    """Split the val images into patches, predict them and merge: Task1 files in --out, whose
    lines name only the original images (coordinates are checked in tests/test_predict.py)."""
    patches = tmp_path / "patches"
    assert main(["split", "--src", str(tiny_data_root / "val"), "--dst", str(patches),
                 "--patch-size", "32", "--overlap", "8"]) == 0
    out = tmp_path / "submission"
    assert main(["predict", "--checkpoint", str(trained), "--input", str(patches / "images"),
                 "--merge", "--out", str(out), "--batch-size", "3", "--no-progress"]) == 0
    files = sorted(out.iterdir())
    assert [f.name for f in files] == sorted(f"Task1_{n}.txt" for n in SYNTHETIC_CLASSES)
    stems = {line.split()[0] for f in files for line in f.read_text().splitlines()}
    originals = {p.stem for p in (tiny_data_root / "val" / "images").glob("*.png")}
    assert stems and stems <= originals


def test_synth_and_split(tmp_path):
    root = tmp_path / "syn"
    assert main(["synth", "--root", str(root), "--size", "96", "--num-train", "2",
                 "--num-val", "1", "--no-progress"]) == 0
    assert len(list((root / "train" / "images").glob("*.png"))) == 2
    assert main(["split", "--src", str(root / "train"), "--dst", str(tmp_path / "patches"),
                 "--patch-size", "64", "--overlap", "16"]) == 0
    assert len(list((tmp_path / "patches" / "images").glob("*.png"))) >= 2 * 2
    again = ["split", "--src", str(root / "train"), "--dst", str(tmp_path / "patches"),
             "--patch-size", "48", "--overlap", "8", "--no-progress"]
    assert main(again) == 2  # a non-empty --dst is refused ...
    assert main([*again, "--overwrite"]) == 0  # ... or replaced, by its manifest
    assert {p.name.split("__")[1] for p in (tmp_path / "patches" / "images").iterdir()} \
        == {"48"}


def test_a_synthetic_preset_on_a_foreign_dataset_stops_and_says_what_to_pass(tmp_path,
                                                                               capsys):
    (tmp_path / "dota" / "train" / "images").mkdir(parents=True)
    (tmp_path / "dota" / "train" / "images" / "P0001.png").write_bytes(b"user image")
    assert main(["train", "--config", "tiny_synthetic", "--set", f"data.root={tmp_path}/dota",
                 "--out-dir", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "paa_edu did not write" in err and "--set data.synthetic=None" in err
    assert [p.name for p in (tmp_path / "dota").rglob("*")] == ["train", "images", "P0001.png"]


def test_demo_runs_all_four_assigners(tiny_data_root, tiny_overrides, tmp_path):
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--device", "cpu", "--no-progress", "--epochs", "1",
            *_sets(*tiny_overrides, f"data.root={tiny_data_root}", "train.max_iters=1")]
    assert main(argv) == 0
    table = (out / "results.md").read_text()
    for name in ("MaxIoU 0.5/0.4 (baseline)", "ATSS (baseline)", "PAA (MaxIoU init)",
                 "PAA (ATSS init)"):
        assert name in table
    assert (out / "assignments.png").is_file() and (out / "gmm_split.png").is_file()
    shutil.rmtree(out)


@pytest.mark.parametrize("argv, message", [
    (["eval", "--checkpoint", "/nonexistent.pth"], "checkpoint not found"),
    (["train", "--set", "train.lr"], "key=value"),
    (["split", "--src", "/nonexistent", "--dst", "/tmp/x"], "does not exist"),
    (["synth", "--root", "/tmp/x", "--size", "8"], "--size is too small: 8"),
    (["synth", "--root", "/tmp/x", "--num-val", "0"], "--num-val is too small: 0"),
    (["train", "--set", "data.max_size=abc"], "--set data.max_size: expected int or None"),
    (["train", "--set", "data.num_val=abc"], "--set data.num_val: expected int or None"),
    (["train", "--set", "model.backbone_weights=5"], "expected str or None, got 5"),
    (["train", "--set", "train.log_every=0"], "train.log_every must be >= 1"),
    (["train", "--set", "data.num_train=0"], "data.num_train must be >= 1"),
])
def test_bad_arguments_give_clear_errors(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("command", [
    ["train", "--out-dir", "{file}"], ["train", "--set", "train.out_dir={file}"],
    ["predict", "--checkpoint", "x.pth", "--input", "x.png", "--out", "{file}"],
    ["synth", "--root", "{file}"], ["demo", "--out", "{file}"],
    ["split", "--src", "{src}", "--dst", "{file}"],
])
def test_an_existing_file_given_as_a_folder_is_one_clear_line(command, tiny_data_root,
                                                              tmp_path, capsys):
    file = tmp_path / "a_file"
    file.write_text("precious")
    argv = [a.format(file=file, src=tiny_data_root / "train") for a in command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"paa-edu {command[0]}: error: {err.split('error: ', 1)[1]}"
    assert "is a file, not a folder" in err and len(err.splitlines()) == 1
    assert file.read_text() == "precious"


def test_predict_names_a_corrupt_image_and_writes_nothing(trained, tiny_data_root, tmp_path,
                                                         capsys):
    images = tmp_path / "in"
    shutil.copytree(tiny_data_root / "val" / "images", images)
    (images / "zz_broken.png").write_bytes(b"")
    out = tmp_path / "pred"
    assert main(["predict", "--checkpoint", str(trained), "--input", str(images), "--out",
                 str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{images / 'zz_broken.png'}: empty image file" in err and len(err.splitlines()) == 1
    assert not out.exists()


def _train_argv(tiny_data_root, tiny_overrides, out, *extra: str) -> list[str]:
    return ["train", "--out-dir", str(out), "--device", "cpu", "--no-progress",
            *_sets(*tiny_overrides, f"data.root={tiny_data_root}"), *extra]


def test_train_into_an_earlier_run_needs_resume_or_restart(tiny_data_root, tiny_overrides,
                                                          tmp_path, capsys):
    argv = _train_argv(tiny_data_root, tiny_overrides, tmp_path / "run")
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("paa-edu train: error: ") and err.count("\n") == 1
    assert "--resume" in err and "--restart" in err
    assert main([*argv, "--restart"]) == 0
    assert len(list((tmp_path / "run" / "old_runs").iterdir())) == 1


def test_ctrl_c_saves_prints_one_line_and_exits_130(tiny_data_root, tiny_overrides, tmp_path,
                                                    capsys, monkeypatch):
    import os
    import signal

    import paa_edu.engine.train as train_module
    real, count = train_module.train_one_step, [0]

    def step(*args, **kwargs):
        count[0] += 1
        if count[0] == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_one_step", step)
    out = tmp_path / "run"
    argv = _train_argv(tiny_data_root, tiny_overrides, out, "--set", "train.epochs=3")
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("paa-edu train: interrupted: SIGINT at epoch 1 iter 2: saved")
    assert "--resume" in err
    monkeypatch.undo()
    assert main([*argv, "--resume"]) == 0


@pytest.mark.parametrize("content", [b"not a checkpoint at all", b""])
def test_a_file_that_is_not_a_checkpoint_is_one_line(tmp_path, content, capsys, tiny_data_root,
                                                     tiny_overrides):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(content)
    for argv in (["eval", "--checkpoint", str(bad)],
                 ["predict", "--checkpoint", str(bad), "--input",
                  str(tiny_data_root / "val" / "images"),
                  "--out", str(tmp_path / "p")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err == f"paa-edu {argv[0]}: error: {bad} is not a paa_edu checkpoint " \
            f"{err.split(' checkpoint ', 1)[1]}" and err.count("\n") == 1
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pth").write_bytes(content)
    assert main(_train_argv(tiny_data_root, tiny_overrides, run, "--resume")) == 2
    assert "last.pth is not a paa_edu checkpoint" in capsys.readouterr().err


def test_a_huge_learning_rate_does_not_end_silently(tiny_data_root, tiny_overrides, tmp_path,
                                                    capsys):
    code = main(_train_argv(tiny_data_root, tiny_overrides, tmp_path / "run",
                            *_sets("train.lr=1e3", "train.epochs=3")))
    captured = capsys.readouterr()
    assert code == 0 and "checkpoint:" in captured.out  # this run stays finite, but it says
    lines = captured.err.strip().splitlines()  # so while training and again at the end
    assert len(lines) == 2 and lines[0] == lines[1]
    assert lines[-1].startswith("warning: the loss is diverging") and "train.lr" in lines[-1]
