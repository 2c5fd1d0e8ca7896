"""Named per-particle input feature sets, and the derived columns they need.

The taggers take physical features; which ones is a study choice (the `features` study):

    raw     the SAL-T authors' 3 inputs: pT, Δη, Δφ
    log     log-scaled inputs (ParT style): log pT, log(pT / pT_jet), log E, Δη, Δφ, ΔR
    hls4ml  the 16 columns of the hls4ml files (j1_px ... j1_costhetarel)

`add_features(data, names)` returns the data with every requested derived column computed and
appended AFTER the original pT, Δη, Δφ columns, so sorting (which reads pT, Δη, Δφ by name) is
unchanged; the training pipeline then selects the columns by name with `DataConfig.features`
(`saltjet.data.pipeline.prepare`). Derived columns are per particle and per jet, so they can be
added before or after splitting. Padded slots stay zero.

Derived columns:
    log_pt      ln pT
    log_ptrel   ln(pT / pT_jet), pT_jet = |Σ p⃗T| of the constituents
    log_e       ln E, from an energy column of the data (j1_e, energy or part_energy)
    delta_r     ΔR from the jet axis, sqrt(Δη² + Δφ²)
"""

from __future__ import annotations

import numpy as np

from saltjet.data.hls4ml_layout import PARTICLE_FEATURES
from saltjet.data.kinematics import delta_r, wrap_phi
from saltjet.data.particles import ParticleData
from saltjet.errors import ConfigError, DataError

CORE = ["pt", "eta_rel", "phi_rel"]
# hls4ml column names as `saltjet.data.load` names them: the core three renamed, the rest as published.
_HLS4ML_RENAMED = {"j1_pt": "pt", "j1_etarel": "eta_rel", "j1_phirel": "phi_rel"}
HLS4ML_16 = [_HLS4ML_RENAMED.get(c, c) for c in PARTICLE_FEATURES]

FEATURE_SETS = {
    "raw": list(CORE),
    "log": ["log_pt", "log_ptrel", "log_e", "eta_rel", "phi_rel", "delta_r"],
    "hls4ml": HLS4ML_16,
}
DERIVED = ("log_pt", "log_ptrel", "log_e", "delta_r")
ENERGY_COLUMNS = ("j1_e", "energy", "part_energy", "e")


def feature_set(name: str) -> list[str]:
    """Feature names of the set `name` (raw, log, hls4ml); `ConfigError` for an unknown name."""
    if name not in FEATURE_SETS:
        raise ConfigError(f"unknown feature set {name!r}; choose from {', '.join(FEATURE_SETS)}")
    return list(FEATURE_SETS[name])


def reader_extras(names: list[str], available: list[str]) -> list[str]:
    """Extra columns to ask `saltjet.data.load(features=...)` for, so that `names` can be built.

    Args:
        names: wanted feature names (core, derived or file columns).
        available: the extras the data format offers (a reader's `EXTRA_FEATURES`).
    Returns:
        Extras in `available` order; `ConfigError` if a wanted column cannot be had.
    """
    need = []
    for name in names:
        if name in CORE or name in need:
            continue
        if name == "log_e":
            energy = next((e for e in ENERGY_COLUMNS if e in available), None)
            if energy is None:
                raise ConfigError("feature log_e needs an energy column, which this data format does not have")
            need.append(energy)
        elif name not in DERIVED:
            if name not in available:
                raise ConfigError(f"this data format has no particle feature {name!r}")
            need.append(name)
    return [a for a in available if a in need]


def _column(data: ParticleData, name: str) -> np.ndarray:
    return data.x[..., data.feature_names.index(name)].astype(np.float64)


def _safe_log(values: np.ndarray, mask: np.ndarray, name: str) -> np.ndarray:
    bad = mask & ~(values > 0)
    if bad.any():
        raise DataError(f"{name}: {int(bad.sum())} real particles have a non-positive argument of the log")
    return np.where(mask, np.log(np.where(mask, values, 1.0)), 0.0)


def derive(data: ParticleData, name: str) -> np.ndarray:
    """One derived column (see the module docstring): (N, n) float64, zero at padded slots."""
    if data.kind != "jets":
        raise ConfigError(f"derived feature {name!r} is defined for jets, not {data.kind}")
    missing = [c for c in CORE if c not in data.feature_names]
    if missing:
        raise DataError(f"derived features need the columns {', '.join(CORE)}; missing {', '.join(missing)}")
    mask = data.mask
    pt, eta, phi = (_column(data, c) for c in CORE)
    pt = np.where(mask, pt, 0.0)
    if name == "log_pt":
        return _safe_log(pt, mask, name)
    if name == "log_ptrel":
        jet_pt = np.hypot((pt * np.cos(phi)).sum(axis=1), (pt * np.sin(phi)).sum(axis=1))
        return _safe_log(pt / np.maximum(jet_pt, 1e-300)[:, None], mask, name)
    if name == "log_e":
        energy = next((e for e in ENERGY_COLUMNS if e in data.feature_names), None)
        if energy is None:
            raise DataError("feature log_e needs an energy column (load the data with its energy extra, "
                            f"one of {', '.join(ENERGY_COLUMNS)})")
        return _safe_log(_column(data, energy), mask, name)
    if name == "delta_r":
        return np.where(mask, delta_r(eta, wrap_phi(phi)), 0.0)
    raise ConfigError(f"unknown derived feature {name!r}; choose from {', '.join(DERIVED)}")


def add_features(data: ParticleData, names: list[str] | str) -> ParticleData:
    """The data with the columns `names` present: derived ones computed and appended.

    Args:
        data: jets whose columns include pt, eta_rel, phi_rel (and an energy column for log_e).
        names: feature names, or the name of a set in `FEATURE_SETS`.
    Returns:
        ParticleData with x (N, n, F') whose columns are the original ones, then each derived name of
        `names` not already present. Pass `names` to `DataConfig.features` to train on them.
    """
    if isinstance(names, str):
        names = feature_set(names)
    unknown = [n for n in names if n not in data.feature_names and n not in DERIVED]
    if unknown:
        raise DataError(f"the data has no feature(s) {', '.join(unknown)}; it has {', '.join(data.feature_names)}")
    new = [n for n in dict.fromkeys(names) if n not in data.feature_names]
    if not new:
        return data
    extra = np.stack([derive(data, n) for n in new], axis=-1).astype(np.float32)
    return ParticleData(np.concatenate([data.x, extra], axis=-1), data.mask, data.y, data.class_names,
                        data.feature_names + new, data.kind, data.source)
