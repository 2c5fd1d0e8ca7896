"""Linformer baseline: learned per-head n→k projections of keys and values.

Default config: 6,809 parameters at n=150, 3 features, 5 classes, k=4.
"""

from __future__ import annotations

from dataclasses import dataclass

from saltjet.models.attention import LinformerAttention
from saltjet.models.registry import register_model
from saltjet.models.tagger import JetTagger, ModelConfig, whole_number


@dataclass
class LinformerConfig(ModelConfig):
    """proj_dim: k, the projected sequence length (the paper matches it to SAL-T's p = 4)."""

    proj_dim: int = 4

    def __post_init__(self):
        super().__post_init__()
        self.proj_dim = whole_number(self.proj_dim, "proj_dim")


@register_model("linformer", LinformerConfig)
class Linformer(JetTagger):
    """Linformer tagger: `JetTagger` with `LinformerAttention`."""

    def make_attention(self) -> LinformerAttention:
        c = self.config
        return LinformerAttention(c.d_model, c.n_heads, c.n_particles, c.proj_dim, c.dropout)
