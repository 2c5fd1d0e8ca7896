"""FLOPs per jet of each tagger: an analytic count per layer, and PyTorch's count of the real graph.

Convention: one multiply-add = 2 FLOPs, counted for matmul-type work only (Linear, matmul, bmm,
einsum, convolution, SDPA's two matmuls) — the ops `torch.utils.flop_counter.FlopCounterMode`
counts. Elementwise work (biases, ReLU, tanh/DyT, residual adds, scaling, masking, softmax,
pooling) is excluded from both; it is O(n·d) and memory-bound, and shows in the latencies.

`analytic_flops` follows the graph `forward` runs (SAL-T's folded attention, see
`PartitionedAttention`), so it equals `measured_flops` exactly. Zeros that the code multiplies
(the block-sparse collapse matrix, padded slots) are counted, because the code runs them.
`literal_flops` counts the textbook formulation instead (Q, K, V for every particle; the logit
convolution as the three (h, p) convolutions, each kernel tap counted, 'same' padding included).

`paper_convention_flops` reproduces the paper's table (SAL-T 739,918, Linformer 552,718,
Transformer 2,479,918 at n=150) with the TensorFlow-profiler rules its numbers imply: 2 FLOPs per
multiply-add of Dense/MatMul/Conv2D, einsum K/V projections dropped (not counted by that profiler),
1 FLOP per element for every bias add, residual add, DyT multiply and add, logit scaling, conv bias
and the averaging of the convolutions (2 adds + 1 divide), 5 FLOPs per softmax element (attention
and the 5-class output softmax), ReLU/tanh/max-pool free, no mask (the authors' graph had none).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from saltjet.models import model_config
from saltjet.models.layers import output_size
from saltjet.models.pairs import PAIR_FEATURES


@dataclass(frozen=True)
class LayerFlops:
    """FLOPs per jet of one layer (all encoder layers summed); note says what is and isn't counted."""

    layer: str
    flops: int
    note: str = ""


@dataclass
class FlopCount:
    """FLOPs per jet, per layer, for `model` at `n_particles` slots."""

    model: str
    n_particles: int
    layers: list[LayerFlops] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(layer.flops for layer in self.layers)

    def by_layer(self) -> dict[str, int]:
        return {layer.layer: layer.flops for layer in self.layers}


def _config(model_or_name, n_particles, overrides):
    if isinstance(model_or_name, nn.Module):
        name, config = model_or_name.model_name, model_or_name.config
    else:
        name, config = model_or_name, model_config(model_or_name, **overrides)
    return name, config, int(n_particles or config.n_particles)


def _common(c, n: int) -> tuple[list[LayerFlops], list[LayerFlops]]:
    """(before attention, after attention) layers every tagger shares."""
    layers_n, d, out = c.n_layers, c.d_model, output_size(c.n_classes)
    before = [LayerFlops("embedding", 2 * n * c.n_features * d, "Linear(F→d); bias, ReLU, scaler excluded")]
    after = [
        LayerFlops("ffn", layers_n * 2 * n * d * c.d_ff * 2, "Linear(d→d_ff), Linear(d_ff→d); biases, ReLU excluded"),
        LayerFlops("head", 2 * d * d + 2 * d * out, "Linear(d→d), Linear(d→out) on the pooled jet; pooling excluded"),
    ]
    return before, after


