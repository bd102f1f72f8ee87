"""Data order and augmentation randomness as pure functions of (seed, epoch, index), so that a
resumed run sees the same images in the same order, flipped the same way, as one that never
stopped, whatever the number of workers and processes:

- :class:`EpochSampler` draws the epoch's permutation from ``(seed, epoch)`` alone, cuts this
  rank's share and starts at position ``start`` of it (all a mid-epoch checkpoint records). It
  yields keys ``(index, epoch)``: persistent workers never see a ``set_epoch``.
- :class:`SeededSamples` loads item ``(index, epoch)`` with the Python, NumPy and torch
  generators seeded from ``(seed, epoch, index)`` and restored afterwards.
"""
from __future__ import annotations

import math
import random
from collections.abc import Iterator

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
    """This rank's keys ``(index, epoch)`` of one epoch of N = ``dataset_len`` samples, from
    position ``start`` on. Rank r's share is every ``num_replicas``-th index of the permutation
    from r, padded by repeating its beginning to ``ceil(N / num_replicas)`` keys
    (``DistributedSampler``'s rule)."""

    def __init__(self, dataset_len: int, seed: int, epoch: int = 0, start: int = 0,
                 num_replicas: int = 1, rank: int = 0, shuffle: bool = True):
        self.dataset_len, self.seed, self.shuffle = dataset_len, seed, shuffle
        self.num_replicas, self.rank = num_replicas, rank
        self.num_samples = math.ceil(dataset_len / num_replicas)  # keys per rank and epoch
        self.set_epoch(epoch, start)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def indices(self) -> list[int]:
        order = epoch_order(self.dataset_len, self.seed, self.epoch, self.shuffle)  # (N,)
        total = self.num_samples * self.num_replicas
        order = (order * math.ceil(total / len(order)))[:total]  # padded to total
        return order[self.rank:total:self.num_replicas][self.start:]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter([(index, self.epoch) for index in self.indices()])

    def __len__(self) -> int:
        return self.num_samples - self.start


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
        seed = mix_seed(self.seed, epoch, index)
        saved = random.getstate(), np.random.get_state(), torch.get_rng_state()
        random.seed(seed)  # Python's, NumPy's and torch's global CPU generators
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        try:
            return self.dataset[index]
        finally:
            random.setstate(saved[0])
            np.random.set_state(saved[1])
            torch.set_rng_state(saved[2])
