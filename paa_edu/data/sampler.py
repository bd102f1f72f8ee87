"""Data order and augmentation randomness as pure functions of (seed, epoch, index).

A training run that is stopped anywhere and resumed must see the same images in the same order,
flipped the same way, as a run that never stopped. Two pieces make that hold, whatever the
number of DataLoader workers (and, with ``num_replicas`` > 1, whatever the number of processes):

- :class:`EpochSampler` draws the epoch's permutation from ``(seed, epoch)`` alone, cuts this
  rank's share (padded to equal length, as ``torch.utils.data.DistributedSampler`` pads), and
  starts at position ``start`` of that share, so a mid-epoch checkpoint only records ``start``.
  It yields keys ``(index, epoch)``: the epoch travels with each key to the worker processes,
  which hold their own copy of the dataset (persistent workers never see a ``set_epoch``).
- :class:`SeededSamples` wraps a dataset: item ``(index, epoch)`` is loaded with the Python,
  NumPy and torch generators seeded from ``(seed, epoch, index)`` and restored afterwards, so
  the random flips of a sample do not depend on which worker loads it or on what ran before.
"""
from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler


def mix_seed(*values: int) -> int:
    """A well-mixed 63-bit seed from non-negative ints (NumPy's ``SeedSequence``)."""
    state = np.random.SeedSequence([int(v) for v in values]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def epoch_order(dataset_len: int, seed: int, epoch: int, shuffle: bool = True) -> list[int]:
    """The permutation of ``range(dataset_len)`` used in ``epoch`` (or the identity)."""
    if not shuffle:
        return list(range(dataset_len))
    generator = torch.Generator().manual_seed(mix_seed(seed, epoch))
    return torch.randperm(dataset_len, generator=generator).tolist()


class EpochSampler(Sampler):
    """This rank's keys ``(index, epoch)`` of one epoch, from position ``start`` on.

    Args:
        dataset_len: N, the number of samples.
        seed: the run's seed.
        epoch: 0-based epoch; the order is a pure function of (seed, epoch).
        start: skip the first ``start`` keys of this rank's share (a mid-epoch resume).
        num_replicas, rank: the share of rank ``rank`` among ``num_replicas`` processes: every
            ``num_replicas``-th index of the permutation, padded by repeating its beginning so
            every rank gets ``ceil(N / num_replicas)`` keys (``DistributedSampler``'s rule).
        shuffle: permute (training) or keep the dataset order (evaluation).
    """

    def __init__(self, dataset_len: int, seed: int, epoch: int = 0, start: int = 0,
                 num_replicas: int = 1, rank: int = 0, shuffle: bool = True):
        if dataset_len < 1:
            raise ValueError(f"dataset_len must be >= 1, got {dataset_len}")
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"need 0 <= rank < num_replicas, got rank {rank} of {num_replicas}")
        self.dataset_len, self.seed, self.shuffle = dataset_len, seed, shuffle
        self.num_replicas, self.rank = num_replicas, rank
        self.num_samples = math.ceil(dataset_len / num_replicas)  # keys per rank and epoch
        self.set_epoch(epoch, start)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Make the next iteration cover ``epoch`` from position ``start`` of this rank's share."""
        if not 0 <= start <= self.num_samples:
            raise ValueError(f"start must be in [0, {self.num_samples}], got {start}")
        self.epoch, self.start = epoch, start

    def indices(self) -> list[int]:
        """This rank's dataset indices for the current epoch, from ``start`` on."""
        order = epoch_order(self.dataset_len, self.seed, self.epoch, self.shuffle)  # (N,)
        total = self.num_samples * self.num_replicas
        order = (order * math.ceil(total / len(order)))[:total]  # padded to total
        return order[self.rank:total:self.num_replicas][self.start:]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter([(index, self.epoch) for index in self.indices()])

    def __len__(self) -> int:
        return self.num_samples - self.start


@contextmanager
def seeded_generators(seed: int) -> Iterator[None]:
    """Seed Python's, NumPy's and torch's global CPU generators inside the block; restore them."""
    saved = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.set_rng_state(saved[2])


class SeededSamples(Dataset):
    """``dataset`` whose item ``(index, epoch)`` is drawn with generators seeded by
    ``(seed, epoch, index)``; a plain int ``index`` is passed through unseeded."""

    def __init__(self, dataset: Dataset, seed: int):
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        if isinstance(key, int):
            return self.dataset[key]
        index, epoch = key
        with seeded_generators(mix_seed(self.seed, epoch, index)):
            return self.dataset[index]
