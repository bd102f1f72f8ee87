"""Snapshots of the assignment of a fixed set of GTs during training (``train.snapshot_every``).

PAA's central claim is that the split of an object's candidates *changes as the model learns*. To
show it, :class:`SnapshotHook` runs the current model in eval mode on the first
:data:`SNAPSHOT_IMAGES` training images every ``snapshot_every`` iterations (no flips, no random
numbers drawn: training continues exactly as without it) and writes
``<out_dir>/snapshots/iter_XXXXXX.pt`` with, for each of the four assigners, the positives of every
GT and their PAA score; for ``paa_*`` also the candidate table the GMM saw, the fitted mixture, the
cut and whether the fallback fired."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from torch import Tensor

from paa_edu.assigners import GMMFit, PAARecord, assign, build_assigner, paa_scores
from paa_edu.assigners.result import batch_positives
from paa_edu.config import VARIANTS
from paa_edu.data import collate_batch
from paa_edu.data.files import atomic_write
from paa_edu.model.detector import target_image_shapes

#: The training images whose GTs are followed (indices into the training split).
SNAPSHOT_IMAGES = (0, 1, 2)
#: (name, assigner, paa_init) of the assignments recorded in every snapshot: the demo's four.
SNAPSHOT_ASSIGNERS = VARIANTS
SNAPSHOT_DIR = "snapshots"
FORMAT_VERSION = 1


def variant_name(model_cfg) -> str:
    """``maxiou``, ``atss``, ``paa_maxiou`` or ``paa_atss``."""
    return f"paa_{model_cfg.paa_init}" if model_cfg.assigner == "paa" else model_cfg.assigner


def _paa_tables(records) -> dict:
    """The PAA records of all snapshot images, concatenated along the GT rows."""
    K = max(r.scores.shape[1] for r in records)

    def cat(name, fill):
        rows = [getattr(r, name) for r in records]
        return torch.cat([torch.nn.functional.pad(t, (0, K - t.shape[1]), value=fill)
                          for t in rows])
    fits = [r.fit for r in records]
    return {"cand_scores": cat("scores", 0.0).float(), "cand_valid": cat("valid", False),
            "cand_levels": cat("levels", -1), "cand_anchors": cat("anchor_inds", -1),
            "cand_positives": cat("positives", False),
            "gmm_weights": torch.cat([f.weights for f in fits]),
            "gmm_means": torch.cat([f.means for f in fits]),
            "gmm_variances": torch.cat([f.variances for f in fits]),
            "gmm_fitted": torch.cat([f.fitted for f in fits]),
            "gmm_low": torch.cat([f.low_component() for f in fits]),
            "cut": torch.cat([r.thresholds() for r in records]),
            "fallback": torch.cat([r.fallback for r in records])}


@torch.no_grad()
def take_snapshot(model, images: Tensor, targets: list[dict]) -> dict:
    """Every assigner's decision for ``targets`` under the current ``model`` in eval mode."""
    was_training = model.training
    dense = model.eval().predict_dense(images, target_image_shapes(targets))
    model.train(was_training)
    out, num_gts = {}, sum(len(t["boxes"]) for t in targets)
    for name, assigner_name, init in SNAPSHOT_ASSIGNERS:
        assigner = build_assigner(replace(model.cfg, assigner=assigner_name, paa_init=init),
                                  record=True)
        results = assign(assigner, dense, targets)
        scores = paa_scores(dense, targets, results)  # (B, A) at the positives, inf elsewhere
        image, anchor, gt_row = batch_positives(results)  # (P,) each
        entry = {"pos_anchor": anchor.cpu(), "pos_gt": gt_row.cpu(),
                 "pos_score": scores[image, anchor].float().cpu(),
                 "num_pos_per_gt": torch.bincount(gt_row.cpu(), minlength=num_gts)}
        if assigner_name == "paa":
            entry.update(_paa_tables(assigner.last_records))
        out[name] = entry
    return {"format": FORMAT_VERSION, "trained_with": variant_name(model.cfg),
            "image_indices": list(range(len(targets))),
            "gt_image": torch.cat([torch.full((len(t["boxes"]),), b, dtype=torch.long)
                                   for b, t in enumerate(targets)]),
            "gt_boxes": torch.cat([t["boxes"].float().cpu() for t in targets]),
            "gt_labels": torch.cat([t["labels"].long().cpu() for t in targets]),
            "num_level_anchors": list(dense.num_level_anchors),
            "image_size": list(images.shape[-2:]), "assigners": out}


