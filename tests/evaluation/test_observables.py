"""Jet observables: vectorised code against a slow per-jet, per-particle reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from saltjet.data.particles import ParticleData
from saltjet.errors import InputError
from saltjet.evaluation.observables import OBSERVABLES, jet_observables, observables_matrix


def _random_jets(n_jets=40, n=30, seed=0):
    rng = np.random.default_rng(seed)
    mult = rng.integers(1, n + 1, n_jets)
    mult[0] = 1  # a one-particle jet: zero mass, zero e2
    mask = np.arange(n)[None, :] < mult[:, None]
    # Shuffle the slots of half the jets so padding is not always last.
    for i in range(0, n_jets, 2):
        mask[i] = mask[i, rng.permutation(n)]
    pt = rng.exponential(20.0, (n_jets, n)) * mask
    eta = rng.normal(0, 0.3, (n_jets, n)) * mask
    phi = rng.normal(0, 0.3, (n_jets, n)) * mask
    phi[3, mask[3]] += 2 * math.pi  # unwrapped φ must give the same answers
    # Garbage in padded slots must be ignored.
    pt = np.where(mask, pt, 999.0)
    return pt, eta, phi, mask


def _reference(pt, eta, phi, mask):
    """One jet at a time, one particle at a time, plain Python."""
    out = {name: [] for name in OBSERVABLES}
    for j in range(len(pt)):
        parts = [(pt[j, i], eta[j, i], (phi[j, i] + math.pi) % (2 * math.pi) - math.pi)
                 for i in range(pt.shape[1]) if mask[j, i]]
        e = sum(p * math.cosh(h) for p, h, _ in parts)
        px = sum(p * math.cos(f) for p, _, f in parts)
        py = sum(p * math.sin(f) for p, _, f in parts)
        pz = sum(p * math.sinh(h) for p, h, _ in parts)
        jet_pt = math.hypot(px, py)
        s = sum(p for p, _, _ in parts)
        dr = [math.hypot(h, f) for _, h, f in parts]
        out["mass"].append(math.sqrt(max(e * e - px * px - py * py - pz * pz, 0.0)))
        out["multiplicity"].append(len(parts))
        out["girth"].append(sum(p * d for (p, _, _), d in zip(parts, dr)) / jet_pt)
        out["ptd"].append(math.sqrt(sum(p * p for p, _, _ in parts)) / s)
        out["lead_frac"].append(max(p for p, _, _ in parts) / s)
        out["width2"].append(sum(p * d * d for (p, _, _), d in zip(parts, dr)) / s)
        e2 = 0.0
        for a in range(len(parts)):
            for b in range(a + 1, len(parts)):
                dphi = (parts[a][2] - parts[b][2] + math.pi) % (2 * math.pi) - math.pi
                e2 += parts[a][0] * parts[b][0] * math.hypot(parts[a][1] - parts[b][1], dphi) / s**2
        out["e2"].append(e2)
    return {k: np.array(v) for k, v in out.items()}


def test_observables_match_slow_reference():
    pt, eta, phi, mask = _random_jets()
    fast = jet_observables(pt, eta, phi, mask)
    slow = _reference(pt, eta, phi, mask)
    for name in OBSERVABLES:
        assert fast[name].shape == (len(pt),)
        np.testing.assert_allclose(fast[name], slow[name], rtol=2e-5, atol=1e-6, err_msg=name)
    assert fast["mass"][0] == pytest.approx(0.0, abs=1e-6) and fast["e2"][0] == 0.0


def test_mass_from_relative_coordinates_equals_absolute():
    """Boosting along z and rotating in φ leaves the massless-constituent mass unchanged."""
    pt, eta, phi, mask = _random_jets(seed=1)
    rel = jet_observables(pt, eta, phi, mask)["mass"]
    shifted = jet_observables(pt, eta + 1.3, phi - 0.7, mask)["mass"]
    np.testing.assert_allclose(rel, shifted, rtol=1e-9, atol=1e-5)


def test_four_momentum_columns_are_used_for_the_mass():
    pt, eta, phi, mask = _random_jets(seed=2)
    pt = np.where(mask, pt, 0.0)
    m = 0.5  # give every particle a mass: the jet mass must grow
    e = np.sqrt((pt * np.cosh(eta)) ** 2 + m**2) * mask
    cols = [e, pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)]
    x = np.stack([pt, eta, phi, *cols], axis=-1)
    data = ParticleData(x, mask, np.zeros(len(pt)), ["a"], ["pt", "eta_rel", "phi_rel", "e", "px", "py", "pz"])
    massive = observables_matrix(data, ["mass"])[:, 0]
    massless = jet_observables(pt, eta, phi, mask)["mass"]
    multi = mask.sum(1) > 1
    assert np.all(massive[multi] > massless[multi])
    assert np.all(np.abs(massive[~multi] - m) < 1e-3)


def test_observables_matrix_and_bad_input():
    pt, eta, phi, mask = _random_jets(seed=3)
    data = ParticleData(np.stack([pt, eta, phi], -1), mask, np.zeros(len(pt)), ["a"])
    mat = observables_matrix(data)
    assert mat.shape == (len(pt), len(OBSERVABLES)) and np.isfinite(mat).all()
    np.testing.assert_array_equal(mat[:, OBSERVABLES.index("multiplicity")], mask.sum(1))
    with pytest.raises(InputError):
        observables_matrix(data, ["nonsense"])
    with pytest.raises(InputError):
        jet_observables(pt[:, :3], eta, phi, mask)
    clouds = ParticleData(np.stack([pt, eta, phi], -1), mask, np.zeros(len(pt)), ["a"], ["x", "y", "z"], kind="pointcloud")
    with pytest.raises(InputError):
        observables_matrix(clouds)
