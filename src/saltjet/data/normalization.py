"""Robust feature scaling, fitted on real particles only.

The authors' scaling: x' = (x − median) / (p95 − p5), per feature. The fitted numbers live in the
model's `InputScaler` buffers, so a saved run and its ONNX export take physical features.
"""

from __future__ import annotations

import numpy as np

from saltjet.errors import InputError

MAX_FIT_PARTICLES = 2_000_000


def fit_robust_scaling(
    x: np.ndarray, mask: np.ndarray, max_particles: int = MAX_FIT_PARTICLES, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Median and p95 − p5 of each feature over real particles.

    Args:
        x: (N, n, F) physical features.
        mask: (N, n) bool, True = real particle.
        max_particles: above this many real particles, a seeded random subset is used.
    Returns:
        center: (F,) float32 medians; scale: (F,) float32 spreads (1 where a feature is constant).
    """
    x = np.asarray(x)
    mask = np.asarray(mask, dtype=bool)
    if x.ndim != 3 or mask.shape != x.shape[:2]:
        raise InputError(f"x {x.shape} must be (N, n, F) with mask (N, n), got mask {mask.shape}")
    real = x[mask]
    if len(real) == 0:
        raise InputError("cannot fit the normalisation: no real particles")
    if len(real) > max_particles:
        real = real[np.random.default_rng(seed).choice(len(real), max_particles, replace=False)]
    if not np.isfinite(real).all():
        raise InputError("cannot fit the normalisation: features contain NaN or inf")
    p5, center, p95 = np.percentile(real, [5, 50, 95], axis=0)
    scale = p95 - p5
    scale = np.where(scale > 0, scale, 1.0)
    return center.astype(np.float32), scale.astype(np.float32)
