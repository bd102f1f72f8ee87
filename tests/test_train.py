"""Training loop: schedule, exact resume (epoch ends, mid-epoch, max_iters, Ctrl-C, a crash),
the NaN guard, divergence warnings, best.pth, atomic checkpoints, evaluation."""
from __future__ import annotations

import csv
import os
import signal

import pytest
import torch

import paa_edu.engine.checkpoint as checkpoint_module
import paa_edu.engine.train as train_module
from paa_edu.config import apply_overrides
from paa_edu.data.build import build_dataset
from paa_edu.engine.checkpoint import load_model, save_checkpoint
from paa_edu.engine.inference import evaluate, ground_truths
from paa_edu.engine.run_dir import TrainingInterrupted
from paa_edu.engine.train import lr_at, train


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

    from paa_edu.engine.train import train_one_step
    from paa_edu.model import RotatedPAADetector
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


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _log_iters(out_dir) -> list[int]:
    with open(out_dir / "log.csv", newline="") as handle:
        return [int(r["iter"]) for r in csv.DictReader(handle) if r["loss"]]


@pytest.fixture
def three_epochs(tiny_cfg, tmp_path):
    """tiny_cfg for 3 epochs of 2 steps (4 images, batch 2), and its uninterrupted run."""
    cfg = apply_overrides(tiny_cfg, ["train.epochs=3"])
    reference = train(apply_overrides(cfg, [f"train.out_dir={tmp_path / 'ref'}"]),
                      progress=False)
    return cfg, reference


def test_resume_after_a_max_iters_stop_continues_the_same_epoch(three_epochs):
    cfg, reference = three_epochs
    first = train(apply_overrides(cfg, ["train.max_iters=3"]), progress=False)
    state = torch.load(first["checkpoint"], weights_only=True)
    assert (state["epoch"], state["epoch_step"], state["iter"]) == (1, 1, 3)  # inside epoch 2
    rest = train(cfg, resume=True, progress=False)
    assert len(rest["history"]) == 3 and rest["history"][0]["epoch"] == 2
    assert [h["loss"] for h in rest["history"]] == [h["loss"] for h in reference["history"][3:]]
    assert _same_weights(rest["model"], reference["model"])
    assert _log_iters(first["checkpoint"].parent) == [1, 2, 3, 4, 5, 6]


def test_checkpoint_every_writes_mid_epoch_positions(tiny_cfg, monkeypatch):
    saved = []
    real = checkpoint_module.save_checkpoint

    def record(path, state):
        saved.append((path.name, state["epoch"], state["epoch_step"], state["iter"]))
        return real(path, state)

    monkeypatch.setattr(checkpoint_module, "save_checkpoint", record)
    train(apply_overrides(tiny_cfg, ["train.epochs=2", "train.checkpoint_every=1"]),
          progress=False)
    assert saved == [("last.pth", 0, 1, 1), ("last.pth", 1, 0, 2),
                     ("last.pth", 1, 1, 3), ("last.pth", 2, 0, 4)]


def _fail_at(monkeypatch, iteration: int, action):
    """Run ``action()`` just before training step ``iteration`` (1-based)."""
    real, count = train_module.train_one_step, [0]

    def step(*args, **kwargs):
        count[0] += 1
        if count[0] == iteration:
            action()
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_one_step", step)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_saves_the_current_iteration_and_resume_is_exact(three_epochs, monkeypatch, sig):
    cfg, reference = three_epochs
    _fail_at(monkeypatch, 4, lambda: os.kill(os.getpid(), sig))
    with pytest.raises(TrainingInterrupted, match="iter 4: saved .*--resume"):
        train(apply_overrides(cfg, ["train.checkpoint_every=0"]), progress=False)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    state = torch.load(cfg.train.out_dir + "/last.pth", weights_only=True)
    assert (state["epoch"], state["epoch_step"], state["iter"]) == (2, 0, 4)
    monkeypatch.undo()
    resumed = train(cfg, resume=True, progress=False)
    assert _same_weights(resumed["model"], reference["model"])


def test_a_crash_after_a_checkpoint_resumes_with_each_iteration_logged_once(three_epochs,
                                                                            monkeypatch):
    cfg, reference = three_epochs
    cfg = apply_overrides(cfg, ["train.checkpoint_every=3"])

    def crash():
        raise RuntimeError("simulated crash")

    _fail_at(monkeypatch, 6, crash)  # last.pth at iteration 4 (epoch end); rows 1-5 logged
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(cfg, progress=False)
    out = reference["checkpoint"].parent.parent / "run"
    assert torch.load(out / "last.pth", weights_only=True)["iter"] == 4
    monkeypatch.undo()
    resumed = train(cfg, resume=True, progress=False)
    assert _log_iters(out) == [1, 2, 3, 4, 5, 6]
    with open(out / "log.dropped.csv", newline="") as handle:
        assert [int(r["iter"]) for r in csv.DictReader(handle)] == [5]
    assert _same_weights(resumed["model"], reference["model"])


def test_resume_refuses_a_changed_model_with_the_differences(tiny_cfg):
    train(tiny_cfg, progress=False)
    changed = apply_overrides(tiny_cfg, ["model.num_classes=3", "train.epochs=2"])
    with pytest.raises(ValueError, match=r"model.num_classes: 7 -> 3\)"):
        train(changed, resume=True, progress=False)
    train(apply_overrides(tiny_cfg, ["train.epochs=2", "train.log_every=5"]), resume=True,
          progress=False)  # more epochs and other logging are fine


