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


def principal_axis_rotation(
    eta_rel: np.ndarray, phi_rel: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate relative coordinates so each jet's principal axis lies along the first coordinate.

    eta_rel, phi_rel, weight: (N, n); weight is the per-particle weight (pT; 0 for padding).
    The principal axis is the major eigenvector of the weighted second-moment matrix of
    (Δη, Δφ) about the jet axis (the origin). Its sign is fixed so that its Δη component is ≥ 0
    (if that is 0, its Δφ component is > 0); the minor axis is the major one turned by +90°.
    Returns (eta_rot, phi_rot): (N, n), the projections on the major and minor axes; jets with
    no spread (one particle, or all weights 0) keep the unrotated coordinates.
    """
    eta_rel, phi_rel, w = (np.asarray(a, dtype=np.float64) for a in (eta_rel, phi_rel, weight))
    see = np.sum(w * eta_rel**2, axis=-1)
    spp = np.sum(w * phi_rel**2, axis=-1)
    sep = np.sum(w * eta_rel * phi_rel, axis=-1)
    # Angle of the major axis of the symmetric 2x2 matrix [[see, sep], [sep, spp]].
    theta = 0.5 * np.arctan2(2.0 * sep, see - spp)
    cos, sin = np.cos(theta), np.sin(theta)
    # Orientation convention: Δη component ≥ 0 (theta in (-π/2, π/2] already gives cos ≥ 0).
    flip = (cos < 0) | ((cos == 0) & (sin < 0))
    cos, sin = np.where(flip, -cos, cos)[..., None], np.where(flip, -sin, sin)[..., None]
    eta_rot = cos * eta_rel + sin * phi_rel
    phi_rot = -sin * eta_rel + cos * phi_rel
    return eta_rot, phi_rot


def hls4ml_particle_features(p4: np.ndarray, mask: np.ndarray, jet_p4: np.ndarray) -> np.ndarray:
    """The 16 per-particle columns of the hls4ml data set from four-momenta and the jet axis.

    p4: (N, n, 4) particle (px, py, pz, E) in GeV; mask: (N, n) bool, True = real particle;
    jet_p4: (N, 4) the jet four-momentum (sum of all its constituents, also those not in `p4`).
    Returns (N, n, 16) float64 in the order of `hls4ml_layout.PARTICLE_FEATURES`:
    px, py, pz, e, erel = E/E_jet, pt, ptrel = pT/pT_jet, eta, etarel = η − η_jet,
    etarot, phi, phirel = wrapped φ − φ_jet, phirot, deltaR = hypot(etarel, phirel),
    costheta = pz/|p|, costhetarel = cos of the opening angle between particle and jet
    momenta. etarot/phirot: (etarel, phirel) rotated onto the jet's pT-weighted principal
    axes (see `principal_axis_rotation`). Padding slots are all zero.
    """
    p4 = np.asarray(p4, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    jet_p4 = np.asarray(jet_p4, dtype=np.float64)
    px, py, pz, e = (p4[..., i] for i in range(4))
    pt, eta, phi = pt_eta_phi(px, py, pz)
    jpt, jeta, jphi = pt_eta_phi(jet_p4[:, 0], jet_p4[:, 1], jet_p4[:, 2])
    jpx, jpy, jpz, je = (jet_p4[:, i, None] for i in range(4))
    with np.errstate(divide="ignore", invalid="ignore"):
        pabs = np.sqrt(px**2 + py**2 + pz**2)
        jabs = np.sqrt(jpx**2 + jpy**2 + jpz**2)
        erel = e / je
        ptrel = pt / jpt[:, None]
        costheta = np.where(pabs > 0, pz / pabs, 0.0)
        costhetarel = np.where(pabs > 0, (px * jpx + py * jpy + pz * jpz) / (pabs * jabs), 0.0)
    etarel = eta - jeta[:, None]
    phirel = wrap_phi(phi - jphi[:, None])
    etarot, phirot = principal_axis_rotation(etarel, phirel, np.where(mask, pt, 0.0))
    deltar = np.hypot(etarel, phirel)
    out = np.stack(
        [px, py, pz, e, erel, pt, ptrel, eta, etarel, etarot, phi, phirel, phirot, deltar, costheta, costhetarel],
        axis=-1,
    )
    return np.where(mask[..., None], out, 0.0)
