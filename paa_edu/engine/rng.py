"""Seeds and random-generator states: a resume continues every generator where it stopped."""
from __future__ import annotations

import os
import random

import numpy as np
import torch

from paa_edu.engine import distributed

RANK_SEED_STRIDE = 1_000_003  # rank r seeds with seed + r * stride (a prime, far from epochs)


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and every GPU) with ``seed``."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rank_seed(seed: int) -> int:
    """This rank's seed: ``seed`` on rank 0 (= the single-process run), offset on the others."""
    return seed + distributed.rank() * RANK_SEED_STRIDE


def rng_state(device: torch.device | None = None) -> dict:
    """Every generator's state as tensors and plain values (``weights_only`` loadable); of
    CUDA, only the current device's (a resume with fewer visible GPUs still works)."""
    version, keys, gauss = random.getstate()
    name, mt, pos, has_gauss, cached = np.random.get_state()
    state = {"python": [version, list(keys), gauss], "numpy": [name, torch.from_numpy(
        mt.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state()}
    if device is not None and device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device | None = None) -> None:
    """Restore the generators saved by :func:`rng_state`."""
    version, keys, gauss = state["python"]
    random.setstate((version, tuple(keys), gauss))
    name, mt, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, mt.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and device is not None and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)
