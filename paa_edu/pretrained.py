"""The four teaching checkpoints shipped with paa_edu: ``load(name) -> (model, cfg)``.

``name`` is one of :data:`NAMES`: ``maxiou`` (RetinaNet 0.5/0.4), ``atss``, ``paa_maxiou``
(PAA on MaxIoU(0.1) candidates) and ``paa_atss`` (PAA on ATSS candidates). Each is the
``tiny_teaching`` preset (:func:`paa_edu.config.tiny_teaching`) trained on the tiny synthetic
set by ``scripts/make_teaching_checkpoints.py``. The files live in ``paa_edu/pretrained_data/``
as package data: no download, no training, read with ``weights_only=True``.

A file holds the fp16 weights, the config, the command that made it, its training time and its
AP on the val set, on a synthetic set drawn with a seed never seen in training
(:data:`UNSEEN_SEED`) and on the first :data:`CHECK_IMAGES` val images (what the tests
re-check). ``snapshots.pt`` holds the history of each run's assignment of the GTs of the first
training images (:mod:`paa_edu.engine.snapshots`), every :data:`SHIPPED_SNAPSHOT_EVERY` iterations.
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.data import Subset

from paa_edu.config import (
    VARIANTS,  # (name, assigner, paa_init): the demo's four, baseline first
    Config,
    apply_overrides,
    config_from_dict,
)
from paa_edu.data import write_synthetic_dataset
from paa_edu.data.build import build_dataset
from paa_edu.engine.checkpoint import CHECKPOINT_NAME, load_state_into
from paa_edu.engine.inference import evaluate
from paa_edu.engine.snapshots import load_snapshots
from paa_edu.engine.train import resolve_device
from paa_edu.model import RotatedPAADetector
from paa_edu.presets import tiny_teaching

NAMES = tuple(v[0] for v in VARIANTS)
DATA_DIR = Path(__file__).resolve().parent / "pretrained_data"
SNAPSHOTS_FILE = "snapshots.pt"
UNSEEN_SEED = 1  # the training set is drawn with seed 0
CHECK_IMAGES = 20  # first val images of the recorded check
SHIPPED_SNAPSHOT_EVERY = 200
FORMAT = 1


def _check_name(name: str) -> None:
    if name not in NAMES:
        raise ValueError(f"unknown teaching checkpoint {name!r}; expected one of {list(NAMES)}")


def teaching_config(name: str, out_dir: str | Path, overrides: list[str] | tuple[str, ...] = ()
                    ) -> Config:
    """The training config of checkpoint ``name``, data and run folder under ``out_dir``."""
    _check_name(name)
    _, assigner, init = VARIANTS[NAMES.index(name)]
    out_dir = Path(out_dir)
    return apply_overrides(tiny_teaching(), [
        f"data.root={out_dir / 'data'}", f"train.out_dir={out_dir / name}",
        f"model.assigner={assigner}", f"model.paa_init={init}", "train.device=cpu",
        *overrides])


# ---- reading (what users call) -------------------------------------------------------------
def _read(name: str) -> dict:
    _check_name(name)
    path = DATA_DIR / f"{name}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: this install has no teaching checkpoints "
                                f"(make them with scripts/make_teaching_checkpoints.py)")
    return torch.load(path, map_location="cpu", weights_only=True)


def load(name: str, device: str | torch.device = "cpu"):
    """The trained detector ``name`` (eval mode, float32) and its :class:`Config`.

    Args:
        name: ``maxiou``, ``atss``, ``paa_maxiou`` or ``paa_atss``.
        device: where to put the model (``"cpu"``, ``"cuda"``, ``"auto"`` or a
            ``torch.device``); ``"cuda"`` without a GPU is a ``ValueError`` naming it.
    Returns:
        ``(model, cfg)``; ``cfg.data.root`` is the tiny set's default folder
        (``data/synthetic_tiny``, written on first use by :func:`paa_edu.data.build.build_dataset`).
    """

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
    """The shipped snapshots of run ``name`` in iteration order (see :mod:`paa_edu.engine.snapshots`)."""
    _check_name(name)
    path = DATA_DIR / SNAPSHOTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing (scripts/make_teaching_checkpoints.py)")
    return torch.load(path, map_location="cpu", weights_only=True)[name]


# ---- writing (scripts/make_teaching_checkpoints.py) ----------------------------------------
def _summary(metrics: dict, num_images: int) -> dict:
    return {"AP50": float(metrics["AP50"]), "AP75": float(metrics["AP75"]),
            "mAP": float(metrics["mAP"]), "num_images": num_images,
            "per_class_AP50": [float(a) for a in metrics["per_class_AP50"]],
            "num_gts": [int(n) for n in metrics["num_gts"]]}


def evaluation_sets(cfg: Config, out_dir: Path) -> dict:
    """``val``, ``unseen_seed`` (the val split of a set drawn with :data:`UNSEEN_SEED`) and
    ``val_check`` (the first :data:`CHECK_IMAGES` val images)."""

    val = build_dataset(cfg, "val", train=False)
    unseen_root = out_dir / f"data_seed{UNSEEN_SEED}"
    write_synthetic_dataset(unseen_root, cfg.data.synthetic, seed=UNSEEN_SEED, progress=False)
    unseen_cfg = replace(cfg, data=replace(cfg.data, root=str(unseen_root), synthetic=None))
    return {"val": val, "unseen_seed": build_dataset(unseen_cfg, "val", train=False),
            "val_check": Subset(val, range(min(CHECK_IMAGES, len(val))))}


def evaluate_sets(model, datasets: dict) -> dict:
    """:func:`paa_edu.engine.inference.evaluate` on each named dataset, summarised."""
    return {key: _summary(evaluate(model, ds), len(ds)) for key, ds in datasets.items()}


def _load_run(run_dir: Path):
    """Model and config of a run's ``last.pth``, also in the layout of paa_edu before the
    checkpoint format 1 (its RNG states need ``weights_only=False``: our own file)."""

    path = run_dir / CHECKPOINT_NAME
    state = torch.load(path, map_location="cpu", weights_only=False)
    cfg = config_from_dict(state["config"])
    model = RotatedPAADetector(cfg.model, load_backbone_weights=False)
    load_state_into(model, state["model"], path)
    return model.eval(), cfg


def export(run_dir: Path, name: str, dest: Path, command: str, train_seconds: float,
           out_dir: Path) -> dict:
    """Write ``dest/<name>.pt`` from the run's ``last.pth`` (fp16) with its metrics.

    The metrics are those of the fp16 weights, i.e. of what :func:`load` returns.
    """
    model, cfg = _load_run(run_dir)
    half = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in half.items()})
    start = time.perf_counter()
    metrics = evaluate_sets(model, evaluation_sets(cfg, out_dir))
    shipped = apply_overrides(cfg, ["data.root=data/synthetic_tiny",
                                    f"train.out_dir=work_dirs/tiny_teaching_{name}"])
    record = {"format": FORMAT, "name": name, "config": shipped.to_dict(), "model": half,
              "metrics": metrics, "unseen_seed": UNSEEN_SEED, "command": command,
              "train_seconds": float(train_seconds), "eval_seconds": time.perf_counter() - start,
              "created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    dest.mkdir(parents=True, exist_ok=True)
    torch.save(record, dest / f"{name}.pt")
    return record


def verify(out_dir: Path, names: list[str] = NAMES, tol: float = 1e-6) -> list[str]:
    """Re-evaluate the shipped files with this code; one line per metric that moved."""
    moved = []
    for name in names:
        model, cfg = load(name)
        recorded = info(name)["metrics"]
        cfg = apply_overrides(cfg, [f"data.root={Path(out_dir) / 'data'}"])
        now = evaluate_sets(model, evaluation_sets(cfg, Path(out_dir)))
        moved += [f"{name} {split} {key}: recorded {recorded[split][key]:.6f}, now "
                  f"{now[split][key]:.6f}" for split in now for key in ("AP50", "AP75", "mAP")
                  if abs(now[split][key] - recorded[split][key]) > tol]
    return moved


def thin_snapshots(run_dir: Path, every: int = SHIPPED_SNAPSHOT_EVERY) -> list[dict]:
    """The run's snapshots every ``every`` iterations (and the last), own assigner only."""

    snaps = load_snapshots(run_dir)
    kept = [s for i, s in enumerate(snaps) if s["iteration"] % every == 0 or i == len(snaps) - 1]
    return [{**s, "assigners": {s["trained_with"]: s["assigners"][s["trained_with"]]}}
            for s in kept]


def export_all(out_dir: Path, names: list[str], dest: Path, overrides: list[str] = (),
               command: str = "") -> None:
    """:func:`export` every finished run and write ``snapshots.pt`` (see the script)."""
    import json

    histories = {}
    for name in names:
        run_dir = Path(teaching_config(name, out_dir, overrides).train.out_dir)
        done = run_dir / "done.json"
        if not done.is_file():
            print(f"[teaching] {name}: not finished, not exported", flush=True)
            continue
        record = export(run_dir, name, dest, command,
                        json.loads(done.read_text())["train_seconds"], out_dir)
        m = record["metrics"]
        print(f"[teaching] {name}: val AP50 {100 * m['val']['AP50']:.2f}, unseen seed AP50 "
              f"{100 * m['unseen_seed']['AP50']:.2f} -> {dest / f'{name}.pt'}", flush=True)
        histories[name] = thin_snapshots(run_dir)
    if histories:
        path = dest / SNAPSHOTS_FILE
        old = torch.load(path, weights_only=True) if path.is_file() else {}
        torch.save({**old, **histories}, path)
