"""Index batches of an epoch: a seeded permutation per (seed, epoch), so a resumed run sees the
same batches, cut into equal slices per process under torchrun; and evaluation shards.

The prepared tensors (`saltjet.data.pipeline.JetTensors`) are indexed with these batches directly:
no Dataset or DataLoader between them and the model.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed for epoch `epoch` of a run with seed `seed` (independent streams per epoch)."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def epoch_batches(n_items: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1,
                  shuffle: bool = True) -> list[torch.Tensor]:
    """Index batches of one epoch for process `rank` of `world_size`.

    The epoch's permutation depends only on (seed, epoch), so a resumed run sees the same batches.
    It is cut into global batches of `batch_size` rounded up to a multiple of `world_size`; process
    `rank` takes the rank-th equal piece of every global batch, so the processes see disjoint jets
    and, with gradients averaged over processes, a K-process run takes the same steps as one
    process (up to rounding). The n_items % world_size jets at the end of the permutation are
    skipped that epoch.

    Returns:
        list of (b,) int64 index tensors (b = batch_size / world_size, smaller for the last one).
    """
    if shuffle:
        g = torch.Generator().manual_seed(epoch_seed(seed, epoch))
        order = torch.randperm(n_items, generator=g)
    else:
        order = torch.arange(n_items)
    local = math.ceil(batch_size / world_size)
    order = order[:n_items - n_items % world_size]
    return [chunk.view(world_size, -1)[rank] for chunk in torch.split(order, local * world_size)]


def eval_shard(n_items: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
    """Contiguous (unshuffled) indices of process `rank`'s part of an evaluation set; all parts cover it."""
    bounds = np.linspace(0, n_items, world_size + 1).round().astype(int)
    return torch.arange(bounds[rank], bounds[rank + 1])
