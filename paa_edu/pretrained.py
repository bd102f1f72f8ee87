"""The four teaching checkpoints shipped with paa_edu: ``load(name) -> (model, cfg)``.

``name`` is one of :data:`NAMES`: ``maxiou`` (RetinaNet 0.5/0.4), ``atss``, ``paa_maxiou`` (PAA on
MaxIoU(0.1) candidates) and ``paa_atss`` (PAA on ATSS candidates), each the ``tiny_teaching``
preset trained on the tiny synthetic set by ``scripts/make_teaching_checkpoints.py``. The package
data ``paa_edu/pretrained_data/`` (read with ``weights_only=True``) holds fp16 weights, config,
command, training time and APs (:func:`info`), each run's assignment history
(:func:`load_snapshot_history`) and training log (:func:`load_log`)."""
from __future__ import annotations

import csv
from pathlib import Path

import torch

from paa_edu.config import VARIANTS, config_from_dict
from paa_edu.engine.checkpoint import load_state_into
from paa_edu.engine.train import resolve_device
from paa_edu.model import RotatedPAADetector

NAMES = tuple(v[0] for v in VARIANTS)
DATA_DIR = Path(__file__).resolve().parent / "pretrained_data"
SNAPSHOTS_FILE = "snapshots.pt"


def _read(name: str, file: str | None = None) -> dict:
    """The stored dict of checkpoint ``name`` (or, with ``file``, that file's entry ``name``)."""
    if name not in NAMES:
        raise ValueError(f"unknown teaching checkpoint {name!r}; expected one of {list(NAMES)}")
    path = DATA_DIR / (file or f"{name}.pt")
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: this install has no teaching checkpoints "
                                f"(make them with scripts/make_teaching_checkpoints.py)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state[name] if file else state


def load(name: str, device: str | torch.device = "cpu"):
    """The trained detector ``name`` (eval mode, float32) on ``device`` (``"cpu"``, ``"cuda"``,
    ``"auto"`` or a ``torch.device``) and its :class:`Config`, whose ``data.root`` is the tiny
    set's default folder (written on first use by :func:`paa_edu.data.build.build_dataset`)."""
    device = resolve_device(device, "pretrained.load(device=...)")
    state = _read(name)
    cfg = config_from_dict(state["config"])
    model = RotatedPAADetector(cfg.model, load_backbone_weights=False)
    weights = {k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()}
    load_state_into(model, weights, DATA_DIR / f"{name}.pt")
    return model.to(device).eval(), cfg


def info(name: str) -> dict:
    """What the file of ``name`` records besides the weights (metrics, command, times)."""
    return {k: v for k, v in _read(name).items() if k != "model"}


def load_snapshot_history(name: str) -> list[dict]:
    """Run ``name``'s shipped snapshots in iteration order (:mod:`paa_edu.engine.snapshots`)."""
    return _read(name, SNAPSHOTS_FILE)


def load_log(name: str) -> list[dict]:
    """The training log of run ``name``: one dict of strings per logged iteration (every 5th), the
    columns of ``log.csv`` (``iter``, ``loss``, ``loss_cls``, ..., ``num_pos``, ``num_gts``). The
    shipped logs come from a re-run of the same recipe and seeds on another CPU, whose weights
    drift from the shipped checkpoints' in the last bits (docs/benchmarks.md)."""
    path = DATA_DIR / f"{name}_log.csv"
    if name not in NAMES or not path.is_file():
        raise FileNotFoundError(f"no training log {path.name} in {DATA_DIR}; expected one of "
                                f"{[f'{n}_log.csv' for n in NAMES]}")
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))
