"""Where does a training step spend its time? forward / assignment / loss / backward.

Goal (issue 4): PAA's assignment -- candidate scoring plus the GMM split -- costs at most 10% of a
CPU step for ``tiny_synthetic`` and at most 5% of a GPU step for R50 at 1024 px with 300 GTs.

    python benchmarks/bench_train_step.py                      # tiny_synthetic on CPU
    python benchmarks/bench_train_step.py --config r50_dota_1x --device cuda --num-gts 300

Prints a markdown table (median over ``--iters`` timed steps after ``--warmup`` steps).
The initial assignment (MaxIoU/ATSS IoUs) is listed separately from PAA's own work.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from paa_edu import assigners
from paa_edu.config import apply_overrides
from paa_edu.data import make_scene
from paa_edu.data.synthetic import PRESETS as DATA_PRESETS
from paa_edu.geometry import poly2obb
from paa_edu.model import RotatedPAADetector
from paa_edu.presets import get_config

STAGES = ("forward", "initial assign", "PAA scoring", "PAA GMM split", "loss", "backward+step")
#: ATen ops whose output size depends on the data: on CUDA each one waits for the GPU (a sync).
SYNCING_OPS = ("nonzero", "_local_scalar_dense", "masked_select", "unique_consecutive",
               "_unique2", "repeat_interleave", "masked_scatter")
#: Indexing ops that sync when an index is a boolean mask (``x[mask]``, ``x[mask] = v``).
MASK_INDEX_OPS = ("index", "index_put", "index_put_", "_index_put_impl_")


def is_syncing(func, args) -> bool:
    """Does this ATen call wait for the GPU? Data-dependent ops and boolean-mask indexing."""
    name = func.overloadpacket.__name__
    if name in SYNCING_OPS:
        return True
    if name in MASK_INDEX_OPS and len(args) > 1:
        return any(isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8)
                   for i in args[1] if i is not None)
    return False


class OpCounter(TorchDispatchMode):
    """Counts ATen calls that compute (views excluded) and the data-dependent (syncing) ones.

    Syncing = :data:`SYNCING_OPS` plus boolean-mask indexing (:func:`is_syncing`). A
    ``.tolist()`` or ``.cpu()`` of a CUDA tensor also syncs but dispatches no countable op on
    the CPU, so the hot path avoids them (``grep`` finds the rest).

    On a GPU every such call launches at least one kernel (a few microseconds of launch latency
    each when the kernels are small), and every syncing op stalls the CPU until the GPU has
    caught up, so these counts bound how small a stage's GPU time can get.
    Counts only ops dispatched on this thread: autograd's backward is not counted.
    """

    def __init__(self):
        super().__init__()
        self.calls, self.syncs = 0, 0
        self.stages: dict[str, tuple[int, int]] = {}  # stage -> (calls, syncs) inside it
        self._marked = (0, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls += not func.is_view
        self.syncs += is_syncing(func, args)
        return func(*args, **(kwargs or {}))

    def mark(self, stage: str) -> None:
        """Attribute the calls since the previous mark to ``stage``."""
        self.stages[stage] = (self.calls - self._marked[0], self.syncs - self._marked[1])
        self._marked = (self.calls, self.syncs)


def make_batch(image_size: int, batch: int, num_gts: int | None, num_classes: int, seed: int = 0):
    """Random images with synthetic GTs: scenes of the tiny preset, or ``num_gts`` random boxes."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(batch, 3, image_size, image_size, generator=generator)
    targets = []
    for b in range(batch):
        if num_gts is None:
            _, polys, labels = make_scene(seed + b, image_size, DATA_PRESETS["tiny"].scene)
            boxes = poly2obb(torch.as_tensor(polys, dtype=torch.float32))  # (G, 5)
            labels = torch.as_tensor(labels) % num_classes
        else:
            u = torch.rand(num_gts, 5, generator=generator)
            boxes = torch.stack([u[:, 0] * image_size, u[:, 1] * image_size, 20 + 100 * u[:, 2],
                                 8 + 40 * u[:, 3], (u[:, 4] - 0.25) * 3.1416], dim=1)
            labels = torch.randint(0, num_classes, (num_gts,), generator=generator)
        targets.append({"boxes": boxes, "labels": labels})
    return images, targets


