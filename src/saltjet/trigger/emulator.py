"""The bit-exact fixed-point SAL-T: one graph, run by numpy (the emulator), by da4ml (the firmware)
and by torch (the quantisation-aware model, `saltjet.trigger.qsalt`, through its own `ops`).

Firmware input (one jet): x (n, F) = the run's per-particle features (e.g. log pT, ..., ΔR; NOT
scaled: the fitted scaling is folded into the embedding), sorted by the run's key (kT descending),
padding last; and mask (n,) with 1 for a real particle and 0 for a padded slot. The mask is a
separate 1-bit input (a quantised real particle can hold all-zero features, so zeros cannot mark
padding). Padded slots may hold any values: every path from them to the output is cut by selection.

The graph, for one block (shapes without the leading batch axes; H heads, dh = d/H, p partitions of
L = ceil(n/p) slots, hm = h_max of the logit convolutions; every `q(name)` quantises to
types[name], every `lut(name)` is a lookup table quantised to types[name]):

    x  = q(in)(x)                                  (n, F)   one type per feature
    h  = q(h0)(relu(x @ embed_w + embed_b))        (n, d)
    hz = where(mask, h, 0)                         (n, d)
    ck = q(l_ck)(Σ_n hz · collapse_k)              (H, p, d)   collapse before projecting (linear)
    kt = q(l_kt)(ck · wk)                          (H, p, dh)  K̃, likewise cv, vt (Ṽ)
    qq = q(l_q)(h · wq)                            (n, H, dh)  wq holds 1/√dh
    s  = where(mask, q(l_s)(qq · kt), 0)           (n, H, p)
    sc = q(l_sc)(conv(s))                          (n, H, p)   folded (hm, p) kernel as band matrices
    occ[c] = max over slots of partition c of mask (p,)       partition holds a real particle
    dd = q(l_d)(sc' − max_c sc'), sc' = where(occ, sc, min of l_sc)
    e  = where(occ, lut(l_e)(dd) = exp, 0)         (n, H, p)
    r  = lut(l_r)(q(l_sum)(Σ_c e)) = 1/sum         (n, H)
    a  = q(l_a)(e · r)                             (n, H, p)   attention weights
    o  = q(l_o)(a · vt)                            (n, H, dh)
    ao = q(l_ao)(o · wo + bo)                      (n, d)
    h1 = lut(l_h1)(q(l_r1)(h + ao)) = DyT          (n, d)
    f1 = q(l_f1)(relu(h1 @ ff1_w + ff1_b)); f2 = q(l_f2)(f1 @ ff2_w + ff2_b)
    h  = lut(l_h2)(q(l_r2)(h1 + f2)) = DyT         (n, d)
    pooled = max over slots of where(mask, h, min of l_h2)     (d,)  exact masked max
    z = q(z)(relu(pooled @ head1_w + head1_b)); logits = q(logits)(z @ head2_w + head2_b)

`fixed_forward` uses only what da4ml 0.6 traces: quantize / lookup (saltjet.trigger.fixed), einsum and
@ with constant matrices, variable × variable products, +, −, np.amax, np.maximum, np.where on the
mask, indexing, concatenation; no data-dependent Python control flow.
"""

from __future__ import annotations

import numpy as np

from saltjet.trigger.fixed import FixedType, lookup, quantize
from saltjet.trigger.spec import QuantSpec

MASK_TYPE = FixedType(False, 1, 0)  # the mask input: 0 or 1


def _batch(eq: str, nb: int) -> str:
    """An einsum equation with its '...' spelled as nb explicit letters (da4ml's einsum has no '...')."""
    return eq.replace("...", "YZUVW"[:nb])


def collapse_matrix(xp, weights, n: int):
    """Collapse weights (H, p, L) -> block-sparse (H, n, p): [h, c·L + l, c] = weights[h, c, l], zero
    outside partition c; slots past n (partial last partition) dropped. xp = numpy or torch."""
    heads, parts, block = weights.shape
    eye = xp.eye(parts, dtype=weights.dtype) if xp is np else xp.eye(parts, dtype=weights.dtype, device=weights.device)
    full = weights[:, :, :, None] * eye[None, :, None, :]  # (H, p_row, L, p_col)
    return full.reshape(heads, parts * block, parts)[:, :n]


