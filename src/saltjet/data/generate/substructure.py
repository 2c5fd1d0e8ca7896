"""Jet substructure columns of the hls4ml `jets` array, computed with FastJet (and fjcontrib).

Definitions follow the hls4ml production: N-subjettiness with one-pass kT axes and the
unnormalised measure (β = 1, 2); energy-correlation C1 (β = 0, 1, 2), C2, D2, M2, N2 (β = 1, 2)
with the pT-R measure; soft drop with zcut = 0.1, R0 = 1 and β = 0 (mMDT), 2 and −1;
trimming with kT R = 0.2 subjets and a 3 % pT fraction; z log z = Σ (E_i/E_jet) ln(E_i/E_jet).
Every jet is re-clustered with Cambridge/Aachen (R large enough to hold it) so that
`exclusive_jets(1)` is the whole jet. The `_mmdt` columns repeat the observables on the
mMDT-groomed constituents.

Not computed (left at 0, listed by `not_computed(full)`): the pruned mass (no pruner in the
awkward interface) and the generalised D2 (α = 1) columns; unless `full=True`, also the
three-point correlators C2, D2, M2, N2 (O(n³) per jet: with them a gluon jet costs ~50 ms,
more than Pythia itself), the soft-drop β = −1 mass and every `_mmdt` column (each soft-drop
pass costs ~1-4 ms per jet in fastjet's awkward interface).
"""

from __future__ import annotations

import numpy as np

from saltjet.data.hls4ml_layout import JET_FEATURES

NEVER_COMPUTED = ["j_mass_prun", "j_d2_a1_b1", "j_d2_a1_b2", "j_d2_a1_b1_mmdt", "j_d2_a1_b2_mmdt"]
THREE_POINT = [f"j_{o}_{b}" for o in ("c2", "d2", "m2", "n2") for b in ("b1", "b2")]
_GROOMED = [n for n in JET_FEATURES if n.endswith("_mmdt") and n != "j_mass_mmdt" and n not in NEVER_COMPUTED]
FULL_ONLY = THREE_POINT + ["j_mass_sdm1"] + _GROOMED
_RECLUSTER_R = 3.0  # holds any anti-kT R=0.8 jet in one C/A cluster
_SD_ZCUT, _SD_R0 = 0.1, 1.0
_TRIM_R, _TRIM_FRAC = 0.2, 0.03
_NSUB_R0 = 0.8


def _momenta(p4: np.ndarray, counts: np.ndarray):
    """Ragged awkward Momentum4D array, one list per jet. p4: (M, 4); counts: (N,)."""
    import awkward as ak
    import vector

    vector.register_awkward()
    cols = {f: ak.unflatten(np.ascontiguousarray(p4[:, i]), counts) for i, f in enumerate(("px", "py", "pz", "E"))}
    return ak.zip(cols, with_name="Momentum4D")


def not_computed(full: bool = False) -> list[str]:
    """The substructure columns of `JET_FEATURES` that `jet_substructure(..., full)` leaves at 0."""
    return NEVER_COMPUTED + ([] if full else FULL_ONLY)


def _shape_observables(cs, prefix_suffix: str = "", full: bool = False) -> dict[str, np.ndarray]:
    """N-subjettiness and energy correlators of the single exclusive jet of every event in `cs`."""
    out: dict[str, np.ndarray] = {}
    s = prefix_suffix
    for beta, b in ((1.0, "b1"), (2.0, "b2")):
        tau = np.asarray(
            cs.njettiness(
                measure_definition="UnnormalizedMeasure",
                axes_definition="OnePass_KT_Axes",
                njets=[1, 2, 3],
                beta=beta,
                R0=_NSUB_R0,
            ).to_numpy()
        ).reshape(-1, 3)
        for k in range(3):
            out[f"j_tau{k + 1}_{b}{s}"] = tau[:, k]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"j_tau32_{b}{s}"] = np.where(tau[:, 1] > 0, tau[:, 2] / tau[:, 1], 0.0)

    def ecf(func: str, npoint: int, beta: float) -> np.ndarray:
        return np.asarray(cs.exclusive_jets_energy_correlator(njets=1, beta=beta, npoint=npoint, func=func))

    for beta, b in ((0.0, "b0"), (1.0, "b1"), (2.0, "b2")):
        out[f"j_c1_{b}{s}"] = ecf("doubleratio", 1, beta)
    for beta, b in ((1.0, "b1"), (2.0, "b2")) if full else ():
        out[f"j_c2_{b}{s}"] = ecf("doubleratio", 2, beta)
        out[f"j_d2_{b}{s}"] = ecf("d2", 0, beta)
        out[f"j_m2_{b}{s}"] = ecf("mseries", 2, beta)
        out[f"j_n2_{b}{s}"] = ecf("nseries", 2, beta)
    return out


