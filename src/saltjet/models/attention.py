"""The three attention mechanisms compared in the paper, each masked so padded slots change nothing.

Masking selects, never multiplies (`masked_fill`/`torch.where`): 0·NaN and 0·inf are NaN, so a
multiplied mask would let a non-finite padded slot reach real particles. Options are checked once,
by the model config dataclasses (`ModelConfig` and subclasses); these layers trust them.

All take h: (B, n, d) and mask: (B, n) bool (True = real particle) and return (B, n, d).
H heads of size dh = d / H.

- `PartitionedAttention` (SAL-T's LPP-MHA): keys/values of p contiguous partitions collapse into one
  each by learned weights; logits (B, H, n, p) are mixed by a small convolution before the softmax.
  Cost O(n·p).
- `LinformerAttention`: learned per-head projections E, F (H, n, k) of keys/values. Cost O(n·k).
- `FullAttention`: softmax attention over all particles via PyTorch's fused SDPA. Cost O(n²).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from saltjet.models.layers import EXCLUDED, cached_derivation, is_tracing


def zero_padded_rows(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """h (B, n, d) with padded slots set to 0 by selection; q, k, v of those slots are then 0 too
    (the fused Q/K/V projection has no bias)."""
    return torch.where(mask.unsqueeze(-1), h, 0.0)


def static_size(h: torch.Tensor, dim: int):
    """h.shape[dim] as a Python int under a TorchScript trace too (where it is a tensor, and every
    view, pad and slice it reaches would export Shape/Gather/Concat nodes); a proxy under torch.fx.
    SAL-T's traced graph has a fixed n anyway (its weights are tied to slot positions)."""
    size = h.shape[dim]
    return int(size) if isinstance(size, torch.Tensor) else size


