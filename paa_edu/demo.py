"""``paa-edu demo``: train the four assigners on the tiny synthetic set and compare them.

1. write the ``tiny`` synthetic dataset (256 px, 200 train / 50 val images) once;
2. train the ``tiny_synthetic`` detector four times, changing only the assignment:
   MaxIoU (RetinaNet 0.5/0.4), ATSS, PAA on MaxIoU(0.1) candidates, PAA on ATSS candidates,
   side by side on the CPU (one process per core, at most 4; each is seeded, so the table is
   the same as one after another), one after another on a GPU;
3. evaluate each on the val split and print the seed-style table (also ``results.md``);
4. save, for one val image, the three assignments side by side (``assignments.png``) and the
   GMM split of the trained PAA model for the GT with the most candidates (``gmm_split.png``).
"""
from __future__ import annotations

import os
import platform
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch.utils.data import Subset

from paa_edu.assigners import AssignResult, assign, build_assigner
from paa_edu.config import VARIANTS, Config, apply_overrides
from paa_edu.data.build import build_dataset
from paa_edu.data.dota import read_image
from paa_edu.data.workers import worker_map
from paa_edu.engine.checkpoint import CHECKPOINT_NAME, load_model
from paa_edu.engine.inference import evaluate
from paa_edu.engine.train import resolve_device, train
from paa_edu.evaluation.report import format_results_table, method_name, table_row
from paa_edu.presets import tiny_synthetic
from paa_edu.viz import plot_assignments, plot_gmm_split


def save_assignment_plots(model, cfg: Config, out_dir: Path, index: int = 0) -> list[Path]:
    """Assignments of MaxIoU / ATSS / PAA and PAA's GMM split on val image ``index``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dataset = build_dataset(cfg, "val", train=False)
    tensor, target = dataset[index]
    base = dataset.dataset if isinstance(dataset, Subset) else dataset
    image = read_image(base.image_paths[index])  # (H0, W0, 3) RGB
    device = next(model.parameters()).device
    targets = [{"boxes": target["boxes"].to(device), "labels": target["labels"].to(device)}]
    with torch.no_grad():
        dense = model.predict_dense(tensor[None].to(device))
    paa = build_assigner(cfg.model, record=True)
    assigners = {"MaxIoU 0.5/0.4": build_assigner(replace(cfg.model, assigner="maxiou")),
                 "ATSS": build_assigner(replace(cfg.model, assigner="atss")),
                 f"PAA ({cfg.model.paa_init} init)": paa}
    results = {title: assign(a, dense, targets)[0] for title, a in assigners.items()}
    record = paa.last_record  # the GT with the most candidates makes the clearest GMM plot
    busiest = int(record.valid.sum(1).argmax()) if record.num_gts else 0
    paths = [out_dir / "assignments.png", out_dir / "gmm_split.png"]
    scale = target["scale_factor"]

    def unscale(boxes: torch.Tensor) -> torch.Tensor:  # (N, 5) network input -> original pixels
        return torch.cat([boxes[:, :4] / scale, boxes[:, 4:]], dim=1).cpu()

    cpu = {title: AssignResult(r.gt_inds.cpu(), r.labels.cpu(), r.max_overlaps.cpu(), r.num_gts)
           for title, r in results.items()}
    figures = [plot_assignments(image, unscale(targets[0]["boxes"]), unscale(dense.anchors), cpu),
               plot_gmm_split(record, gt=busiest)]
    for fig, path in zip(figures, paths):
        fig.savefig(path, dpi=90)
        plt.close(fig)
    return paths


def _train_variant(job: tuple[str, list[str], bool]) -> tuple[str, dict, float, float]:
    """Train and evaluate ``(name, --set overrides, progress)``: (name, row, val AP50, seconds)."""
    name, overrides, progress = job
    t0 = time.perf_counter()
    cfg = apply_overrides(tiny_synthetic(), overrides)
    print(f"[demo] training {method_name(cfg)} ...", flush=True)
    model = train(cfg, progress=progress, restart=True)["model"]
    metrics = evaluate(model, build_dataset(cfg, "val", train=False))
    seconds = time.perf_counter() - t0
    print(f"[demo] {method_name(cfg)}: AP50 {100 * metrics['AP50']:.2f} ({seconds:.0f} s)",
          flush=True)
    return name, table_row(cfg, metrics), metrics["AP50"], seconds


def default_workers(device: str) -> int:
    """Parallel trainings: one per CPU core, at most 4 (the variants); 1 on a GPU."""
    on_gpu = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    return 1 if on_gpu else max(1, min(len(VARIANTS), _num_cores()))


def _num_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def run_demo(out_dir: str | Path = "paa_demo", device: str = "auto", epochs: int | None = None,
             overrides: list[str] | tuple[str, ...] = (), progress: bool = True,
             workers: int | None = None) -> str:
    """Train, evaluate and compare the four assigners (module docstring); returns (prints, writes
    to ``<out_dir>/results.md``) the markdown table. ``out_dir`` receives ``data/``, one run folder
    per variant, ``results.md`` and the plots; ``overrides`` are ``key=value`` overrides of
    ``tiny_synthetic``; ``progress`` bars show only when the trainings run one after another;
    ``workers`` (default :func:`default_workers`) does not change the table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    workers = default_workers(device) if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    base = [f"data.root={out_dir / 'data'}", f"train.device={device}", *overrides]
    if epochs is not None:
        base.append(f"train.epochs={epochs}")
    jobs = [(name, base + [f"model.assigner={assigner}", f"model.paa_init={init}",
                           f"train.out_dir={out_dir / name}"], progress and workers == 1)
            for name, assigner, init in VARIANTS]
    cfg = apply_overrides(tiny_synthetic(), jobs[-1][1])  # the PAA(atss) run, for the plots
    build_dataset(cfg, "train", train=False)  # writes the synthetic set once, before the workers
    print(f"[demo] {len(jobs)} trainings, {workers} at a time", flush=True)
    # workers > 1: one ``spawn`` process each (seeded, single-threaded: the same result as here)
    runs = worker_map(_train_variant, jobs, workers) if workers > 1 else map(_train_variant, jobs)
    results = {name: (row, ap50, seconds) for name, row, ap50, seconds in runs}
    table = format_results_table([results[name][0] for name, _, _ in VARIANTS])
    run_device = resolve_device(cfg.train.device)
    model, _ = load_model(out_dir / "paa_atss" / CHECKPOINT_NAME, device=run_device)
    plots = save_assignment_plots(model, cfg, out_dir)
    total = time.perf_counter() - start
    on_gpu = run_device.type == "cuda"
    machine = (f"{platform.machine()}, {_num_cores()} cores, {workers} training(s) at a time "
               f"x {cfg.train.num_threads or torch.get_num_threads()} thread(s), "
               f"{'CUDA ' + torch.cuda.get_device_name() if on_gpu else 'CPU'}")
    note = (f"`paa-edu demo --out {out_dir}`, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
            f"{machine}, total {total:.0f} s "
            f"({', '.join(f'{name} {results[name][2]:.0f} s' for name, _, _ in VARIANTS)})")
    results_path = out_dir / "results.md"
    results_path.write_text(table + "\n\n" + note + "\n")
    print(table)
    print(note)
    print("plots: " + ", ".join(str(p) for p in plots))
    print(f"results: {results_path} (the table above, as the README's; "
          f"check with `python scripts/check_readme_table.py {results_path}`)")
    return table
