"""Synthetic jets: seconds-fast toy `ParticleData` with learnable class differences (`toy_jets`), and
random kT-sorted model inputs for timing, tracing and export (`random_jets`).

Not physics: for tests, benchmarks and smoke runs where Pythia generation would take minutes.
Class c has a mean multiplicity growing with c, a pT scale and an angular width that change with
c, so a tagger separates the classes well but not perfectly. Particles are in random (file) order.
"""

from __future__ import annotations

import numpy as np
import torch

from saltjet.data.particles import ParticleData
from saltjet.data.sorting import apply_permutation, sort_particles


def toy_jets(n_jets: int, n_classes: int = 5, n_slots: int = 150, seed: int = 0) -> ParticleData:
    """`n_jets` balanced toy jets.

    Returns:
        ParticleData with x (n_jets, n_slots, 3) = (pt [GeV], eta_rel, phi_rel), zero-padded,
        mask (n_jets, n_slots), y (n_jets,) cycling through classes "c0".."c{n_classes-1}".
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n_jets) % n_classes
    y = y[rng.permutation(n_jets)]
    frac = y / max(n_classes - 1, 1)  # 0..1 per jet
    mean_mult = 0.15 * n_slots + 0.35 * n_slots * frac
    mult = np.clip(rng.poisson(mean_mult), 1, n_slots)
    mask = np.arange(n_slots)[None, :] < mult[:, None]
    pt = rng.exponential(1.0, (n_jets, n_slots)) * (40.0 / (1.0 + 2.0 * frac))[:, None] + 0.5
    width = (0.04 + 0.12 * frac)[:, None]
    eta = rng.normal(0.0, 1.0, (n_jets, n_slots)) * width
    phi = rng.normal(0.0, 1.0, (n_jets, n_slots)) * width
    x = np.stack([pt, eta, phi], axis=-1).astype(np.float32)
    x *= mask[..., None]
    # scatter the real particles over the first `mult` slots in random order (file order is not sorted)
    order = np.argsort(np.where(mask, rng.random((n_jets, n_slots)), 2.0), axis=1)
    x = np.take_along_axis(x, order[..., None], axis=1)
    mask = np.take_along_axis(mask, order, axis=1)
    return ParticleData(x, mask, y, [f"c{c}" for c in range(n_classes)], ["pt", "eta_rel", "phi_rel"],
                        kind="jets", source="toy")


MEAN_MULTIPLICITY = 65.0  # hls4ml jets average 51 (W) to 91 (g) constituents


def random_jets(batch: int, n: int, n_features: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random jets sorted by kT, padding last.

    Multiplicities are Gamma-distributed (mean 65, like hls4ml jets), clipped to 1..n; pT is
    exponential (10 GeV), Δη, Δφ normal (σ 0.15). Extra features beyond 3 are standard normal.

    Returns:
        x: (batch, n, n_features) float32 physical features (zero at padded slots), mask: (batch, n) bool.
    """
    rng = np.random.default_rng(seed)
    mult = np.clip(np.rint(rng.gamma(8.0, MEAN_MULTIPLICITY / 8.0, batch)), 1, n).astype(np.int64)
    mask = np.arange(n)[None, :] < mult[:, None]
    pt = rng.exponential(10.0, (batch, n)) * mask
    eta, phi = rng.normal(0.0, 0.15, (2, batch, n)) * mask
    perm = sort_particles(pt, eta, phi, mask, by="kt")
    feats = [pt, eta, phi] + [rng.normal(size=(batch, n)) * mask for _ in range(max(0, n_features - 3))]
    x = apply_permutation(np.stack(feats[:n_features], axis=-1), perm).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(apply_permutation(mask, perm))
