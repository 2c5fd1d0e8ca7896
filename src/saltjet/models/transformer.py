"""Full softmax Transformer baseline, with PyTorch's fused attention (SDPA).

Default config: 2,009 parameters at n=150, 3 features, 5 classes. Accepts any number of slots.
"""

from __future__ import annotations

from dataclasses import dataclass

from saltjet.models.attention import FullAttention
from saltjet.models.registry import register_model
from saltjet.models.tagger import JetTagger, ModelConfig


@dataclass
class TransformerConfig(ModelConfig):
    """No options beyond `ModelConfig`; n_particles only sets the default input length."""


@register_model("transformer", TransformerConfig)
class Transformer(JetTagger):
    """Transformer tagger: `JetTagger` with `FullAttention`."""

    position_dependent = False

    def make_attention(self) -> FullAttention:
        c = self.config
        return FullAttention(c.d_model, c.n_heads, c.dropout)
