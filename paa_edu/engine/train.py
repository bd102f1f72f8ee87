"""The training loop: SGD with warm-up and steps, checkpoints, exact resume. Read it top to
bottom: the learning rate, one step, one epoch, then :func:`train`.

- The learning rate is a function of (iteration, epoch), the data order and every sample's
  flips of (seed, epoch, index) (:mod:`paa_edu.data.sampler`), and a checkpoint holds the model,
  the optimizer, the AMP scaler, the RNG states and the position inside the epoch: a run stopped
  anywhere and resumed ends with the same weights as one that never stopped (bit for bit on the
  CPU, and on CUDA with ``train.deterministic``).
- ``last.pth`` is written at every epoch end, every ``train.checkpoint_every`` iterations and at
  any stop; ``eval_every_epoch`` also keeps the best epoch by val mAP as ``best.pth``.
- A NaN/Inf in a step stops training with ``FloatingPointError``, leaving the last good
  checkpoint; a loss that grows 100x over its early level is warned about.
- Under ``torchrun`` each process runs this loop on its share of each epoch with a DDP model;
  a NaN or a Ctrl-C on one rank stops all at the same step; only rank 0 prints, logs, writes.
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from paa_edu.config import BASE_BATCH_SIZE, Config, validate
from paa_edu.data.build import build_dataset
from paa_edu.data.loader import loader_options
from paa_edu.data.sampler import EpochSampler, SeededSamples
from paa_edu.engine import checkpoint, distributed, run_dir
from paa_edu.engine.inference import evaluate
from paa_edu.engine.log import DivergenceWatch, TrainLog, trim_log
from paa_edu.engine.rng import rank_seed, rng_state, set_rng_state, set_seed
from paa_edu.engine.snapshots import make_snapshot_hook
from paa_edu.geometry import NonFiniteError
from paa_edu.model import RotatedPAADetector
from paa_edu.model.losses import mean_over_ranks


def resolve_device(name: str | torch.device, what: str = "train.device or --device"
                   ) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; a ``ValueError`` naming ``what`` for a name
    that is no device or ``"cuda"`` without a GPU."""
    if str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"{what}: {name!r} is not a device (auto, cpu or cuda)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{what}: device {str(name)!r} but no CUDA device is available")
    return device


def base_lr(cfg: Config, num_processes: int = 1) -> float:
    """``train.lr``, times (processes x batch) / ``BASE_BATCH_SIZE`` with ``auto_scale_lr``."""
    t = cfg.train
    return t.lr * num_processes * t.batch_size / BASE_BATCH_SIZE if t.auto_scale_lr else t.lr


def lr_at(cfg: Config, iteration: int, epoch: int, num_processes: int = 1) -> float:
    """Learning rate at global ``iteration`` (0-based) inside ``epoch`` (0-based): linear
    warm-up from ``warmup_ratio``, then x0.1 at each of ``lr_steps``."""
    t = cfg.train
    lr = base_lr(cfg, num_processes) * 0.1 ** sum(epoch >= step for step in t.lr_steps)
    if iteration < t.warmup_iters:
        alpha = iteration / t.warmup_iters
        lr *= t.warmup_ratio * (1 - alpha) + alpha
    return lr


def check_finite(losses: dict[str, torch.Tensor] | str, where: str) -> None:
    """Raise ``FloatingPointError: non-finite loss at <where> (term: ...)`` on every rank when
    some rank has a NaN/Inf loss term (or ``losses`` is the text of a problem)."""
    problem = losses if isinstance(losses, str) else None
    if problem is None:
        terms = torch.stack([v.detach().float() for v in losses.values()])  # (T,): one sync
        if not bool(torch.isfinite(terms).all()):
            shown = dict(zip(losses, terms.tolist()))
            problem = (", ".join(k for k, v in shown.items() if not math.isfinite(v)) + "; "
                       + ", ".join(f"{k}={v:.4g}" for k, v in shown.items()))
    # A rank that stopped alone would leave the others waiting forever in the next gradient
    # all-reduce: the ranks agree first (one all-reduce of a flag), then all raise together.
    problem = distributed.agree_on_problem(problem)
    if problem is not None:
        raise FloatingPointError(f"non-finite loss at {where} (term: {problem})")


