"""SAL-T: the Spatially Aware Linear Transformer (Wang et al., arXiv:2510.23641).

Default config = the authors' hls4ml model: 3,264 parameters at n=150, 3 features, 5 classes.
"""

from __future__ import annotations

from dataclasses import dataclass

from saltjet.errors import ConfigError
from saltjet.models.attention import PartitionedAttention
from saltjet.models.registry import register_model
from saltjet.models.tagger import JetTagger, ModelConfig, choice, whole_number

CONV_MODES = ("shared", "depthwise", "none")


@dataclass
class SALTConfig(ModelConfig):
    """partitions: p contiguous kT-ordered blocks; conv_heights: kernel heights h of the averaged
    (h, p) logit convolutions; conv_mode: "shared" (authors'), "depthwise" (per head) or "none"."""

    partitions: int = 4
    conv_heights: tuple[int, ...] = (1, 3, 5)
    conv_mode: str = "shared"

    def __post_init__(self):
        super().__post_init__()
        self.partitions = whole_number(self.partitions, "partitions")
        if self.partitions > self.n_particles:
            raise ConfigError(f"partitions must be in 1..n_particles={self.n_particles}, got {self.partitions}")
        self.conv_mode = choice(self.conv_mode, CONV_MODES, "conv_mode")
        if not isinstance(self.conv_heights, (list, tuple)):
            raise ConfigError(f"conv_heights must be a list of odd whole numbers, got {self.conv_heights!r}")
        self.conv_heights = tuple(whole_number(k, "conv_heights entries") for k in self.conv_heights)
        if self.conv_mode != "none" and (not self.conv_heights or any(k % 2 == 0 for k in self.conv_heights)):
            raise ConfigError(f"conv_heights must be odd and positive, got {list(self.conv_heights)}")


@register_model("salt", SALTConfig)
class SALT(JetTagger):
    """SAL-T tagger: `JetTagger` with LPP-MHA (`PartitionedAttention`)."""

    def make_attention(self) -> PartitionedAttention:
        c = self.config
        return PartitionedAttention(
            c.d_model, c.n_heads, c.n_particles, c.partitions, c.conv_heights, c.conv_mode, c.dropout
        )
