"""Layers shared by every tagger: input scaling, embedding, DyT, feed-forward, masked pooling, head.

Shapes: B jets, n particle slots, F input features, d = d_model.
"""

from __future__ import annotations

import torch
from torch import nn

from saltjet.errors import ConfigError, InputError


# Excluded logits and pooled slots get -inf: exact zero weight in softmax, never the max. A row is
# never all-excluded because `check_inputs` rejects jets without particles (a traced or exported
# graph, which skips that check, returns NaN for such a jet).
EXCLUDED = float("-inf")


def is_tracing() -> bool:
    """True while torch.fx, TorchScript, torch.compile or torch.export trace the model.

    Data-dependent checks (e.g. "no empty jets") run in eager mode only, so that tracing for FPGA
    converters and ONNX export sees a graph without Python control flow on tensor values.
    """
    if torch.jit.is_tracing() or torch.jit.is_scripting():
        return True
    compiler = getattr(torch, "compiler", None)
    for name in ("is_compiling", "is_exporting", "is_dynamo_compiling"):
        probe = getattr(compiler, name, None)
        if probe is not None and probe():
            return True
    fx_trace = torch.fx._symbolic_trace
    probe = getattr(fx_trace, "is_fx_symbolic_tracing", None)  # torch >= 2.6; older: the flag
    return probe() if probe is not None else bool(getattr(fx_trace, "_is_fx_tracing_flag", False))


def check_inputs(x: torch.Tensor, mask: torch.Tensor, n_features: int, n_particles: int | None) -> None:
    """Raise `InputError` for inputs the model cannot answer meaningfully.

    Args:
        x: (B, n, F) float features.
        mask: (B, n) bool, True = real particle.
        n_features: F the model was built for.
        n_particles: n the model was built for, or None when any n works.
    """
    if x.dim() != 3 or x.shape[-1] != n_features:
        raise InputError(f"x must be (B, n, {n_features}), got {tuple(x.shape)}")
    if n_particles is not None and x.shape[1] != n_particles:
        raise InputError(f"this model takes n={n_particles} particle slots, got x with n={x.shape[1]}")
    if mask.shape != x.shape[:2] or mask.dtype != torch.bool:
        raise InputError(f"mask must be bool (B, n) = {tuple(x.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}")
    empty = ~mask.any(dim=1)
    if bool(empty.any()):
        raise InputError(f"{int(empty.sum())} of {len(mask)} jets have no real particles; drop them first")


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
        return torch.tanh(self.alpha * x + self.beta)


def make_norm(kind: str, d_model: int) -> nn.Module:
    """"dyt" (2 parameters) or "layernorm" (2·d parameters)."""
    if kind == "dyt":
        return DyT()
    if kind == "layernorm":
        return nn.LayerNorm(d_model)
    raise ConfigError(f"unknown norm {kind!r}; choose dyt or layernorm")


class FeedForward(nn.Module):
    """Linear(d→d_ff) + ReLU → Linear(d_ff→d)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """h: (B, n, d) -> (B, n, d)."""
        return self.fc2(self.drop(torch.relu(self.fc1(h))))


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

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.norm1(h + self.drop(self.attn(h, mask)))
        return self.norm2(h + self.drop(self.ffn(h)))


def masked_pool(h: torch.Tensor, mask: torch.Tensor, kind: str) -> torch.Tensor:
    """Pool particles into one jet vector, ignoring padded slots.

    Args:
        h: (B, n, d); mask: (B, n) bool; kind: "max" or "mean".
    Returns:
        (B, d)
    """
    m = mask.unsqueeze(-1)
    if kind == "max":
        return h.masked_fill(~m, EXCLUDED).amax(dim=1)
    if kind == "mean":
        total = (h * m.to(h.dtype)).sum(dim=1)
        return total / m.sum(dim=1).clamp(min=1).to(h.dtype)
    raise ConfigError(f"unknown pooling {kind!r}; choose max or mean")


class ClassifierHead(nn.Module):
    """Linear(d→d) + ReLU → Linear(d→out); out = 1 logit for binary tasks, else n_classes."""

    def __init__(self, d_model: int, n_classes: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_model)
        self.fc2 = nn.Linear(d_model, output_size(n_classes))
        self.drop = nn.Dropout(dropout)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """pooled: (B, d) -> logits (B, out)."""
        return self.fc2(self.drop(torch.relu(self.fc1(pooled))))


def output_size(n_classes: int) -> int:
    """Number of logits: one (sigmoid) for a two-class task, else one per class (softmax)."""
    return 1 if n_classes <= 2 else n_classes
