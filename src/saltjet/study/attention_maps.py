"""What each tagger's (first) attention layer does on one jet, for the paper's Figs. 1, 4 and 5.

Maps are read from the trained modules without changing them:
- SAL-T: `PartitionedAttention.logits(h, mask, convolve=False/True)`, (B, H, n, p) before the softmax.
- Linformer: softmax(Q·(EᵀK)ᵀ/√dh) from the module's fused Q/K/V and its projections E: (B, H, n, k).
- Transformer: softmax(Q·Kᵀ/√dh) over real keys: (B, H, n, n).
h, the input of the first block, is `model.embed(model.scaler(x))`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from saltjet.data.sorting import sort_particles


@torch.no_grad()
def first_block_input(model, x: torch.Tensor) -> torch.Tensor:
    """x: (B, n, F) physical features -> h: (B, n, d), the first encoder block's input."""
    return model.embed(model.scaler(x))


@torch.no_grad()
def attention_maps(model, x: torch.Tensor, mask: torch.Tensor) -> dict[str, np.ndarray]:
    """The first block's attention of `model` on jets x (B, n, F), mask (B, n).

    Returns a dict of (B, H, n, m) arrays: SAL-T {"logits_before_conv", "logits_after_conv"};
    Linformer {"weights"} (m = k); Transformer {"weights"} (m = n, padded keys get weight 0).
    """
    model = model.eval()
    attn = model.blocks[0].attn
    h = first_block_input(model, x)
    if hasattr(attn, "logits"):
        return {"logits_before_conv": attn.logits(h, mask, convolve=False).numpy(),
                "logits_after_conv": attn.logits(h, mask, convolve=True).numpy()}
    q, k, v = attn.split_qkv(h)
    scale = 1.0 / math.sqrt(attn.d_head)
    if hasattr(attn, "key_proj"):
        k_tilde = torch.einsum("bhnd,hnk->bhkd", k * mask[:, None, :, None].to(k.dtype), attn.key_proj)
        return {"weights": torch.softmax(q @ k_tilde.transpose(-1, -2) * scale, dim=-1).numpy()}
    s = (q @ k.transpose(-1, -2) * scale).masked_fill(~mask[:, None, None, :], float("-inf"))
    return {"weights": torch.softmax(s, dim=-1).numpy()}


def partition_index(pt, eta_rel, phi_rel, mask, by: str, n_slots: int, partitions: int) -> np.ndarray:
    """Partition of every particle of one jet after sorting by `by`, as SAL-T cuts the sequence.

    Args:
        pt, eta_rel, phi_rel, mask: (n,) arrays of one jet.
        n_slots: the model's particle slots n; blocks are ⌈n / p⌉ long.
    Returns:
        (n,) int, the partition of each particle in the jet's original order; -1 for padding.
    """
    perm = sort_particles(pt[None], eta_rel[None], phi_rel[None], mask[None], by=by)[0]
    rank = np.empty_like(perm)
    rank[perm] = np.arange(len(perm))
    part = rank // math.ceil(n_slots / partitions)
    return np.where(mask, part, -1)
