"""The learning rate: a pure function of (iteration, epoch) and the number of processes.

Linear warm-up from ``lr * warmup_ratio`` over ``warmup_iters`` iterations, times 0.1 after
each epoch in ``lr_steps`` (mmcv's ``StepLrUpdaterHook`` with linear warm-up, the seed's
schedule). The "scheduler state" of a checkpoint is therefore just (epoch, iteration).
With ``train.auto_scale_lr`` the base rate scales with the total batch (mmdet's rule).
"""
from __future__ import annotations

from paa_edu.config import BASE_BATCH_SIZE, Config


def base_lr(cfg: Config, num_processes: int = 1) -> float:
    """``train.lr``, times (processes x batch) / ``BASE_BATCH_SIZE`` with ``auto_scale_lr``."""
    t = cfg.train
    if not t.auto_scale_lr:
        return t.lr
    return t.lr * num_processes * t.batch_size / BASE_BATCH_SIZE


def lr_at(cfg: Config, iteration: int, epoch: int, num_processes: int = 1) -> float:
    """Learning rate at global ``iteration`` (0-based) inside ``epoch`` (0-based)."""
    t = cfg.train
    lr = base_lr(cfg, num_processes) * 0.1 ** sum(epoch >= step for step in t.lr_steps)
    if iteration < t.warmup_iters:
        alpha = iteration / t.warmup_iters
        lr *= t.warmup_ratio * (1 - alpha) + alpha
    return lr
