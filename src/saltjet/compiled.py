"""Low-latency PyTorch inference: a tagger compiled by TorchInductor for one fixed input shape.

    fast = saltjet.compiled.compile_for_inference(model, batch_size=1)   # model: any JetTagger
    logits = fast(x, mask)          # x (1, n, F) float32, mask (1, n) bool; n = model's slots

Eager PyTorch pays a few µs of dispatch per operator, which at batch 1 is most of a call (a
SAL-T jet is ~0.8 MFLOP, a few µs of arithmetic). `compile_for_inference` hands the whole
forward to `torch.compile` (Inductor) once:

- `fullgraph`, static shapes: one graph for (batch_size, n, F), no Python between operators;
- frozen weights (`torch._inductor.config.freezing`): the parameters become constants, so the
  weight-only products SAL-T folds on every call (W_q·W_kᵀ, the collapse and band matrices) are
  computed once at compile time;
- on the CPU, Inductor's C++ wrapper (`cpp_wrapper`): the graph's kernels are called from
  generated C++, not from Python. On a GPU it is compiled with `mode="reduce-overhead"` (CUDA
  graphs) instead.

Like an exported ONNX graph, the compiled function runs all n slots (eager PyTorch drops the
slots that are padding in every jet), does not check its inputs, and returns a row of NaN for a
jet with no real particle or with NaN/inf in a real particle (`JetTagger.classify`). It accepts
only the shape, dtype and device it was compiled for (anything else: `InputError`), and it keeps
the weights it was compiled with: compile again after changing them (the model is marked
`FROZEN_FOR_COMPILE`, so a later no-grad compilation of it also takes its folded weights as they
were at its last eager call).

Needs a C++ compiler on the CPU (Inductor builds its kernels with it): `g++` or `$CXX`.
Measured by `saltjet bench --backend compiled`.
"""

from __future__ import annotations

import os
import shutil
import time

import torch

from saltjet.errors import ConfigError, InputError
from saltjet.models.layers import FROZEN_FOR_COMPILE


def cxx_compiler() -> str | None:
    """The C++ compiler Inductor would use on the CPU ($CXX, else g++, else clang++), or None."""
    for name in (os.environ.get("CXX"), "g++", "clang++"):
        if name and shutil.which(name):
            return name
    return None


def check_compiler(device_type: str) -> None:
    """`ConfigError` when compiling for `device_type` ("cpu", "cuda") needs a C++ compiler and there is none."""
    if device_type == "cpu" and cxx_compiler() is None:
        raise ConfigError("compiled inference needs a C++ compiler on the CPU (g++ or clang++, or set $CXX); "
                          "none was found: use the eager model or an ONNX export instead")


class CompiledTagger:
    """A tagger's forward compiled for one input shape; call it as `fast(x, mask)` -> logits (B, out).

    Attributes:
        shape: (B, n, F) it accepts. device, dtype: of x. compile_seconds: time of the first call
        (tracing, Inductor, the C++ build). max_abs_diff: largest |compiled − eager| logit on the
        example jets (NaN rows excluded), checked at compile time.
    """

    def __init__(self, fn, shape: tuple[int, int, int], device: torch.device, dtype: torch.dtype):
        self._fn = fn
        self.shape, self.device, self.dtype = shape, device, dtype
        self.compile_seconds = 0.0
        self.max_abs_diff = 0.0

    def __call__(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (B, n, F), mask: (B, n) bool, exactly as compiled -> logits (B, out)."""
        if (not isinstance(x, torch.Tensor) or not isinstance(mask, torch.Tensor) or tuple(x.shape) != self.shape
                or x.dtype != self.dtype or x.device != self.device or mask.dtype != torch.bool
                or tuple(mask.shape) != self.shape[:2] or mask.device != self.device):
            got = (f"x {tuple(x.shape)} {x.dtype} on {x.device}" if isinstance(x, torch.Tensor)
                   else f"x of type {type(x).__name__}")
            raise InputError(f"this compiled tagger takes x {self.shape} {self.dtype} and a bool mask "
                             f"{self.shape[:2]} on {self.device}; got {got}")
        with torch.inference_mode():  # as compiled: grad mode is part of the graph's guards
            return self._fn(x, mask)


def compile_for_inference(model: torch.nn.Module, batch_size: int = 1, example=None,
                          tolerance: float = 1e-4) -> CompiledTagger:
    """Compile `model`'s forward for inputs of shape (batch_size, n, F) on the model's device.

    Args:
        model: a `JetTagger` (or anything with `classify(x, mask)` and `config`); it is put in
            eval mode.
        batch_size: the B the compiled function takes.
        example: (x, mask) to compile and check with; default random kT-sorted jets
            (`saltjet.data.toy.random_jets`) of that shape.
        tolerance: largest |compiled − eager| logit accepted on the example; above it
            `ConfigError` (the compiled graph would not be the same function).
    Returns:
        a `CompiledTagger`; compilation (seconds to a minute) happens here, not on first use.
    """
    from saltjet.data.toy import random_jets

    model = model.eval()
    ref = next(model.parameters())
    device, dtype = ref.device, ref.dtype
    check_compiler(device.type)
    if example is None:
        x, mask = random_jets(batch_size, model.config.n_particles, model.config.n_features, seed=0)
    else:
        x, mask = example
    x, mask = torch.as_tensor(x).to(device, dtype), torch.as_tensor(mask).to(device)
    if x.shape[0] != batch_size:
        raise InputError(f"the example holds {x.shape[0]} jets, not batch_size={batch_size}")

    import torch._dynamo.config as dynamo_config
    import torch._inductor.config as inductor_config

    options = {"freezing": True}
    if device.type == "cpu":
        options["cpp_wrapper"] = True
        fn = torch.compile(model.classify, fullgraph=True, dynamic=False)
    else:
        fn = torch.compile(model.classify, fullgraph=True, dynamic=False, mode="reduce-overhead")
    compiled = CompiledTagger(fn, tuple(x.shape), device, dtype)
    t0 = time.perf_counter()
    with torch.no_grad():
        expected = model.classify(x, mask)  # eager: also fills the weight-only caches (`cached_derivation`)
    for module in model.modules():  # ... which the compiled graph then takes as constants
        module.__dict__[FROZEN_FOR_COMPILE] = True
    # every tagger shares JetTagger.classify's code object, whose compiled entries dynamo caps at
    # `recompile_limit` (8): past it, a further model would fail to compile
    limit = "recompile_limit" if hasattr(dynamo_config, "recompile_limit") else "cache_size_limit"
    with inductor_config.patch(options), dynamo_config.patch({limit: 10_000}), torch.inference_mode():
        try:
            out = fn(x, mask)  # compiles; later calls reuse the graph (same shapes: no recompilation)
            if device.type == "cuda":
                out = fn(x, mask).clone()  # CUDA graphs record on the second call
        except Exception as e:  # dynamo/Inductor failures (a graph break under fullgraph, a compiler error)
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ConfigError(f"TorchInductor could not compile {type(model).__name__}: {first}") from None
    compiled.compile_seconds = time.perf_counter() - t0
    finite = torch.isfinite(expected)
    if not torch.equal(finite, torch.isfinite(out)):
        raise ConfigError("the compiled tagger and the eager one disagree on which jets have no answer (NaN rows)")
    compiled.max_abs_diff = float((out[finite] - expected[finite]).abs().max()) if finite.any() else 0.0
    if compiled.max_abs_diff > tolerance:
        raise ConfigError(f"the compiled tagger differs from the eager one by {compiled.max_abs_diff:.2e} "
                          f"(> {tolerance:g}) on the example jets")
    return compiled
