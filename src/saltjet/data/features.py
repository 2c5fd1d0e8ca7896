"""Per-particle input features: the one home of every feature list and of the named sets.

The taggers take physical features; which ones is part of a run (`DataConfig.features`, recorded
in its config.yaml):

    raw     the SAL-T authors' 3 inputs: pT, Δη, Δφ (the default for jets)
    log     log-scaled inputs (ParT style): log pT, log(pT / pT_jet), log E, Δη, Δφ, ΔR
    hls4ml  the 16 columns of the hls4ml files (j1_px ... j1_costhetarel)

or any list of names: the core three, derived ones (`DERIVED`, computed by
`saltjet.data.feature_module.FeatureBuilder`) and columns of the data files.

A run reads the PHYSICAL inputs its features need (`physical_inputs`: pT, Δη, Δφ, then E when a
feature needs it, then file columns), sorts and pads them, and builds its features from them
(`build_features`, called by `saltjet.data.pipeline.prepare`). The exported ONNX graph takes the
same physical inputs and builds the features inside.
"""

from __future__ import annotations

import numpy as np

from saltjet.data.feature_module import DERIVED, ENERGY
from saltjet.data.hls4ml_layout import PARTICLE_FEATURES
from saltjet.data.particles import CORE_FEATURES, ParticleData
from saltjet.errors import ConfigError, DataError

CORE = CORE_FEATURES  # pt, eta_rel, phi_rel: the first three columns of every jet reader
# hls4ml column names as `saltjet.data.load` names them: the core three renamed, the rest as published.
_HLS4ML_RENAMED = {"j1_pt": "pt", "j1_etarel": "eta_rel", "j1_phirel": "phi_rel"}
HLS4ML_16 = [_HLS4ML_RENAMED.get(c, c) for c in PARTICLE_FEATURES]

FEATURE_SETS = {
    "raw": list(CORE),
    "log": ["log_pt", "log_ptrel", "log_e", "eta_rel", "phi_rel", "delta_r"],
    "hls4ml": HLS4ML_16,
}
# Data columns that hold the particle energy, in order of preference (physical input "e").
ENERGY_COLUMNS = (ENERGY, "j1_e", "energy", "part_energy")

__all__ = ["CORE", "DERIVED", "ENERGY", "ENERGY_COLUMNS", "FEATURE_SETS", "HLS4ML_16", "add_features",
           "build_features", "expand_features", "feature_set", "input_columns", "physical_inputs", "reader_extras"]


def feature_set(name: str) -> list[str]:
    """Feature names of the set `name` (raw, log, hls4ml); `ConfigError` for an unknown name."""
    if name not in FEATURE_SETS:
        raise ConfigError(f"unknown feature set {name!r}; choose from {', '.join(FEATURE_SETS)}")
    return list(FEATURE_SETS[name])


def expand_features(features: str | list[str] | None) -> list[str] | None:
    """A set name (or a one-item list holding one) -> its names; a list of names is kept as is."""
    if isinstance(features, str):
        features = [features]
    if features is not None and len(features) == 1 and features[0] in FEATURE_SETS:
        return feature_set(features[0])
    return None if features is None else list(features)


def physical_inputs(features: list[str], kind: str = "jets") -> list[str]:
    """The physical per-particle columns that `features` are built from.

    Jets: pt, eta_rel, phi_rel (always: sorting reads them), then "e" when log_e is wanted, then
    every other non-derived name in order. Point clouds: the features themselves.
    """
    if kind != "jets":
        derived = [f for f in features if f in DERIVED]
        if derived:
            raise ConfigError(f"derived feature(s) {', '.join(derived)} are defined for jets, not {kind}")
        return list(features)
    names = list(CORE) + ([ENERGY] if "log_e" in features else [])
    return names + [f for f in dict.fromkeys(features) if f not in DERIVED and f not in names]


def _data_column(names: list[str], wanted: str) -> int | None:
    if wanted == ENERGY:
        return next((names.index(e) for e in ENERGY_COLUMNS if e in names), None)
    if wanted in names:
        return names.index(wanted)
    if wanted in CORE:  # the reader contract: the first three jet columns are pT, Δη, Δφ
        return CORE.index(wanted)
    return None


