"""Cost of the taggers, measured honestly: FLOPs, latency, throughput, memory, scaling in n.

For each (model, n, batch, backend) `run_bench` builds a randomly initialised model (timing does not
depend on the weights), feeds it random kT-sorted jets with realistic multiplicities, and records:

- params, FLOPs per jet (analytic matmul count from `saltjet.flops`, checked against PyTorch's
  FlopCounterMode on the real graph),
- latency per batch and per jet: `warmup` untimed calls, then `repeats` timed calls; median and
  inter-quartile range (IQR), at a fixed thread count (torch.set_num_threads / ORT intra-op threads),
- throughput (jets/s = batch / median latency),
- peak memory of one forward pass: CUDA `max_memory_allocated` on a GPU; on CPU the exact peak of
  bytes held by live tensors during the call (inputs + every op output, counted by a
  TorchDispatchMode; parameters and kernel-internal scratch buffers excluded), see `peak_memory_mb`,
- achieved FLOP/s and its fraction of a large fp32 GEMM (2048×2048 matmul) timed in the same run,
- latency ratio to the Transformer at the same (n, batch, backend) in the same run.

The onnxruntime backend exports each model with `saltjet.export.export_onnx` and times an ORT
session (CPU provider, or CUDA when available and requested device is cuda).
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
import weakref
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from saltjet.data.sorting import apply_permutation, sort_particles
from saltjet.errors import ConfigError

BACKENDS = ("torch", "onnxruntime")
MEAN_MULTIPLICITY = 65.0  # hls4ml jets average 51 (W) to 91 (g) constituents


def random_jets(batch: int, n: int, n_features: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random jets sorted by kT, padding last.

    Multiplicities are Gamma-distributed (mean 65, like hls4ml jets), clipped to 1..n; pT is
    exponential (10 GeV), Δη, Δφ normal (σ 0.15). Extra features beyond 3 are standard normal.

    Returns:
        x: (batch, n, n_features) float32 physical features (zero at padded slots), mask: (batch, n) bool.
    """
    rng = np.random.default_rng(seed)
    mult = np.clip(np.rint(rng.gamma(8.0, MEAN_MULTIPLICITY / 8.0, batch)), 1, n).astype(np.int64)
    mask = np.arange(n)[None, :] < mult[:, None]
    pt = rng.exponential(10.0, (batch, n)) * mask
    eta, phi = rng.normal(0.0, 0.15, (2, batch, n)) * mask
    perm = sort_particles(pt, eta, phi, mask, by="kt")
    feats = [pt, eta, phi] + [rng.normal(size=(batch, n)) * mask for _ in range(max(0, n_features - 3))]
    x = apply_permutation(np.stack(feats[:n_features], axis=-1), perm).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(apply_permutation(mask, perm))


@dataclass
class Timing:
    """Seconds per call: median, inter-quartile range, and the raw samples."""

    median_s: float
    iqr_s: float
    samples: list[float] = field(repr=False)


def time_call(fn, repeats: int = 20, warmup: int = 3, sync=None) -> Timing:
    """Time `fn()`: `warmup` untimed calls, then `repeats` timed ones (sync() after each, for CUDA)."""
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    samples = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        samples.append(time.perf_counter() - t0)
    q = statistics.quantiles(samples, n=4) if len(samples) > 1 else [samples[0]] * 3
    return Timing(statistics.median(samples), q[2] - q[0], samples)


def time_forward(model, x: torch.Tensor, mask: torch.Tensor, repeats: int = 20, warmup: int = 3) -> Timing:
    """Latency of `model(x, mask)` under inference mode. x: (B, n, F), mask: (B, n)."""
    sync = torch.cuda.synchronize if x.is_cuda else None
    with torch.inference_mode():
        return time_call(lambda: model(x, mask), repeats, warmup, sync)


def gemm_flops_per_s(size: int = 2048, device: str | torch.device = "cpu", repeats: int = 5) -> float:
    """Practical fp32 peak: FLOP/s of a size×size @ size×size matmul (2·size³ FLOPs)."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    sync = torch.cuda.synchronize if a.is_cuda else None
    t = time_call(lambda: a @ b, repeats, warmup=1, sync=sync)
    return 2.0 * size**3 / t.median_s


class _LiveBytes(TorchDispatchMode):
    """Tracks bytes of live tensor storages created inside the mode; `peak` is the maximum."""

    def __init__(self, baseline: int):
        super().__init__()
        self.current = baseline
        self.peak = baseline
        self._refs: dict[int, int] = {}

    def _release(self, key: int, nbytes: int) -> None:
        self._refs[key] -= 1
        if self._refs[key] == 0:
            del self._refs[key]
            self.current -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if not isinstance(t, torch.Tensor) or t.device.type == "meta":
                continue
            storage = t.untyped_storage()
            key, nbytes = storage.data_ptr(), storage.nbytes()
            if key not in self._refs:
                self._refs[key] = 0
                self.current += nbytes
                self.peak = max(self.peak, self.current)
            self._refs[key] += 1
            weakref.finalize(t, self._release, key, nbytes)
        return out


def peak_memory_mb(model, x: torch.Tensor, mask: torch.Tensor) -> float:
    """Peak memory of one forward pass in MB (10⁶ bytes). x: (B, n, F), mask: (B, n).

    CUDA: `torch.cuda.max_memory_allocated` over the call, minus what was allocated before
    (parameters and inputs already on the GPU are excluded).
    CPU: exact peak of bytes held by live tensors: the inputs plus every tensor an op produced
    during the call, released when its last Python reference dies (views share their base's
    storage). Parameters and scratch buffers allocated inside a kernel (e.g. SDPA's tiles) are not
    counted, so this is the activation memory the model's graph implies.
    """
    with torch.inference_mode():
        if x.is_cuda:
            torch.cuda.synchronize()
            before = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            model(x, mask)
            torch.cuda.synchronize()
            return (torch.cuda.max_memory_allocated() - before) / 1e6
        inputs = x.untyped_storage().nbytes() + mask.untyped_storage().nbytes()
        mode = _LiveBytes(inputs)
        with mode:
            out = model(x, mask)
        del out
        return mode.peak / 1e6


def resolve_device(device: str) -> torch.device:
    """"auto" → cuda when available, else cpu; "cuda" without a GPU is a `ConfigError`."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"unknown device {device!r}; choose auto, cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for, but no CUDA device is available")
    return torch.device(device)
