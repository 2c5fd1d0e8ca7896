"""Standard jet observables computed from the constituents, vectorised over padded jets.

Every function takes padded arrays `(N, n)` (pT in GeV, η and φ relative to the jet axis, a bool
mask, True = real particle) and returns one value per jet, `(N,)` float64. Padded slots never
contribute. Jets with no particles give 0.

Definitions (z_i = pT_i / Σ_j pT_j, ΔR_i from the jet axis, ΔR_ij between two particles):
    mass          invariant mass of the summed constituent four-vectors. From (pT, η_rel, φ_rel) the
                  particles are taken as massless; the mass depends only on η and φ differences, so
                  relative coordinates give the same value as absolute ones. When E, px, py, pz
                  columns are given, they are summed instead (massive constituents).
    multiplicity  number of real constituents.
    girth         Σ pT_i ΔR_i / pT_jet, pT_jet the transverse momentum of the summed four-vector.
    ptd           pT_D = sqrt(Σ pT_i²) / Σ pT_i.
    lead_frac     max pT_i / Σ pT_i, the leading constituent's momentum fraction.
    width2        Σ z_i ΔR_i², the pT-weighted second moment of ΔR (a jet "width").
    e2            the 2-point energy correlation function e2^(β=1) = Σ_{i<j} z_i z_j ΔR_ij, the
                  dimensionless pairwise ECF that C2/D2 ratios are built from.
"""

from __future__ import annotations

import numpy as np

from saltjet.data.kinematics import delta_r, invariant_mass, wrap_phi
from saltjet.errors import InputError

OBSERVABLES = ("mass", "multiplicity", "girth", "ptd", "lead_frac", "width2", "e2")
# Column names (in `ParticleData.feature_names`) accepted for each Cartesian four-momentum part.
FOUR_MOMENTUM_COLUMNS = {
    "e": ("e", "energy", "j1_e", "part_energy"),
    "px": ("px", "j1_px", "part_px"),
    "py": ("py", "j1_py", "part_py"),
    "pz": ("pz", "j1_pz", "part_pz"),
}
_PAIR_CHUNK = 256  # jets per block of the O(n²) pair sum: ~25 MB of float32 temporaries at n=150


def _check(pt, eta_rel, phi_rel, mask):
    mask = np.asarray(mask, dtype=bool)
    arrays = [np.asarray(a, dtype=np.float64) for a in (pt, eta_rel, phi_rel)]
    if mask.ndim != 2 or any(a.shape != mask.shape for a in arrays):
        shapes = ", ".join(str(np.shape(a)) for a in (pt, eta_rel, phi_rel, mask))
        raise InputError(f"pt, eta_rel, phi_rel and mask must all be (N, n), got {shapes}")
    return (*(np.where(mask, a, 0.0) for a in arrays), mask)


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def massless_four_momenta(pt, eta_rel, phi_rel, mask) -> tuple[np.ndarray, ...]:
    """(E, px, py, pz), each (N, n), of massless particles in the jet-axis frame; zero at padding."""
    pt, eta, phi, mask = _check(pt, eta_rel, phi_rel, mask)
    return pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)


def ecf2(pt, eta_rel, phi_rel, mask, beta: float = 1.0) -> np.ndarray:
    """e2^(β) = Σ_{i<j} z_i z_j ΔR_ij^β per jet: (N,). Pairwise, computed in blocks of jets."""
    pt, eta, phi, mask = _check(pt, eta_rel, phi_rel, mask)
    z = _safe_divide(pt, pt.sum(axis=1, keepdims=True)).astype(np.float32)
    out = np.zeros(len(pt))
    for start in range(0, len(pt), _PAIR_CHUNK):
        sl = slice(start, start + _PAIR_CHUNK)
        used = mask[sl].any(axis=0)
        width = int(np.flatnonzero(used)[-1]) + 1 if used.any() else 0
        if width < 2:
            continue
        zc = z[sl, :width]
        e = eta[sl, :width].astype(np.float32)
        p = phi[sl, :width].astype(np.float32)
        dr = np.hypot(e[:, :, None] - e[:, None, :], wrap_phi(p[:, :, None] - p[:, None, :]))
        if beta != 1.0:
            dr = dr**beta
        # Full double sum counts each pair twice (the diagonal has ΔR = 0).
        pair = np.einsum("ni,nij,nj->n", zc, dr, zc, optimize=True)
        out[sl] = 0.5 * pair.astype(np.float64)
    return out


def jet_observables(pt, eta_rel, phi_rel, mask, four_momentum=None) -> dict[str, np.ndarray]:
    """Every observable of `OBSERVABLES`, one (N,) float64 array each.

    Args:
        pt, eta_rel, phi_rel: (N, n) constituent pT [GeV], η and φ relative to the jet axis.
        mask: (N, n) bool, True = real particle.
        four_momentum: optional (E, px, py, pz), each (N, n), used for the jet mass and jet pT
            instead of the massless construction from (pT, η_rel, φ_rel).
    """
    pt, eta, phi, mask = _check(pt, eta_rel, phi_rel, mask)
    if four_momentum is None:
        parts = massless_four_momenta(pt, eta, phi, mask)
    else:
        parts = [np.where(mask, np.asarray(a, dtype=np.float64), 0.0) for a in four_momentum]
        if len(parts) != 4 or any(a.shape != mask.shape for a in parts):
            raise InputError("four_momentum must be four (N, n) arrays: E, px, py, pz")
    e, px, py, pz = (a.sum(axis=1) for a in parts)
    jet_pt = np.hypot(px, py)
    sum_pt = pt.sum(axis=1)
    dr = np.where(mask, delta_r(eta, phi), 0.0)
    return {
        "mass": invariant_mass(e, px, py, pz),
        "multiplicity": mask.sum(axis=1).astype(np.float64),
        "girth": _safe_divide((pt * dr).sum(axis=1), jet_pt),
        "ptd": _safe_divide(np.sqrt((pt**2).sum(axis=1)), sum_pt),
        "lead_frac": _safe_divide(pt.max(axis=1, initial=0.0), sum_pt),
        "width2": _safe_divide((pt * dr**2).sum(axis=1), sum_pt),
        "e2": ecf2(pt, eta, phi, mask),
    }


def four_momentum_columns(feature_names: list[str]) -> list[int] | None:
    """Indices of the E, px, py, pz columns in `feature_names`, or None unless all four exist."""
    index = []
    for aliases in FOUR_MOMENTUM_COLUMNS.values():
        hit = next((feature_names.index(a) for a in aliases if a in feature_names), None)
        if hit is None:
            return None
        index.append(hit)
    return index


def observables_matrix(data, names=OBSERVABLES) -> np.ndarray:
    """The observables `names` of every jet in a `ParticleData` (first columns pT, Δη, Δφ): (N, k).

    Uses the data's E, px, py, pz columns for the mass when all four are present.
    """
    unknown = [n for n in names if n not in OBSERVABLES]
    if unknown:
        raise InputError(f"unknown observable(s) {', '.join(unknown)}; choose from {', '.join(OBSERVABLES)}")
    if data.kind != "jets":
        raise InputError(f"jet observables need jets, got {data.kind} data")
    cols = four_momentum_columns(list(data.feature_names))
    four = None if cols is None else [data.x[..., c] for c in cols]
    values = jet_observables(data.x[..., 0], data.x[..., 1], data.x[..., 2], data.mask, four)
    return np.stack([values[n] for n in names], axis=1)