def input_columns(data: ParticleData, inputs: list[str]) -> list[int]:
    """Column indices of `data` holding the physical `inputs` ("e": the first of `ENERGY_COLUMNS`)."""
    out = []
    for name in inputs:
        column = _data_column(data.feature_names, name)
        if column is None:
            if name == ENERGY:
                raise ConfigError("feature log_e needs an energy column (one of "
                                  f"{', '.join(ENERGY_COLUMNS[1:])}); the data has {', '.join(data.feature_names)}")
            raise ConfigError(f"unknown feature {name!r}; the data has {', '.join(data.feature_names)}")
        out.append(column)
    return out


def reader_extras(names: list[str], available: list[str]) -> list[str]:
    """Extra columns to ask `saltjet.data.load(features=...)` for, so that `names` can be built.

    Args:
        names: wanted feature names (core, derived or file columns).
        available: the extras the data format offers (a reader's `EXTRA_FEATURES`).
    Returns:
        Extras in `available` order; `ConfigError` if a wanted column cannot be had.
    """
    need = []
    for name in physical_inputs(list(names)):
        if name in CORE or name in need:
            continue
        if name == ENERGY:
            energy = next((e for e in ENERGY_COLUMNS if e in available), None)
            if energy is None:
                raise ConfigError("feature log_e needs an energy column, which this data format does not have")
            need.append(energy)
        elif name not in available:
            raise ConfigError(f"this data format has no particle feature {name!r}")
        else:
            need.append(name)
    return [a for a in available if a in need]


def build_features(x: np.ndarray, mask: np.ndarray, inputs: list[str], features: list[str]) -> np.ndarray:
    """The features of physical particles, computed in float64 by `FeatureBuilder`.

    Args:
        x: (N, n, P) physical columns named `inputs`; mask: (N, n) bool.
        features: the F feature names to build.
    Returns:
        (N, n, F) float32, zero at padded slots. `DataError` when a log meets a non-positive value.
    """
    import torch

    from saltjet.data.feature_module import FeatureBuilder

    if list(inputs) == list(features):
        return np.where(np.asarray(mask)[..., None], x, 0.0).astype(np.float32)
    builder = FeatureBuilder(inputs, features)
    m = torch.from_numpy(np.ascontiguousarray(mask, dtype=bool))
    out = builder(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)), m).numpy()
    real = np.asarray(mask, dtype=bool)
    for j, name in enumerate(features):
        if name in DERIVED:
            bad = real & ~np.isfinite(out[..., j])
            if bad.any():
                raise DataError(f"{name}: {int(bad.sum())} real particles have a non-positive argument of the log")
    return out.astype(np.float32)


def add_features(data: ParticleData, names: list[str] | str) -> ParticleData:
    """The data with the columns `names` present: derived ones computed and appended.

    Args:
        data: jets whose columns include pt, eta_rel, phi_rel (and an energy column for log_e).
        names: feature names, or the name of a set in `FEATURE_SETS`.
    Returns:
        ParticleData with x (N, n, F') whose columns are the original ones, then each derived name of
        `names` not already present (computed from all of each jet's particles).
    """
    names = feature_set(names) if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in data.feature_names and n not in DERIVED]
    if unknown:
        raise DataError(f"the data has no feature(s) {', '.join(unknown)}; it has {', '.join(data.feature_names)}")
    new = [n for n in dict.fromkeys(names) if n not in data.feature_names]
    if not new:
        return data
    if data.kind != "jets":
        raise ConfigError(f"derived feature(s) {', '.join(new)} are defined for jets, not {data.kind}")
    inputs = physical_inputs(new)
    x = data.x[..., input_columns(data, inputs)]
    extra = build_features(x, data.mask, inputs, new)
    return ParticleData(np.concatenate([data.x, extra], axis=-1), data.mask, data.y, data.class_names,
                        data.feature_names + new, data.kind, data.source)