def jet_substructure(p4: np.ndarray, counts: np.ndarray, full: bool = False) -> dict[str, np.ndarray]:
    """Substructure columns for N jets given all their constituents.

    p4: (M, 4) constituent (px, py, pz, E) back to back; counts: (N,) constituents per jet.
    Returns {column name in `JET_FEATURES`: (N,) float64}; observables that are undefined for a
    jet (too few constituents) come out as 0 or NaN-free fallbacks from FastJet.
    """
    import awkward as ak
    import fastjet

    momenta = _momenta(p4, counts)
    ca = fastjet.JetDefinition(fastjet.cambridge_algorithm, _RECLUSTER_R)
    cs = fastjet.ClusterSequence(momenta, ca)
    out = _shape_observables(cs, full=full)

    sd_betas = ((0.0, "j_mass_mmdt"), (2.0, "j_mass_sdb2")) + (((-1.0, "j_mass_sdm1"),) if full else ())
    for beta, name in sd_betas:
        sd = cs.exclusive_jets_softdrop_grooming(njets=1, beta=beta, symmetry_cut=_SD_ZCUT, R0=_SD_R0)
        out[name] = np.asarray(sd.msoftdrop, dtype=np.float64)
        if beta == 0.0 and full:  # observables of the mMDT-groomed jet
            g_counts = ak.to_numpy(ak.num(sd.constituents))
            g_p4 = np.stack([ak.to_numpy(ak.flatten(sd.constituents[f])) for f in ("px", "py", "pz", "E")], axis=-1)
            out.update(_shape_observables(fastjet.ClusterSequence(_momenta(g_p4, g_counts), ca), "_mmdt", full))

    # trimming: keep kT R=0.2 subjets above 3 % of the jet pT
    trim = fastjet.ClusterSequence(momenta, fastjet.JetDefinition(fastjet.kt_algorithm, _TRIM_R)).inclusive_jets(0.0)
    jet_pt = np.hypot(*(np.add.reduceat(p4[:, i], _starts(counts)) for i in (0, 1)))
    keep = trim.pt >= _TRIM_FRAC * jet_pt
    summed = [ak.to_numpy(ak.sum(trim[f][keep], axis=1)) for f in ("px", "py", "pz", "E")]
    out["j_mass_trim"] = np.sqrt(np.maximum(summed[3] ** 2 - summed[0] ** 2 - summed[1] ** 2 - summed[2] ** 2, 0.0))

    # z log z with z = E_i / E_jet
    e = p4[:, 3]
    jet_e = np.add.reduceat(e, _starts(counts))
    z = e / np.repeat(jet_e, counts)
    out["j_zlogz"] = np.add.reduceat(z * np.log(np.where(z > 0, z, 1.0)), _starts(counts))
    assert set(out) <= set(JET_FEATURES), set(out) - set(JET_FEATURES)
    return {k: np.nan_to_num(np.asarray(v, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0) for k, v in out.items()}


def _starts(counts: np.ndarray) -> np.ndarray:
    """Start offset of every jet in the flat constituent array (counts must all be ≥ 1)."""
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
