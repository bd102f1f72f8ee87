"""Training loop: schedule, exact resume, NaN guard, atomic checkpoints, evaluation."""
from __future__ import annotations

import pytest
import torch

from paa_edu.config import apply_overrides
from paa_edu.checkpoint import load_model, save_checkpoint
from paa_edu.train import build_dataset, evaluate, lr_at, train


def test_lr_schedule_warmup_and_steps(tiny_cfg):
    cfg = apply_overrides(tiny_cfg, ["train.lr=0.1", "train.warmup_iters=10",
                                     "train.warmup_ratio=0.001", "train.lr_steps=(2, 3)"])
    assert lr_at(cfg, 0, 0) == pytest.approx(0.1 * 0.001)
    assert lr_at(cfg, 5, 0) == pytest.approx(0.1 * (0.001 * 0.5 + 0.5))
    assert lr_at(cfg, 10, 0) == pytest.approx(0.1)
    assert lr_at(cfg, 50, 2) == pytest.approx(0.01)
    assert lr_at(cfg, 80, 3) == pytest.approx(0.001)


def test_resume_continues_bit_for_bit(tiny_cfg, tmp_path):
    full = apply_overrides(tiny_cfg, ["train.epochs=2", f"train.out_dir={tmp_path / 'full'}"])
    reference = train(full, progress=False)
    half = apply_overrides(full, ["train.epochs=1", f"train.out_dir={tmp_path / 'half'}"])
    train(half, progress=False)
    resumed = train(apply_overrides(half, ["train.epochs=2"]), resume=True, progress=False)
    assert [h["loss"] for h in resumed["history"]] == \
        [h["loss"] for h in reference["history"][len(resumed["history"]):]]
    ref_state, res_state = reference["model"].state_dict(), resumed["model"].state_dict()
    assert all(torch.equal(ref_state[k], res_state[k]) for k in ref_state)
    log = (tmp_path / "half" / "log.csv").read_text().splitlines()
    assert log[0].startswith("epoch,iter,lr") and len(log) == 1 + len(reference["history"])


def test_resume_without_checkpoint_is_an_error(tiny_cfg):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(tiny_cfg, resume=True, progress=False)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny_cfg, monkeypatch):
    result = train(tiny_cfg, progress=False)
    before = result["checkpoint"].read_bytes()
    import paa_edu.model.detector as detector
    real = detector.detection_losses

    def nan_losses(*args, **kwargs):
        losses = real(*args, **kwargs)
        return {**losses, "loss_cls": losses["loss_cls"] * float("nan")}

    monkeypatch.setattr(detector, "detection_losses", nan_losses)
    with pytest.raises(FloatingPointError, match="non-finite loss at epoch 2 iter"):
        train(apply_overrides(tiny_cfg, ["train.epochs=2"]), resume=True, progress=False)
    assert result["checkpoint"].read_bytes() == before


def test_checkpoint_write_is_atomic_and_loadable(tiny_cfg, tmp_path):
    result = train(apply_overrides(tiny_cfg, ["train.max_iters=1"]), progress=False)
    assert not list(result["checkpoint"].parent.glob("*.tmp"))
    model, cfg = load_model(result["checkpoint"])
    assert cfg == apply_overrides(tiny_cfg, ["train.max_iters=1"])
    save_checkpoint(tmp_path / "x" / "c.pth", {"a": 1})
    assert torch.load(tmp_path / "x" / "c.pth")["a"] == 1
    with pytest.raises(ValueError, match="not a paa_edu checkpoint"):
        load_model(tmp_path / "x" / "c.pth")


def test_evaluate_returns_the_metrics(tiny_cfg):
    model = train(apply_overrides(tiny_cfg, ["train.max_iters=1"]), progress=False)["model"]
    metrics = evaluate(model, build_dataset(tiny_cfg, "val", train=False))
    assert {"AP50", "AP75", "mAP", "per_class_AP50"} <= set(metrics)
    assert 0.0 <= metrics["AP50"] <= 1.0 or metrics["AP50"] != metrics["AP50"]


def test_missing_data_is_a_clear_error(tiny_cfg, tmp_path):
    cfg = apply_overrides(tiny_cfg, [f"data.root={tmp_path / 'nowhere'}"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train(cfg, progress=False)
