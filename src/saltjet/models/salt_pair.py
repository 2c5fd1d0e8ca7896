"""SAL-T-pair: SAL-T with ParT's pair features at linear cost (saltjet's own variant, not in the paper).

ParT's gain over plain transformers comes from pair features (pair masses, kT, ...) of every pair of
particles: n² pairs. Here each particle is paired with p anchors only, n·p pairs, linear in n like the
rest of SAL-T (`saltjet.models.pairs`). The default anchors are the jet's p − 1 highest-pT particles
and the whole jet (`pair_anchors: leading_jet`; the pair mass with the jet carries the jet mass), and
each particle's p pair-feature vectors are embedded and added to its embedding (`pair_mode: inputs`):
+3.5 points over SAL-T on top vs QCD, level with the boosted-tree floor (`reports/salt_pair_jet`),
and +1.6 on the demo's 5 classes (`reports/salt_pair_demo_jet`, one seed). The other options are
the p highest-pT particles as anchors (`leading`: +2.4 points on top vs QCD, `reports/salt_pair_lead`;
nothing on 5 classes), each kT-ordered partition's summed 4-vector (`partitions`, no gain measured:
`reports/salt_pair`) and a bias (B, H·p, n) on the logits of every block, after the logit
convolution, as ParT shares one pair embedding across blocks (`bias`, or `both`).

    x (B, n, F), mask (B, n)
      -> AnchorPairs.features(x, mask)               (B, n, p, 4), standardised, once
      -> InputScaler -> Linear(F→d) + ReLU           (B, n, d)   [+ Linear(4·p→d) of the pairs]
      -> n_layers × EncoderBlock(LPP-MHA [+ bias])   (B, n, d)
      -> masked max pool -> head                     (B, out)

The model reads its inputs by name (`features`, filled from the data by training), as `part` does.
Default config (pair_mode inputs, pair_anchors leading_jet: the best of `reports/salt_pair*`) at n=150,
3 features, 5 classes: SAL-T's 3,264 parameters + 272 for the pair inputs = 3,536; pair_mode bias
adds 72 instead (pair_hidden 8, 4 heads), both adds 344.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from saltjet.models.pairs import PAIR_MODES, AnchorPairs, MomentumColumns, check_pair_options
from saltjet.models.registry import register_model
from saltjet.models.salt import SALT, SALTConfig
from saltjet.models.tagger import choice, whole_number


@dataclass
class SALTPairConfig(SALTConfig):
    """SAL-T's options plus: features, the F input features' names (or a set name such as "log")
    giving pT (pt or log_pt), eta_rel and phi_rel; pair_hidden, the width of the bias embedding;
    pair_mode, where the pair features go: "bias" (the logits), "inputs" (each particle's
    embedding) or "both" (`saltjet.models.pairs.AnchorPairs`); pair_anchors, what each particle
    is paired with: "partitions" (each partition's summed 4-vector), "leading" (the p highest-pT
    particles of the jet) or "leading_jet" (the p − 1 highest-pT particles and the whole jet)."""

    features: tuple[str, ...] = ("pt", "eta_rel", "phi_rel")
    pair_hidden: int = 8
    pair_mode: str = "inputs"
    pair_anchors: str = "leading_jet"

    def __post_init__(self):
        super().__post_init__()
        self.pair_hidden = whole_number(self.pair_hidden, "pair_hidden")
        self.pair_mode = choice(self.pair_mode, PAIR_MODES, "pair_mode")
        self.features, self.pair_anchors = check_pair_options(self.features, self.pair_anchors, self.partitions,
                                                              "partitions", "salt_pair")


@register_model("salt_pair", SALTPairConfig)
class SALTPair(SALT):
    """SAL-T with the partition-pair features (module docstring); submodule `pairs`."""

    def __init__(self, config: SALTPairConfig):
        super().__init__(config)
        c = config
        block = self.blocks[0].attn.block
        self.pairs = AnchorPairs(MomentumColumns(c.features, "salt_pair", c.n_features), c.partitions, block,
                                 c.n_heads, c.d_model, c.pair_hidden, c.pair_mode, c.pair_anchors)

    def encode_zeroed(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, n, F) raw features, padded slots zeroed; mask (B, n) -> (B, n, d)."""
        f = self.pairs.features(x, mask)  # (B, n, p, 4)
        h = self.embed_particles(x)
        if self.pairs.input_embed is not None:
            h = h + self.pairs.inputs(f)
        bias = self.pairs.bias(f) if self.pairs.bias_embed is not None else None
        for block in self.blocks:
            h = block(h, mask, bias)
        return h
