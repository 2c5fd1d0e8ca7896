"""The tagger skeleton every model shares; each model file only chooses its attention.

    x (B, n, F) physical features, mask (B, n) bool
      -> InputScaler (fitted robust scaling)      (B, n, F)
      -> Linear(F→d) + ReLU                        (B, n, d)
      -> n_layers × EncoderBlock(attention)        (B, n, d)
      -> masked max (or mean) pool                 (B, d)
      -> Linear(d→d) + ReLU → Linear(d→out)        (B, out), out = 1 for binary tasks
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from saltjet.errors import ConfigError
from saltjet.models.layers import (
    NORMS,
    POOLINGS,
    ClassifierHead,
    EncoderBlock,
    InputScaler,
    check_inputs,
    is_tracing,
    masked_pool,
    no_jet_nan,
    trim_padding,
)


def whole_number(value, name: str, low: int = 1) -> int:
    """`value` as an int if it is an integer (Python or numpy, not bool) ≥ `low`, else `ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ConfigError(f"{name} must be a whole number ≥ {low}, got {value!r}")
    return int(value)


def choice(value, choices: tuple[str, ...], name: str) -> str:
    """`value` if it is one of `choices`, else `ConfigError` naming them."""
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"unknown {name} {value!r}; choose from {', '.join(choices)}")
    return value


@dataclass
class ModelConfig:
    """Options every tagger has. Defaults are the SAL-T paper's hls4ml configuration.

    This dataclass (and each model's subclass) is the one place model options are checked: types
    and ranges, once, with a one-line `ConfigError`; the layers trust what it built. Whole-number
    options must be Python or numpy integers (150.5, "16" and True are refused, not rounded).
    """

    n_particles: int = 150
    n_features: int = 3
    n_classes: int = 5
    d_model: int = 16
    n_heads: int = 4
    d_ff: int = 16
    n_layers: int = 1
    norm: str = "dyt"
    pooling: str = "max"
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("n_particles", "n_features", "d_model", "n_heads", "d_ff", "n_layers"):
            setattr(self, name, whole_number(getattr(self, name), name))
        self.n_classes = whole_number(self.n_classes, "n_classes", low=2)
        if self.d_model % self.n_heads:
            raise ConfigError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        self.norm = choice(self.norm, NORMS, "norm")
        self.pooling = choice(self.pooling, POOLINGS, "pooling")
        if (isinstance(self.dropout, bool) or not isinstance(self.dropout, numbers.Real)
                or not 0.0 <= self.dropout < 1.0):  # NaN fails the comparison too
            raise ConfigError(f"dropout must be a number in [0, 1), got {self.dropout!r}")
        self.dropout = float(self.dropout)

    def to_dict(self) -> dict:
        """Plain dict (tuples as lists) for YAML/JSON."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


class JetTagger(nn.Module):
    """Shared skeleton; subclasses implement `make_attention()` and set `position_dependent`.

    position_dependent: True when parameters are tied to slot positions (SAL-T, Linformer), so the
    model accepts exactly `config.n_particles` slots.
    inference_block_slots: block size (jets × slots) of CPU inference on large batches (`forward`).
    """

    position_dependent = True
    inference_block_slots = 65536

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        c = config
        self.scaler = InputScaler(c.n_features)
        self.embed = nn.Sequential(nn.Linear(c.n_features, c.d_model), nn.ReLU())
        self.blocks = nn.ModuleList(
            EncoderBlock(self.make_attention(), c.d_model, c.d_ff, c.norm, c.dropout) for _ in range(c.n_layers)
        )
        self.head = ClassifierHead(c.d_model, c.n_classes, c.dropout)

    def make_attention(self) -> nn.Module:
        raise NotImplementedError

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (B, n, F), mask: (B, n) -> per-particle embeddings (B, n, d) after the last block.

        The first step zeroes padded slots by selection (not by multiplying: 0·NaN is NaN), so any
        value there, NaN and ±inf included, gives exactly the logits that zeros give.
        """
        return self.encode_zeroed(x.masked_fill(~mask.unsqueeze(-1), 0.0), mask)

    def encode_zeroed(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """`encode` for x whose padded slots are already 0 (what `check_inputs` returns): (B, n, d).

        The input scaling stays its own step in eager mode: folded into the embedding weights it
        saved two tiny ops but moved a shipped Transformer's logits by 2.5e-5 (float32 cancellation
        of the centre). In an ONNX trace only 1/scale is folded (W/scale, a constant; the centre is
        still subtracted first): one graph node fewer, the same logits to float rounding."""
        h = self.embed_particles(x)
        for block in self.blocks:
            h = block(h, mask)
        return h

    def embed_particles(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, n, F) raw features, padded slots zeroed -> ReLU(Linear(scaled x)) (B, n, d)."""
        if torch.jit.is_tracing():  # ONNX: 1/scale folds into the embedding weights (ORT folds W/scale)
            linear = self.embed[0]
            return torch.relu(F.linear(x - self.scaler.center, linear.weight / self.scaler.scale, linear.bias))
        return self.embed(self.scaler(x))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (B, n, F) physical features, mask: (B, n) bool -> logits (B, out).

        x may be a tensor or a numpy array of any floating type; it is cast to the model's dtype
        (float32 unless the model was converted), so float64 numpy data work as they are. Jets
        without a real particle, and jets with NaN or inf in a real particle, raise `InputError`
        (a traced or exported graph cannot raise: it returns a NaN row for them, see `classify`).

        Without gradients on the CPU, a large batch runs in blocks of about `inference_block_slots`
        particle slots (B·n), so that the (block, n, d) activations stay in cache. Jets are
        independent, so the logits are the same as in one pass. `benchmarks/bench_models.py` gave
        SAL-T at n=1024, batch 1024 about 2x faster this way; on GPUs the whole batch runs at once.
        In eager mode, trailing slots that are padding in every jet are dropped first
        (`trim_padding`: exact, and what makes training sub-batches of short jets cheap).
        """
        if not is_tracing():
            x, mask = check_inputs(x, mask, self.config.n_features,
                                   self.config.n_particles if self.position_dependent else None, self.scaler.center.dtype)
            x, mask = trim_padding(x, mask)
            block = max(1, self.inference_block_slots // x.shape[1])
            if x.shape[0] > block and x.device.type == "cpu" and not torch.is_grad_enabled():
                return torch.cat([self.classify_checked(x[i : i + block], mask[i : i + block])
                                  for i in range(0, len(x), block)])
            return self.classify_checked(x, mask)
        return self.classify(x, mask)

    def classify_checked(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """`classify` for inputs `check_inputs` accepted (padded slots zeroed, every jet answerable):
        the same logits without the NaN-row selection, which has nothing to select there. A
        subclass that overrides `classify` or `encode` keeps its own path."""
        if type(self).classify is not JetTagger.classify or type(self).encode is not JetTagger.encode:
            return self.classify(x, mask)
        return self.head(masked_pool(self.encode_zeroed(x, mask), mask, self.config.pooling))

    def classify(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """One pass over the whole batch, without input checks. x: (B, n, F), mask: (B, n) -> (B, out).

        A jet with no real particle, or with NaN/inf in a real particle, has no answer: its row is
        all NaN (exactly, by selection), whatever the other jets of the batch hold.
        """
        x = torch.where(mask.unsqueeze(-1), x, 0.0)  # padded slots, by selection; shared by the NaN-row test
        logits = self.head(masked_pool(self.encode_zeroed(x, mask), mask, self.config.pooling))
        return no_jet_nan(logits, x, mask, zeroed=True)
