"""ParT: weaver-core's ParticleTransformer (Qu, Li, Qian, arXiv:2202.03772) as a saltjet tagger.

The tagger physicists would pick instead of SAL-T, run on the same jets, features and training loop.
The network is weaver's own (`weaver.nn.model.ParticleTransformer`, weaver-core 0.5.3, imported
when the model is built, never copied); this module only feeds it saltjet's inputs:

    x (B, n, F) physical features of the run, mask (B, n) bool
      -> padded slots set to 0 by selection (NaN/inf there change nothing)
      -> 4-vectors v (B, 4, n) = (px, py, pz, E) from pT, η_rel, φ_rel, massless (see below)
      -> InputScaler (saltjet's fitted scaling)            (B, n, F) -> transposed (B, F, n)
      -> weaver ParticleTransformer(x (B, F, n), v, mask (B, 1, n)):
           Embed MLP  F -> embed_hidden -> d               (B, n, d)
           PairEmbed: ln Δ, ln kT, ln z, ln m² of every pair -> one attention bias per head
           n_layers particle blocks (attention + pair bias), num_cls_layers class-attention blocks
           LayerNorm -> Linear(d -> fc_dims -> out)        (B, out), out = 1 for binary tasks

**4-vectors.** ParT's pair features need each particle's (px, py, pz, E). saltjet's features are
relative to the jet axis, so the wrapper builds them in the jet frame: pT from `pt` or exp(`log_pt`),
η = `eta_rel`, φ = `phi_rel`, and a massless particle, px = pT cos φ, py = pT sin φ,
pz = pT sinh η, E = pT cosh η (a hair less: `ENERGY_SHRINK`). For massless particles this frame is
the lab frame rotated about the beam by φ_jet and boosted along it by η_jet, which keeps every pair
feature ParT uses (Δ from rapidity and φ differences, pT, invariant mass) unchanged. Particle
masses (E from `log_e`) are not used: the lab energy does not belong to the jet-frame momentum.
Features without pT, η_rel and φ_rel are refused in one `ConfigError` line.

**Feature names.** The model must know which column is which: `ParTConfig.features` (a set name
such as "log", or a list of names; default the raw set pt, eta_rel, phi_rel). Training passes the
data's n_features but not yet the names, so a run with other features sets them too:
`saltjet train --model part --features log --set model.features=log`.

**Differences from weaver's defaults, all for saltjet's rules.** weaver's input BatchNorm is
replaced by saltjet's fitted `InputScaler` (in training, the BatchNorm's statistics would count
padded slots, so a jet's logits would depend on its batch's padding); weaver's `SequenceTrimmer` is
off (in training it drops particles at random; saltjet trims all-padding slots exactly); dropout is
`config.dropout` (0 by default, as for the other taggers, instead of ParT's 0.1). Pair embeddings
run on the pairs of real particles in training (so their BatchNorm statistics see no padding) and
in eager evaluation (`forward`), densely on every pair of the n slots in `classify` and traced
graphs (what the analytic FLOP count and the ONNX graph compute).

Default config: 42,619 parameters at 3 features, 5 classes (any n: no weight is tied to a slot);
28,930,624 FLOPs per jet at n=150 (`saltjet.cost.flops`; half of them embed the n(n+1)/2 pairs).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

import torch
from torch import nn

from saltjet.errors import ConfigError, MissingExtraError
from saltjet.models.pairs import MomentumColumns, feature_names, massless_four_vectors
from saltjet.models.layers import InputScaler, is_tracing, no_jet_nan, output_size
from saltjet.models.registry import register_model
from saltjet.models.tagger import JetTagger, ModelConfig, choice, whole_number

WEAVER_VERSION = "0.5.3"
INSTALL = f"pip install --no-deps weaver-core=={WEAVER_VERSION}"
PART_POOLINGS = ("cls", "mean")  # class-attention blocks (ParT's), or weaver's masked mean
# E = |p|·(1 − 2⁻¹⁸): a particle paired with itself then has m² < 0 whatever the float rounding (weaver
# clamps it to 1e-8), where exactly massless 4-vectors give m² = ±rounding noise, whose log differs
# between PyTorch and ONNX Runtime (5e-4 in the logits, measured). Pairs of distinct particles change
# by a relative 4e-6 in m².
ENERGY_SHRINK = 1.0 - 2.0**-18


@dataclass
class ParTConfig(ModelConfig):
    """ParT options; the shared ones keep their meaning: d_model = ParT's embed_dim, n_heads,
    n_layers = particle blocks, d_ff = FFN width (a multiple of d_model: weaver takes a ratio),
    dropout (blocks' dropout, attention and activation dropout), norm (only "layernorm").

    Attributes:
        features: the F input features' names, or a set name ("raw", "log", "hls4ml"); must give
            pT (pt or log_pt), eta_rel and phi_rel, from which the 4-vectors are built.
        embed_hidden: widths of the per-particle embedding MLP before its last layer (width d_model).
        pair_embed_dims: widths of the pair-feature embedding (1x1 convolutions), then n_heads.
        pooling: "cls" (num_cls_layers class-attention blocks, ParT's) or "mean" (masked mean).
        num_cls_layers: class-attention blocks (pooling "cls"; unused with "mean").
        fc_dims: hidden widths of the classifier after the pooled jet (empty: one Linear).
    """

    d_model: int = 32
    d_ff: int = 128
    n_layers: int = 2
    norm: str = "layernorm"
    pooling: str = "cls"
    features: tuple[str, ...] = ("pt", "eta_rel", "phi_rel")
    embed_hidden: tuple[int, ...] = (32, 32)
    pair_embed_dims: tuple[int, ...] = (16, 16, 16)
    num_cls_layers: int = 1
    fc_dims: tuple[int, ...] = ()

    def __post_init__(self):
        pooling, self.pooling = self.pooling, "mean"  # ModelConfig knows max|mean; ParT pools by cls|mean
        super().__post_init__()
        self.pooling = choice(pooling, PART_POOLINGS, "pooling")
        self.norm = choice(self.norm, ("layernorm",), "norm")
        if self.d_ff % self.d_model:
            raise ConfigError(f"d_ff={self.d_ff} must be a multiple of d_model={self.d_model} (ParT's FFN ratio)")
        self.num_cls_layers = whole_number(self.num_cls_layers, "num_cls_layers", low=1 if self.pooling == "cls" else 0)
        for name in ("embed_hidden", "pair_embed_dims", "fc_dims"):
            widths = getattr(self, name)
            if not isinstance(widths, (list, tuple)):
                raise ConfigError(f"{name} must be a list of whole numbers, got {widths!r}")
            setattr(self, name, tuple(whole_number(w, f"{name} entries") for w in widths))
        self.features = tuple(feature_names(self.features))
        MomentumColumns(self.features, "part")  # refuses features without pT, η_rel, φ_rel


def weaver_part() -> ModuleType:
    """weaver's `ParticleTransformer` module, or a one-line `MissingExtraError` naming how to install it."""
    try:
        import weaver.nn.model.ParticleTransformer as module
    except ImportError as e:
        what = "is not installed" if (e.name or "weaver").split(".")[0] == "weaver" else f"cannot be imported ({e})"
        raise MissingExtraError(f"model 'part' needs weaver-core, which {what}; install it with: {INSTALL} "
                                "(it needs only torch)", extra="part") from None
    return module


@contextmanager
def _quiet_weaver():
    """weaver logs its constructor's locals at INFO; keep that out of saltjet's output."""
    logger = logging.getLogger("weaver")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _frozen_class_token(network: nn.Module):
    """Without gradients, the class token's requires_grad is off for the pass: PyTorch keeps it on for
    views of a parameter made under no_grad (weaver's `cls_token.expand`), and such a view, having
    no grad_fn, breaks FlopCounterMode's module tracker (`saltjet.cost.flops.measured_flops`)."""
    token = getattr(network, "cls_token", None)
    if token is None or torch.is_grad_enabled() or not token.requires_grad:
        yield
        return
    token.requires_grad_(False)
    try:
        yield
    finally:
        token.requires_grad_(True)


@register_model("part", ParTConfig)
class ParT(JetTagger):
    """ParticleTransformer tagger (module docstring); `forward`, its input checks, exact trimming of
    all-padding slots and blocked CPU inference are `JetTagger`'s.

    Submodules: `scaler` (InputScaler, fitted by training), `part` (weaver's ParticleTransformer).
    """

    position_dependent = False

    def __init__(self, config: ParTConfig):
        nn.Module.__init__(self)  # not JetTagger's skeleton: weaver builds the network
        c = self.config = config
        self._columns = MomentumColumns(c.features, "part", c.n_features)  # before weaver: a clear error first
        weaver = weaver_part()
        self.scaler = InputScaler(c.n_features)
        with _quiet_weaver():
            self.part = weaver.ParticleTransformer(
                input_dim=c.n_features, num_classes=output_size(c.n_classes), pair_input_type="pp",
                embed_dims=(*c.embed_hidden, c.d_model), pair_embed_dims=c.pair_embed_dims,
                pair_embed_sparse_eval=(True, False), num_heads=c.n_heads, num_layers=c.n_layers,
                block_params={"ffn_ratio": c.d_ff // c.d_model, "dropout": c.dropout, "attn_dropout": c.dropout,
                              "activation_dropout": c.dropout},
                num_cls_layers=c.num_cls_layers if c.pooling == "cls" else 0,
                fc_params=[(w, c.dropout) for w in c.fc_dims], trim=False, for_inference=False,
            )
        self.part.embed.input_bn = nn.Identity()  # saltjet's InputScaler normalises (module docstring)
        # the dense (evaluation) pair path with weaver's own ONNX-exportable tril_indices, as its for_onnx does
        self.part.pair_embed.tril_indices_fn = weaver.tril_indices

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """`JetTagger.forward` (checks, exact trimming, blocked CPU inference): x (B, n, F), mask (B, n)
        -> logits (B, out). Eager evaluation embeds only the pairs of real particles, as weaver does by
        default (2x faster than the dense path at batch 512, n=150, measured); traced graphs and
        `classify` alone run the dense path over every pair of the n slots. Same logits either way:
        the pairs with a padded particle only ever meet padded (masked) keys or padded queries.
        """
        if is_tracing():
            return super().forward(x, mask)
        pairs = self.part.pair_embed
        dense = pairs.sparse_eval
        pairs.sparse_eval = (True, True)
        try:
            return super().forward(x, mask)
        finally:
            pairs.sparse_eval = dense

    @property
    def blocks(self) -> nn.ModuleList:
        """The n_layers particle-attention blocks (weaver's `Block`)."""
        return self.part.blocks

    def four_vectors(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (B, n, F) features with padded slots already zeroed, mask: (B, n) -> v (B, 4, n).

        (px, py, pz, E) of massless particles in the jet frame (E shrunk by `ENERGY_SHRINK`). Padded
        slots get the same fixed vector (pT 1 at η = φ = 0), not weaver's zeros: a zero 4-vector has
        φ = atan2(0, 0), NaN in ONNX Runtime, and a NaN pair bias poisons the real rows too.
        """
        return massless_four_vectors(*self._columns.pt_eta_phi(x, mask), ENERGY_SHRINK, dim=1)

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (B, n, F), mask: (B, n) -> particle embeddings (B, n, d) after the last particle block
        (through weaver's `_forward_encoder`; `classify` does not need it)."""
        x = x.masked_fill(~mask.unsqueeze(-1), 0.0)
        h, _ = self.part._forward_encoder(self.scaler(x).transpose(1, 2), v=self.four_vectors(x, mask),
                                          mask=mask.unsqueeze(1))
        return h

    def classify(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """One pass, no input checks. x: (B, n, F), mask: (B, n) bool -> logits (B, out).

        Padded slots are zeroed by selection first, so whatever they hold (NaN, inf) the logits are
        those of zeros; a jet with no real particle or NaN/inf in a real one gets a NaN row.
        """
        x = x.masked_fill(~mask.unsqueeze(-1), 0.0)
        with _frozen_class_token(self.part):
            logits = self.part(self.scaler(x).transpose(1, 2), v=self.four_vectors(x, mask), mask=mask.unsqueeze(1))
        return no_jet_nan(logits, x, mask)
