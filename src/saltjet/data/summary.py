"""Summary statistics of a `ParticleData` set, as printed by `saltjet inspect`."""

from __future__ import annotations

import numpy as np

from saltjet.data.particles import ParticleData

MAX_MEDIAN_PARTICLES = 2_000_000


def summarize(data: ParticleData, fmt: str | None = None, seed: int = 0) -> dict:
    """Counts, multiplicities and per-feature ranges over real particles.

    Args:
        data: x (N, n, F), mask (N, n), y (N,).
        fmt: the format name to report (default: `data.source`).
        seed: for the random subset used for medians above `MAX_MEDIAN_PARTICLES` particles
            (min and max are always exact).
    Returns:
        A JSON-ready dict: format, kind, n_jets, n_slots, class_names, class_counts (name -> count),
        max_particles, mean_multiplicity, feature_names, feature_ranges (name -> min/median/max).
    """
    mult = data.multiplicity
    counts = np.bincount(data.y, minlength=len(data.class_names))
    real = data.x[data.mask]  # (P, F)
    ranges = {}
    if len(real):
        sample = real
        if len(real) > MAX_MEDIAN_PARTICLES:
            pick = np.random.default_rng(seed).choice(len(real), MAX_MEDIAN_PARTICLES, replace=False)
            sample = real[pick]
        lo, hi, med = real.min(axis=0), real.max(axis=0), np.median(sample, axis=0)
        ranges = {name: {"min": float(lo[i]), "median": float(med[i]), "max": float(hi[i])}
                  for i, name in enumerate(data.feature_names)}
    return {
        "format": fmt or data.source,
        "kind": data.kind,
        "n_jets": int(len(data)),
        "n_slots": int(data.n_particles),
        "class_names": list(data.class_names),
        "class_counts": {name: int(c) for name, c in zip(data.class_names, counts)},
        "max_particles": int(mult.max(initial=0)),
        "mean_multiplicity": float(mult.mean()) if len(mult) else 0.0,
        "feature_names": list(data.feature_names),
        "feature_ranges": ranges,
    }
