"""Task relabelling (5 classes -> binary proxies) and the named input-feature sets."""

from __future__ import annotations

import numpy as np
import pytest

from saltjet.data.features import FEATURE_SETS, HLS4ML_16, add_features, reader_extras
from saltjet.data.particles import ParticleData
from saltjet.data.tasks import relabel
from saltjet.errors import ConfigError, DataError

CLASSES = ["g", "q", "W", "Z", "t"]


def _data(n=100, seed=0, extra_energy=False):
    rng = np.random.default_rng(seed)
    mask = np.arange(20)[None, :] < rng.integers(1, 21, n)[:, None]
    pt = (rng.exponential(10, mask.shape) + 0.5) * mask
    eta, phi = rng.normal(0, 0.3, (2, *mask.shape)) * mask
    cols, names = [pt, eta, phi], ["pt", "eta_rel", "phi_rel"]
    if extra_energy:
        cols.append(pt * np.cosh(eta + 0.5) * mask)
        names.append("j1_e")
    y = np.arange(n) % 5
    return ParticleData(np.stack(cols, -1), mask, y, CLASSES, names)


def test_relabel_top_vs_qcd_and_quark_vs_gluon():
    data = _data()
    top = relabel(data, "top_vs_qcd", balance=False)
    assert top.class_names == ["QCD", "t"]
    src = data.y[np.isin(data.y, [0, 1, 4])]
    np.testing.assert_array_equal(top.y, (src == 4).astype(int))
    balanced = relabel(data, "top_vs_qcd", seed=1)
    assert np.bincount(balanced.y).tolist() == [20, 20]
    qg = relabel(data, "quark_vs_gluon")
    assert qg.class_names == ["g", "q"] and np.bincount(qg.y).tolist() == [20, 20]
    # jets keep their particles
    first_q = np.flatnonzero(data.y == 1)[0]
    np.testing.assert_array_equal(qg.x[np.flatnonzero(qg.y == 1)[0]], data.x[first_q])
    assert relabel(data, "5class") is data
    with pytest.raises(ConfigError):
        relabel(data, "nope")
    with pytest.raises(DataError):
        relabel(ParticleData(data.x, data.mask, data.y % 2, ["QCD", "top"]), "top_vs_qcd")


def test_log_features_are_derived_per_particle():
    data = _data(extra_energy=True)
    out = add_features(data, "log")
    assert out.feature_names[:4] == data.feature_names  # originals untouched and first (sorting reads them)
    assert set(FEATURE_SETS["log"]) <= set(out.feature_names)
    col = {n: out.x[..., i] for i, n in enumerate(out.feature_names)}
    m = data.mask
    np.testing.assert_allclose(col["log_pt"][m], np.log(data.x[..., 0][m]), rtol=1e-6)
    np.testing.assert_allclose(col["log_e"][m], np.log(data.x[..., 3][m]), rtol=1e-6)
    np.testing.assert_allclose(col["delta_r"][m], np.hypot(data.x[..., 1], data.x[..., 2])[m], rtol=1e-6)
    j = 7
    pt, phi = data.x[j, m[j], 0], data.x[j, m[j], 2]
    jet_pt = np.hypot((pt * np.cos(phi)).sum(), (pt * np.sin(phi)).sum())
    np.testing.assert_allclose(col["log_ptrel"][j, m[j]], np.log(pt / jet_pt), rtol=1e-5, atol=1e-6)
    for name in ("log_pt", "log_ptrel", "log_e", "delta_r"):
        assert np.all(col[name][~m] == 0)


def test_feature_errors_and_reader_extras():
    with pytest.raises(ConfigError, match="energy"):
        add_features(_data(), "log")  # no energy column
    with pytest.raises(ConfigError):
        add_features(_data(), "unknown_set")
    assert reader_extras(FEATURE_SETS["log"], ["j1_px", "j1_e"]) == ["j1_e"]
    assert reader_extras(FEATURE_SETS["raw"], []) == []
    hls = reader_extras(HLS4ML_16, [c for c in HLS4ML_16 if c not in ("pt", "eta_rel", "phi_rel")])
    assert len(hls) == 13
    with pytest.raises(ConfigError):
        reader_extras(FEATURE_SETS["log"], ["px"])