def train_one_step(model, optimizer, scaler, images, targets, cfg: Config, where: str) -> dict:
    """Forward, backward, clip and step on one batch; returns the losses (means over ranks) and
    ``num_pos``, ``num_gts`` (sums over ranks). The losses are checked before the backward pass
    and the gradient norm before the step, so a NaN never reaches the weights."""
    scaler = scaler or torch.amp.GradScaler(enabled=False)
    try:
        with torch.autocast(images.device.type, enabled=scaler.is_enabled()):
            losses = model(images, targets)
    except NonFiniteError as err:  # NaN/Inf inside the step: decoded boxes, PAA's scores
        losses = f"{err.name}; {err}"
    check_finite(losses, where)
    loss = sum(losses.values())
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)  # the true gradients, for the clip
    # grad_clip None: max_norm inf clips nothing, still returns the norm (the same on every rank)
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip or math.inf)
    if not scaler.is_enabled() and not bool(torch.isfinite(norm)):  # AMP skips such a step
        raise FloatingPointError(f"non-finite loss at {where} (term: gradient norm "
                                 f"{norm.item()}; the losses were finite)")
    scaler.step(optimizer)
    scaler.update()
    stats = getattr(getattr(model, "module", model), "last_stats", {})  # num_pos, num_gts
    values = [torch.as_tensor(v, dtype=torch.float64, device=loss.device).detach()
              for v in (loss, *losses.values(), *stats.values())]
    row = dict(zip(["loss", *losses, *stats],
                   mean_over_ranks(torch.stack(values)).tolist()))
    row.update({k: round(row[k] * distributed.world_size()) for k in stats})  # sums over ranks
    return row


@dataclass
class _Run:
    """The mutable state of a training run (what a checkpoint saves)."""
    model: RotatedPAADetector  # saved and evaluated
    trained: torch.nn.Module  # what the step calls: ``model``, or its DDP wrapper (torchrun)
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler  # disabled without AMP
    device: torch.device
    epoch: int = 0  # the current epoch (0-based) = finished epochs
    epoch_step: int = 0  # batches done inside the current epoch
    iteration: int = 0  # finished iterations
    best_map: float | None = None  # best val mAP so far (eval_every_epoch)
    watch: DivergenceWatch = field(default_factory=DivergenceWatch)
    warnings: list[str] = field(default_factory=list)

    def state_dict(self, cfg: Config) -> dict:
        """The checkpoint; under torchrun every rank calls it (it gathers all RNG states)."""
        rngs = distributed.gather_objects(rng_state(self.device))
        return {"format": checkpoint.FORMAT, "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(),
                "epoch": self.epoch, "epoch_step": self.epoch_step, "iter": self.iteration,
                "best_mAP": self.best_map, "loss_watch": self.watch.state_dict(),
                "rng": rngs[0], "rng_per_rank": rngs, "world_size": len(rngs),
                "config": checkpoint.with_resolved_root(cfg).to_dict()}

    def load_state_dict(self, state: dict, path: Path) -> None:
        """Restore a checkpoint; rank r takes the RNG state rank r saved (if there was one)."""
        checkpoint.load_state_into(self.model, state["model"], path)
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):  # empty or None: saved without AMP
            self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.iteration = state["epoch"], state["iter"]
        self.epoch_step, self.best_map = state.get("epoch_step", 0), state.get("best_mAP")
        if "loss_watch" in state:
            self.watch.load_state_dict(state["loss_watch"])
        rngs, size = state.get("rng_per_rank", [state["rng"]]), distributed.world_size()
        if distributed.rank() < len(rngs):  # a new rank keeps its fresh per-rank seed
            set_rng_state(rngs[distributed.rank()], self.device)
        # Another number of processes: the same images seen, rounded down to a whole step.
        self.epoch_step = self.epoch_step * state.get("world_size", 1) // size