def test_an_earlier_run_is_refused_then_moved_aside_on_restart(tiny_cfg):
    first = train(tiny_cfg, progress=False)["checkpoint"]
    before = first.read_bytes()
    with pytest.raises(ValueError, match="--resume to continue it, or --restart"):
        train(tiny_cfg, progress=False)
    assert first.read_bytes() == before
    train(tiny_cfg, progress=False, restart=True)
    (kept,) = (first.parent / "old_runs").iterdir()
    assert (kept / "last.pth").read_bytes() == before and (kept / "log.csv").is_file()


def test_a_second_run_into_a_locked_out_dir_names_the_pid(tiny_cfg):
    from paa_edu.data.files import exclusive_lock
    out = tiny_cfg.train.out_dir
    os.makedirs(out)
    with exclusive_lock(os.path.join(out, ".lock"), wait=False) as held:
        assert held
        with pytest.raises(ValueError, match=f"in use by pid {os.getpid()}"):
            train(tiny_cfg, progress=False)
    train(tiny_cfg, progress=False)  # free again


def _poison(monkeypatch, key: str, after_calls: int):
    """Make ``predict_dense``'s ``key`` output NaN from call ``after_calls + 1`` on."""
    from paa_edu.model import RotatedPAADetector
    real, count = RotatedPAADetector.predict_dense, [0]

    def dense(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        count[0] += 1
        if count[0] > after_calls:
            setattr(out, key, getattr(out, key) * float("nan"))
        return out

    monkeypatch.setattr(RotatedPAADetector, "predict_dense", dense)


@pytest.mark.parametrize("key, term", [("deltas", "term: gradient norm nan; the losses were"),
                                       ("cls_logits", "term: anchor_scores")])
def test_nan_inside_the_step_is_the_documented_error(tiny_cfg, monkeypatch, key, term):
    cfg = apply_overrides(tiny_cfg, ["train.epochs=2"])
    _poison(monkeypatch, key, after_calls=2)  # epoch 1 (2 steps) and its checkpoint are good
    with pytest.raises(FloatingPointError, match=f"non-finite loss at epoch 2 iter 3 \\({term}"):
        train(cfg, progress=False)
    state = torch.load(os.path.join(cfg.train.out_dir, "last.pth"), weights_only=True)
    assert state["iter"] == 2


def test_a_growing_loss_is_warned_on_the_console_and_in_the_log(tiny_cfg, monkeypatch, capsys):
    import paa_edu.model.detector as detector
    real, count = detector.detection_losses, [0]

    def growing(*args, **kwargs):
        count[0] += 1
        losses = real(*args, **kwargs)
        return {k: v * (1e4 if count[0] >= 3 else 1.0) for k, v in losses.items()}

    monkeypatch.setattr(detector, "detection_losses", growing)
    cfg = apply_overrides(tiny_cfg, ["train.epochs=2", "train.log_every=100"])
    result = train(cfg, progress=False)
    assert len(result["warnings"]) == 1 and "epoch 2 iter 3" in result["warnings"][0]
    assert "loss is diverging" in capsys.readouterr().err
    with open(result["checkpoint"].parent / "log.csv", newline="") as handle:
        notes = [(r["iter"], r["note"]) for r in csv.DictReader(handle) if r["note"]]
    assert len(notes) == 1 and notes[0][0] == "3" and "diverging" in notes[0][1]


def test_best_checkpoint_is_the_epoch_with_the_best_val_map(tiny_cfg):
    result = train(apply_overrides(tiny_cfg, ["train.epochs=3", "train.eval_every_epoch=True"]),
                   progress=False)
    out = result["checkpoint"].parent
    with open(out / "log.csv", newline="") as handle:
        val = [(float(r["val_mAP"]), int(r["iter"])) for r in csv.DictReader(handle)
               if r["val_mAP"]]
    assert len(val) == 3
    best = torch.load(out / "best.pth", weights_only=True)
    assert best["best_mAP"] == max(m for m, _ in val)
    assert best["iter"] == next(i for m, i in val if m == max(m for m, _ in val))


def test_resume_with_dataloader_workers_matches_the_single_process_run(three_epochs):
    cfg, reference = three_epochs  # reference: num_workers=0
    workers = apply_overrides(cfg, ["data.num_workers=2"])
    train(apply_overrides(workers, ["train.max_iters=3"]), progress=False)
    resumed = train(workers, resume=True, progress=False)
    assert _same_weights(resumed["model"], reference["model"])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")
def test_cuda_resume_is_exact_with_train_deterministic(tiny_cfg, tmp_path):
    cfg = apply_overrides(tiny_cfg, ["train.device=cuda", "train.deterministic=True",
                                     "train.amp=False", "train.epochs=2"])
    reference = train(apply_overrides(cfg, [f"train.out_dir={tmp_path / 'ref'}"]),
                      progress=False)
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    train(apply_overrides(cfg, ["train.max_iters=3"]), progress=False)
    resumed = train(cfg, resume=True, progress=False)
    assert _same_weights(resumed["model"], reference["model"])
