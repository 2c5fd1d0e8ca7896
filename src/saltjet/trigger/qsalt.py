"""The quantisation-aware SAL-T: the emulator's graph (`saltjet.trigger.emulator.graph`) run by torch,
with a learned fixed-point type at every tensor the hardware holds.

Built from a float SAL-T's parameters (state dict names and shapes only, never its forward):

    scaler + embedding     -> embed_w (F, d) = W/scale, embed_b (d,) = b − W·(center/scale)
    blocks.l.attn.qkv      -> l_wq (H, dh, d) (× 1/√dh), l_wk, l_wv (H, dh, d)
    key/value_collapse     -> l_collapse_k, l_collapse_v (H, p, L)
    conv.convs.j           -> l_conv_k (C, h_max, p), l_conv_b (C,): the averaged kernels folded
    attn.proj              -> l_wo (d, H, dh), l_bo (d,)
    norm1/norm2 (DyT)      -> l_dyt1_alpha/beta, l_dyt2_alpha/beta (folded into the tanh tables)
    ffn.fc1/fc2, head.fc1/fc2 -> l_ff1_w (d, d_ff), ..., head2_w (d, out) (transposed: x @ w)

Eval mode computes in float64: products and sums of grid values (≤ 20-bit activations, ≤ 16-bit
weights) are exact there, so `QSALT.eval()(x, mask)` equals `emulate(self.to_spec(...), x, mask)`
bit for bit (tested on ≥ 1,000 jets).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from saltjet.errors import ConfigError
from saltjet.trigger.emulator import band_matrix, collapse_matrix, graph, membership
from saltjet.trigger.quantizers import LearnedQuantizer, LookupQuantizer
from saltjet.trigger.spec import LookupFn, QuantSpec

ACT_MAX_WIDTH, WEIGHT_MAX_WIDTH, LUT_IN_MAX_WIDTH = 20, 16, 14
LUT_INPUTS = {"e": "d", "r": "sum", "h1": "r1", "h2": "r2"}  # table output -> its input tensor
KEYS = ("n_particles", "n_features", "n_classes", "d_model", "n_heads", "d_ff", "n_layers", "partitions",
        "conv_heights", "conv_mode", "norm", "pooling")


def fold_float(state: dict, config) -> dict[str, torch.Tensor]:
    """Float SAL-T state dict -> the QAT parameters above (float64)."""
    c = config
    g = {k: v.detach().to(torch.float64) for k, v in state.items()}
    heads, dh = c.n_heads, c.d_model // c.n_heads
    w, scale, center = g["embed.0.weight"], g["scaler.scale"], g["scaler.center"]
    out = {"embed_w": (w / scale[None, :]).T.contiguous(), "embed_b": g["embed.0.bias"] - w @ (center / scale)}
    for layer in range(c.n_layers):
        b, pre = f"blocks.{layer}.", f"l{layer}_"
        wq, wk, wv = g[b + "attn.qkv.weight"].view(3, heads, dh, c.d_model).unbind(0)
        out.update({pre + "wq": wq * dh ** -0.5, pre + "wk": wk.clone(), pre + "wv": wv.clone(),
                    pre + "collapse_k": g[b + "attn.key_collapse"], pre + "collapse_v": g[b + "attn.value_collapse"],
                    pre + "wo": g[b + "attn.proj.weight"].view(c.d_model, heads, dh).clone(),
                    pre + "bo": g[b + "attn.proj.bias"],
                    pre + "ff1_w": g[b + "ffn.fc1.weight"].T.contiguous(), pre + "ff1_b": g[b + "ffn.fc1.bias"],
                    pre + "ff2_w": g[b + "ffn.fc2.weight"].T.contiguous(), pre + "ff2_b": g[b + "ffn.fc2.bias"]})
        if c.conv_mode != "none":
            h_max = max(c.conv_heights)
            kernels, biases = [], []
            for j, k in enumerate(c.conv_heights):
                pad = (h_max - k) // 2
                kern = g[b + f"attn.conv.convs.{j}.weight"][:, 0]  # (C, k, p)
                kernels.append(torch.nn.functional.pad(kern, (0, 0, pad, pad)))
                biases.append(g[b + f"attn.conv.convs.{j}.bias"])
            out[pre + "conv_k"], out[pre + "conv_b"] = torch.stack(kernels).mean(0), torch.stack(biases).mean(0)
        for norm in ("1", "2"):
            out[pre + f"dyt{norm}_alpha"] = g[b + f"norm{norm}.alpha"].reshape(())
            out[pre + f"dyt{norm}_beta"] = g[b + f"norm{norm}.beta"].reshape(())
    for j in ("1", "2"):
        out[f"head{j}_w"], out[f"head{j}_b"] = g[f"head.fc{j}.weight"].T.contiguous(), g[f"head.fc{j}.bias"]
    return out


def check_quantizable(config) -> None:
    """ConfigError unless the SAL-T has DyT norms and max pooling (what the fixed-point graph holds)."""
    if config.norm != "dyt" or config.pooling != "max":
        raise ConfigError(f"quantisation supports SAL-T with norm=dyt and pooling=max, not norm={config.norm}, "
                          f"pooling={config.pooling}")


class TorchOps:
    """The graph's operations for `QSALT` (see `saltjet.trigger.emulator.NumpyOps`)."""

    def __init__(self, model: "QSALT", params: dict[str, torch.Tensor]):
        self.model, self.params = model, params
        self.member = model.member

    def param(self, name):
        return self.params[name]

    def low(self, name):
        return self.model.quants[name].fixed_type().min

    def q(self, name, x, valid=None):
        return self.model.quants[name](x, valid)

    def lut(self, name, x, in_name):
        fn = self.model.lookup_fn(name)
        in_type = self.model.quants[in_name].fixed_type()
        return self.model.quants[name](x, in_type, fn, self.model.torch_fn(name, fn))

    def mask(self, mask):
        return mask.to(torch.float64)

    def einsum(self, eq, a, b, nb):
        return torch.einsum(eq, a, b)

    def where(self, cond, a, b):
        return torch.where(cond if cond.dtype == torch.bool else cond != 0, a, b)

    def amax(self, x, axis):
        return torch.amax(x, dim=axis)

    def sum(self, x, axis):
        return x.sum(dim=axis)

    def relu(self, x):
        return torch.clamp_min(x, 0.0)

    def zeros(self, shape):
        return torch.zeros(shape, dtype=torch.float64)

    def cat(self, parts, axis):
        return torch.cat(parts, dim=axis)