def _setup(cfg: Config, device: torch.device, pretrained: bool) -> _Run:
    """Seed, then build the model (DDP-wrapped under torchrun), SGD and the AMP scaler;
    ``pretrained=False`` (a resume) skips the backbone's initial weights file."""
    if cfg.train.num_threads is not None:
        torch.set_num_threads(cfg.train.num_threads)
    if device.type == "cuda":  # CPU runs are deterministic already
        if cfg.train.deterministic:  # deterministic cuBLAS (read when its handle is made)
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = cfg.train.deterministic
        torch.backends.cudnn.benchmark = not cfg.train.deterministic
        torch.use_deterministic_algorithms(cfg.train.deterministic, warn_only=True)
    set_seed(rank_seed(cfg.train.seed))
    model = RotatedPAADetector(cfg.model, load_backbone_weights=pretrained).to(device)
    model.reduce_num_pos = cfg.train.reduce_num_pos
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.train.lr,
                                momentum=cfg.train.momentum,
                                weight_decay=cfg.train.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.train.amp and device.type == "cuda")
    return _Run(model, distributed.wrap_model(model, device, cfg.train.sync_bn), optimizer,
                scaler, device)


def _save(run: _Run, cfg: Config, *paths: Path) -> None:
    """Write the checkpoint to ``paths`` from rank 0; every rank waits until it is written."""
    state = run.state_dict(cfg)
    if distributed.is_main():
        for path in paths:
            checkpoint.save_checkpoint(path, state)
    distributed.barrier()


def _train_epoch(run: _Run, cfg: Config, loader: DataLoader, steps: int, logger: TrainLog,
                 ckpt_path: Path, stop: dict, progress: bool, snapshot=None) -> list[dict]:
    """The rest of the epoch (to ``max_iters`` or a stop request at most): its loss rows."""
    run.trained.train()
    rows, every, max_iters = [], cfg.train.checkpoint_every, cfg.train.max_iters or math.inf
    bar = tqdm(loader, disable=not (progress and distributed.is_main()), leave=False,
               desc=f"epoch {run.epoch + 1}/{cfg.train.epochs}")
    for images, targets in bar:
        if snapshot is not None:  # train.snapshot_every (paa_edu.engine.snapshots)
            snapshot(run.model, run.iteration, run.epoch)
        lr = lr_at(cfg, run.iteration, run.epoch, distributed.world_size())
        for group in run.optimizer.param_groups:
            group["lr"] = lr
        # The targets stay on the host: the model checks them, then moves them, once a batch.
        images = images.to(run.device, non_blocking=True)
        start, where = time.perf_counter(), f"epoch {run.epoch + 1} iter {run.iteration + 1}"
        row = train_one_step(run.trained, run.optimizer, run.scaler, images, targets, cfg, where)
        run.iteration, run.epoch_step = run.iteration + 1, run.epoch_step + 1
        row.update(epoch=run.epoch + 1, iter=run.iteration, lr=lr,
                   time=time.perf_counter() - start)
        note = run.watch.update(row["loss"], where)
        if note:
            row["note"] = note
            run.warnings.append(note)
            if distributed.is_main():
                tqdm.write(note, file=sys.stderr)
        rows.append(row)
        if (run.iteration - 1) % cfg.train.log_every == 0 or note or run.iteration >= max_iters:
            logger.log(row)
        bar.set_postfix(loss=f"{row['loss']:.3f}", lr=f"{lr:.2e}")
        if run_dir.stop_requested(stop) or run.iteration >= max_iters:  # all ranks stop here
            break
        if every and run.iteration % every == 0 and run.epoch_step < steps:
            _save(run, cfg, ckpt_path)
    return rows


