"""Robust scaling is fitted on real particles only: (x − median) / (p95 − p5)."""

from __future__ import annotations

import numpy as np
import pytest

from saltjet.data import fit_robust_scaling
from saltjet.errors import InputError


def test_fit_ignores_padding_and_matches_numpy_percentiles(rng):
    x = rng.normal(5.0, 2.0, (300, 20, 3)).astype(np.float32)
    mask = rng.random((300, 20)) < 0.6
    x_padded = np.where(mask[..., None], x, 1e6)  # padding must not move the fit
    center, scale = fit_robust_scaling(x_padded, mask)
    real = x[mask]
    np.testing.assert_allclose(center, np.median(real, axis=0), rtol=1e-5)
    np.testing.assert_allclose(scale, np.percentile(real, 95, axis=0) - np.percentile(real, 5, axis=0), rtol=1e-5)


def test_constant_feature_gets_unit_scale():
    x = np.ones((10, 4, 2), np.float32)
    x[..., 0] = np.arange(40).reshape(10, 4)
    center, scale = fit_robust_scaling(x, np.ones((10, 4), bool))
    assert scale[1] == 1.0 and scale[0] > 0


def test_fit_refuses_bad_input():
    with pytest.raises(InputError, match="no real particles"):
        fit_robust_scaling(np.zeros((2, 3, 3)), np.zeros((2, 3), bool))
    with pytest.raises(InputError, match="NaN or inf"):
        fit_robust_scaling(np.full((2, 3, 3), np.nan), np.ones((2, 3), bool))
    with pytest.raises(InputError, match=r"\(N, n, F\)"):
        fit_robust_scaling(np.zeros((2, 3)), np.ones((2, 3), bool))
