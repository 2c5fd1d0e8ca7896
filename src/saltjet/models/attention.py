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

from saltjet.models.layers import EXCLUDED


def zero_padded_rows(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """h (B, n, d) with padded slots set to 0 by selection; q, k, v of those slots are then 0 too
    (the fused Q/K/V projection has no bias)."""
    return h.masked_fill(~mask.unsqueeze(-1), 0.0)


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
    concatenated along the partition axis, times a (h_max·p, p) matrix. That is far faster than
    three tiny Conv2d calls and traces to plain matmuls for FPGA/ONNX converters.

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

    def as_conv1d(self, logits: torch.Tensor, n_heads: int) -> torch.Tensor:
        """The same map on particles-last logits: (B, H·p, n) -> (B, H·p, n), as one grouped Conv1d
        (a group per head; in-channels = input partitions, kernel positions = row offsets)."""
        b, _, n = logits.shape
        p = self.partitions
        matrix, bias = self.band_matrices()  # (C, h_max, p_in, p_out)
        # reshape with constant sizes: the TorchScript ONNX exporter needs the kernel shape static
        weight = matrix.permute(0, 3, 2, 1).reshape(self.channels, p, p, self.h_max)  # (C, p_out, p_in, h_max)
        if self.channels == 1:  # shared filters: heads into the batch, a plain Conv1d (faster than groups)
            out = F.conv1d(logits.unflatten(1, (n_heads, p)).flatten(0, 1), weight[0], bias.expand(p), padding=self.h_max // 2)
            return out.view(b, n_heads * p, n)
        weight = weight.reshape(n_heads * p, p, self.h_max)
        bias = bias.repeat_interleave(p)
        return F.conv1d(logits, weight, bias, padding=self.h_max // 2, groups=n_heads)

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

    Speed (`forward`; `forward_reference` is the literal form, equal to float rounding): with d=16
    the work is memory-bound, so `forward` minimises passes over (B, n, ·) tensors and keeps n last.
    (1) Zeroing padded rows of h zeroes q, k, v (no bias). (2) Collapse and K/V projection are both
    linear, so the collapse runs first on h, as one GEMM with the block-sparse (n, 2·H·p) weight
    matrix; K/V are then projected per jet (p rows, not n). (3) W_q and K̃ fold into one per-jet
    (H·p, d) matrix: S = that @ h, (B, H·p, n). (4) The logit convolution runs as one Conv1d over n.
    (5) The softmax runs over an outer axis (PyTorch's softmax over a size-4 inner axis is ~5× slower).
    (6) Ṽ and W_o fold into one per-jet (H·p, d) matrix: attention × Ṽ and the projection are one
    batched matmul. Measured in benchmarks/bench_models.py.
    """

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
        return F.pad(mask, (0, self.padding(mask.shape[1]))).view(mask.shape[0], self.partitions, self.block).any(dim=-1)

    def logits(self, h: torch.Tensor, mask: torch.Tensor, convolve: bool = True) -> torch.Tensor:
        """Attention logits before the softmax, (B, H, n, p); for inspection and plots."""
        q, k, v = self.split_qkv(h)
        k_tilde, _ = self.collapse(k, v, mask)
        return self._logits(q, k_tilde, mask, convolve)

    def _logits(self, q, k_tilde, mask, convolve: bool) -> torch.Tensor:
        s = (q @ k_tilde.transpose(-1, -2)) * (self.d_head**-0.5)
        s = s.masked_fill(~mask[:, None, :, None], 0.0)
        if convolve and self.conv is not None:
            s = self.conv(s)
        return s.masked_fill(~self.occupied(mask)[:, None, None, :], EXCLUDED)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """h: (B, n, d), mask: (B, n) -> (B, n, d). Same function as `forward_reference`, refactored
        for speed (see the class notes): particles on the last axis, per-jet matrices folded small."""
        b, n, d = h.shape
        heads, parts = self.n_heads, self.partitions
        # (B, d, n): particles last, so the convolution over n and the softmax over p run on
        # contiguous rows. Zero columns = zero q, k, v (the projection has no bias): masking, by
        # selection (whatever a padded column held). The in-place fill acts on a fresh copy.
        hm = h.transpose(1, 2).clone(memory_format=torch.contiguous_format).masked_fill_(~mask.unsqueeze(1), 0.0)
        w_q, w_k, w_v = self.qkv.weight.view(3, heads, self.d_head, d).unbind(0)
        # Collapse before projecting (both linear): one GEMM of hm with the block-sparse (n, 2·H·p)
        # matrix of collapse weights, then the tiny per-jet K/V projections.
        collapsed = (hm.reshape(b * d, n) @ self.collapse_matrix(n)).view(b, d, 2, heads, parts)
        k_tilde = torch.einsum("behc,hje->bhcj", collapsed[:, :, 0], w_k)  # (B, H, p, dh)
        v_tilde = torch.einsum("behc,hje->bhcj", collapsed[:, :, 1], w_v)
        # Logits S = Q·K̃ᵀ/√dh straight from hm with a per-jet (H·p, d) matrix: (B, H·p, n).
        qk = torch.einsum("hje,bhcj->bhce", w_q, k_tilde) * (self.d_head**-0.5)
        logits = torch.bmm(qk.reshape(b, heads * parts, d), hm)
        if self.conv is not None:  # the folded (h_max, p) convolution as one Conv1d over n
            logits = self.conv.as_conv1d(logits, heads)
        logits = logits.view(b, heads, parts, n)
        empty = ~self.occupied(mask)  # (B, p): no real particle, no attention
        attn = torch.softmax(logits.masked_fill_(empty[:, None, :, None], EXCLUDED), dim=2)
        # Attention × Ṽ and the output projection fold into one per-jet (H·p, d) matrix.
        w_o = self.proj.weight.view(d, heads, self.d_head)
        out_matrix = torch.einsum("bhcj,ohj->bhco", v_tilde, w_o).reshape(b, heads * parts, d)
        attn = self.attn_drop(attn).view(b, heads * parts, n)
        return torch.baddbmm(self.proj.bias, attn.transpose(1, 2), out_matrix)

    def collapse_matrix(self, n: int) -> torch.Tensor:
        """Collapse weights as one block-sparse (n, 2·H·p) matrix, columns (K/V, head, partition):
        entry [c·L + l, (s, h, c)] = weight[s][h, c, l], zero outside partition c."""
        weights = torch.stack([self.key_collapse, self.value_collapse]).permute(3, 0, 1, 2)  # (L, 2, H, p)
        eye = torch.eye(self.partitions, dtype=weights.dtype, device=weights.device)
        full = weights.unsqueeze(0) * eye[:, None, None, None, :]  # (p_row, L, 2, H, p_col)
        return full.reshape(self.partitions * self.block, -1)[:n]

    def forward_reference(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The literal formulation (Q, K, V for every particle, collapse, logits, convolution,
        softmax, ×Ṽ, merge heads, projection); `forward` must equal it. h: (B, n, d) -> (B, n, d)."""
        q, k, v = self.split_qkv(h)
        k_tilde, v_tilde = self.collapse(k, v, mask)
        attn = torch.softmax(self._logits(q, k_tilde, mask, convolve=True), dim=-1)
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