def band_matrix(xp, kernel, partitions: int):
    """Folded kernel (C, hm, p) -> band matrices (C, hm·p, p): out[i, o] = Σ_r Σ_c s[i + r − hm//2, c] ·
    M[r·p + c, o], with PyTorch's 'same' padding of an even width (as LogitConv.band_matrices)."""
    channels, height, parts = kernel.shape
    left = (parts - 1) // 2
    col = np.arange(parts)
    band = col[:, None] - col[None, :] + left  # (p_in, p_out) kernel column or p (= zero)
    band = np.where((band >= 0) & (band < parts), band, parts)
    zero = xp.zeros((channels, height, 1), dtype=kernel.dtype) if xp is np else kernel.new_zeros((channels, height, 1))
    padded = xp.concatenate([kernel, zero], axis=-1) if xp is np else xp.cat([kernel, zero], dim=-1)
    return padded[:, :, band].reshape(channels, height * parts, parts)


def membership(n: int, partitions: int) -> np.ndarray:
    """(n, p) float64: 1 where slot i lies in partition c (contiguous blocks of L = ceil(n/p) slots)."""
    block = -(-n // partitions)
    return (np.arange(n)[:, None] // block == np.arange(partitions)[None, :]).astype(np.float64)


class NumpyOps:
    """The graph's operations on numpy float64 grid values or on da4ml FixedVariableArrays."""

    def __init__(self, spec: QuantSpec):
        self.spec = spec
        c = spec.config
        self.params = dict(spec.weights)
        for layer in range(int(c["n_layers"])):
            for kv in ("k", "v"):
                key = f"l{layer}_collapse_{kv}"
                self.params[key + "_matrix"] = collapse_matrix(np, spec.weights[key], spec.n_particles)
            if f"l{layer}_conv_k" in spec.weights:
                self.params[f"l{layer}_conv_band"] = band_matrix(np, spec.weights[f"l{layer}_conv_k"], int(c["partitions"]))
        self.member = membership(spec.n_particles, int(c["partitions"]))

    def param(self, name: str):
        return self.params[name]

    def low(self, name: str) -> float:
        return self.spec.type_of(name).min

    def q(self, name: str, x, valid=None):
        t = self.spec.type_of(name)
        if name == "in" and not isinstance(x, np.ndarray):
            # traced: the input bus carries values already converted to types["in"] (with its SAT by
            # the featuriser upstream), so the firmware only declares the bits (da4ml: WRAP inputs)
            t = [tj.with_modes(overflow="WRAP") for tj in t]
        if isinstance(t, list):  # one type per feature (last axis)
            return np.concatenate([quantize(x[..., j:j + 1], tj) for j, tj in enumerate(t)], axis=-1)
        return quantize(x, t)

    def lut(self, name: str, x, in_name: str):
        """Lookup table `name` on x, which lies on types[in_name] (the table's address)."""
        return lookup(x, self.spec.luts[name], self.spec.type_of(name))

    def mask(self, mask):
        """mask (..., n) of 0/1 or bool -> 0/1 numbers (a 1-bit variable when traced)."""
        if isinstance(mask, np.ndarray) and mask.dtype == bool:
            return mask.astype(np.float64)
        return quantize(mask, MASK_TYPE)

    def einsum(self, eq: str, a, b, nb: int):
        return np.einsum(_batch(eq, nb), a, b)

    def where(self, cond, a, b):
        return np.where(cond, a, b)

    def amax(self, x, axis: int):
        return np.amax(x, axis=axis)

    def sum(self, x, axis: int):
        return np.sum(x, axis=axis)

    def relu(self, x):
        return np.maximum(x, 0.0)

    def zeros(self, shape: tuple[int, ...]):
        return np.zeros(shape)

    def cat(self, parts: list, axis: int):
        return np.concatenate(parts, axis=axis)


def graph(x, mask, config: dict, ops):
    """The quantised SAL-T on x (..., n, F) and mask (..., n) -> logits (..., out). See the module
    docstring; `ops` is `NumpyOps` (emulator, firmware) or the QAT model's torch ops."""
    heads, parts = int(config["n_heads"]), int(config["partitions"])
    nb = x.ndim - 2
    n = x.shape[-2]
    m = ops.mask(mask)  # (..., n) 0/1
    rows = m[..., :, None]  # (..., n, 1)
    x = ops.q("in", x, valid=rows)
    h = ops.q("h0", ops.relu(x @ ops.param("embed_w") + ops.param("embed_b")), valid=rows)
    occ = ops.amax(m[..., :, None] * ops.member, axis=-2)  # (..., p) 1 = partition holds a particle
    occ_b = occ[..., None, None, :]  # (..., 1, 1, p)
    att_rows = m[..., :, None, None]  # (..., n, 1, 1)
    for layer in range(int(config["n_layers"])):
        pre = f"l{layer}_"

        def par(name):
            return ops.param(pre + name)

        hz = ops.where(rows, h, 0.0)
        ck = ops.q(pre + "ck", ops.einsum("...nd,hnc->...hcd", hz, par("collapse_k_matrix"), nb))
        cv = ops.q(pre + "cv", ops.einsum("...nd,hnc->...hcd", hz, par("collapse_v_matrix"), nb))
        kt = ops.q(pre + "kt", ops.einsum("...hcd,hjd->...hcj", ck, par("wk"), nb))
        vt = ops.q(pre + "vt", ops.einsum("...hcd,hjd->...hcj", cv, par("wv"), nb))
        qq = ops.q(pre + "q", ops.einsum("...nd,hjd->...nhj", h, par("wq"), nb), valid=att_rows)
        s = ops.q(pre + "s", ops.einsum("...nhj,...hcj->...nhc", qq, kt, nb), valid=att_rows)
        s = ops.where(att_rows, s, 0.0)
        if config.get("conv_mode", "shared") != "none":
            band = par("conv_band")  # (C, hm·p, p)
            height = band.shape[1] // parts
            half = height // 2
            if half:
                pad = ops.zeros(tuple(s.shape[:-3]) + (half, heads, parts))
                sp = ops.cat([pad, s, pad], axis=-3)
            else:
                sp = s
            windows = ops.cat([sp[..., r:r + n, :, :] for r in range(height)], axis=-1)  # (..., n, H, hm·p)
            if band.shape[0] == 1:
                conv = ops.einsum("...nhw,wo->...nho", windows, band[0], nb) + par("conv_b")[0]
            else:
                conv = ops.einsum("...nhw,hwo->...nho", windows, band, nb) + par("conv_b")[:, None]
            s = ops.q(pre + "sc", conv, valid=att_rows)
            s_name = pre + "sc"
        else:
            s_name = pre + "s"
        s_ex = ops.where(occ_b, s, ops.low(s_name))
        top = ops.amax(s_ex, axis=-1)  # (..., n, H)
        dd = ops.q(pre + "d", s_ex - top[..., None], valid=att_rows * occ_b)
        e = ops.where(occ_b, ops.lut(pre + "e", dd, pre + "d"), 0.0)
        total = ops.q(pre + "sum", ops.sum(e, axis=-1), valid=m[..., :, None])
        r = ops.lut(pre + "r", total, pre + "sum")
        a = ops.q(pre + "a", e * r[..., None], valid=att_rows)
        o = ops.q(pre + "o", ops.einsum("...nhc,...hcj->...nhj", a, vt, nb), valid=att_rows)
        ao = ops.q(pre + "ao", ops.einsum("...nhj,ohj->...no", o, par("wo"), nb) + par("bo"), valid=rows)
        h1 = ops.lut(pre + "h1", ops.q(pre + "r1", h + ao, valid=rows), pre + "r1")
        f1 = ops.q(pre + "f1", ops.relu(h1 @ par("ff1_w") + par("ff1_b")), valid=rows)
        f2 = ops.q(pre + "f2", f1 @ par("ff2_w") + par("ff2_b"), valid=rows)
        h = ops.lut(pre + "h2", ops.q(pre + "r2", h1 + f2, valid=rows), pre + "r2")
    last = f"l{int(config['n_layers']) - 1}_h2"
    pooled = ops.amax(ops.where(rows, h, ops.low(last)), axis=-2)  # (..., d)
    z = ops.q("z", ops.relu(pooled @ ops.param("head1_w") + ops.param("head1_b")))
    return ops.q("logits", z @ ops.param("head2_w") + ops.param("head2_b"))


def fixed_forward(x, mask, spec: QuantSpec, ops: NumpyOps | None = None):
    """The integer model on one jet x (n, F) and mask (n,) (leading batch axes allowed with numpy) ->
    logits (..., out) as float64 grid values of types["logits"]. x: numpy float64 (quantised here to
    types["in"]) or a da4ml FixedVariableArray; mask: bool / 0-1 numbers or a FixedVariableArray."""
    ops = ops or NumpyOps(spec)
    if isinstance(x, np.ndarray):
        x = np.asarray(x, dtype=np.float64)
    return graph(x, mask, spec.config, ops)


def emulate(spec: QuantSpec, x, mask, batch: int = 256) -> np.ndarray:
    """Logits of many jets: x (N, n, F), mask (N, n) bool -> (N, out) float64, in blocks of `batch`.
    Padded slots may hold anything finite; non-finite values there are replaced by 0 (the mask
    selects them away, and quantize refuses non-finite numbers)."""
    x = np.asarray(x, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    x = np.where(mask[..., None], x, 0.0)
    ops = NumpyOps(spec)
    out = [fixed_forward(x[i:i + batch], mask[i:i + batch], spec, ops) for i in range(0, len(x), batch)]
    width = 1 if len(spec.class_names) <= 2 else len(spec.class_names)
    return np.concatenate(out) if out else np.zeros((0, width))
