"""Checkpoints: written atomically (:func:`paa_edu.data.files.atomic_write`), holding only
tensors and plain values, read with ``torch.load(weights_only=True)`` (opening one from
elsewhere cannot run code); a resume may not change the model or the data."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from paa_edu.config import Config, config_from_dict, differences
from paa_edu.data.files import atomic_write
from paa_edu.model import RotatedPAADetector

CHECKPOINT_NAME = "last.pth"
BEST_NAME = "best.pth"
FORMAT = 1  # bumped when the layout of a checkpoint changes

#: ``section.field`` keys a ``--resume`` config may change: they steer the run (length,
#: hardware, logging, evaluation) or only inference, not what is learnt from which data.
RESUME_SAFE_KEYS = frozenset({
    "name", "train.epochs", "train.max_iters", "train.device", "train.out_dir",
    "train.log_every", "train.eval_every_epoch", "train.checkpoint_every", "train.num_threads",
    "train.amp", "train.deterministic", "data.num_workers", "model.backbone_weights",
    "model.score_thr", "model.nms_pre", "model.nms_iou", "model.max_per_img",
    "model.score_voting",
})


class CheckpointError(ValueError):
    """A file given as a checkpoint is not one this version of paa_edu can read."""


def save_checkpoint(path: str | Path, state: dict) -> Path:
    return atomic_write(path, lambda handle: torch.save(state, handle))


def load_checkpoint(path: str | Path) -> dict:
    """Read a paa_edu checkpoint (``weights_only=True``); a one-line error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - arbitrary bytes fail in many ways
        why = ("the file is empty, cut short or damaged"
               if isinstance(err, (EOFError, RuntimeError))
               else "not a torch.save file of tensors and plain values only")
        raise CheckpointError(f"{path} is not a paa_edu checkpoint (torch.load with "
                              f"weights_only=True failed: {why})") from None
    if not isinstance(state, dict) or not {"model", "config"} <= set(state):
        raise CheckpointError(f"{path} is not a paa_edu checkpoint (needs 'model' and "
                              f"'config' entries)")
    return state


def checkpoint_config(state: dict, path: str | Path) -> Config:
    """The :class:`Config` stored in a loaded checkpoint (a one-line error if it is invalid)."""
    try:
        return config_from_dict(state["config"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{path} is not a paa_edu checkpoint (bad config: {err})") from None


def load_state_into(module: torch.nn.Module, weights: dict, path: str | Path) -> None:
    """``module.load_state_dict(weights)`` with a one-line error when they do not fit."""
    try:
        module.load_state_dict(weights)
    except (RuntimeError, TypeError, KeyError) as err:
        first = str(err).strip().splitlines()
        raise CheckpointError(f"{path}: the weights do not fit the model of its config "
                              f"({first[1].strip() if len(first) > 1 else first[0]})") from None


def load_model(checkpoint: str | Path, device: str | torch.device = "cpu"):
    """``(model, cfg)``: the detector (eval mode, on ``device``) and its config from a
    checkpoint (the backbone's initial weights file is not read)."""
    state = load_checkpoint(checkpoint)
    cfg = checkpoint_config(state, checkpoint)
    model = RotatedPAADetector(cfg.model, load_backbone_weights=False)
    load_state_into(model, state["model"], checkpoint)
    return model.to(device).eval(), cfg


def with_resolved_root(cfg: Config) -> Config:
    """``cfg`` with ``data.root`` as an absolute path (what a checkpoint stores)."""
    root = str(Path(cfg.data.root).expanduser().resolve())
    return replace(cfg, data=replace(cfg.data, root=root))


def check_resume_config(saved: Config, cfg: Config, path: str | Path) -> dict[str, tuple]:
    """Refuse to resume the run of ``saved`` with a ``cfg`` that changes its model or data;
    return the allowed changes ``{"section.field": (old, new)}``."""
    changes = differences(with_resolved_root(saved).to_dict(), with_resolved_root(cfg).to_dict())
    unsafe = {k: v for k, v in changes.items() if k not in RESUME_SAFE_KEYS}
    if unsafe:
        changes = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in unsafe.items())
        raise ValueError(f"--resume: the config differs from the checkpoint's {path} in what "
                         f"defines the model or the data ({changes}); resume with the run's "
                         f"own settings, or start a new run in another --out-dir")
    return changes
