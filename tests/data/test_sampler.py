"""EpochSampler / SeededSamples: order a pure function of (seed, epoch), DistributedSampler's
sharding and padding, resume from any position, per-sample seeding independent of history."""
from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from paa_edu.data.sampler import EpochSampler, SeededSamples, epoch_order


class _Ints(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i, torch.rand(()).item()  # the index and one random draw


def test_order_is_a_permutation_fixed_by_seed_and_epoch():
    a = epoch_order(50, seed=3, epoch=2)
    assert sorted(a) == list(range(50))
    assert a == epoch_order(50, seed=3, epoch=2)
    assert a != epoch_order(50, seed=3, epoch=1) and a != epoch_order(50, seed=4, epoch=2)
    assert epoch_order(5, 0, 0, shuffle=False) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("n, replicas", [(10, 3), (7, 2), (2, 4), (9, 1)])
def test_shards_match_distributed_sampler_padding(n, replicas):
    # Oracle: torch's DistributedSampler on the same permutation (shuffle=False on a dataset
    # whose items are our epoch order), which pads by repeating the beginning.
    order = epoch_order(n, seed=1, epoch=5)
    for rank in range(replicas):
        ours = EpochSampler(n, seed=1, epoch=5, num_replicas=replicas, rank=rank).indices()
        theirs = [order[i] for i in DistributedSampler(range(n), num_replicas=replicas,
                                                       rank=rank, shuffle=False)]
        assert ours == theirs
    every = [i for r in range(replicas)
             for i in EpochSampler(n, 1, 5, num_replicas=replicas, rank=r).indices()]
    assert set(every) == set(range(n))


def test_start_skips_exactly_the_first_keys():
    full = EpochSampler(11, seed=0, epoch=1)
    keys = list(full)
    for start in (0, 4, 11):
        part = EpochSampler(11, seed=0, epoch=1, start=start)
        assert list(part) == keys[start:] and len(part) == 11 - start
    assert all(epoch == 1 for _, epoch in keys)


@pytest.mark.parametrize("workers", [0, 2])
def test_sample_randomness_depends_only_on_seed_epoch_index(workers):
    data = SeededSamples(_Ints(8), seed=7)
    sampler = EpochSampler(8, seed=7, epoch=3)
    full = [row for batch in DataLoader(data, batch_size=3, sampler=sampler,
                                        num_workers=workers) for row in zip(*batch)]
    sampler.set_epoch(3, start=5)
    torch.rand(100)  # the global generator's history must not matter
    rest = [row for batch in DataLoader(data, batch_size=3, sampler=sampler,
                                        num_workers=workers) for row in zip(*batch)]
    as_lists = [(int(i), float(x)) for i, x in full]
    assert [(int(i), float(x)) for i, x in rest] == as_lists[5:]
    assert len({x for _, x in as_lists}) == 8  # different samples, different draws


def test_seeded_samples_restore_the_global_generators():
    data = SeededSamples(_Ints(3), seed=0)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    data[(1, 0)]
    assert torch.equal(torch.rand(3), expected)
    assert data[(1, 0)] == data[(1, 0)] and data[(1, 0)] != data[(1, 1)]
