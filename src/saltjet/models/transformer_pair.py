"""Transformer-pair: the Transformer baseline with SAL-T-pair's pair inputs (saltjet's control, not in the paper).

`salt_pair` adds to each particle's embedding its pair features (ln Δ, ln kT, ln z, ln m²) with the
jet's p highest-pT particles (`saltjet.models.pairs`). Whether that gain is SAL-T's or the inputs'
is only answered by giving the full Transformer the same inputs: this model is that control, the
Transformer with exactly `salt_pair`'s pair path with leading anchors (`pair_anchors: leading`,
`pair_mode: inputs`; `salt_pair`'s default has since become `leading_jet`).

    x (B, n, F), mask (B, n)
      -> AnchorPairs.features(x, mask)               (B, n, k, 4), standardised, once
      -> InputScaler -> Linear(F→d) + ReLU           (B, n, d)   + Linear(4·k→d) of the pairs
      -> n_layers × EncoderBlock(full attention)     (B, n, d)
      -> masked max pool -> head                     (B, out)

k = `pair_leading` anchors (default 4, SAL-T's p): the k highest-pT particles (`pair_anchors:
leading`, the default), or the k − 1 highest-pT particles and the whole jet (`leading_jet`,
`salt_pair`'s default). The model reads its inputs by name (`features`, filled from the data by
training), as `salt_pair` and `part` do. Default config at n=150, 3 features, 5 classes: the
Transformer's 2,009 parameters + (4·4 + 1)·16 = 272 for the pair inputs = 2,281.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from saltjet.models.pairs import AnchorPairs, MomentumColumns, check_pair_options
from saltjet.models.registry import register_model
from saltjet.models.tagger import whole_number
from saltjet.models.transformer import Transformer, TransformerConfig


TRANSFORMER_PAIR_ANCHORS = ("leading", "leading_jet")  # salt_pair's "partitions" need SAL-T's partitions


@dataclass
class TransformerPairConfig(TransformerConfig):
    """The Transformer's options plus: features, the F input features' names (or a set name such as
    "log") giving pT (pt or log_pt), eta_rel and phi_rel; pair_leading, the number k of anchors;
    pair_anchors, what they are: "leading" (the k highest-pT particles; the default, which runs
    saved before this option existed were trained with) or "leading_jet" (the k − 1 highest-pT
    particles and the whole jet, `salt_pair`'s default)."""

    features: tuple[str, ...] = ("pt", "eta_rel", "phi_rel")
    pair_leading: int = 4
    pair_anchors: str = "leading"

    def __post_init__(self):
        super().__post_init__()
        self.pair_leading = whole_number(self.pair_leading, "pair_leading")
        self.features, self.pair_anchors = check_pair_options(self.features, self.pair_anchors, self.pair_leading,
                                                              "pair_leading", "transformer_pair",
                                                              TRANSFORMER_PAIR_ANCHORS)


@register_model("transformer_pair", TransformerPairConfig)
class TransformerPair(Transformer):
    """The Transformer with leading-particle pair inputs (module docstring); submodule `pairs`."""

    def __init__(self, config: TransformerPairConfig):
        super().__init__(config)
        c = config
        # block is only read by partition anchors; the pairs enter the embedding only (no logit bias)
        self.pairs = AnchorPairs(MomentumColumns(c.features, "transformer_pair", c.n_features), c.pair_leading, 1,
                                 c.n_heads, c.d_model, 1, "inputs", c.pair_anchors)

    def encode_zeroed(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, n, F) raw features, padded slots zeroed; mask (B, n) -> (B, n, d)."""
        h = self.embed_particles(x) + self.pairs.inputs(self.pairs.features(x, mask))
        for block in self.blocks:
            h = block(h, mask)
        return h