def _fit(run: _Run, cfg: Config, dataset, logger: TrainLog, out: Path, stop: dict,
         progress: bool) -> tuple[list[dict], dict | None]:
    """Epochs from the run's position to ``epochs`` or ``max_iters``; at each epoch end,
    evaluate (``eval_every_epoch``), write ``last.pth`` and, when better, ``best.pth``."""
    sampler = EpochSampler(len(dataset), cfg.train.seed, num_replicas=distributed.world_size(),
                           rank=distributed.rank())
    loader = DataLoader(SeededSamples(dataset, cfg.train.seed), batch_size=cfg.train.batch_size,
                        sampler=sampler, **loader_options(cfg.data.num_workers, run.device))
    steps = math.ceil(sampler.num_samples / cfg.train.batch_size)  # batches per epoch
    history, metrics, ckpt_path = [], None, out / checkpoint.CHECKPOINT_NAME
    snapshot = make_snapshot_hook(cfg, build_dataset) if distributed.is_main() else None
    while run.epoch < cfg.train.epochs and run.iteration < (cfg.train.max_iters or math.inf):
        sampler.set_epoch(run.epoch, start=run.epoch_step * cfg.train.batch_size)
        history += _train_epoch(run, cfg, loader, steps, logger, ckpt_path, stop, progress,
                                snapshot)
        ended = run.epoch_step == steps
        if ended:
            run.epoch, run.epoch_step = run.epoch + 1, 0
        if run_dir.stop_requested(stop):
            _save(run, cfg, ckpt_path)
            raise run_dir.TrainingInterrupted(
                f"{stop['signal']} at epoch {run.epoch + 1 - ended} iter {run.iteration}: "
                f"saved {ckpt_path}; continue with --resume")
        if not ended:  # a max_iters stop inside the epoch: the position is saved
            _save(run, cfg, ckpt_path)
            continue
        distributed.broadcast_buffers(run.model)  # every rank holds the checkpoint's model
        best = []
        if cfg.train.eval_every_epoch:
            metrics = evaluate(run.model, build_dataset(cfg, "val", train=False),
                               num_workers=cfg.data.num_workers)
            logger.log({"epoch": run.epoch, "iter": run.iteration,
                        "val_AP50": metrics["AP50"], "val_mAP": metrics["mAP"]})
            if not math.isnan(metrics["mAP"]) and (run.best_map is None
                                                   or metrics["mAP"] > run.best_map):
                run.best_map, best = metrics["mAP"], [out / checkpoint.BEST_NAME]
        _save(run, cfg, ckpt_path, *best)
    if snapshot is not None:
        snapshot(run.model, run.iteration, run.epoch, force=True)  # the trained model
    return history, metrics


def train(cfg: Config, resume: bool = False, progress: bool = True,
          restart: bool = False, need_val: bool = False) -> dict:
    """Train ``cfg`` into ``cfg.train.out_dir``; return the ``model`` (eval mode), this call's loss
    ``history``, the ``checkpoint`` path, the val ``metrics`` (or None) and the ``warnings``.
    ``resume`` continues from ``last.pth``; ``restart`` moves an earlier run's files away;
    ``need_val`` checks ``val/`` before the first step. Ctrl-C or SIGTERM raise
    ``TrainingInterrupted`` after writing ``last.pth`` at that iteration."""
    validate(cfg)
    device = distributed.init_from_env(resolve_device(cfg.train.device))
    with run_dir.locked_run_dir(cfg.train.out_dir, lock=distributed.is_main()) as out, \
            run_dir.stop_requests() as stop:
        if distributed.is_main():
            run_dir.claim_run_dir(out, resume, restart)
        distributed.barrier()  # the other ranks look into the out-dir after rank 0 claimed it
        ckpt_path = out / checkpoint.CHECKPOINT_NAME
        if resume and not ckpt_path.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint at {ckpt_path}")
        state = checkpoint.load_checkpoint(ckpt_path) if resume else None
        changes = {} if state is None else checkpoint.check_resume_config(
            checkpoint.checkpoint_config(state, ckpt_path), cfg, ckpt_path)
        run = _setup(cfg, device, pretrained=state is None)
        dataset = build_dataset(cfg, "train", train=True)
        if need_val or cfg.train.eval_every_epoch:
            build_dataset(cfg, "val", train=False)  # checked now, not after the training
        if state is not None:
            run.load_state_dict(state, ckpt_path)
            if distributed.is_main():
                print(f"resumed from epoch {run.epoch + 1}, iteration {run.iteration} "
                      f"({ckpt_path})")
                if changes:  # all allowed (RESUME_SAFE_KEYS)
                    print("resume changes: " + ", ".join(
                        f"{k}: {old!r} -> {new!r}" for k, (old, new) in changes.items()))
                trim_log(out, run.iteration)
        logger = TrainLog(out, append=resume, enabled=distributed.is_main())
        try:
            history, metrics = _fit(run, cfg, dataset, logger, out, stop, progress)
        finally:
            logger.close()
    return {"model": run.model.eval(), "history": history, "checkpoint": ckpt_path,
            "metrics": metrics, "warnings": run.warnings}
