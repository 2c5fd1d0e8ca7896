"""Jet kinematics on numpy arrays: φ wrapping, ΔR, kT and conversions from four-momenta.

All functions are vectorised and broadcast over leading axes, e.g. particles `(N, n)`.
Angles are in radians, momenta and energies in GeV.
"""

from __future__ import annotations

import numpy as np


def wrap_phi(dphi: np.ndarray) -> np.ndarray:
    """Wrap an azimuthal difference into [-π, π)."""
    return (np.asarray(dphi) + np.pi) % (2 * np.pi) - np.pi


def delta_r(eta_rel: np.ndarray, phi_rel: np.ndarray) -> np.ndarray:
    """ΔR = sqrt(Δη² + Δφ²) with Δφ wrapped into [-π, π)."""
    return np.hypot(eta_rel, wrap_phi(phi_rel))


def kt(pt: np.ndarray, eta_rel: np.ndarray, phi_rel: np.ndarray) -> np.ndarray:
    """kT = pT · ΔR, the SAL-T sorting key, from physical (un-normalised) quantities."""
    return np.asarray(pt) * delta_r(eta_rel, phi_rel)


def pt_eta_phi(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transverse momentum, pseudorapidity and azimuth from Cartesian momenta.

    Zero-momentum entries (padding) give pT = 0, η = 0, φ = 0 rather than NaN.
    """
    px, py, pz = (np.asarray(a, dtype=np.float64) for a in (px, py, pz))
    pt = np.hypot(px, py)
    phi = np.arctan2(py, px)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(pt > 0, np.arcsinh(np.divide(pz, pt, out=np.zeros_like(pz), where=pt > 0)), 0.0)
    return pt, eta, phi


def rapidity(e: np.ndarray, pz: np.ndarray) -> np.ndarray:
    """Rapidity y = ½ ln((E + pz) / (E − pz)); 0 where E ≤ |pz| (padding or massless along z)."""
    e, pz = np.asarray(e, dtype=np.float64), np.asarray(pz, dtype=np.float64)
    num, den = e + pz, e - pz
    ok = (num > 0) & (den > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, 0.5 * np.log(np.where(ok, num, 1.0) / np.where(ok, den, 1.0)), 0.0)


def invariant_mass(e: np.ndarray, px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> np.ndarray:
    """m = sqrt(max(E² − |p|², 0))."""
    m2 = np.asarray(e) ** 2 - np.asarray(px) ** 2 - np.asarray(py) ** 2 - np.asarray(pz) ** 2
    return np.sqrt(np.maximum(m2, 0.0))
