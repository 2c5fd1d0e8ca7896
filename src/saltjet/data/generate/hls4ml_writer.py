"""Generated jets -> the published hls4ml arrays and HDF5 files (`jetImage_*_150p_*.h5`).

`jetConstituentList` (N, 150, 16) float32: the 150 highest-pT constituents of each jet, pT
descending, zero-padded, columns `PARTICLE_FEATURES` (see `kinematics.hls4ml_particle_features`);
`jets` (N, 59) float32, columns `JET_FEATURES`, with the one-hot label in j_g..j_t and j_undef 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from saltjet.data.generate.pythia import JetSample
from saltjet.data.generate.substructure import jet_substructure
from saltjet.data.hls4ml_layout import (
    JET_FEATURES,
    LABEL_COLUMNS,
    N_SLOTS,
    PARTICLE_FEATURE_NAMES_AS_PUBLISHED,
)
from saltjet.data.kinematics import hls4ml_particle_features, invariant_mass, pt_eta_phi

_COL = {name: i for i, name in enumerate(JET_FEATURES)}


def padded_constituents(sample: JetSample, n_slots: int = N_SLOTS) -> tuple[np.ndarray, np.ndarray]:
    """(N, n_slots, 4) four-momenta of each jet's hardest constituents, pT descending, and the mask.

    Jets with more than `n_slots` constituents keep the `n_slots` highest-pT ones.
    """
    counts = sample.counts
    n = len(counts)
    jet_of = np.repeat(np.arange(n), counts)
    pt = np.hypot(sample.p4[:, 0], sample.p4[:, 1])
    order = np.lexsort((-pt, jet_of))  # by jet, then pT descending
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, counts)
    keep = rank < n_slots
    p4 = np.zeros((n, n_slots, 4))
    p4[jet_of[keep], rank[keep]] = sample.p4[order][keep]
    mask = np.arange(n_slots)[None, :] < np.minimum(counts, n_slots)[:, None]
    return p4, mask


def hls4ml_arrays(sample: JetSample, class_index: int, full_substructure: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(jetConstituentList (N, 150, 16) float32, jets (N, 59) float32) for jets of one class."""
    p4, mask = padded_constituents(sample)
    constituents = hls4ml_particle_features(p4, mask, sample.jet_p4).astype(np.float32)
    jets = np.zeros((len(sample.counts), len(JET_FEATURES)))
    jpt, jeta, _ = pt_eta_phi(*(sample.jet_p4[:, i] for i in range(3)))
    jets[:, _COL["j_pt"]] = jpt
    jets[:, _COL["j_eta"]] = jeta
    jets[:, _COL["j_mass"]] = invariant_mass(*(sample.jet_p4[:, i] for i in (3, 0, 1, 2)))
    jets[:, _COL["j_ptfrac"]] = 1.0  # pT of the (all-particle) jet over the clustered jet
    jets[:, _COL["j_multiplicity"]] = sample.counts
    for name, values in jet_substructure(sample.p4, sample.counts, full=full_substructure).items():
        jets[:, _COL[name]] = values
    jets[:, _COL[LABEL_COLUMNS[class_index]]] = 1.0
    return constituents, jets.astype(np.float32)


def write_hls4ml_file(path: Path, constituents: np.ndarray, jets: np.ndarray, attrs: dict | None = None) -> None:
    """Write one file in the published hls4ml layout (no jet images). Atomic: temp file + rename."""
    import h5py

    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with h5py.File(tmp, "w") as f:
        f.create_dataset("jetConstituentList", data=constituents.astype(np.float32), compression="gzip",
                         compression_opts=4, shuffle=True)  # fmt: skip
        f.create_dataset("jets", data=jets.astype(np.float32))
        f.create_dataset("jetFeatureNames", data=np.array([n.encode() for n in JET_FEATURES], dtype="S"))
        f.create_dataset(
            "particleFeatureNames", data=np.array([n.encode() for n in PARTICLE_FEATURE_NAMES_AS_PUBLISHED], dtype="S")
        )
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
    tmp.replace(path)