def analytic_flops(model_or_name, n_particles: int | None = None, **overrides) -> FlopCount:
    """FLOPs per jet of the graph `forward` runs, per layer.

    Args:
        model_or_name: a built tagger, or a registered name (then `overrides` are config options).
        n_particles: slots n (default: the config's).
    """
    name, c, n = _config(model_or_name, n_particles, overrides)
    if name == "part":
        return FlopCount(name, n, _part_layers(c, n))
    d, L = c.d_model, c.n_layers
    before, after = _common(c, n)
    dh = d // c.n_heads
    attn: list[LayerFlops] = []
    if name in ("salt", "salt_pair"):
        p, heads = c.partitions, c.n_heads
        h_max = max(c.conv_heights) if c.conv_mode != "none" else 0
        taps = h_max or 1  # the logit product reads h_max shifted copies of h (1 without convolution)
        attn = [
            LayerFlops("kv_collapse", L * 2 * 2 * heads * p * n * d,
                       "block-sparse (2·H·p, n) collapse matrix @ h (n, d); zeros counted"),
            LayerFlops("kv_fold", L * 2 * 2 * heads * p * d * d,
                       "collapsed rows @ per-head (d, d) folds W_kᵀW_q/√dh and W_vᵀW_oᵀ (weights folded once)"),
            LayerFlops("conv_fold", L * 2 * heads * p * h_max * p * d if h_max else 0,
                       "band matrices (p·h_max, p) @ the query-side (p, d) matrix of each head"),
            LayerFlops("logits", L * 2 * heads * p * d * n, "Q·K̃ᵀ part of the (H·p, h_max·d) @ (h_max·d, n) product"),
            LayerFlops("logit_conv", L * 2 * heads * p * (taps - 1) * d * n,
                       f"the convolution folded into that product: h_max−1={taps - 1} more shifted copies of h; "
                       f"the three convolutions would cost {L * sum(2 * heads * n * p * k * p for k in c.conv_heights) if h_max else 0}"),
            LayerFlops("occupancy", L * 2 * heads * p * n,
                       "0/1 membership (H·p, n) @ mask (n, 1): real particles per partition (−inf where none)"),
            LayerFlops("attention_value_out", L * 2 * n * heads * p * d,
                       "attention (n, H·p) @ (H·p, d): ×Ṽ and out-projection in one; softmax excluded"),
        ]
        if name == "salt_pair":  # once per jet, shared by the blocks; the pair features' logs excluded
            k = len(PAIR_FEATURES)
            bias = c.pair_mode in ("bias", "both")
            inputs = c.pair_mode in ("inputs", "both")
            attn[:0] = [LayerFlops("pair_bias", 2 * n * p * (k + heads) * c.pair_hidden if bias else 0,
                                   "pair MLP 4→hidden→H on the n·p (particle, anchor) pairs"),
                        LayerFlops("pair_inputs", 2 * n * k * p * d if inputs else 0,
                                   "Linear(4·p→d) of each particle's pair features")]
    elif name == "linformer":
        k = c.proj_dim
        attn = [
            LayerFlops("qkv", L * 2 * n * d * 3 * d, "fused Linear(d→3d), no bias"),
            LayerFlops("ef_projection", L * 2 * 2 * n * k * d, "E, F (H, n, k) einsums on K, V"),
            LayerFlops("logits", L * 2 * n * k * d, "Q·K̃ᵀ; scaling, softmax excluded"),
            LayerFlops("attention_value", L * 2 * n * k * d, "attention × Ṽ"),
            LayerFlops("out_proj", L * 2 * n * d * d, "Linear(d→d); bias excluded"),
        ]
    elif name in ("transformer", "transformer_pair"):
        attn = [
            LayerFlops("qkv", L * 2 * n * d * 3 * d, "fused Linear(d→3d), no bias"),
            LayerFlops("logits", L * 2 * n * n * d, "Q·Kᵀ inside SDPA; scaling, mask, softmax excluded"),
            LayerFlops("attention_value", L * 2 * n * n * d, "attention × V inside SDPA"),
            LayerFlops("out_proj", L * 2 * n * d * d, "Linear(d→d); bias excluded"),
        ]
        if name == "transformer_pair":  # the pair features' logs excluded, as for salt_pair
            attn.insert(0, LayerFlops("pair_inputs", 2 * n * len(PAIR_FEATURES) * c.pair_leading * d,
                                      "Linear(4·k→d) of each particle's pair features with the k leading particles"))
    else:
        raise NotImplementedError(f"no analytic FLOP count for model {name!r}")
    return FlopCount(name, n, before + attn + after)


def _part_layers(c, n: int) -> list[LayerFlops]:
    """weaver's ParticleTransformer (`saltjet.models.part`) in evaluation: the dense pair path over the
    n(n+1)/2 pairs i ≥ j of all n slots (training embeds only the pairs of real particles)."""
    d, L, C, heads = c.d_model, c.n_layers, c.num_cls_layers if c.pooling == "cls" else 0, c.n_heads
    widths = lambda first, rest: sum(a * b for a, b in zip((first, *rest), rest))  # noqa: E731  Σ in·out
    pairs, out = n * (n + 1) // 2, output_size(c.n_classes)
    return [
        LayerFlops("embedding", 2 * n * widths(c.n_features, (*c.embed_hidden, d)), "MLP F→…→d; LayerNorm, GELU excluded"),
        LayerFlops("pair_embedding", 2 * pairs * widths(4, (*c.pair_embed_dims, heads)),
                   "1x1 convolutions 4→…→heads on n(n+1)/2 pairs; the 4 pair features, BatchNorm excluded"),
        LayerFlops("qkv", L * 2 * n * d * 3 * d, "Linear(d→3d) of the particle blocks"),
        LayerFlops("attention", L * 4 * n * n * d, "Q·Kᵀ and ×V inside SDPA; pair bias add, softmax excluded"),
        LayerFlops("out_proj", L * 2 * n * d * d, "Linear(d→d)"),
        LayerFlops("ffn", L * 2 * n * d * c.d_ff * 2, "Linear(d→d_ff), Linear(d_ff→d)"),
        LayerFlops("class_attention", C * (2 * d * d + 2 * (n + 1) * d * 2 * d + 4 * (n + 1) * d + 2 * d * d
                                           + 2 * d * c.d_ff * 2),
                   "class token: q, k/v of n+1 tokens, SDPA, out-projection, FFN of one token"),
        LayerFlops("head", 2 * widths(d, (*c.fc_dims, out)), "Linear d→…→out on the jet vector"),
    ]