def timed_step(model, optimizer, images, targets, sync, counter: OpCounter | None = None
               ) -> dict[str, float]:
    """One training step, split into :data:`STAGES` (seconds); ``counter`` also counts ops."""
    times, t = {}, time.perf_counter()

    def lap(name):
        nonlocal t
        sync()
        now = time.perf_counter()
        times[name] = times.get(name, 0.0) + now - t
        t = now
        if counter is not None:
            counter.mark(name)

    targets = model.prepare_targets(targets, images.device)  # one check, then to the device
    dense = model.predict_dense(images)
    lap("forward")
    anchors, counts = dense.anchors, dense.num_level_anchors
    if model.cfg.assigner == "paa":
        initials = [model.assigner.initial_assign(anchors, t_["boxes"], t_["labels"], counts)
                    for t_ in targets]
        lap("initial assign")
        scores = assigners.paa_scores(dense, targets, initials)
        lap("PAA scoring")
        assigns = model.assigner.reassign(initials, scores, counts)
        lap("PAA GMM split")
    else:
        assigns = assigners.assign(model.assigner, dense, targets)
        lap("initial assign")
    loss = sum(model.compute_losses(dense, targets, assigns).values())
    lap("loss")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    lap("backward+step")
    return times


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="tiny_synthetic")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--image-size", type=int, help="default: 256 tiny, 1024 otherwise")
    parser.add_argument("--batch", type=int, help="default: the config's batch size")
    parser.add_argument("--num-gts", type=int, help="random GTs per image (default: scenes)")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, help="CPU threads (default: the config's)")
    parser.add_argument("--count-ops", action="store_true",
                        help="also count computing ATen calls and syncs per stage (one more step)")
    parser.add_argument("--amp", action="store_true",
                        help="fp16 autocast around the step (as train.amp; no loss scaling here, "
                             "it does not change the timing)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    cfg = apply_overrides(get_config(args.config), args.overrides)
    threads = args.threads or cfg.train.num_threads
    if threads:
        torch.set_num_threads(threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    size = args.image_size or (256 if cfg.name == "tiny_synthetic" else 1024)
    batch = args.batch or cfg.train.batch_size
    torch.manual_seed(0)
    model = RotatedPAADetector(cfg.model, load_backbone_weights=False).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    images, targets = make_batch(size, batch, args.num_gts, cfg.model.num_classes)
    images = images.to(device)  # targets stay on the host: the model checks, then moves them
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    amp = torch.autocast(device.type, dtype=torch.float16, enabled=args.amp)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with amp:
        runs = [timed_step(model, optimizer, images, targets, sync)
                for _ in range(args.warmup + args.iters)][args.warmup:]
    median = {s: statistics.median(r.get(s, 0.0) for r in runs) for s in STAGES}
    total = sum(median.values())
    gts = sum(len(t["boxes"]) for t in targets)
    machine = (torch.cuda.get_device_name() if device.type == "cuda" else
               f"CPU {platform.machine()}, {torch.get_num_threads()} threads")
    print(f"config {cfg.name} ({cfg.model.assigner}, init {cfg.model.paa_init}), {size} px, "
          f"batch {batch}, {gts} GTs, {machine}, median of {args.iters} steps\n")
    print("| stage | ms | % of step |\n|---|---|---|")
    for stage in STAGES:
        print(f"| {stage} | {1000 * median[stage]:.1f} | {100 * median[stage] / total:.1f} |")
    paa = median["PAA scoring"] + median["PAA GMM split"]
    print(f"| **step** | {1000 * total:.1f} | 100 |\n")
    print(f"PAA assignment (scoring + GMM split): {100 * paa / total:.1f}% of the step; "
          f"with the initial assignment: {100 * (paa + median['initial assign']) / total:.1f}%")
    result = {"config": cfg.name, "device": machine, "amp": args.amp, "image_size": size,
              "batch": batch, "num_gts": gts, "iters": args.iters,
              "ms": {k: 1000 * v for k, v in median.items()}, "step_ms": 1000 * total,
              "paa_share": paa / total, "assign_share": (paa + median["initial assign"]) / total}
    if device.type == "cuda":
        result["peak_mem_mib"] = torch.cuda.max_memory_allocated() / 2**20
        print(f"peak GPU memory: {result['peak_mem_mib']:.0f} MiB")
    if args.count_ops:
        with amp, OpCounter() as counter:
            timed_step(model, optimizer, images, targets, sync, counter)
        print("\n| stage | ATen calls (no views) | syncing ops |\n|---|---|---|")
        for stage in STAGES[:-1]:  # autograd's backward runs outside the counting mode
            if stage in counter.stages:
                calls, syncs = counter.stages[stage]
                print(f"| {stage} | {calls} | {syncs} |")
        result["syncs"] = {k: v[1] for k, v in counter.stages.items() if k != "backward+step"}
        print(f"\nsyncing ops in forward + assignment + loss: {sum(result['syncs'].values())}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result

if __name__ == "__main__":
    main()
