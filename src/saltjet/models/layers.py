"""Layers shared by every tagger: input scaling, embedding, DyT, feed-forward, masked pooling, head.

Shapes: B jets, n particle slots, F input features, d = d_model.
"""

from __future__ import annotations

import torch
from torch import nn

from saltjet.errors import InputError


# Excluded logits and pooled slots get -inf (by selection, `masked_fill`): exact zero weight in
# softmax, never the max. A row is all-excluded only for a jet without particles, which
# `check_inputs` rejects; a traced or exported graph returns a NaN row for it (`no_jet_nan`).
EXCLUDED = float("-inf")

NORMS = ("dyt", "layernorm")
POOLINGS = ("max", "mean")


def _tracing_probes() -> tuple:
    """The "is something tracing?" functions this torch has, looked up once (a per-call lookup
    cost ~1.5 µs, as much as a tiny operator)."""
    compiler = getattr(torch, "compiler", None)
    probes = [torch.jit.is_tracing, torch.jit.is_scripting]
    probes += [p for p in (getattr(compiler, n, None) for n in ("is_compiling", "is_exporting", "is_dynamo_compiling")) if p]
    fx_trace = torch.fx._symbolic_trace
    fx_probe = getattr(fx_trace, "is_fx_symbolic_tracing", None)  # torch >= 2.6; older: the flag
    probes.append(fx_probe or (lambda: bool(getattr(fx_trace, "_is_fx_tracing_flag", False))))
    return tuple(probes)


_PROBES = _tracing_probes()


def is_tracing() -> bool:
    """True while torch.fx, TorchScript, torch.compile or torch.export trace the model.

    Data-dependent checks (e.g. "no empty jets") run in eager mode only, so that tracing for FPGA
    converters and ONNX export sees a graph without Python control flow on tensor values.
    """
    return any(probe() for probe in _PROBES)


# set on a module (in its __dict__) by `saltjet.compiled.compile_for_inference`: its weights are frozen, so
# a no-grad compilation may take `cached_derivation`'s entries as constants instead of re-deriving them
FROZEN_FOR_COMPILE = "_saltjet_frozen_for_compile"


def cached_derivation(module: nn.Module, name: str, sources, build):
    """`build()` (tensors derived from `module`'s weights only), computed once per weight values.

    Inference repeats weight-only work on every call (folding W_q·W_kᵀ, the collapse matrix, the
    convolution's band matrices): a few µs per tiny op, which is most of a batch-1 call. When no
    gradient is needed, the result is kept on the module (not in its state_dict) and reused while
    every weight keeps its tensor, storage and in-place version (an optimiser step,
    `load_state_dict`, `.to()` or `.half()` change one of them, so the next call rebuilds).

    Args:
        module: where the entry is kept, as attribute `name`.
        sources: callable returning the weights `build` reads (fetch them through `_parameters`
            dicts: nn.Module attribute lookups cost ~1 µs each, the whole check should not).
        build: callable returning the derived tensors.
    With gradients (training), or while torch.fx/dynamo/torch.export trace the model, it is built
    fresh so that the graph holds the derivation; a TorchScript trace (the ONNX exporter) takes
    the cached tensors as constants, and so does a no-grad dynamo trace of a module marked
    `FROZEN_FOR_COMPILE` (weights frozen by `saltjet.compiled`; at batch 1 it saved ~35 µs of ~170).
    Inference-mode weights (no version counter) are never cached.
    """
    if is_tracing() and not torch.jit.is_tracing():  # first: under torch.fx the weights are proxies
        entry = module.__dict__.get(name)
        if entry is not None and module.__dict__.get(FROZEN_FOR_COMPILE) and not torch.is_grad_enabled():
            return entry[1]  # `saltjet.compiled`: weights frozen, the derivation enters the graph as constants
        return build()
    tensors = sources()
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return build()
    try:
        key = [(t, t._version, t.data_ptr()) for t in tensors]
    except RuntimeError:  # inference tensors have no version counter
        return build()
    entry = module.__dict__.get(name)
    if entry is None or len(entry[0]) != len(key) or any(
            t is not u or v != w or p != q for (t, v, p), (u, w, q) in zip(key, entry[0])):
        with torch.inference_mode(False), torch.no_grad():  # plain tensors, usable outside inference mode
            entry = (key, build())
        module.__dict__[name] = entry
    return entry[1]


