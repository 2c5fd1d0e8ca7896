"""train.augment=rotate (`saltjet.training.augment.rotate_reflect`): what it must change, what it must
keep, and that it is reproducible under the run's seed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from saltjet.config import TrainConfig
from saltjet.data.particles import ParticleData
from saltjet.data.pipeline import prepare
from saltjet.errors import ConfigError
from saltjet.training.augment import augment_columns, rotate_reflect

LOG = ["log_pt", "log_ptrel", "log_e", "eta_rel", "phi_rel", "delta_r"]


def log_batch(n_jets: int = 200, n_slots: int = 40, seed: int = 0):
    """Physical jets with padding, sorted by kT and turned into the log feature set by the pipeline."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, n_slots - 5, n_jets)
    mask = np.arange(n_slots)[None, :] < lengths[:, None]
    pt = rng.lognormal(1.0, 1.0, (n_jets, n_slots))
    eta, phi = rng.normal(0, 0.2, (2, n_jets, n_slots))
    e = pt * np.cosh(eta) * rng.uniform(1.0, 1.01, (n_jets, n_slots))
    x = np.where(mask[..., None], np.stack([pt, eta, phi, e], -1), 0.0).astype(np.float32)
    data = ParticleData(x, mask, rng.integers(0, 3, n_jets), ["a", "b", "c"], ["pt", "eta_rel", "phi_rel", "j1_e"])
    prepared, _ = prepare(data, n_slots, "kt", LOG)
    return torch.from_numpy(prepared.x), torch.from_numpy(prepared.mask)


def test_off_by_default_and_a_typo_is_refused():
    assert TrainConfig().augment == "none"
    assert augment_columns(LOG, "none") is None
    with pytest.raises(ConfigError, match="train.augment"):
        TrainConfig(augment="rotation")


def test_shape_padding_and_untouched_features():
    x, mask = log_batch()
    cols = augment_columns(LOG, "rotate")
    assert cols == (LOG.index("eta_rel"), LOG.index("phi_rel"))
    torch.manual_seed(1)
    out = rotate_reflect(x, cols)
    assert out.shape == x.shape and out.dtype == x.dtype and out is not x
    assert torch.equal(out[~mask], x[~mask]) and not out[~mask].any()  # padded slots stay exact zeros
    keep = [i for i in range(len(LOG)) if i not in cols]
    assert torch.equal(out[..., keep], x[..., keep])  # log pT, log pT/pT_jet, log E, ΔR: bit for bit
    # ΔR and kT = pT·ΔR are invariant: the sorted order is still the kT order of the new angles
    dr = torch.hypot(out[..., cols[0]], out[..., cols[1]])
    torch.testing.assert_close(dr[mask], x[..., LOG.index("delta_r")][mask], atol=1e-5, rtol=1e-5)
    kt = torch.where(mask, torch.exp(out[..., 0]) * dr, torch.zeros_like(dr))
    assert bool((kt[:, :-1] >= kt[:, 1:] * (1 - 1e-5) - 1e-7).all())


def test_it_changes_the_angles_by_one_rotation_or_reflection_per_jet():
    x, mask = log_batch()
    cols = augment_columns(LOG, "rotate")
    torch.manual_seed(2)
    out = rotate_reflect(x, cols)
    a, b = x[..., list(cols)], out[..., list(cols)]
    assert not torch.allclose(a[mask], b[mask], atol=1e-3)
    # per jet, b = M a with M orthogonal (a rotation, or a rotation times a reflection): solve by least squares
    dets = []
    for j in range(len(x)):
        m = mask[j]
        sol = torch.linalg.lstsq(a[j, m].double(), b[j, m].double()).solution.T
        torch.testing.assert_close(sol @ sol.T, torch.eye(2, dtype=torch.float64), atol=1e-4, rtol=0)
        dets.append(float(torch.linalg.det(sol)))
    dets = np.array(dets)
    assert np.allclose(np.abs(dets), 1.0, atol=1e-4)
    # reflections with probability ½: both kinds occur among 200 jets
    assert 0.3 < (dets < 0).mean() < 0.7
    # the angles spread over the circle: the mean rotation of the leading particle is near zero
    lead = torch.atan2(b[:, 0, 1], b[:, 0, 0]) - torch.atan2(a[:, 0, 1], a[:, 0, 0])
    assert abs(complex(torch.exp(1j * lead.double()).mean())) < 0.3


def test_deterministic_under_the_seed():
    x, _ = log_batch()
    cols = augment_columns(LOG, "rotate")
    torch.manual_seed(123)
    first = rotate_reflect(x, cols)
    torch.manual_seed(123)
    again = rotate_reflect(x, cols)
    torch.manual_seed(124)
    other = rotate_reflect(x, cols)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_raw_features_are_accepted_and_pt_untouched():
    x, mask = log_batch()
    raw = torch.stack([torch.exp(x[..., 0]) * mask, x[..., 3], x[..., 4]], -1)
    cols = augment_columns(["pt", "eta_rel", "phi_rel"], "rotate")
    assert cols == (1, 2)
    torch.manual_seed(0)
    out = rotate_reflect(raw, cols)
    assert torch.equal(out[..., 0], raw[..., 0])
    torch.testing.assert_close(out[..., 1:].norm(dim=-1), raw[..., 1:].norm(dim=-1))
    assert math.isfinite(float(out.sum()))
