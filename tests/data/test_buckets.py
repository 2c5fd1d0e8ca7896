"""Multiplicity-bucketed batches: every jet once per epoch, deterministic, tighter batches."""

from __future__ import annotations

import torch

from saltjet.data.buckets import bucketed_batches
from saltjet.data.pipeline import epoch_batches


def lengths(n: int = 5000, seed: int = 0) -> torch.Tensor:
    return torch.randint(1, 151, (n,), generator=torch.Generator().manual_seed(seed))


def test_every_jet_once_and_same_batches_for_the_same_seed_and_epoch():
    lens = lengths()
    batches = bucketed_batches(lens, 256, seed=3, epoch=7)
    seen = torch.cat(batches)
    assert torch.equal(seen.sort().values, torch.arange(len(lens)))
    again = bucketed_batches(lens, 256, seed=3, epoch=7)
    assert all(torch.equal(a, b) for a, b in zip(batches, again))
    other = bucketed_batches(lens, 256, seed=3, epoch=8)
    assert not all(torch.equal(a, b) for a, b in zip(batches, other))


def test_batches_are_tighter_than_random_ones():
    lens = lengths()
    spread = lambda bs: sum(float(lens[b].max() - lens[b].min()) for b in bs) / len(bs)  # noqa: E731
    assert spread(bucketed_batches(lens, 256, 0, 0)) < 0.2 * spread(epoch_batches(len(lens), 256, 0, 0))


def test_processes_take_disjoint_equal_slices():
    lens = lengths(1001)
    parts = [bucketed_batches(lens, 100, 0, 0, rank=r, world_size=2) for r in range(2)]
    assert [len(b) for b in parts[0]] == [len(b) for b in parts[1]]
    a, b = torch.cat(parts[0]), torch.cat(parts[1])
    assert len(set(a.tolist()) & set(b.tolist())) == 0 and len(a) + len(b) == 1000
