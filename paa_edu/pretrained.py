"""The four teaching checkpoints shipped with paa_edu: ``load(name) -> (model, cfg)``.

``name`` is one of :data:`NAMES`: ``maxiou`` (RetinaNet 0.5/0.4), ``atss``, ``paa_maxiou``
(PAA on MaxIoU(0.1) candidates) and ``paa_atss`` (PAA on ATSS candidates). Each is the
``tiny_teaching`` preset (:func:`paa_edu.config.tiny_teaching`) trained on the tiny synthetic
set by ``scripts/make_teaching_checkpoints.py``; the files live in ``paa_edu/pretrained_data/``
(package data: no download, no training).
"""
from __future__ import annotations

from pathlib import Path

from paa_edu.config import Config, apply_overrides, tiny_teaching

#: (name, assigner, paa_init) of the teaching checkpoints, baseline first.
VARIANTS = (("maxiou", "maxiou", "maxiou"), ("atss", "atss", "atss"),
            ("paa_maxiou", "paa", "maxiou"), ("paa_atss", "paa", "atss"))
NAMES = tuple(v[0] for v in VARIANTS)
DATA_DIR = Path(__file__).resolve().parent / "pretrained_data"


def teaching_config(name: str, out_dir: str | Path, overrides: list[str] | tuple[str, ...] = ()
                    ) -> Config:
    """The training config of checkpoint ``name``, data and run folder under ``out_dir``."""
    if name not in NAMES:
        raise ValueError(f"unknown teaching checkpoint {name!r}; expected one of {list(NAMES)}")
    _, assigner, init = VARIANTS[NAMES.index(name)]
    out_dir = Path(out_dir)
    return apply_overrides(tiny_teaching(), [
        f"data.root={out_dir / 'data'}", f"train.out_dir={out_dir / name}",
        f"model.assigner={assigner}", f"model.paa_init={init}", "train.device=cpu",
        *overrides])
