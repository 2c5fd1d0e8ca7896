"""Fit jets into a fixed number of particle slots without changing the particles' file order."""

from __future__ import annotations

import numpy as np


def fit_slots(x: np.ndarray, mask: np.ndarray, n: int, pt_column: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """Pad or truncate padded jets to `n` slots, keeping each jet's highest-pT real particles.

    Real particles stay in their file order; padding follows them. Jets whose real particles all
    sit in the first `n` slots are sliced, not reordered.

    Args:
        x: (c, m, F) features, pT in column `pt_column`, zeros in padded slots.
        mask: (c, m) bool, True = real particle.
        n: slots wanted.
    Returns:
        x: (c, n, F) with zeros in padded slots, mask: (c, n) bool, and the number of jets that had
        more than `n` real particles (truncated).
    """
    c, m, f = x.shape
    if n >= m:
        pad = n - m
        if pad:
            x = np.concatenate([x, np.zeros((c, pad, f), dtype=x.dtype)], axis=1)
            mask = np.concatenate([mask, np.zeros((c, pad), dtype=bool)], axis=1)
        return x, mask, 0
    spill = mask[:, n:].any(axis=1)
    x_out, mask_out = x[:, :n].copy(), mask[:, :n].copy()
    if not spill.any():
        return x_out, mask_out, 0
    xs, ms = x[spill], mask[spill]
    truncated = int((ms.sum(axis=1) > n).sum())
    # The n highest-pT real particles (padding ranks last), then back into file order.
    by_pt = np.argsort(np.where(ms, -xs[..., pt_column], np.inf), axis=1, kind="stable")[:, :n]
    kept_real = np.take_along_axis(ms, by_pt, axis=1)
    order = np.sort(np.where(kept_real, by_pt, by_pt + m), axis=1) % m
    mask_fit = np.take_along_axis(ms, order, axis=1)
    x_fit = np.take_along_axis(xs, order[..., None], axis=1)
    x_out[spill] = np.where(mask_fit[..., None], x_fit, 0)
    mask_out[spill] = mask_fit
    return x_out, mask_out, truncated
