"""The physics floor: boosted trees on jet observables, scored by the shared metrics."""

from __future__ import annotations

import numpy as np
import pytest

from saltjet.data.particles import ParticleData
from saltjet.errors import DataError
from saltjet.evaluation.floor import FloorConfig, evaluate_floor, fit_floor, predict_floor


def _jets(n_jets: int, n_classes: int, seed: int) -> ParticleData:
    """Class c jets have about 10 + 15·c particles: multiplicity alone separates the classes."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n_jets)
    mult = np.clip(10 + 15 * y + rng.integers(-3, 4, n_jets), 1, 60)
    mask = np.arange(60)[None, :] < mult[:, None]
    pt = rng.exponential(20.0, mask.shape) * mask + mask * 0.1
    eta, phi = rng.normal(0, 0.2, (2, *mask.shape)) * mask
    names = ["g", "q", "W", "Z", "t"][:n_classes]
    return ParticleData(np.stack([pt, eta, phi], -1), mask, y, names)


@pytest.mark.parametrize("n_classes", [2, 5])
def test_floor_learns_separable_observables(n_classes):
    train, test = _jets(600, n_classes, 0), _jets(300, n_classes, 1)
    report, pred = evaluate_floor(train, test, FloorConfig(max_iter=50))
    assert report["accuracy"] > 0.9
    assert report["n_jets"] == 300 and report["model"] == "floor"
    assert pred["probs"].shape == ((300,) if n_classes == 2 else (300, n_classes))
    assert sum(b["n"] for b in report["multiplicity_bins"]) == 300
    if n_classes == 2:
        assert "rejection_at_eff_0.3" in report


def test_floor_on_noise_is_near_chance_and_seeded():
    rng = np.random.default_rng(3)
    train = _jets(400, 2, 0)
    test = _jets(400, 2, 1)
    train.y = rng.integers(0, 2, len(train))  # labels unrelated to the jets
    report, _ = evaluate_floor(train, test, FloorConfig(max_iter=30))
    assert report["accuracy"] < 0.7
    a = predict_floor(fit_floor(train, FloorConfig(max_iter=30, seed=1)), test)
    b = predict_floor(fit_floor(train, FloorConfig(max_iter=30, seed=1)), test)
    np.testing.assert_array_equal(a, b)


def test_floor_bad_input():
    train = _jets(50, 2, 0)
    one_class = train.subset(train.y == 0)
    with pytest.raises(DataError):
        fit_floor(one_class)
    other = ParticleData(train.x, train.mask, train.y, ["QCD", "t"])
    with pytest.raises(DataError):
        evaluate_floor(train, other)