class QSALT(nn.Module):
    """Quantisation-aware SAL-T. forward(x (B, n, F) features, mask (B, n) bool) -> logits (B, out)
    float64. Parameters in `weights` (float), one quantiser per tensor in `quants`.

    Modes: weights and table outputs round to nearest (RND, free: computed offline); the input and
    activations use `rounding` (TRN: truncation, no adder; RND: one constant add per value in
    hardware, unbiased); everything saturates (SAT) past its calibrated range."""

    def __init__(self, config, params: dict[str, torch.Tensor], init_bits: int = 10, rounding: str = "TRN"):
        super().__init__()
        c = config
        check_quantizable(c)
        self.config = c
        self.weights = nn.ParameterDict({k: nn.Parameter(v.clone()) for k, v in params.items()})
        self.register_buffer("member", torch.from_numpy(membership(c.n_particles, c.partitions)), persistent=False)
        quants = {"in": LearnedQuantizer(True, 0, init_bits, "TRN", "SAT", channels=c.n_features, max_width=ACT_MAX_WIDTH)}
        for name, p in params.items():
            if "dyt" not in name:
                quants[name] = LearnedQuantizer(True, 0, init_bits, "RND", "SAT", max_width=WEIGHT_MAX_WIDTH)
        acts = ["h0", "z", "logits"] + [f"l{layer}_{a}" for layer in range(c.n_layers) for a in
                                         ("ck", "cv", "kt", "vt", "q", "s", "d", "sum", "a", "o", "ao", "r1", "f1", "f2", "r2")
                                         + (("sc",) if c.conv_mode != "none" else ())]
        lut_inputs = {f"l{layer}_{v}" for layer in range(c.n_layers) for v in LUT_INPUTS.values()}
        for name in acts:
            quants[name] = LearnedQuantizer(True, 0, init_bits, rounding, "SAT",
                                            max_width=LUT_IN_MAX_WIDTH if name in lut_inputs else ACT_MAX_WIDTH)
        for layer in range(c.n_layers):
            # logit − row max: below −16, exp rounds to 0 in every table up to 20 bits, so saturate there
            quants[f"l{layer}_d"].floor = -16.0
            for out in LUT_INPUTS:
                quants[f"l{layer}_{out}"] = LookupQuantizer(True, 0, init_bits, "RND", "SAT", max_width=ACT_MAX_WIDTH)
        self.quants = nn.ModuleDict(quants)

    @classmethod
    def from_float(cls, model: nn.Module, init_bits: int = 10, rounding: str = "TRN") -> "QSALT":
        """From a float SAL-T (`saltjet.models.salt.SALT`); its parameters are copied and folded."""
        if getattr(model, "model_name", "salt") != "salt" or not hasattr(model.config, "partitions"):
            raise ConfigError("saltjet quantize takes a SAL-T run (model salt)")
        check_quantizable(model.config)
        return cls(model.config, fold_float(model.state_dict(), model.config), init_bits, rounding)

    def lookup_fn(self, name: str) -> LookupFn:
        kind = name.rsplit("_", 1)[1]
        if kind == "e":
            return LookupFn("exp")
        if kind == "r":
            return LookupFn("recip")
        layer, norm = name.split("_")[0], kind[1]
        w = self.weights
        return LookupFn("dyt", float(w[f"{layer}_dyt{norm}_alpha"].detach()), float(w[f"{layer}_dyt{norm}_beta"].detach()))

    def torch_fn(self, name: str, fn: LookupFn):
        if fn.kind != "dyt":
            return fn
        layer, norm = name.split("_")[0], name.rsplit("_", 1)[1][1]
        alpha, beta = self.weights[f"{layer}_dyt{norm}_alpha"], self.weights[f"{layer}_dyt{norm}_beta"]
        return lambda x: torch.tanh(alpha * x + beta)

    def quantized_params(self) -> dict[str, torch.Tensor]:
        """Weights on their grids, plus the expanded collapse and band matrices the graph uses."""
        c = self.config
        out = {k: self.quants[k](w) for k, w in self.weights.items() if k in self.quants}
        for layer in range(c.n_layers):
            pre = f"l{layer}_"
            for kv in ("k", "v"):
                out[pre + f"collapse_{kv}_matrix"] = collapse_matrix(torch, out[pre + f"collapse_{kv}"], c.n_particles)
            if c.conv_mode != "none":
                out[pre + "conv_band"] = band_matrix(torch, out[pre + "conv_k"], c.partitions)
        return out

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = torch.where(mask[..., None], x.to(torch.float64), 0.0)  # padded slots: any value, even NaN
        return graph(x, mask, self.config.__dict__, TorchOps(self, self.quantized_params()))

    def set_mode(self, calibrating: bool) -> None:
        for q in self.quants.values():
            q.calibrating = calibrating

    def ebops(self) -> torch.Tensor:
        """EBOPs-style resource estimate (differentiable in the fractional bits): Σ over multiplies of
        bits(a)·bits(b), constant weights counted where nonzero on their grid; plus each lookup table
        as count · bits(out) · 2**max(bits(in) − 6, 0) (LUT6 cells per output bit); plus Σ over
        activations and biases of values · bits (adders and registers, `sizes`)."""
        c, q = self.config, self.quants
        n, heads, parts, dh = c.n_particles, c.n_heads, c.partitions, c.d_model // c.n_heads
        with torch.no_grad():
            params = self.quantized_params()
        nz = {k: float((v != 0).sum()) for k, v in params.items()}
        b = {k: m.bits() for k, m in q.items()}
        embed_rows = (params["embed_w"] != 0).sum(dim=1).to(torch.float64)  # (F,)
        total = n * (b["in"] * embed_rows).sum() * b["embed_w"]
        prev = "h0"
        for layer in range(c.n_layers):
            p = f"l{layer}_"
            total = total + c.d_model * (nz[p + "collapse_k_matrix"] * b[p + "collapse_k"]
                                         + nz[p + "collapse_v_matrix"] * b[p + "collapse_v"]) * b[prev]
            total = total + parts * (nz[p + "wk"] * b[p + "ck"] * b[p + "wk"] + nz[p + "wv"] * b[p + "cv"] * b[p + "wv"])
            total = total + n * nz[p + "wq"] * b[prev] * b[p + "wq"]
            total = total + n * heads * parts * dh * (b[p + "q"] * b[p + "kt"] + b[p + "a"] * b[p + "vt"])
            if c.conv_mode != "none":
                band = params[p + "conv_band"]
                total = total + n * heads * nz[p + "conv_band"] / band.shape[0] * b[p + "s"] * b[p + "conv_k"]
            total = total + n * heads * parts * b[p + "e"] * b[p + "r"]
            total = total + n * (nz[p + "wo"] * b[p + "o"] * b[p + "wo"] + nz[p + "ff1_w"] * b[p + "h1"] * b[p + "ff1_w"]
                                 + nz[p + "ff2_w"] * b[p + "f1"] * b[p + "ff2_w"])
            for out, inp, count in (("e", "d", n * heads * parts), ("r", "sum", n * heads),
                                    ("h1", "r1", n * c.d_model), ("h2", "r2", n * c.d_model)):
                total = total + count * b[p + out] * 2 ** torch.clamp(b[p + inp] - 6, min=0)
            prev = p + "h2"
        total = total + nz["head1_w"] * b[prev] * b["head1_w"] + nz["head2_w"] * b["z"] * b["head2_w"]
        return total + sum(count * b[name].sum() for name, count in self.sizes().items())

    def sizes(self) -> dict[str, int]:
        """Values per jet of every activation and bias: each costs about one adder or register bit per
        bit of width (the `ebops` term that also reaches tensors that feed only additions)."""
        c = self.config
        n, h, p, d = c.n_particles, c.n_heads, c.partitions, c.d_model
        dh, out = d // h, self.weights["head2_b"].numel()
        per = {"ck": h * p * d, "cv": h * p * d, "kt": h * p * dh, "vt": h * p * dh, "q": n * d, "s": n * h * p,
               "sc": n * h * p, "d": n * h * p, "e": n * h * p, "a": n * h * p, "sum": n * h, "r": n * h,
               "o": n * d, "ao": n * d, "r1": n * d, "h1": n * d, "f1": n * c.d_ff, "f2": n * d, "r2": n * d, "h2": n * d}
        sizes = {"in": n, "h0": n * d, "z": d, "logits": out}
        sizes.update({k: v.numel() for k, v in self.weights.items() if k.endswith("_b") or k.endswith("_bo")})
        for layer in range(c.n_layers):
            sizes.update({f"l{layer}_{k}": v for k, v in per.items() if f"l{layer}_{k}" in self.quants})
        return sizes

    def mean_bits(self) -> float:
        widths = torch.cat([m.bits().detach().reshape(-1) for m in self.quants.values()])
        return float(widths.mean())

    def to_spec(self, class_names, feature_names, sort_by: str, source: dict | None = None) -> QuantSpec:
        """The integer model: every type, the weights on their grids, the lookup functions."""
        c = self.config
        with torch.no_grad():
            params = self.quantized_params()
        weights = {k: params[k].detach().numpy().astype(np.float64) for k in self.weights if k in self.quants}
        types = {k: m.fixed_type() for k, m in self.quants.items()}
        luts = {f"l{layer}_{out}": self.lookup_fn(f"l{layer}_{out}") for layer in range(c.n_layers) for out in LUT_INPUTS}
        config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in c.__dict__.items() if k in KEYS}
        return QuantSpec(config, list(class_names), list(feature_names), sort_by, weights, types, luts, dict(source or {}))


def check_exact(spec: QuantSpec) -> None:
    """ConfigError if some tensor's type is too wide for exact float64 evaluation (never by construction)."""
    for name, t in spec.types.items():
        for tj in (t if isinstance(t, list) else [t]):
            if tj.width > max(ACT_MAX_WIDTH, WEIGHT_MAX_WIDTH) or not math.isfinite(tj.max):
                raise ConfigError(f"type of {name} ({tj.ap_type()}) is too wide for the exact emulator")