class SnapshotHook:
    """A snapshot of the GTs of (unflipped) training images ``indices`` every ``every`` iterations.
    """

    def __init__(self, every: int, out_dir: str | Path, dataset,
                 indices: tuple[int, ...] = SNAPSHOT_IMAGES):
        if every < 1:
            raise ValueError(f"train.snapshot_every must be >= 1 here, got {every}")
        indices = [i for i in indices if i < len(dataset)]
        if not indices:
            raise ValueError("train.snapshot_every: the training split has no images")
        self.every, self.out_dir = every, Path(out_dir)
        self.indices = tuple(indices)
        self.images, self.targets = collate_batch([dataset[i] for i in indices])

    def __call__(self, model, iteration: int, epoch: int, force: bool = False) -> Path | None:
        """Snapshot before iteration ``iteration`` (0-based) when it is due (or ``force``)."""
        if not force and iteration % self.every:
            return None
        device = next(model.parameters()).device
        targets = [{**t, "boxes": t["boxes"].to(device), "labels": t["labels"].to(device)}
                   for t in self.targets]
        snap = take_snapshot(model, self.images.to(device), targets)
        snap.update(iteration=int(iteration), epoch=int(epoch),
                    image_indices=list(self.indices))
        path = self.out_dir / SNAPSHOT_DIR / f"iter_{iteration:06d}.pt"
        return atomic_write(path, lambda handle: torch.save(snap, handle), durable=False)


def make_snapshot_hook(cfg, dataset_builder) -> SnapshotHook | None:
    if not cfg.train.snapshot_every:
        return None
    return SnapshotHook(cfg.train.snapshot_every, cfg.train.out_dir,
                        dataset_builder(cfg, "train", train=False))


def load_snapshots(run_dir: str | Path) -> list[dict]:
    """Every snapshot of a run (or a folder of snapshot files), in iteration order."""
    folder = Path(run_dir)
    if (folder / SNAPSHOT_DIR).is_dir():
        folder = folder / SNAPSHOT_DIR
    files = sorted(folder.glob("iter_*.pt"))
    if not files:
        raise FileNotFoundError(f"no snapshots (iter_*.pt) in {folder}")
    snaps = [torch.load(f, map_location="cpu", weights_only=True) for f in files]
    return sorted(snaps, key=lambda s: s["iteration"])


def paa_record(snapshot: dict, assigner: str = "paa_maxiou"):
    """The PAA entry of a snapshot as a :class:`paa_edu.assigners.PAARecord` (rows = its GTs),
    so that the plots of :mod:`paa_edu.viz.gmm` draw it."""
    if assigner not in snapshot["assigners"] or "cand_scores" not in snapshot["assigners"][
            assigner]:
        raise ValueError(f"the snapshot has no PAA entry {assigner!r}; it has "
                         f"{sorted(snapshot['assigners'])}")
    e = snapshot["assigners"][assigner]
    G = len(e["cut"])
    fit = GMMFit(e["gmm_weights"], e["gmm_means"], e["gmm_variances"],
                 torch.zeros(G, dtype=torch.bool), torch.zeros(G, dtype=torch.long),
                 e["gmm_fitted"])
    return PAARecord(e["cand_scores"], e["cand_valid"], e["cand_levels"], e["cand_anchors"],
                     e["cand_positives"], fit, e["fallback"])


def positives_history(snapshots: list[dict], assigner: str) -> tuple[Tensor, Tensor]:
    """Iterations (S,) and positives per GT (S, G) of ``assigner`` over the snapshots."""
    iters = torch.tensor([s["iteration"] for s in snapshots])
    counts = torch.stack([s["assigners"][assigner]["num_pos_per_gt"] for s in snapshots])
    return iters, counts
