"""scripts/make_teaching_checkpoints.py: a finished run is skipped, an unfinished one resumes,
(each session timed in sessions.json)."""
from __future__ import annotations

import json

import torch
from script_loader import load_script


def _script():
    return load_script("scripts/make_teaching_checkpoints.py")


def test_train_one_resumes_then_skips(tiny_overrides, tiny_data_root, tmp_path, capsys):
    script = _script()
    tiny = [*tiny_overrides, f"data.root={tiny_data_root}", "train.snapshot_every=0",
            "model.depth=18", "model.backbone_width=8"]
    script.train_one(tmp_path, "atss", [*tiny, "train.epochs=1"])
    run = tmp_path / "atss"
    assert json.loads((run / "sessions.json").read_text())[0]["resumed"] is False
    (run / "done.json").unlink()  # as if it had been stopped after epoch 1 of 2
    script.train_one(tmp_path, "atss", [*tiny, "train.epochs=2"])
    sessions = json.loads((run / "sessions.json").read_text())
    assert [s["resumed"] for s in sessions] == [False, True]
    assert torch.load(run / "last.pth", weights_only=False)["epoch"] == 2
    script.train_one(tmp_path, "atss", [*tiny, "train.epochs=2"])
    assert "already trained" in capsys.readouterr().out
    assert len(json.loads((run / "sessions.json").read_text())) == 2


def test_thin_snapshots_keeps_every_nth_and_the_last_with_its_own_assigner(monkeypatch):
    script = _script()
    snaps = [{"iteration": i, "trained_with": "atss", "assigners": {"atss": i, "maxiou": -i}}
             for i in (0, 100, 200, 300, 350)]
    monkeypatch.setattr(script, "load_snapshots", lambda run_dir: snaps)
    kept = script.thin_snapshots("run", every=200)
    assert [s["iteration"] for s in kept] == [0, 200, 350]  # 350: the last one
    assert [s["assigners"] for s in kept] == [{"atss": 0}, {"atss": 200}, {"atss": 350}]


def test_export_log_keeps_every_fifth_row_and_the_last_with_five_digits(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    rows = [f"1,{i},0.0123456789,{1 / i},{i * 10},," for i in range(1, 13)]
    (run / "log.csv").write_text("epoch,iter,lr,loss,num_pos,val_AP50,note\n" + "\n".join(rows))
    path = _script().export_log(run, "atss", tmp_path)
    assert path == tmp_path / "atss_log.csv"
    assert path.read_text().splitlines() == [
        "epoch,iter,lr,loss,num_pos,val_AP50,note",
        "1,5,0.012346,0.2,50,,", "1,10,0.012346,0.1,100,,", "1,12,0.012346,0.083333,120,,"]
