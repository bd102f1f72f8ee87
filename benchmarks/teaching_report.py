"""The measured tables of docs/benchmarks.md for the shipped teaching checkpoints.

    python benchmarks/teaching_report.py --runs teaching_runs > teaching_report.md

From the files in ``paa_edu/pretrained_data/`` (and, when ``--runs`` names the run folders of
``scripts/make_teaching_checkpoints.py``, their full logs and every-100-iteration snapshots):

1. the four checkpoints: AP50 / AP75 / mAP on the val set and on the unseen-seed set, training
   time, file size;
2. AP50 by class and by object size (:func:`paa_edu.evaluation.sizes.evaluate_by_size`) on val;
3. positives per GT of the fixed GTs (first training images) at the start, middle and end of
   training, and the GMM cut of a few of them over training;
4. mean positives per GT over all training batches (``num_pos / num_gts`` of ``log.csv``);
5. why PAA(atss) trails: how often an ATSS candidate pool is a single anchor, and how often
   the fallback gives a GT its only positive.
"""
from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import torch

from paa_edu import pretrained
from paa_edu.config import apply_overrides
from paa_edu.data import SYNTHETIC_CLASSES
from paa_edu.data.build import build_dataset
from paa_edu.engine.inference import ground_truths, predict_dataset
from paa_edu.engine.snapshots import load_snapshots
from paa_edu.evaluation.rotated_ap import evaluate_rotated
from paa_edu.evaluation.sizes import SIZE_BUCKETS, evaluate_by_size


