"""Process-group helpers for training on several GPUs (or CPU processes) with ``torchrun``
(``torchrun --nproc_per_node N -m paa_edu train ...``). Without torchrun every helper acts as
for one process of rank 0, so single-process code calls the same functions unchanged."""
from __future__ import annotations

import os
import warnings

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


def launched_by_torchrun() -> bool:
    """True when ``RANK`` and ``WORLD_SIZE`` are set (torchrun, or a test)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """True on rank 0: the only process that prints, logs and writes checkpoints."""
    return rank() == 0


def init_from_env(device: torch.device) -> torch.device:
    """Join the torchrun process group (once) and return this process's device: ``device``
    without torchrun, else ``cuda:LOCAL_RANK`` (``nccl``; ``gloo`` when processes must share a
    GPU, e.g. a 2-process test on a 1-GPU machine) or the CPU (``gloo``)."""
    if not launched_by_torchrun():
        return device
    local_rank = int(os.environ.get("LOCAL_RANK", os.environ["RANK"]))
    backend = "gloo"
    if device.type == "cuda":
        count = torch.cuda.device_count()
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"]))
        device = torch.device("cuda", local_rank % count)
        torch.cuda.set_device(device)
        if local_world <= count:
            backend = "nccl"
        else:
            warnings.warn(f"{local_world} processes share {count} GPU(s): NCCL needs one GPU "
                          f"per process, using gloo (slower; for tests)", stacklevel=2)
    if not is_distributed():
        dist.init_process_group(backend)
    return device


def shutdown() -> None:
    if is_distributed():
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def all_ranks(ok: bool) -> bool:
    """True when ``ok`` is True on **every** rank (a MIN all-reduce of a 0/1 flag)."""
    if not is_distributed():
        return bool(ok)
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"  # NCCL reduces GPU tensors only
    flag = torch.tensor(int(ok), dtype=torch.int32, device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag)


def agree_on_problem(problem: str | None) -> str | None:
    """``None`` when no rank reports a problem; else the same text, naming them, on every rank."""
    if all_ranks(problem is None):
        return None
    problems = gather_objects(problem)
    if len(problems) == 1:
        return problem
    return "; ".join(f"rank {r}: {p}" for r, p in enumerate(problems) if p is not None)


def wrap_model(model: torch.nn.Module, device: torch.device, sync_bn: bool = False
               ) -> torch.nn.Module:
    """``DistributedDataParallel(model)`` under torchrun (``sync_bn`` on CUDA), else ``model``."""
    if not is_distributed():
        return model
    if sync_bn:
        if device.type != "cuda":
            raise ValueError("train.sync_bn=True needs CUDA (SyncBatchNorm has no CPU kernel)")
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [device.index] if device.type == "cuda" else None
    # Every parameter gets a gradient each step, even without positives: no find_unused_parameters
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=False)


def gather_objects(obj) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (pickled; ``[obj]`` alone)."""
    if not is_distributed():
        return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj):
    """Rank 0's ``obj`` on every rank (``obj`` itself without a process group)."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def broadcast_buffers(module: torch.nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm statistics) to every rank before evaluating: DDP copies
    them at the start of each forward, so after the last step each rank holds its own."""
    if is_distributed():
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)


def shard(num_items: int) -> range:
    """The indices this rank handles: ``rank, rank + W, rank + 2W, ...`` (no padding)."""
    return range(rank(), num_items, world_size())


def unshard(per_rank: list[list]) -> list:
    """Undo :func:`shard`: item ``i`` of rank ``r`` is global index ``r + i * W``."""
    size = len(per_rank)
    out = [None] * sum(len(items) for items in per_rank)
    for r, items in enumerate(per_rank):
        out[r::size] = items
    return out
