"""Training batches of jets with similar multiplicities, so padded slots cost (almost) nothing.

Jets are padded to n slots, but a jet holds ~50–90 particles. The models drop the trailing slots
that are padding in every jet of a batch (`saltjet.models.layers.trim_padding`), so a batch costs
O(its longest jet). With random batches the longest jet is nearly always near n; with batches cut
from multiplicity-sorted chunks it is close to each jet's own multiplicity.

    epoch permutation (seeded by (seed, epoch), as `epoch_batches`)
      -> chunks of `chunk_batches` global batches
      -> each chunk sorted by multiplicity (stable), cut into global batches
      -> the batches of the epoch shuffled (same generator), each split over the processes

Every jet is still seen once per epoch; only which jets share a batch changes (batches lean to one
multiplicity range, and so mildly to the classes that live there). Deterministic in (seed, epoch),
so resumed runs see the same batches.
"""

from __future__ import annotations

import math

import torch

from saltjet.data.pipeline import epoch_seed


def bucketed_batches(lengths: torch.Tensor, batch_size: int, seed: int, epoch: int, rank: int = 0,
                     world_size: int = 1, chunk_batches: int = 32) -> list[torch.Tensor]:
    """Index batches of one epoch for process `rank`, grouped by multiplicity.

    Args:
        lengths: (N,) int real particles per jet.
        batch_size: global batch size (rounded up to a multiple of `world_size`, as `epoch_batches`).
        chunk_batches: global batches per sorted chunk; larger = tighter buckets, fewer mixes.
    Returns:
        list of (b,) int64 index tensors, b = batch_size / world_size (smaller for chunk ends).
    """
    n_items = len(lengths)
    g = torch.Generator().manual_seed(epoch_seed(seed, epoch))
    order = torch.randperm(n_items, generator=g)
    order = order[:n_items - n_items % world_size]
    local = math.ceil(batch_size / world_size)
    global_batch = local * world_size
    batches = []
    for chunk in torch.split(order, global_batch * chunk_batches):
        chunk = chunk[torch.argsort(lengths[chunk], stable=True)]
        batches.extend(torch.split(chunk, global_batch))
    shuffled = torch.randperm(len(batches), generator=g).tolist()
    return [batches[i].view(world_size, -1)[rank] for i in shuffled]
