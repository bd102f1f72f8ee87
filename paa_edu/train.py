"""Training and evaluation loops: SGD with warm-up and steps, checkpoints, exact resume.

- The learning rate is a pure function of (iteration, epoch): linear warm-up from
  ``lr * warmup_ratio`` over ``warmup_iters`` iterations, times 0.1 after each epoch in
  ``lr_steps``. The "scheduler state" saved in a checkpoint is therefore (epoch, iteration).
- Each epoch shuffles with its own generator seeded by (seed, epoch), and a checkpoint holds
  the model, the optimizer, the AMP scaler and every RNG state, so ``resume=True`` continues
  bit for bit from the end of the last finished epoch.
- Checkpoints are written atomically (temporary file + ``os.replace``). A NaN/Inf loss stops
  training with ``FloatingPointError``; the last good checkpoint is left untouched.
"""
from __future__ import annotations

import csv
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from paa_edu.config import Config, config_from_dict, validate
from paa_edu.data import (
    DOTA_CLASSES,
    SYNTHETIC_CLASSES,
    DOTADataset,
    collate_batch,
    write_synthetic_dataset,
)
from paa_edu.data.transforms import TransformConfig
from paa_edu.evaluation import evaluate_rotated
from paa_edu.model import RotatedPAADetector, rescale_detections
from paa_edu.seeding import set_seed

CHECKPOINT_NAME = "last.pth"
LOG_FIELDS = ("epoch", "iter", "lr", "loss", "loss_cls", "loss_bbox", "loss_iou", "time",
              "val_AP50", "val_mAP")


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cuda"`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("train.device='cuda' but no CUDA device is available")
    return torch.device(name)


def class_names(cfg: Config) -> tuple[str, ...]:
    """The class list named by ``cfg.data.classes`` (``"dota"`` or ``"synthetic"``)."""
    names = {"dota": DOTA_CLASSES, "synthetic": SYNTHETIC_CLASSES}
    if cfg.data.classes not in names:
        raise ValueError(f"data.classes must be 'dota' or 'synthetic', got {cfg.data.classes!r}")
    return tuple(names[cfg.data.classes])


def build_dataset(cfg: Config, split: str, train: bool) -> torch.utils.data.Dataset:
    """The ``split`` folder under ``cfg.data.root`` (written first for synthetic presets)."""
    root = Path(cfg.data.root)
    if cfg.data.synthetic is not None:
        write_synthetic_dataset(root, cfg.data.synthetic, seed=0, progress=False)
    split_dir = root / split
    if not (split_dir / "images").is_dir():
        raise FileNotFoundError(f"{split_dir / 'images'} does not exist (data.root="
                                f"{cfg.data.root!r}); run `paa-edu split` or `paa-edu synth`")
    flip = cfg.data.flip_prob if train else 0.0
    transforms = TransformConfig(max_size=cfg.data.max_size, hflip_prob=flip, vflip_prob=flip)
    dataset = DOTADataset(split_dir, class_names(cfg), cfg.model.angle_version, transforms,
                          train=train)
    limit = cfg.data.num_train if split == "train" else cfg.data.num_val
    if limit is not None:
        dataset = Subset(dataset, range(min(limit, len(dataset))))
    return dataset


def lr_at(cfg: Config, iteration: int, epoch: int) -> float:
    """Learning rate at global ``iteration`` (0-based) inside ``epoch`` (0-based)."""
    t = cfg.train
    lr = t.lr * 0.1 ** sum(epoch >= step for step in t.lr_steps)
    if iteration < t.warmup_iters:
        alpha = iteration / t.warmup_iters
        lr *= t.warmup_ratio * (1 - alpha) + alpha
    return lr