def pct(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{100 * x:.2f}"


def checkpoint_table() -> list[str]:
    rows = ["| checkpoint | val AP50 | val AP75 | val mAP | unseen AP50 | unseen AP75 | "
            "unseen mAP | train time | file |", "|---|---|---|---|---|---|---|---|---|"]
    for name in pretrained.NAMES:
        info = pretrained.info(name)
        v, u = info["metrics"]["val"], info["metrics"]["unseen_seed"]
        size = (pretrained.DATA_DIR / f"{name}.pt").stat().st_size / 2 ** 20
        rows.append(f"| {name} | {pct(v['AP50'])} | {pct(v['AP75'])} | {pct(v['mAP'])} | "
                    f"{pct(u['AP50'])} | {pct(u['AP75'])} | {pct(u['mAP'])} | "
                    f"{info['train_seconds'] / 60:.1f} min | {size:.2f} MB |")
    return rows


def breakdown_tables(data_root: Path) -> list[str]:
    per_class, by_size = {}, {}
    for name in pretrained.NAMES:
        model, cfg = pretrained.load(name)
        val = build_dataset(apply_overrides(cfg, [f"data.root={data_root}"]), "val", train=False)
        dets, gts = predict_dataset(model, val), ground_truths(val)
        per_class[name] = evaluate_rotated(dets, gts, cfg.model.num_classes)
        by_size[name] = evaluate_by_size(dets, gts, cfg.model.num_classes)
    counts = per_class[pretrained.NAMES[0]]["num_gts"]
    rows = ["| class (val GTs) | " + " | ".join(pretrained.NAMES) + " |",
            "|---|" + "---|" * len(pretrained.NAMES)]
    for c, cls in enumerate(SYNTHETIC_CLASSES):
        rows.append(f"| {cls} ({counts[c]}) | " + " | ".join(
            pct(per_class[n]["per_class_AP50"][c]) for n in pretrained.NAMES) + " |")
    rows += ["", "| size sqrt(w h) (val GTs) | " + " | ".join(pretrained.NAMES) + " |",
             "|---|" + "---|" * len(pretrained.NAMES)]
    for b, (lo, hi) in SIZE_BUCKETS.items():
        n = sum(by_size[pretrained.NAMES[0]][b]["num_gts"])
        rows.append(f"| {b} [{lo:g}, {hi:g}) px ({n}) | " + " | ".join(
            f"{pct(by_size[m][b]['AP50'])} / {pct(by_size[m][b]['mAP'])}"
            for m in pretrained.NAMES) + " |")
    return rows


def _histories(runs: Path | None) -> dict[str, list[dict]]:
    if runs is not None:
        return {n: load_snapshots(runs / n) for n in pretrained.NAMES}
    return {n: pretrained.load_snapshot_history(n) for n in pretrained.NAMES}


def snapshot_tables(histories: dict[str, list[dict]]) -> list[str]:
    rows = ["| run | GTs | positives per GT at iter 0 / middle / end | mean | "
            "GTs whose count changed |", "|---|---|---|---|---|"]
    for name, snaps in histories.items():
        picks = [snaps[0], snaps[len(snaps) // 2], snaps[-1]]
        counts = [s["assigners"][name]["num_pos_per_gt"].double() for s in picks]
        every = torch.stack([s["assigners"][name]["num_pos_per_gt"] for s in snaps])  # (S, G)
        changed = int((every != every[:1]).any(0).sum())
        iters = ", ".join(str(s["iteration"]) for s in picks)
        rows.append(f"| {name} | {len(counts[0])} | " + " / ".join(
            f"{c.mean():.2f}" for c in counts) + f" (iters {iters})"
            f" | {every.double().mean():.2f} | {changed} |")
    return rows


def fixed_gt_table(histories: dict[str, list[dict]], gts: list[int]) -> list[str]:
    """Positives (and the GMM cut for PAA) of a few fixed GTs at 5 iterations."""
    snaps0 = histories[pretrained.NAMES[0]]
    picks = sorted({round(i * (len(snaps0) - 1) / 4) for i in range(5)})
    iters = [snaps0[i]["iteration"] for i in picks]
    rows = ["| run | GT | " + " | ".join(f"iter {i}" for i in iters) + " |",
            "|---|---|" + "---|" * len(iters)]
    for name, snaps in histories.items():
        by_iter = {s["iteration"]: s["assigners"][name] for s in snaps}
        for g in gts:
            cells = []
            for it in iters:
                e = by_iter[it]
                cell = f"{int(e['num_pos_per_gt'][g])}"
                if "cut" in e:
                    cell += f" (cut {float(e['cut'][g]):.2f} of {int(e['cand_valid'][g].sum())})"
                cells.append(cell)
            rows.append(f"| {name} | {g} | " + " | ".join(cells) + " |")
    return rows


def log_table(runs: Path) -> list[str]:
    rows = ["| run | positives per GT, iterations 1-100 | 1451-1550 | last 100 |",
            "|---|---|---|---|"]
    for name in pretrained.NAMES:
        with open(runs / name / "log.csv") as f:
            by_iter = {int(r["iter"]): r for r in csv.DictReader(f) if r.get("num_pos")}
        its = sorted(by_iter)  # a resumed run logged some iterations twice: keep the last

        def ratio(sel):
            pos = sum(int(by_iter[i]["num_pos"]) for i in sel)
            return pos / max(1, sum(int(by_iter[i]["num_gts"]) for i in sel))
        mid = len(its) // 2
        rows.append(f"| {name} | {ratio(its[:100]):.2f} | {ratio(its[mid - 50:mid + 50]):.2f} | "
                    f"{ratio(its[-100:]):.2f} |")
    return rows


def pool_table(histories: dict[str, list[dict]]) -> list[str]:
    rows = ["| run | GT-snapshots | single-candidate pools | fallback fired | "
            "mean candidates per GT |", "|---|---|---|---|---|"]
    for name in ("paa_maxiou", "paa_atss"):
        snaps = histories[name][1:]  # after the untrained model
        valid = torch.cat([s["assigners"][name]["cand_valid"].sum(1) for s in snaps])  # (N,)
        fallback = torch.cat([s["assigners"][name]["fallback"] for s in snaps])
        has = valid > 0
        n = int(has.sum())
        rows.append(f"| {name} | {n} | {100 * float((valid == 1).sum()) / n:.1f} % | "
                    f"{100 * float(fallback.sum()) / n:.1f} % | "
                    f"{float(valid[has].double().mean()):.1f} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, help="run folders of make_teaching_checkpoints")
    parser.add_argument("--data", type=Path, default=Path("data/synthetic_tiny"),
                        help="the tiny synthetic set (written when missing)")
    parser.add_argument("--gts", type=int, nargs="+", default=[5, 27, 32, 33])
    args = parser.parse_args(argv)
    histories = _histories(args.runs)
    sections = [("Checkpoints", checkpoint_table()),
                ("AP50 by class; AP50 / mAP by object size (val)", breakdown_tables(args.data)),
                ("Fixed GTs: mean positives per GT", snapshot_tables(histories)),
                ("Fixed GTs: positives (PAA: cut, candidates)", fixed_gt_table(histories,
                                                                                args.gts)),
                ("Candidate pools of PAA", pool_table(histories))]
    if args.runs is not None:
        sections.insert(3, ("All training batches: num_pos / num_gts", log_table(args.runs)))
    for title, rows in sections:
        print(f"### {title}\n")
        print("\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
