"""sort_particles: kT order against a slow per-jet reference, padding last, the other keys."""

from __future__ import annotations

import math

import numpy as np
import pytest

from saltjet.data import apply_permutation, kt, sort_particles, wrap_phi
from saltjet.errors import ConfigError, InputError


def random_physical_jets(rng, n_jets=200, n=40):
    pt = rng.exponential(20.0, (n_jets, n)) + 0.5
    eta = rng.normal(0, 0.3, (n_jets, n))
    # raw φ differences straddling ±π, as they come when the axis sits near the wrap
    phi = rng.normal(0, 0.3, (n_jets, n)) + rng.choice([0.0, 2 * math.pi, -2 * math.pi], (n_jets, n))
    counts = rng.integers(1, n + 1, n_jets)
    mask = np.arange(n)[None, :] < counts[:, None]
    # scatter the padding through the jet so the sort must move it
    for i in range(n_jets):
        mask[i] = rng.permutation(mask[i])
    return pt * mask, eta * mask, phi * mask, mask


def slow_kt_order(pt, eta, phi, mask):
    """Reference: per particle, Python math; real particles by kT descending (ties: file order)."""
    real = [j for j in range(len(pt)) if mask[j]]
    padding = [j for j in range(len(pt)) if not mask[j]]

    def key(j):
        dphi = (phi[j] + math.pi) % (2 * math.pi) - math.pi
        return -pt[j] * math.sqrt(eta[j] ** 2 + dphi**2)

    return sorted(real, key=key) + padding


def test_kt_sort_matches_slow_reference(rng):
    pt, eta, phi, mask = random_physical_jets(rng)
    perm = sort_particles(pt, eta, phi, mask, by="kt")
    for i in range(len(pt)):
        assert perm[i].tolist() == slow_kt_order(pt[i], eta[i], phi[i], mask[i])


def test_kt_uses_wrapped_delta_phi():
    # Δφ = 2π - 0.1 is physically 0.1 away: its kT must be small, not ~2π·pT
    pt = np.array([[10.0, 10.0]])
    eta = np.zeros((1, 2))
    phi = np.array([[2 * math.pi - 0.1, 0.5]])
    mask = np.ones((1, 2), bool)
    assert sort_particles(pt, eta, phi, mask, by="kt")[0].tolist() == [1, 0]
    np.testing.assert_allclose(kt(pt, eta, phi)[0], [1.0, 5.0], rtol=1e-12)
    np.testing.assert_allclose(wrap_phi(np.array([3.5, -3.5])), [3.5 - 2 * math.pi, 2 * math.pi - 3.5])


@pytest.mark.parametrize("by", ["kt", "pt", "deltar", "none", "random"])
def test_padding_always_last(rng, by):
    pt, eta, phi, mask = random_physical_jets(rng)
    perm = sort_particles(pt, eta, phi, mask, by=by, rng=0)
    sorted_mask = apply_permutation(mask, perm)
    counts = mask.sum(1)
    expected = np.arange(mask.shape[1])[None, :] < counts[:, None]
    assert np.array_equal(sorted_mask, expected)
    # a permutation: every slot exactly once
    assert np.array_equal(np.sort(perm, axis=1), np.broadcast_to(np.arange(mask.shape[1]), perm.shape))


def test_pt_descending_deltar_ascending_none_keeps_file_order(rng):
    pt, eta, phi, mask = random_physical_jets(rng, n_jets=50)
    dr = np.hypot(eta, wrap_phi(phi))
    for i, p in enumerate(sort_particles(pt, eta, phi, mask, by="pt")):
        real = p[: mask[i].sum()]
        assert np.all(np.diff(pt[i, real]) <= 0)
    for i, p in enumerate(sort_particles(pt, eta, phi, mask, by="deltar")):
        real = p[: mask[i].sum()]
        assert np.all(np.diff(dr[i, real]) >= 0)
    for i, p in enumerate(sort_particles(pt, eta, phi, mask, by="none")):
        assert p[: mask[i].sum()].tolist() == np.flatnonzero(mask[i]).tolist()


def test_random_is_seeded(rng):
    pt, eta, phi, mask = random_physical_jets(rng, n_jets=20)
    a = sort_particles(pt, eta, phi, mask, by="random", rng=7)
    b = sort_particles(pt, eta, phi, mask, by="random", rng=7)
    c = sort_particles(pt, eta, phi, mask, by="random", rng=8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_bad_sort_inputs():
    with pytest.raises(ConfigError, match="unknown sort key"):
        sort_particles(np.ones((1, 2)), np.ones((1, 2)), np.ones((1, 2)), np.ones((1, 2), bool), by="eta")
    with pytest.raises(InputError, match="must both be"):
        sort_particles(np.ones((1, 2)), np.ones((1, 2)), np.ones((1, 2)), np.ones((1, 3), bool))
    with pytest.raises(InputError, match="NaN"):
        sort_particles(np.array([[np.nan, 1.0]]), np.ones((1, 2)), np.ones((1, 2)), np.ones((1, 2), bool))
