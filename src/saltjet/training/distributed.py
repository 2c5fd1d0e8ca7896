"""Process group for multi-process training under `torchrun` (DistributedDataParallel).

A single process (no WORLD_SIZE in the environment) gets a context with world_size 1 and every
collective below is a no-op, so the training loop has one code path.
Backend: nccl on CUDA, gloo on CPU. Each process uses GPU LOCAL_RANK when training on CUDA.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from saltjet.errors import ConfigError


@dataclass
class DistContext:
    """Where this process sits: rank in 0..world_size-1, its device, and whether it initialised the group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0 logs and writes the run directory."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """"auto" -> cuda:LOCAL_RANK when CUDA is available, else cpu; "cuda" without a GPU is a ConfigError."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda was requested but torch sees no CUDA GPU")
        return torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))
    if device == "cpu":
        return torch.device("cpu")
    raise ConfigError(f"unknown device {device!r}; choose auto, cpu or cuda")


def setup(device: str = "auto") -> DistContext:
    """Join the torchrun process group when launched by torchrun; else a single-process context."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if world_size <= 1:
        return DistContext(device=dev)
    owns = False
    if not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend=backend)
        owns = True
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, dev, owns)


def cleanup(ctx: DistContext) -> None:
    """Leave the process group if `setup` created it."""
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(ctx: DistContext, values: torch.Tensor) -> torch.Tensor:
    """Element-wise sum over processes (float64 on the collective's device); identity for one process."""
    if not ctx.distributed:
        return values
    t = values.detach().to(ctx.device, torch.float64).clone()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu()


def all_gather_arrays(ctx: DistContext, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Concatenate each array over processes in rank order (arrays may differ in length per rank)."""
    if not ctx.distributed:
        return arrays
    gathered: list = [None] * ctx.world_size
    dist.all_gather_object(gathered, arrays)
    return tuple(np.concatenate([g[i] for g in gathered]) for i in range(len(arrays)))


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()
