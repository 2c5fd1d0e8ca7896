"""Toy jets: seconds-fast synthetic `ParticleData` with learnable class differences.

Not physics: for tests, benchmarks and smoke runs where Pythia generation would take minutes.
Class c has a mean multiplicity growing with c, a pT scale and an angular width that change with
c, so a tagger separates the classes well but not perfectly. Particles are in random (file) order.
"""

from __future__ import annotations

import numpy as np

from saltjet.data.particles import ParticleData


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