def _rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, state: dict) -> None:
    """``torch.save`` to ``path.tmp`` then ``os.replace`` (never a half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_model(checkpoint: str | Path, device: str | torch.device = "cpu"
               ) -> tuple[RotatedPAADetector, Config]:
    """Rebuild the model (and its config) from a checkpoint written by :func:`train`."""
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise ValueError(f"{path}: not a paa_edu checkpoint (needs 'model' and 'config')")
    cfg = config_from_dict(state["config"])
    model = RotatedPAADetector(cfg.model)
    model.load_state_dict(state["model"])
    return model.to(device).eval(), cfg


def _to_device(images: torch.Tensor, targets: list[dict], device: torch.device):
    targets = [{**t, "boxes": t["boxes"].to(device), "labels": t["labels"].to(device)}
               for t in targets]
    return images.to(device, non_blocking=True), targets


def _make_loader(cfg: Config, dataset, epoch: int) -> DataLoader:
    generator = torch.Generator().manual_seed(cfg.train.seed * 100003 + epoch)
    return DataLoader(dataset, batch_size=cfg.train.batch_size, shuffle=True,
                      collate_fn=collate_batch, num_workers=cfg.data.num_workers,
                      generator=generator, drop_last=False)


def train_one_step(model, optimizer, scaler, images, targets, cfg: Config, device,
                   where: str) -> dict:
    """Forward, backward, clip and step on one batch; returns the float losses."""
    with torch.autocast(device.type, enabled=scaler is not None):
        losses = model(images, targets)
    loss = sum(losses.values())
    if not torch.isfinite(loss):
        raise FloatingPointError(f"non-finite loss at {where}: "
                                 f"{ {k: v.item() for k, v in losses.items()} }")
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
    else:
        loss.backward()
    if cfg.train.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    return {"loss": loss.item(), **{k: v.item() for k, v in losses.items()}}


class _Logger:
    """CSV log (``log.csv``, appended on resume) plus TensorBoard when it is installed."""

    def __init__(self, out_dir: Path, append: bool):
        self.path = out_dir / "log.csv"
        new = not (append and self.path.is_file())
        self.file = open(self.path, "w" if new else "a", newline="")
        self.writer = csv.DictWriter(self.file, fieldnames=LOG_FIELDS, extrasaction="ignore")
        if new:
            self.writer.writeheader()
        try:
            from torch.utils.tensorboard import SummaryWriter
            self.tb = SummaryWriter(str(out_dir / "tb"))
        except ImportError:
            self.tb = None

    def log(self, row: dict) -> None:
        self.writer.writerow(row)
        self.file.flush()
        if self.tb is not None:
            for key in LOG_FIELDS[2:]:
                if key in row and key != "time":
                    self.tb.add_scalar(f"train/{key}", row[key], row["iter"])

    def close(self) -> None:
        self.file.close()
        if self.tb is not None:
            self.tb.close()


@dataclass
class _Run:
    """The mutable state of a training run (what a checkpoint saves)."""

    model: RotatedPAADetector
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None
    device: torch.device
    epoch: int = 0  # finished epochs
    iteration: int = 0  # finished iterations

    def state_dict(self, cfg: Config) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                "epoch": self.epoch, "iter": self.iteration, "rng": _rng_state(),
                "config": cfg.to_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler is not None and state.get("scaler") is not None:
            self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.iteration = state["epoch"], state["iter"]
        _set_rng_state(state["rng"])


def _setup(cfg: Config) -> _Run:
    """Seed everything, then build the model, SGD and (CUDA + amp) the gradient scaler."""
    device = resolve_device(cfg.train.device)
    if cfg.train.num_threads is not None:
        torch.set_num_threads(cfg.train.num_threads)
    if device.type == "cuda":  # reproducible convolutions (CPU runs are deterministic already)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    set_seed(cfg.train.seed)
    model = RotatedPAADetector(cfg.model).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.train.lr,
                                momentum=cfg.train.momentum,
                                weight_decay=cfg.train.weight_decay)
    use_amp = cfg.train.amp and device.type == "cuda"
    return _Run(model, optimizer, torch.amp.GradScaler("cuda") if use_amp else None, device)


def _train_epoch(run: _Run, cfg: Config, dataset, logger: _Logger, progress: bool
                 ) -> list[dict]:
    """One epoch (or until ``max_iters``); returns the per-iteration loss rows."""
    run.model.train()
    max_iters, rows = cfg.train.max_iters, []
    bar = tqdm(_make_loader(cfg, dataset, run.epoch), disable=not progress, leave=False,
               desc=f"epoch {run.epoch + 1}/{cfg.train.epochs}")
    for images, targets in bar:
        if max_iters is not None and run.iteration >= max_iters:
            break
        lr = lr_at(cfg, run.iteration, run.epoch)
        for group in run.optimizer.param_groups:
            group["lr"] = lr
        images, targets = _to_device(images, targets, run.device)
        start = time.perf_counter()
        row = train_one_step(run.model, run.optimizer, run.scaler, images, targets, cfg,
                             run.device, f"epoch {run.epoch + 1} iter {run.iteration + 1}")
        row.update(epoch=run.epoch + 1, iter=run.iteration + 1, lr=lr,
                   time=time.perf_counter() - start)
        rows.append(row)
        if run.iteration % cfg.train.log_every == 0 or run.iteration + 1 == max_iters:
            logger.log(row)
        bar.set_postfix(loss=f"{row['loss']:.3f}", lr=f"{lr:.2e}")
        run.iteration += 1
    return rows


def train(cfg: Config, resume: bool = False, progress: bool = True) -> dict:
    """Train ``cfg`` and return ``{"model", "history", "checkpoint", "metrics"}``.

    Args:
        cfg: the run's config (``cfg.train.out_dir`` receives ``last.pth`` and ``log.csv``).
        resume: continue from ``<out_dir>/last.pth`` (error if it is missing).
        progress: show tqdm bars.
    Returns:
        the trained model (eval mode), the per-iteration loss history of this call, the
        checkpoint path and the validation metrics (when ``eval_every_epoch``; else None).
    """
    validate(cfg)
    ckpt_path = Path(cfg.train.out_dir) / CHECKPOINT_NAME
    if resume and not ckpt_path.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {ckpt_path}")
    run = _setup(cfg)
    dataset = build_dataset(cfg, "train", train=True)
    if resume:
        run.load_state_dict(torch.load(ckpt_path, map_location="cpu", weights_only=False))
    ckpt_path.parent.mkdir(parents=True, exist_ok=True)
    logger, history, metrics = _Logger(ckpt_path.parent, append=resume), [], None
    max_iters = cfg.train.max_iters
    try:
        while run.epoch < cfg.train.epochs and (max_iters is None or run.iteration < max_iters):
            history += _train_epoch(run, cfg, dataset, logger, progress)
            run.epoch += 1
            save_checkpoint(ckpt_path, run.state_dict(cfg))
            if cfg.train.eval_every_epoch:
                metrics = evaluate(run.model, build_dataset(cfg, "val", train=False))
                logger.log({"epoch": run.epoch, "iter": run.iteration,
                            "val_AP50": metrics["AP50"], "val_mAP": metrics["mAP"]})
    finally:
        logger.close()
    return {"model": run.model.eval(), "history": history, "checkpoint": ckpt_path,
            "metrics": metrics}


@torch.no_grad()
def predict_dataset(model: RotatedPAADetector, dataset, device=None, batch_size: int = 4,
                    progress: bool = False) -> list[dict]:
    """Detections for every image of ``dataset``, in original image pixels, on the CPU."""
    device = device or next(model.parameters()).device
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_batch)
    detections = []
    for images, targets in tqdm(loader, desc="eval", disable=not progress, leave=False):
        for det, target in zip(model(images.to(device)), targets):
            det = rescale_detections(det, target["scale_factor"])
            detections.append({k: v.cpu() for k, v in det.items()})
    return detections


def evaluate(model: RotatedPAADetector, dataset, device=None, batch_size: int = 4,
             progress: bool = False) -> dict:
    """Run the model on ``dataset`` and return :func:`paa_edu.evaluation.evaluate_rotated`."""
    detections = predict_dataset(model, dataset, device, batch_size, progress)
    return evaluate_rotated(detections, ground_truths(dataset), num_classes=model.cfg.num_classes)


def ground_truths(dataset) -> list[dict]:
    """Per-image ground truths of a :class:`DOTADataset` or of a ``Subset`` of one."""
    if isinstance(dataset, Subset):
        every = dataset.dataset.ground_truths()
        return [every[i] for i in dataset.indices]
    return dataset.ground_truths()
