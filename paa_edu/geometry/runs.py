"""Runs of indices: ``repeat_interleave`` and the position inside each run, without a sync.

Runs are given by their lengths ``(R,)``; ``total`` = their sum, known beforehand (so the output
size never waits for the device).
"""
from __future__ import annotations

import torch
from torch import Tensor


def repeat_runs(lengths: Tensor, total: int) -> Tensor:
    """(total,) the run of every element, run ``r`` repeated ``lengths[r]`` times: as
    ``torch.repeat_interleave(torch.arange(R), lengths)``, by a binary search (no sync)."""
    ends = lengths.cumsum(0)  # (R,) one past the last element of each run
    return torch.searchsorted(ends, torch.arange(total, device=lengths.device), right=True)


def rank_in_runs(lengths: Tensor, run: Tensor) -> Tensor:
    """(M,) position of each element inside its run; ``run`` as :func:`repeat_runs` gives it."""
    starts = lengths.cumsum(0) - lengths  # (R,) first position of each run
    return torch.arange(run.shape[0], device=run.device) - starts.index_select(0, run)