def literal_flops(model_or_name, n_particles: int | None = None, **overrides) -> FlopCount:
    """FLOPs per jet of the textbook formulation: for SAL-T, Q/K/V for every particle, the collapse
    on the ⌈n/p⌉·p padded slots, Q·K̃ᵀ, the three (h, p) convolutions, ×Ṽ, out-projection. Linformer
    and Transformer are already literal in `analytic_flops`."""
    name, c, n = _config(model_or_name, n_particles, overrides)
    if name != "salt":
        return analytic_flops(model_or_name, n_particles, **overrides)
    d, L, p, heads = c.d_model, c.n_layers, c.partitions, c.n_heads
    before, after = _common(c, n)
    padded = p * math.ceil(n / p)
    convs = sum(2 * heads * n * p * k * p for k in c.conv_heights) if c.conv_mode != "none" else 0
    attn = [
        LayerFlops("qkv", L * 2 * n * d * 3 * d, "fused Linear(d→3d), no bias"),
        LayerFlops("kv_collapse", L * 2 * 2 * padded * d, "einsum over the padded ⌈n/p⌉·p slots, K and V"),
        LayerFlops("logits", L * 2 * n * p * d, "Q·K̃ᵀ"),
        LayerFlops("logit_conv", L * convs, "three Conv2d (h, p), 'same' padding, every tap counted"),
        LayerFlops("attention_value", L * 2 * n * p * d, "attention × Ṽ"),
        LayerFlops("out_proj", L * 2 * n * d * d, "Linear(d→d)"),
    ]
    return FlopCount(name, n, before + attn + after)


def paper_convention_flops(model_or_name, n_particles: int | None = None, **overrides) -> int:
    """FLOPs per jet under the TensorFlow-profiler rules the paper's table implies (module docs).

    Only defined for the paper's layer kinds (DyT norm, max pooling).
    """
    name, c, n = _config(model_or_name, n_particles, overrides)
    literal = literal_flops(model_or_name, n_particles, **overrides).by_layer()
    dropped = ("kv_collapse", "ef_projection")  # einsums: the profiler does not count them
    matmul = sum(v for k, v in literal.items() if k not in dropped)
    d, L, heads, out = c.d_model, c.n_layers, c.n_heads, output_size(c.n_classes)
    keys = {"salt": c.partitions if name == "salt" else 0, "linformer": getattr(c, "proj_dim", 0), "transformer": n}[name]
    logit_elems = heads * n * keys
    per_layer = (
        n * d  # out-projection bias
        + 2 * n * d  # residual adds
        + 2 * 2 * n * d  # DyT: α·x and +β, twice
        + n * c.d_ff + n * d  # FFN biases
        + logit_elems  # 1/√dh scaling
        + 5 * logit_elems  # softmax
    )
    if name == "salt" and c.conv_mode != "none":
        k = len(c.conv_heights)
        per_layer += (k + (k - 1) + 1) * logit_elems  # conv biases, adds and the divide of the average
    elementwise = n * d + L * per_layer + d + out + (5 * out if out > 1 else 0)  # embed/head biases, output softmax
    return matmul + elementwise


def _sdpa_cpu_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    from torch.utils.flop_counter import sdpa_flop_count

    return sdpa_flop_count(query_shape, key_shape, value_shape)


def measured_flops(model: nn.Module, x: torch.Tensor, mask: torch.Tensor) -> int:
    """FLOPs per jet that PyTorch's FlopCounterMode counts on one forward of `model(x, mask)`.

    x: (B, n, F), mask: (B, n) bool. The count of the whole batch divided by B (every counted op
    scales with B; weight-only folds are built before counting, as inference caches them). SDPA's CPU kernel, which the
    stock counter misses in torch 2.13, is registered with the same formula as the GPU kernels.
    A tagger runs over all n slots (`JetTagger.classify`), as the analytic count assumes: its eager
    `forward` would drop the slots that are padding in every jet of the batch and count less.
    """
    from torch.utils.flop_counter import FlopCounterMode

    aten = torch.ops.aten
    custom = {}
    cpu_sdpa = getattr(aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if cpu_sdpa is not None:
        custom[cpu_sdpa] = _sdpa_cpu_flop
    counter = FlopCounterMode(display=False, custom_mapping=custom)
    run = getattr(model, "classify", model)
    with torch.no_grad():
        run(x[:1], mask[:1])  # weight-only folds are cached per weights, not per call: build them first
        with counter:
            run(x, mask)
    return counter.get_total_flops() // x.shape[0]
