"""Particle ordering: the per-jet permutation that SAL-T's contiguous partitions rely on.

SAL-T cuts the particle sequence into contiguous blocks, so the order carries physics. The method's
order is kT = pT·ΔR descending (hard, wide-angle particles first). Sorting is a data transform
applied before the model, never inside it, so that a trigger deployment can do it upstream.
"""

from __future__ import annotations

import numpy as np

from saltjet.data.kinematics import delta_r
from saltjet.errors import ConfigError, InputError

SORT_KEYS = ("kt", "pt", "deltar", "none", "random")


def sort_by_key(key: np.ndarray, mask: np.ndarray, descending: bool = True) -> np.ndarray:
    """Permutation ordering each row's real entries by `key`, padding always last.

    Args:
        key: (N, n) sort key; values at padded slots are ignored.
        mask: (N, n) bool, True = real particle.
        descending: largest key first.
    Returns:
        perm: (N, n) int64 with ``x[i, perm[i]]`` the sorted jet ``i``. Ties keep file order.
    """
    key = np.asarray(key, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if key.shape != mask.shape or key.ndim != 2:
        raise InputError(f"sort key {key.shape} and mask {mask.shape} must both be (N, n)")
    signed = -key if descending else key
    # +inf sends padding behind every real value; NaN keys would scatter, so refuse them.
    if np.isnan(signed[mask]).any():
        raise InputError("sort key has NaN at real particles")
    signed = np.where(mask, signed, np.inf)
    return np.argsort(signed, axis=1, kind="stable")


def sort_particles(
    pt: np.ndarray,
    eta_rel: np.ndarray,
    phi_rel: np.ndarray,
    mask: np.ndarray,
    by: str = "kt",
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Per-jet permutation of particles by a physics key, padding last.

    Args:
        pt: (N, n) transverse momentum in GeV (physical, not normalised).
        eta_rel: (N, n) η relative to the jet axis.
        phi_rel: (N, n) φ relative to the jet axis (wrapped into [-π, π) here).
        mask: (N, n) bool, True = real particle.
        by: "kt" (pT·ΔR, descending: the SAL-T method), "pt" (descending), "deltar" (ascending:
            core first), "none" (file order, padding moved last) or "random" (seeded shuffle).
        rng: seed or Generator for "random".
    Returns:
        perm: (N, n) int64; apply with `apply_permutation`.
    """
    if by not in SORT_KEYS:
        raise ConfigError(f"unknown sort key {by!r}; choose from {', '.join(SORT_KEYS)}")
    mask = np.asarray(mask, dtype=bool)
    if by == "kt":
        return sort_by_key(np.asarray(pt) * delta_r(eta_rel, phi_rel), mask, descending=True)
    if by == "pt":
        return sort_by_key(pt, mask, descending=True)
    if by == "deltar":
        return sort_by_key(delta_r(eta_rel, phi_rel), mask, descending=False)
    return sort_without_key(mask, by, rng)


def sort_without_key(mask: np.ndarray, by: str, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """The orders that ignore the particles' features, shared by jets and point clouds.

    Args:
        mask: (N, n) bool, True = real particle.
        by: "none" (file order, padding moved last) or "random" (seeded shuffle, padding last).
        rng: seed or Generator for "random".
    Returns:
        perm: (N, n) int64.
    """
    if by == "none":
        return sort_by_key(np.zeros(mask.shape), mask)
    if by != "random":
        raise ConfigError(f"sort_without_key takes 'none' or 'random', got {by!r}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return sort_by_key(gen.random(mask.shape), mask)


def apply_permutation(array: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Reorder each jet: `array` (N, n, ...) by `perm` (N, n) along axis 1."""
    index = perm.reshape(perm.shape + (1,) * (array.ndim - 2))
    return np.take_along_axis(array, index, axis=1)