def row_windows(h: torch.Tensor, size: int) -> torch.Tensor:
    """h (B, n, d) -> (B, size·d, n): windows[b, r·d + e, i] = h[b, i + r − size//2, e], zero outside
    0..n−1 (the rows a 'same' convolution of height `size` reads). Eager: one strided copy
    (`unfold`); traced (ONNX has no unfold): Pad, Transpose, `size` Slices and one Concat."""
    n, d = static_size(h, 1), static_size(h, 2)
    shifted = F.pad(h, (0, 0, size // 2, size // 2))  # (B, n + size − 1, d)
    if is_tracing():
        shifted = shifted.transpose(1, 2)
        return torch.cat([shifted[:, :, r : r + n] for r in range(size)], dim=1)
    return shifted.unfold(1, n, 1).reshape(-1, size * d, n)


class _MultiHead(nn.Module):
    """Fused bias-free Q/K/V projection and the output projection shared by all three mechanisms."""

    def __init__(self, d_model: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads = n_heads
        self.d_head = d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.proj = nn.Linear(d_model, d_model)
        self.attn_drop = nn.Dropout(dropout)

    def split_qkv(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """h: (B, n, d) -> q, k, v each (B, H, n, dh)."""
        b, n, _ = h.shape
        qkv = self.qkv(h).view(b, n, 3, self.n_heads, self.d_head).permute(2, 0, 3, 1, 4)
        return qkv[0], qkv[1], qkv[2]

    def merge_heads(self, out: torch.Tensor) -> torch.Tensor:
        """out: (B, H, n, dh) -> projected (B, n, d)."""
        b, _, n, _ = out.shape
        return self.proj(out.transpose(1, 2).reshape(b, n, self.n_heads * self.d_head))


class LogitConv(nn.Module):
    """Averaged 2D convolutions over the (n, p) attention-logit map, 'same' padding, with bias.

    Parameters are kept as one Conv2d per kernel height (kernel (h, p)), as the authors define them.
    The forward pass folds them into one (h_max, p) kernel, which is exact because averaging
    convolutions is linear, and applies it as a banded matmul: the h_max shifted copies of the map,
    concatenated along the partition axis, times a (h_max·p, p) matrix (`logits`, for plots).
    `PartitionedAttention.forward` folds the band matrices into its one logit product instead.

    mode "shared": one set of filters for every head (the authors': 39 parameters for {1,3,5}, p=4).
    mode "depthwise": one set per head.
    """

    def __init__(self, partitions: int, heights: tuple[int, ...], mode: str, n_heads: int):
        super().__init__()
        self.channels = 1 if mode == "shared" else n_heads
        self.partitions = partitions
        self.h_max = max(heights)
        self.convs = nn.ModuleList(
            nn.Conv2d(self.channels, self.channels, (k, partitions), padding="same", groups=self.channels)
            for k in heights
        )
        # band[i, o] = which kernel column links input partition i to output partition o; 'same'
        # padding of an even width p puts (p-1)//2 zeros on the left, as PyTorch and TF do.
        left = (partitions - 1) // 2
        col = torch.arange(partitions)
        band = col[:, None] - col[None, :] + left
        band = torch.where((band >= 0) & (band < partitions), band, torch.full_like(band, partitions))
        self.register_buffer("band", band, persistent=False)

    def folded_kernel(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The averaged convolutions as one kernel: weight (C, h_max, p), bias (C,)."""
        kernels = []
        for conv in self.convs:
            pad = (self.h_max - conv.kernel_size[0]) // 2
            kernels.append(F.pad(conv.weight[:, 0], (0, 0, pad, pad)))
        weight = torch.stack(kernels).mean(dim=0)
        bias = torch.stack([conv.bias for conv in self.convs]).mean(dim=0)
        return weight, bias

    def band_matrices(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The folded kernel as band matrices: (C, h_max, p_in, p_out), and the bias (C,).

        out[i, o] = Σ_r Σ_c logits[i + r − h_max//2, c] · matrices[r, c, o] + bias.
        """
        weight, bias = self.folded_kernel()
        # (C, h_max, p+1) with a zero column for links outside the kernel, gathered into band
        # matrices (C, h_max, p_in, p_out).
        return F.pad(weight, (0, 1))[:, :, self.band], bias

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        """logits: (B, H, n, p) -> (B, H, n, p)."""
        b, h, n, p = logits.shape
        matrix, bias = self.band_matrices()
        matrix = matrix.reshape(self.channels, self.h_max * p, p)
        half = self.h_max // 2
        padded = F.pad(logits, (0, 0, half, half))
        windows = torch.cat([padded[:, :, r : r + n, :] for r in range(self.h_max)], dim=-1)
        return windows @ matrix + bias.view(self.channels, 1, 1)

    def reference(self, logits: torch.Tensor) -> torch.Tensor:
        """Literal Conv2d evaluation (slow), used to test `forward`. logits: (B, H, n, p)."""
        b, h, n, p = logits.shape
        maps = logits.reshape(b * h, 1, n, p) if self.channels == 1 else logits
        out = torch.stack([conv(maps) for conv in self.convs]).mean(dim=0)
        return out.reshape(b, h, n, p)


class PartitionedAttention(_MultiHead):
    """Linear partitioned particle multi-head attention (LPP-MHA), SAL-T's attention.

    The (sorted) sequence is zero-padded to p·L slots, L = ⌈n/p⌉, and cut into p contiguous blocks.
    Per head and block, keys and values collapse into one by learned weights over the L positions:
    K̃, Ṽ (B, H, p, dh). Logits S = Q·K̃ᵀ/√dh (B, H, n, p) pass through `LogitConv`, then a softmax over
    the p axis weights Ṽ.

    Masking: padded keys/values are zeroed before the collapse; padded query rows of S are zeroed
    before the convolution (so their values never leak into real rows); partitions with no real
    particle get no attention weight.

    Speed (`forward`; `forward_reference` is the literal form, equal to float rounding). At batch 1 a
    jet is ~0.8 MFLOP, so the cost is the number of operators, not arithmetic; `forward` runs 13
    tensor ops on activations (the literal form ~40), using that everything before the softmax is
    linear:
    (1) Zeroing padded rows of h zeroes q, k, v (no bias), and the zero rows of S that the
    literal form sets before the convolution. (2) Collapse and K/V projection are both linear, so
    the collapse runs first, on h: one GEMM with the block-sparse (2·H·p, n) collapse matrix.
    (3) W_q·W_kᵀ/√dh and W_v·W_oᵀ fold into per-head (d, d) matrices, so one batched matmul turns
    the collapsed rows into the query-side matrix A = K̃·W_q/√dh and the output matrix Ṽ·W_oᵀ
    (B, H, p, d) each. (4) The logit convolution is linear in the queries:
    conv(S)[i, o] = Σ_r Σ_c S[i+r−h/2, c]·band[r, c, o] = Σ_r h[i+r−h/2]·(Σ_c A[c]·band[r, c, o]),
    so logits and convolution are ONE product of the per-jet (H·p, h_max·d) matrix G with the
    h_max row-shifted copies of h (h_max·d, n); the conv bias, and −inf for partitions without a
    real particle, ride in as the product's added term. (5) The softmax runs over an outer axis
    of (B, H, p, n) (PyTorch's softmax over a size-4 inner axis is ~10× slower). (6) Attention ×
    Ṽ and the out-projection are one batched matmul with the (H·p, d) output matrix. (7) Empty
    partitions: one product of a 0/1 membership matrix with the mask counts real particles.
    Weight-only folds are cached between calls when no gradient is needed (`cached_derivation`).
    Under a TorchScript trace (ONNX export) two steps take ONNX Runtime's fast forms: the shifted
    copies are summed by one constant grouped Conv after the product (ONNX has no unfold), and the
    softmax over p is written out (ORT's Softmax node runs a size-4 axis row by row, ~10x slower).
    Measured in benchmarks/bench_latency.py and `saltjet bench`.
    """

    # batch × slots from which `forward` computes the logits, then the convolution (one Conv1d), instead
    # of the single shifted product: measured with benchmarks/bench_latency.py (see the notes above)
    LARGE_BATCH_SLOTS = 4096

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        n_particles: int,
        partitions: int,
        conv_heights: tuple[int, ...] = (1, 3, 5),
        conv_mode: str = "shared",
        dropout: float = 0.0,
    ):
        super().__init__(d_model, n_heads, dropout)
        self.partitions = partitions
        self.block = math.ceil(n_particles / partitions)
        self.n_particles = n_particles
        std = 1.0 / math.sqrt(self.block)
        self.key_collapse = nn.Parameter(torch.randn(n_heads, partitions, self.block) * std)
        self.value_collapse = nn.Parameter(torch.randn(n_heads, partitions, self.block) * std)
        self.conv = None if conv_mode == "none" else LogitConv(partitions, tuple(conv_heights), conv_mode, n_heads)

    def collapse(self, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """k, v: (B, H, n, dh), mask (B, n) -> K̃, Ṽ (B, H, p, dh), padded slots excluded."""
        b, h, n, dh = k.shape
        kv = torch.stack([k, v]).masked_fill(~mask[None, :, None, :, None], 0.0)
        kv = F.pad(kv, (0, 0, 0, self.padding(n))).view(2, b, h, self.partitions, self.block, dh)
        weights = torch.stack([self.key_collapse, self.value_collapse])
        collapsed = torch.einsum("sbhpld,shpl->sbhpd", kv, weights)
        return collapsed[0], collapsed[1]

    def padding(self, n: int) -> int:
        """Zero slots that complete n ≤ n_particles slots to p·L (the last partitions may be cut short
        when trailing all-padding slots were trimmed: `saltjet.models.layers.trim_padding`)."""
        return self.partitions * self.block - n

    def occupied(self, mask: torch.Tensor) -> torch.Tensor:
        """mask (B, n) -> (B, p) bool: partitions holding at least one real particle."""
        pad = self.padding(static_size(mask, 1))
        if not (isinstance(pad, int) and pad == 0):  # (under torch.fx, pad is a proxy)
            mask = F.pad(mask, (0, pad))
        return mask.view(-1, self.partitions, self.block).any(dim=-1)

    def logits(self, h: torch.Tensor, mask: torch.Tensor, convolve: bool = True, bias=None) -> torch.Tensor:
        """Attention logits before the softmax, (B, H, n, p); for inspection and plots."""
        q, k, v = self.split_qkv(h)
        k_tilde, _ = self.collapse(k, v, mask)
        return self._logits(q, k_tilde, mask, convolve, bias)

    def _logits(self, q, k_tilde, mask, convolve: bool, bias=None) -> torch.Tensor:
        s = (q @ k_tilde.transpose(-1, -2)) * (self.d_head**-0.5)
        s = s.masked_fill(~mask[:, None, :, None], 0.0)
        if convolve and self.conv is not None:
            s = self.conv(s)
        if bias is not None:  # (B, H·p, n) -> (B, H, n, p), added after the convolution
            s = s + bias.view(s.shape[0], self.n_heads, self.partitions, -1).transpose(-1, -2)
        return s.masked_fill(~self.occupied(mask)[:, None, None, :], EXCLUDED)

    def forward(self, h: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """h: (B, n, d), mask: (B, n) -> (B, n, d). Same function as `forward_reference`, refactored
        for speed (see the class notes): logits and logit convolution in one batched product.

        bias: optional (B, H·p, n) added to the logits after the convolution, before the softmax
        (SAL-T-pair's partition-pair bias, `saltjet.models.pairs`); it rides in the added term."""
        n, d = static_size(h, 1), static_size(h, 2)
        heads, parts = self.n_heads, self.partitions
        hp = heads * parts
        w = self.folded_weights()
        full = isinstance(n, int) and n == self.n_particles  # n is a proxy under torch.fx
        collapse, members = (w["collapse_n"], w["members_n"]) if full else (w["collapse"][:, :n], w["members"][:, :n])
        hm = zero_padded_rows(h, mask)  # by selection: whatever a padded row held
        collapsed = torch.matmul(collapse, hm)  # (B, 2·H·p, d): K and V rows collapsed per partition
        folded = torch.matmul(collapsed.view(-1, 2, heads, parts, d), w["kv"])  # (B, 2, H, p, d)
        # K and V halves (B, 1, H, p, d) each: split, not indexed, so that ONNX has no Squeeze nodes
        folded_k, folded_v = folded.split(1, dim=1)
        # added term (B, H·p, 1): conv bias, or −inf where a partition holds no real particle
        # (real particles counted per partition by one product with the 0/1 membership matrix)
        count = torch.matmul(members, mask.unsqueeze(-1).to(h.dtype))  # (B, H·p, 1)
        added = torch.where(count > 0, w["bias"], EXCLUDED)
        if bias is not None:
            added = added + bias  # (B, H·p, n)
        if self.conv is None:
            logits = torch.baddbmm(added, folded_k.reshape(-1, hp, d), hm.transpose(1, 2))  # (B, H·p, n)
        elif self._large(h, n):
            # large batches: the logits (B, H·p, n), then the folded convolution as one Conv1d over n
            # (fewer FLOPs than the shifted product; at this size arithmetic, not dispatch, dominates)
            s = torch.bmm(folded_k.reshape(-1, hp, d), hm.transpose(1, 2))  # padded columns are 0
            conv = w["conv1d"]
            if self.conv.channels == 1:  # shared filters: heads into the batch, a plain Conv1d
                s = F.conv1d(s.view(-1, parts, n), conv, padding=self.conv.h_max // 2).view(-1, hp, n)
            else:
                s = F.conv1d(s, conv, padding=self.conv.h_max // 2, groups=heads)
            logits = s + added
        elif torch.jit.is_tracing():  # ONNX: no unfold; shift the product's rows with one constant Conv
            h_max = self.conv.h_max
            rows = torch.matmul(w["band"], folded_k).reshape(-1, hp * h_max, d)  # (B, H·p·h_max, d)
            shifted = torch.matmul(rows, hm.transpose(1, 2))  # (B, H·p·h_max, n)
            logits = F.conv1d(shifted, w["shift"], padding=h_max // 2, groups=hp) + added
        else:
            h_max = self.conv.h_max
            g = torch.matmul(w["band"], folded_k).reshape(-1, hp, h_max * d)  # (B, H·p, h_max·d)
            logits = torch.baddbmm(added, g, row_windows(hm, h_max))  # (B, H·p, n)
        logits = logits.view(-1, heads, parts, n)
        if torch.jit.is_tracing():  # ONNX Runtime's Softmax node runs a size-p axis row by row (slow):
            # written out over the outer p axis it is five streaming nodes
            e = torch.exp(logits - logits.amax(dim=2, keepdim=True))
            attn = e / e.sum(dim=2, keepdim=True)
        else:  # PyTorch's softmax is ~10x slower over a size-p last axis: run it over p as an outer axis
            attn = torch.softmax(logits, dim=2)
        attn = attn.view(-1, hp, n).transpose(1, 2)  # (B, n, H·p)
        if self.training and self.attn_drop.p:
            attn = self.attn_drop(attn)
        # attention × Ṽ and the out-projection: (B, n, H·p) @ (B, H·p, d) + bias
        return torch.baddbmm(self.proj.bias, attn, folded_v.reshape(-1, hp, d))

    def _large(self, h: torch.Tensor, n) -> bool:
        """Eager, with batch × slots ≥ LARGE_BATCH_SLOTS (never under a trace: sizes are symbolic)."""
        slots = static_size(h, 0) * n
        return isinstance(slots, int) and not torch.jit.is_tracing() and slots >= self.LARGE_BATCH_SLOTS

    def folded_weights(self) -> dict[str, torch.Tensor]:
        """Weight-only tensors `forward` uses (cached while the weights stay the same):

        collapse (2·H·p, p·L): entry [(s, h, c), c·L + l] = weight[s][h, c, l], zero outside
        partition c (s = K, V); collapse_n: its first n_particles columns, contiguous;
        kv (2, H, d, d): W_kᵀ·W_q/√dh and W_vᵀ·W_oᵀ per head; band (C, p·h_max, p): the folded
        convolution, row (o, r), column c = kernel[r, c → o] (None without convolution);
        bias (H·p, 1): the convolution bias per output logit (zeros without convolution);
        members (H·p, p·L): 1 where slot j lies in partition o, for every head (members_n: first n);
        shift (H·p, h_max, h_max): identity kernels, out[g, i] = Σ_r in[(g, r), i + r − h_max//2].
        """
        return cached_derivation(self, "_folded", self._weights, self._fold)

    def _weights(self) -> list[torch.Tensor]:
        """The parameters `_fold` reads, fetched through the `_parameters` dicts (fast)."""
        modules, params = self._modules, self._parameters
        out = [modules["qkv"]._parameters["weight"], modules["proj"]._parameters["weight"],
               params["key_collapse"], params["value_collapse"]]
        if modules.get("conv") is not None:  # conv_mode "none": a plain None attribute
            for conv in modules["conv"]._modules["convs"]._modules.values():
                out += [conv._parameters["weight"], conv._parameters["bias"]]
        return out

    def _fold(self) -> dict[str, torch.Tensor]:
        heads, parts, dh = self.n_heads, self.partitions, self.d_head
        d = heads * dh
        w_q, w_k, w_v = self.qkv.weight.view(3, heads, dh, d).unbind(0)  # (H, dh, d) each
        w_o = self.proj.weight.view(d, heads, dh).permute(1, 2, 0)  # (H, dh, d_out)
        kv = torch.stack([torch.matmul(w_k.transpose(1, 2), w_q) * dh**-0.5, torch.matmul(w_v.transpose(1, 2), w_o)])
        weights = torch.stack([self.key_collapse, self.value_collapse])  # (2, H, p, L)
        eye = torch.eye(parts, dtype=weights.dtype, device=weights.device)
        collapse = (weights.unsqueeze(-2) * eye[:, :, None]).reshape(2 * heads * parts, parts * self.block)
        members = eye.repeat_interleave(self.block, dim=1).repeat(heads, 1)  # (H·p, p·L)
        out = {"collapse": collapse, "collapse_n": collapse[:, : self.n_particles].contiguous(), "kv": kv,
               "members": members, "members_n": members[:, : self.n_particles].contiguous()}
        if self.conv is None:
            out.update(band=None, bias=torch.zeros(heads * parts, 1, dtype=kv.dtype, device=kv.device))
        else:
            matrices, bias = self.conv.band_matrices()  # (C, h_max, p_in, p_out), (C,)
            out["band"] = matrices.permute(0, 3, 1, 2).reshape(self.conv.channels, -1, parts)
            out["bias"] = bias.view(-1, 1).expand(heads, parts).reshape(heads * parts, 1)
            h_max = self.conv.h_max
            # (C·p_out, p_in, h_max): out[o, i] = Σ_c Σ_r kernel[o, c, r] · logits[c, i + r − h_max//2]
            out["conv1d"] = matrices.permute(0, 3, 2, 1).reshape(-1, parts, h_max).contiguous()
            out["shift"] = torch.eye(h_max, dtype=kv.dtype, device=kv.device).expand(heads * parts, h_max, h_max).contiguous()
        return out

    def forward_reference(self, h: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """The literal formulation (Q, K, V for every particle, collapse, logits, convolution,
        [+ bias], softmax, ×Ṽ, merge heads, projection); `forward` must equal it. h: (B, n, d) -> (B, n, d)."""
        q, k, v = self.split_qkv(h)
        k_tilde, v_tilde = self.collapse(k, v, mask)
        attn = torch.softmax(self._logits(q, k_tilde, mask, convolve=True, bias=bias), dim=-1)
        return self.merge_heads(self.attn_drop(attn) @ v_tilde)


class LinformerAttention(_MultiHead):
    """Linformer: K̃ = Eᵀ K, Ṽ = Fᵀ V with learned per-head E, F (H, n, k); padded slots zeroed."""

    def __init__(self, d_model: int, n_heads: int, n_particles: int, proj_dim: int, dropout: float = 0.0):
        super().__init__(d_model, n_heads, dropout)
        std = 1.0 / math.sqrt(n_particles)
        self.key_proj = nn.Parameter(torch.randn(n_heads, n_particles, proj_dim) * std)
        self.value_proj = nn.Parameter(torch.randn(n_heads, n_particles, proj_dim) * std)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        q, k, v = self.split_qkv(zero_padded_rows(h, mask))  # zero keys/values at padded slots
        n = k.shape[2]  # n ≤ n_particles: trailing all-padding slots may have been trimmed
        k_tilde = torch.einsum("bhnd,hnk->bhkd", k, self.key_proj[:, :n])
        v_tilde = torch.einsum("bhnd,hnk->bhkd", v, self.value_proj[:, :n])
        attn = torch.softmax((q @ k_tilde.transpose(-1, -2)) * (self.d_head**-0.5), dim=-1)
        return self.merge_heads(self.attn_drop(attn) @ v_tilde)


class FullAttention(_MultiHead):
    """Full softmax attention with PyTorch's fused `scaled_dot_product_attention`; padded keys masked.
    Padded rows are zeroed first: SDPA adds its -inf mask to the logits and multiplies a zero
    weight by the value, and both give NaN for a NaN key or value."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__(d_model, n_heads, dropout)
        self.dropout = dropout

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        q, k, v = self.split_qkv(zero_padded_rows(h, mask))
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask[:, None, None, :], dropout_p=self.dropout if self.training else 0.0
        )
        return self.merge_heads(out)
