"""Training loop: schedule, exact resume, NaN guard, atomic checkpoints, evaluation."""
from __future__ import annotations

import pytest
import torch

from paa_edu.config import apply_overrides
from paa_edu.checkpoint import load_model, save_checkpoint
from paa_edu.train import build_dataset, evaluate, ground_truths, lr_at, train


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
    # The val set has objects, so every metric is a number; a stricter IoU never scores higher.
    assert 0.0 <= metrics["AP75"] <= metrics["AP50"] <= 1.0
    assert 0.0 <= metrics["mAP"] <= metrics["AP50"]


class _Oracle(torch.nn.Module):
    """A stand-in detector that returns given boxes (in network-input pixels) per image."""

    def __init__(self, outputs: list[dict], num_classes: int):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))  # evaluate() reads the device off it
        self.cfg = type("Cfg", (), {"num_classes": num_classes})()
        self.outputs = iter(outputs)

    def forward(self, images):
        return [next(self.outputs) for _ in range(images.shape[0])]


@pytest.mark.parametrize("max_size", [None, 128, 40])
def test_evaluate_maps_detections_back_through_data_max_size(tiny_cfg, max_size):
    cfg = apply_overrides(tiny_cfg, [f"data.max_size={max_size}"])
    dataset = build_dataset(cfg, "val", train=False)
    items = [dataset[i] for i in range(len(dataset))]
    scale = max_size / 64 if max_size else 1.0  # the tiny set's images are 64 x 64
    assert [tuple(image.shape[1:]) for image, _ in items] == [(
        -(-round(64 * scale) // 32) * 32,) * 2] * len(items)  # resized, padded to 32
    assert all(target["scale_factor"] == scale for _, target in items)
    # A perfect detector answers with the resized ground truths: AP must be exactly 1 in the
    # original pixels the evaluation compares with, so the rescaling must be undone exactly.
    perfect = [{"boxes": t["boxes"], "scores": torch.linspace(1, 0.5, len(t["boxes"])),
                "labels": t["labels"]} for _, t in items]
    assert sum(len(d["boxes"]) for d in perfect) > 2
    for gt, (_, t) in zip(ground_truths(dataset), items):  # the label files' boxes, scaled
        torch.testing.assert_close(t["boxes"][:, :4], gt["boxes"][:, :4] * scale)
    metrics = evaluate(_Oracle(perfect, cfg.model.num_classes), dataset)
    assert metrics["AP50"] == 1.0 and metrics["mAP"] == pytest.approx(1.0)


def test_missing_data_is_a_clear_error(tiny_cfg, tmp_path):
    cfg = apply_overrides(tiny_cfg, [f"data.root={tmp_path / 'nowhere'}"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train(cfg, progress=False)


@pytest.mark.parametrize("clip_ratio", [0.1, None, 10.0])
def test_gradient_clipping_scales_the_step_to_the_max_norm(tiny_cfg, fixed_batch, clip_ratio):
    """One SGD step (lr 1, no momentum) moves the weights by exactly the clipped gradient."""
    import copy

    from paa_edu.model import RotatedPAADetector
    from paa_edu.train import train_one_step
    images, targets = fixed_batch
    torch.manual_seed(0)
    model = RotatedPAADetector(apply_overrides(tiny_cfg, ["model.num_classes=3"]).model).train()
    reference = copy.deepcopy(model)  # the oracle: plain autograd and the norm by hand
    sum(reference(images, targets).values()).backward()
    grads = [p.grad for p in reference.parameters() if p.grad is not None]
    norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads)).item()
    clip = None if clip_ratio is None else clip_ratio * norm
    scale = 1.0 if clip is None else min(1.0, clip / (norm + 1e-6))
    cfg = apply_overrides(tiny_cfg, [f"train.grad_clip={clip}"])
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0, momentum=0.0, weight_decay=0.0)
    train_one_step(model, optimizer, None, images, targets, cfg, "test")
    for old, new, ref in zip(before, model.parameters(), reference.parameters()):
        expected = torch.zeros_like(old) if ref.grad is None else ref.grad * scale
        torch.testing.assert_close(old - new.detach(), expected, rtol=1e-4, atol=1e-7)
    step = torch.sqrt(sum(((o - n.detach()).double() ** 2).sum()
                          for o, n in zip(before, model.parameters()))).item()
    assert step == pytest.approx(norm if clip is None else min(clip, norm), rel=1e-4)


def test_build_dataset_applies_the_data_fields_to_training_only(tiny_cfg):
    cfg = apply_overrides(tiny_cfg, ["data.hflip_prob=1.0", "data.vflip_prob=0.0",
                                     "data.max_train_difficulty=0", "data.filter_empty=True"])
    train_set, val_set = build_dataset(cfg, "train", True), build_dataset(cfg, "val", False)
    assert all(train_set[i][1]["flips"] == ["horizontal"] for i in range(len(train_set)))
    assert all(val_set[i][1]["flips"] == [] for i in range(len(val_set)))
    assert not any(t["difficult"].any() for t in train_set.annotations)
    assert all(len(t["labels"]) > 0 for t in train_set.annotations)
