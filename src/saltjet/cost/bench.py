"""Cost of the taggers, measured honestly: FLOPs, latency, throughput, memory, scaling in n.

For each (model, n, batch, backend) `run_bench` builds a randomly initialised model (timing does not
depend on the weights), feeds it random kT-sorted jets with realistic multiplicities, and records:

- params, FLOPs per jet (analytic matmul count from `saltjet.cost.flops`, checked against PyTorch's
  FlopCounterMode on the real graph),
- latency per batch and per jet: `warmup` untimed calls, then `repeats` timed calls; median and
  inter-quartile range (IQR), at a fixed thread count (torch.set_num_threads / ORT intra-op threads),
- throughput (jets/s = batch / median latency),
- peak memory of one forward pass: CUDA `max_memory_allocated` on a GPU; on CPU the exact peak of
  bytes held by live tensors during the call (inputs + every op output, counted by a
  TorchDispatchMode; parameters and kernel-internal scratch buffers excluded), see `peak_memory_mb`,
- achieved FLOP/s and its fraction of a large fp32 GEMM (2048×2048 matmul) timed in the same run
  (the FLOP limit of this machine), from the FLOPs the call executes: eager PyTorch drops the slots
  that are padding in every jet of the batch (`trim_padding`), so it runs `n_run` ≤ n slots (the
  batch's longest jet), while a fixed-shape graph (ONNX Runtime, compiled) runs all n,
- latency ratio to the Transformer at the same (n, batch, backend) in the same run.

Backends:
- torch: the eager model, `model(x, mask)` (input checks and padding trim included);
- compiled: `saltjet.compiled.compile_for_inference` (TorchInductor, frozen weights, C++ wrapper on
  the CPU, CUDA graphs on a GPU), one graph per (model, n, batch); compile time is not timed;
- onnxruntime: `saltjet.cost.export.export_onnx`, timed in an ORT session (CPU provider, or CUDA
  when available and the requested device is cuda).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import weakref
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from saltjet.cost.export import export_onnx, onnx_session
from saltjet.cost.flops import analytic_flops, measured_flops
from saltjet.data.toy import random_jets
from saltjet.errors import ConfigError
from saltjet.models import count_parameters, create_model, list_models
from saltjet.models.layers import trim_padding
from saltjet.training.distributed import resolve_device

BACKENDS = ("torch", "compiled", "onnxruntime")
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


def interleaved(calls: dict, repeats: int, warmup: int) -> dict[str, float]:
    """Median seconds per call of each callable in `calls` (name -> fn), timing them in turn, so a
    busy machine slows them alike and their ratios stay fair."""
    for fn in calls.values():
        for _ in range(warmup):
            fn()
    samples = {name: [] for name in calls}
    for _ in range(repeats):
        for name, fn in calls.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {name: statistics.median(s) for name, s in samples.items()}


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


@dataclass
class BenchOptions:
    """What to measure. threads: torch intra-op threads and ORT intra-op threads (None: leave as is)."""

    models: tuple[str, ...] = ("salt", "linformer", "transformer")
    n_particles: tuple[int, ...] = (16, 32, 64, 150, 300, 600, 1024)
    batch_sizes: tuple[int, ...] = (1, 1024)
    backends: tuple[str, ...] = ("torch",)
    threads: int | None = None
    repeats: int = 20
    warmup: int = 3
    device: str = "auto"
    gemm_size: int = 2048
    seed: int = 0
    memory: bool = True


@dataclass
class BenchRecord:
    """One measured (model, n, batch, backend). Times in ms; flops per jet; memory in MB (10⁶ B)."""

    model: str
    n_particles: int
    batch_size: int
    backend: str
    device: str
    threads: int
    params: int
    flops: int
    flops_measured: int | None
    latency_ms: float
    latency_iqr_ms: float
    latency_per_jet_us: float
    jets_per_s: float
    n_run: int
    flops_run: int
    peak_mem_mb: float | None
    gflops_per_s: float
    fraction_of_gemm: float
    ratio_to_transformer: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _compiled_runner(model, x, mask):
    from saltjet.compiled import compile_for_inference

    compiled = compile_for_inference(model, x.shape[0], example=(x, mask))
    return lambda: compiled(x, mask)


def _ort_runner(model, x, mask, options: BenchOptions, workdir: Path):
    path = export_onnx(model, workdir / f"{model.model_name}_{x.shape[1]}.onnx")
    # the same intra-op thread count as PyTorch (ORT's own default would take every core)
    session = onnx_session(path, options.threads or torch.get_num_threads(), "cuda" if x.is_cuda else "cpu")
    feeds = {"x": x.cpu().numpy(), "mask": mask.cpu().numpy()}
    return lambda: session.run(["logits"], feeds)


def materialised_attention_bytes(name: str, n: int, batch: int, backend: str, n_heads: int = 4) -> int:
    """Bytes of the (B, H, n, n) attention matrices a full-attention graph materialises.

    PyTorch's fused SDPA never holds them (nor does the compiled graph, which calls the same fused
    kernel); an ONNX graph does (scores and softmax, fp32), so a Transformer at n=1024 and batch
    1024 would need ~32 GB. Linear models hold (B, H, n, p) only.
    """
    if name != "transformer" or backend != "onnxruntime":
        return 0
    return 2 * batch * n_heads * n * n * 4


def memory_budget_bytes() -> int:
    """Half of this machine's physical memory."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def run_bench(options: BenchOptions, progress: bool = True) -> tuple[list[BenchRecord], dict]:
    """Measure every (model, n, batch, backend). Returns (records, context) where context holds the
    device, thread count, GEMM FLOP/s and versions of this run."""
    from tqdm import tqdm

    unknown = [m for m in options.models if m not in list_models()]
    if unknown:
        raise ConfigError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(list_models())}")
    bad = [b for b in options.backends if b not in BACKENDS]
    if bad:
        raise ConfigError(f"unknown backend(s) {', '.join(bad)}; choose from {', '.join(BACKENDS)}")
    if options.threads:
        torch.set_num_threads(options.threads)
    threads = torch.get_num_threads()
    device = resolve_device(options.device)
    gemm = gemm_flops_per_s(options.gemm_size, device)
    context = {"device": str(device), "threads": threads, "gemm_size": options.gemm_size,
               "gemm_gflops_per_s": gemm / 1e9, "torch": torch.__version__, "repeats": options.repeats,
               "warmup": options.warmup}
    cases = [(m, n, b, be) for n in options.n_particles for b in options.batch_sizes
             for be in options.backends for m in sorted(options.models, key=lambda m: m != "transformer")]
    records: list[BenchRecord] = []
    context["skipped"] = []
    budget = memory_budget_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        for name, n, batch, backend in tqdm(cases, desc="bench", disable=not progress, file=None):
            need = materialised_attention_bytes(name, n, batch, backend)
            if need > budget:
                context["skipped"].append(
                    f"{name} n={n} batch={batch} {backend}: its graph holds {need / 2**30:.0f} GiB of attention "
                    f"matrices, over half this machine's memory")
                continue
            torch.manual_seed(options.seed)
            model = create_model(name, n_particles=n).eval().to(device)
            x, mask = random_jets(batch, n, model.config.n_features, options.seed)
            x, mask = x.to(device), mask.to(device)
            flops = analytic_flops(model).total
            # slots the call runs: eager PyTorch trims all-padding trailing slots, traced graphs do not
            n_run = n if backend != "torch" else trim_padding(x, mask)[1].shape[1]
            flops_run = analytic_flops(model, n_particles=n_run).total
            counted = measured_flops(model, x[:1], mask[:1]) if backend == "torch" else None
            if backend == "torch":
                call = lambda: model(x, mask)  # noqa: E731 (bound to this iteration's model)
            elif backend == "compiled":
                call = _compiled_runner(model, x, mask)
            else:
                call = _ort_runner(model, x, mask, options, Path(tmp))
            sync = torch.cuda.synchronize if device.type == "cuda" and backend != "onnxruntime" else None
            with torch.inference_mode():
                t = time_call(call, options.repeats, options.warmup, sync)
            memory = peak_memory_mb(model, x, mask) if options.memory and backend == "torch" else None
            achieved = flops_run * batch / t.median_s
            records.append(BenchRecord(
                model=name, n_particles=n, batch_size=batch, backend=backend, device=str(device), threads=threads,
                params=count_parameters(model), flops=flops, flops_measured=counted,
                latency_ms=t.median_s * 1e3, latency_iqr_ms=t.iqr_s * 1e3,
                latency_per_jet_us=t.median_s * 1e6 / batch, jets_per_s=batch / t.median_s, n_run=n_run,
                flops_run=flops_run, peak_mem_mb=memory,
                gflops_per_s=achieved / 1e9, fraction_of_gemm=achieved / gemm,
            ))
    reference = {(r.n_particles, r.batch_size, r.backend): r.latency_ms for r in records if r.model == "transformer"}
    for r in records:
        ref = reference.get((r.n_particles, r.batch_size, r.backend))
        r.ratio_to_transformer = r.latency_ms / ref if ref else None
    return records, context