def check_inputs(x, mask, n_features: int, n_particles: int | None,
                 dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs as the model needs them, or `InputError` for inputs it cannot answer meaningfully.

    Args:
        x: (B, n, F) features, a tensor or numpy array of any floating type; cast to `dtype`.
        mask: (B, n) bool, True = real particle (tensor or numpy array).
        n_features: F the model was built for.
        n_particles: n the model was built for, or None when any n works.
        dtype: the model's floating dtype.
    Returns:
        (x as `dtype` with padded slots set to 0 by selection, mask). Values in padded slots are
        not looked at. One pass decides the common case (all jets fine): the sum of the zeroed x is
        finite and every jet has a particle; only otherwise are bad jets counted (a finite sum
        that overflows is counted too, finds nothing, and is accepted).
    """
    x = _as_tensor(x, "x")
    mask = _as_tensor(mask, "mask")
    if not (x.is_floating_point() and x.dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64)):
        raise InputError(f"x must hold floating-point features, got {x.dtype}")
    if x.dim() != 3 or x.shape[-1] != n_features:
        raise InputError(f"x must be (B, n, {n_features}), got {tuple(x.shape)}")
    if n_particles is not None and x.shape[1] != n_particles:
        raise InputError(f"this model takes n={n_particles} particle slots, got x with n={x.shape[1]}")
    if mask.shape != x.shape[:2] or mask.dtype != torch.bool:
        raise InputError(f"mask must be bool (B, n) = {tuple(x.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}")
    x = torch.where(mask.unsqueeze(-1), x.to(dtype), 0.0)  # after the cast: 1e300 is inf in float32
    if bool(torch.isfinite(x.sum()) & mask.any(dim=1).all()):  # one device sync
        return x, mask
    empty = ~mask.any(dim=1)
    bad = (~torch.isfinite(x).all(dim=-1) & mask).any(dim=1)
    n_empty, n_bad = torch.stack([empty.sum(), bad.sum()]).tolist()
    if n_empty:
        raise InputError(f"{n_empty} of {len(mask)} jets have no real particles; drop them first")
    if n_bad:
        raise InputError(f"{n_bad} of {len(mask)} jets have NaN or inf features in real particles (mask True)")
    return x, mask


def _as_tensor(value, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as e:
        raise InputError(f"{name} must be a tensor or numpy array, got {type(value).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None


def no_jet_nan(logits: torch.Tensor, x: torch.Tensor, mask: torch.Tensor, zeroed: bool = False) -> torch.Tensor:
    """logits (B, out) with the rows of jets that have no answer set to NaN, by selection.

    No answer: no real particle (mask all False), or NaN/inf in a feature of a real particle.
    Eager PyTorch refuses such jets (`check_inputs`); a traced or exported graph cannot raise, so
    it returns this defined NaN row, and the other jets of the batch are untouched.

    The test costs few graph nodes: x·0 is 0 for a finite value and NaN for NaN/±inf; summed over
    the real particles (padded slots selected away) and divided by the jet's particle count it is
    0, or NaN for a bad jet, or 0/0 = NaN for a jet without particles. Adding it leaves the other
    rows' logits exactly as they were (x + 0 = x).

    Args:
        logits: (B, out); x: (B, n, F); mask: (B, n) bool.
        zeroed: x's padded slots are already 0 (a traced graph then shares that selection).
    """
    real = mask.unsqueeze(-1)  # (B, n, 1)
    probe = x * 0.0 if zeroed else torch.where(real, x * 0.0, 0.0)  # 0, or NaN at NaN/±inf
    poison = probe.sum(dim=1).sum(dim=1, keepdim=True).to(logits.dtype)  # (B, 1): 0 or NaN
    count = real.to(logits.dtype).sum(dim=1)  # (B, 1)
    return logits + poison / count


def trim_padding(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the trailing slots that are padding in every jet of the batch.

    Exact: a slot that holds no real particle in any jet changes no output (every layer masks it,
    and SAL-T's partitions and Linformer's projections are indexed by slot position from the
    front). With the pipeline's padding-last order a batch shrinks to its longest jet, so a batch
    of jets with similar multiplicities (`train.length_groups`) costs O(n_max) instead of O(n).

    Args:
        x: (B, n, F); mask: (B, n) bool.
    Returns:
        x (B, n', F), mask (B, n') with n' = 1 + the last slot that is real in some jet (views).
    """
    used = mask.any(dim=0).nonzero()  # (k, 1), ascending
    n_used = int(used[-1]) + 1 if len(used) else mask.shape[1]
    if n_used == mask.shape[1]:
        return x, mask
    return x[:, :n_used], mask[:, :n_used]


class InputScaler(nn.Module):
    """x' = (x − center) / scale per feature, with the fitted numbers stored as buffers.

    Buffers are saved with the weights and exported into ONNX, so callers feed physical features.
    Default (unfitted): center 0, scale 1, i.e. identity.
    """

    def __init__(self, n_features: int):
        super().__init__()
        self.register_buffer("center", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))

    def set(self, center, scale) -> None:
        """Load fitted numbers: center, scale (F,) arrays or tensors."""
        self.center.copy_(torch.as_tensor(center, dtype=self.center.dtype))
        self.scale.copy_(torch.as_tensor(scale, dtype=self.scale.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, n, F) -> (B, n, F)."""
        return (x - self.center) / self.scale


class DyT(nn.Module):
    """Dynamic Tanh, tanh(α·x + β) with scalar α (init 1) and β (init 0): SAL-T's LayerNorm stand-in."""

    def __init__(self, alpha_init: float = 1.0):
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor(float(alpha_init)))
        self.beta = nn.Parameter(torch.tensor(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: any shape -> tanh(α·x + β), same shape (one fused multiply-add, then tanh)."""
        return torch.tanh(torch.addcmul(self.beta, self.alpha, x))


def make_norm(kind: str, d_model: int) -> nn.Module:
    """"dyt" (2 parameters) or "layernorm" (2·d parameters); `ModelConfig` checked `kind`."""
    return DyT() if kind == "dyt" else nn.LayerNorm(d_model)


class FeedForward(nn.Module):
    """Linear(d→d_ff) + ReLU → Linear(d_ff→d)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """h: (B, n, d) -> (B, n, d). Dropout only runs when it can change something (each module
        call costs about a tiny operator at batch 1)."""
        hidden = torch.relu(self.fc1(h))
        return self.fc2(self.drop(hidden) if self.training and self.drop.p else hidden)


class EncoderBlock(nn.Module):
    """Post-norm block as the authors built it: h1 = norm(h + attn(h)), h2 = norm(h1 + FFN(h1)).

    `attention` is any module with forward(h (B, n, d), mask (B, n) bool) -> (B, n, d).
    """

    def __init__(self, attention: nn.Module, d_model: int, d_ff: int, norm: str, dropout: float):
        super().__init__()
        self.attn = attention
        self.norm1 = make_norm(norm, d_model)
        self.ffn = FeedForward(d_model, d_ff, dropout)
        self.norm2 = make_norm(norm, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """h: (B, n, d), mask: (B, n) -> (B, n, d); `bias`, if given, goes to the attention's logits."""
        a = self.attn(h, mask) if bias is None else self.attn(h, mask, bias)
        if self.training and self.drop.p:
            h = self.norm1(h + self.drop(a))
            return self.norm2(h + self.drop(self.ffn(h)))
        h = self.norm1(h + a)
        return self.norm2(h + self.ffn(h))


def masked_pool(h: torch.Tensor, mask: torch.Tensor, kind: str) -> torch.Tensor:
    """Pool particles into one jet vector, ignoring padded slots (selected away, whatever they hold).

    Args:
        h: (B, n, d); mask: (B, n) bool; kind: "max" or "mean" (checked by `ModelConfig`).
    Returns:
        (B, d)
    """
    m = mask.unsqueeze(-1)
    if kind == "max":
        return torch.where(m, h, EXCLUDED).amax(dim=1)
    total = h.masked_fill(~m, 0.0).sum(dim=1)
    return total / m.sum(dim=1).clamp(min=1).to(h.dtype)


class ClassifierHead(nn.Module):
    """Linear(d→d) + ReLU → Linear(d→out); out = 1 logit for binary tasks, else n_classes."""

    def __init__(self, d_model: int, n_classes: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_model)
        self.fc2 = nn.Linear(d_model, output_size(n_classes))
        self.drop = nn.Dropout(dropout)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """pooled: (B, d) -> logits (B, out)."""
        hidden = torch.relu(self.fc1(pooled))
        return self.fc2(self.drop(hidden) if self.training and self.drop.p else hidden)


def output_size(n_classes: int) -> int:
    """Number of logits: one (sigmoid) for a two-class task, else one per class (softmax)."""
    return 1 if n_classes <= 2 else n_classes
