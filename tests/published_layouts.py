"""Writers of small files in the EXACT published layouts, for the reader tests.

Each writer also returns the physical truth it wrote (per-particle pT, η, φ, labels), so tests can
compute the expected reader output independently of the reader's code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from saltjet.data.hls4ml_layout import JET_FEATURES, PARTICLE_FEATURE_NAMES_AS_PUBLISHED, PARTICLE_FEATURES

JETCLASS_LABELS = ["QCD", "Hbb", "Hcc", "Hgg", "H4q", "Hqql", "Zqq", "Wqq", "Tbqq", "Tbl"]
# mixed label dtypes, as in the published JetClass files
JETCLASS_LABEL_DTYPES = [np.float32, bool, np.int32, np.float64, bool, np.int32, np.float32, bool, np.int32, np.float32]


def random_constituents(n_jets: int, n_slots: int, seed: int, max_mult: int | None = None, min_mult: int = 1):
    """Massless constituents around a random jet direction, zero-padded, in pT-descending order.

    Returns pt, eta, phi (N, n_slots) float64 (0 in padded slots) and mult (N,) multiplicities.
    """
    rng = np.random.default_rng(seed)
    max_mult = n_slots if max_mult is None else max_mult
    mult = rng.integers(min_mult, max_mult + 1, n_jets)
    real = np.arange(n_slots)[None, :] < mult[:, None]
    jet_eta = rng.uniform(-1.5, 1.5, (n_jets, 1))
    jet_phi = rng.uniform(-np.pi, np.pi, (n_jets, 1))
    pt = -np.sort(-rng.exponential(20.0, (n_jets, n_slots)) - 0.5, axis=1)
    eta = jet_eta + rng.normal(0, 0.2, (n_jets, n_slots))
    phi = (jet_phi + rng.normal(0, 0.2, (n_jets, n_slots)) + np.pi) % (2 * np.pi) - np.pi
    return np.where(real, pt, 0.0), np.where(real, eta, 0.0), np.where(real, phi, 0.0), mult


def four_vectors(pt, eta, phi):
    """Massless (E, px, py, pz), zeros where pt = 0."""
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return np.sqrt(px**2 + py**2 + pz**2), px, py, pz


def wrap(dphi):
    return (dphi + np.pi) % (2 * np.pi) - np.pi


def write_hls4ml(path: Path, n_jets: int = 40, seed: int = 0, n_slots: int = 150, max_mult: int = 60,
                 labels=None, images: bool = True, constituents=None):
    """An hls4ml `jetImage_*_150p_*.h5` file: jetConstituentList (N, n, 16), jets (N, 59), the two
    name arrays (17 particle names for 16 columns) and jetImage arrays.

    Returns a dict with "constituents" (N, n, 16) float32 and "labels" (N,) class index 0..4.
    """
    rng = np.random.default_rng(seed + 1)
    pt, eta, phi, mult = random_constituents(n_jets, n_slots, seed, max_mult)
    real = pt > 0
    e, px, py, pz = four_vectors(pt, eta, phi)
    jpx, jpy, jpz, je = px.sum(1, keepdims=True), py.sum(1, keepdims=True), pz.sum(1, keepdims=True), e.sum(1, keepdims=True)
    jpt = np.hypot(jpx, jpy)
    jeta, jphi = np.arcsinh(jpz / jpt), np.arctan2(jpy, jpx)
    cols = {
        "j1_px": px, "j1_py": py, "j1_pz": pz, "j1_e": e, "j1_erel": e / je, "j1_pt": pt,
        "j1_ptrel": pt / jpt, "j1_eta": eta, "j1_etarel": eta - jeta, "j1_etarot": rng.normal(0, 0.2, pt.shape),
        "j1_phi": phi, "j1_phirel": wrap(phi - jphi), "j1_phirot": rng.normal(0, 0.2, pt.shape),
        "j1_deltaR": np.hypot(eta - jeta, wrap(phi - jphi)), "j1_costheta": pz / np.maximum(e, 1e-9),
        "j1_costhetarel": rng.uniform(-1, 1, pt.shape),
    }
    cons = np.stack([np.where(real, cols[name], 0.0) for name in PARTICLE_FEATURES], axis=-1).astype(np.float32)
    if constituents is not None:
        cons = constituents
    labels = rng.integers(0, 5, n_jets) if labels is None else np.asarray(labels)
    jets = rng.normal(size=(len(cons), len(JET_FEATURES))).astype(np.float32)
    jets[:, -6:] = 0
    valid = (labels >= 0) & (labels < 5)
    jets[np.flatnonzero(valid), len(JET_FEATURES) - 6 + labels[valid]] = 1
    jets[~valid, -1] = 1  # j_undef
    jets[:, JET_FEATURES.index("j_multiplicity")] = (cons[..., 5] > 0).sum(1)
    import h5py

    with h5py.File(path, "w") as f:
        f.create_dataset("jetConstituentList", data=cons)
        f.create_dataset("jets", data=jets)
        f.create_dataset("jetFeatureNames", data=np.array([n.encode() for n in JET_FEATURES]))
        f.create_dataset("particleFeatureNames", data=np.array([n.encode() for n in PARTICLE_FEATURE_NAMES_AS_PUBLISHED]))
        if images:
            for name in ("jetImage", "jetImageECAL", "jetImageHCAL"):
                f.create_dataset(name, data=np.zeros((len(cons), 4, 4), dtype=np.float32))
    return {"constituents": cons, "labels": labels}


def write_toplandscape(path: Path, n_jets: int = 30, seed: int = 0, n_slots: int = 200, max_mult: int = 80,
                       table_format: str = "fixed", nan_jet: int | None = None, labels=None):
    """A Top Tagging Landscape file: pandas HDF5, key "table", columns E_i, PX_i, PY_i, PZ_i
    (i < 200), truthE, truthPX, truthPY, truthPZ, ttv, is_signal_new.

    Returns "pt", "eta", "phi" (N, n) of the constituents and "labels" (N,).
    """
    import pandas as pd

    rng = np.random.default_rng(seed + 2)
    pt, eta, phi, mult = random_constituents(n_jets, n_slots, seed, max_mult)
    e, px, py, pz = four_vectors(pt, eta, phi)
    labels = rng.integers(0, 2, n_jets) if labels is None else np.asarray(labels)
    data = {}
    for i in range(n_slots):
        data[f"E_{i}"], data[f"PX_{i}"], data[f"PY_{i}"], data[f"PZ_{i}"] = e[:, i], px[:, i], py[:, i], pz[:, i]
    truth = rng.normal(size=(n_jets, 4))
    for k, name in enumerate(["truthE", "truthPX", "truthPY", "truthPZ"]):
        data[name] = truth[:, k]
    data["ttv"] = rng.integers(0, 3, n_jets)
    data["is_signal_new"] = labels
    df = pd.DataFrame(data)
    if nan_jet is not None:
        df.loc[nan_jet, "PX_0"] = np.nan
    df.to_hdf(path, key="table", format=table_format)
    return {"pt": pt, "eta": eta, "phi": phi, "labels": labels, "e": e, "px": px, "py": py, "pz": pz}


def write_quarkgluon(path: Path, n_jets: int = 40, seed: int = 0, n_slots: int = 60, max_mult: int = 50):
    """An EnergyFlow `QG_jets*.npz`: X (N, M, 4) = (pT, y, φ in [0, 2π), pdgid), y 1 = quark."""
    rng = np.random.default_rng(seed + 3)
    pt, rap, phi, mult = random_constituents(n_jets, n_slots, seed, max_mult)
    real = pt > 0
    phi = np.where(real, phi % (2 * np.pi), 0.0)
    phi[0] = np.where(real[0], rng.normal(0, 0.2, n_slots) % (2 * np.pi), 0.0)  # jet 0 straddles φ = 0 = 2π
    pdgid = np.where(real, rng.choice([22, 211, -211, 130, 11], pt.shape), 0)
    X = np.stack([pt, rap, phi, pdgid], axis=-1)
    y = rng.integers(0, 2, n_jets).astype(np.float64)
    np.savez_compressed(path, X=X, y=y)
    return {"X": X, "y": y}


def write_jetclass(path: Path, n_jets: int = 30, seed: int = 0, max_mult: int = 60, min_mult: int = 1,
                   labels=None, onehot=None):
    """A JetClass ROOT file: TTree "tree" with jagged part_* branches, jet_* scalars and label_*
    branches of mixed float/bool/int32 types.

    Returns "pt", "deta", "dphi" as lists of per-jet arrays and "labels" (N,).
    """
    import awkward as ak
    import uproot

    rng = np.random.default_rng(seed + 4)
    mult = rng.integers(min_mult, max_mult + 1, n_jets)
    offsets = np.concatenate([[0], np.cumsum(mult)])
    total = int(offsets[-1])
    jet_eta, jet_phi = rng.uniform(-2, 2, n_jets), rng.uniform(-np.pi, np.pi, n_jets)
    pt = rng.exponential(15.0, total).astype(np.float32) + 0.5
    deta = rng.normal(0, 0.2, total).astype(np.float32)
    dphi = rng.normal(0, 0.2, total).astype(np.float32)
    phi = np.repeat(jet_phi, mult) + dphi
    eta = np.repeat(jet_eta, mult) + deta
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)

    def jag(a):
        return ak.unflatten(np.asarray(a, dtype=np.float32), mult)

    labels = rng.integers(0, 10, n_jets) if labels is None else np.asarray(labels)
    if onehot is None:
        onehot = np.zeros((n_jets, 10))
        onehot[np.arange(n_jets), labels] = 1
    tree = {
        "part_px": jag(px), "part_py": jag(py), "part_pz": jag(pz), "part_energy": jag(np.sqrt(px**2 + py**2 + pz**2)),
        "part_deta": jag(deta), "part_dphi": jag(dphi), "part_charge": jag(rng.choice([-1, 0, 1], total)),
        "part_d0val": jag(rng.normal(0, 0.01, total)),
        "jet_pt": rng.uniform(500, 1000, n_jets), "jet_eta": jet_eta, "jet_phi": jet_phi,
        "jet_energy": rng.uniform(500, 2000, n_jets), "jet_nparticles": mult.astype(np.float32),
        "jet_sdmass": rng.uniform(0, 200, n_jets),
    }
    for k, (name, dtype) in enumerate(zip(JETCLASS_LABELS, JETCLASS_LABEL_DTYPES)):
        tree[f"label_{name}"] = onehot[:, k].astype(dtype)
    with uproot.recreate(path) as f:
        f["tree"] = tree
    split = lambda a: np.split(np.asarray(a, dtype=np.float32), offsets[1:-1])  # noqa: E731
    return {"pt": split(np.hypot(px, py)), "deta": split(deta), "dphi": split(dphi), "labels": labels, "mult": mult}


# The same layouts without labels (for `load(..., labels="optional")` and `saltjet predict`).


def strip_hls4ml_labels(path, keep_columns: bool):
    """Zero the one-hot label columns (keep_columns) or remove them from `jets` and jetFeatureNames."""
    import h5py

    with h5py.File(path, "r+") as f:
        jets = f["jets"][()]
        if keep_columns:
            jets[:, -6:] = 0
            f["jets"][...] = jets
            return
        keep = [i for i, name in enumerate(JET_FEATURES) if name not in ("j_g", "j_q", "j_w", "j_z", "j_t", "j_undef")]
        del f["jets"], f["jetFeatureNames"]
        f.create_dataset("jets", data=jets[:, keep])
        f.create_dataset("jetFeatureNames", data=np.array([JET_FEATURES[i].encode() for i in keep]))


def write_toplandscape_unlabelled(path, n_jets=25, n_slots=40, seed=0):
    """The Top Tagging layout without is_signal_new."""
    import pandas as pd

    pt, eta, phi, _ = random_constituents(n_jets, n_slots, seed, max_mult=30)
    e, px, py, pz = four_vectors(pt, eta, phi)
    data = {}
    for i in range(n_slots):
        data[f"E_{i}"], data[f"PX_{i}"], data[f"PY_{i}"], data[f"PZ_{i}"] = e[:, i], px[:, i], py[:, i], pz[:, i]
    data["ttv"] = np.zeros(n_jets, dtype=np.int64)
    pd.DataFrame(data).to_hdf(path, key="table", format="table")
    return {"px": px, "py": py, "pz": pz}


def write_jetclass_unlabelled(path, n_jets=20, seed=0):
    """A JetClass tree with particle and jet branches, no label_* branches."""
    import awkward as ak
    import uproot

    rng = np.random.default_rng(seed)
    mult = rng.integers(1, 30, n_jets)
    total = int(mult.sum())
    jag = lambda a: ak.unflatten(np.asarray(a, dtype=np.float32), mult)  # noqa: E731
    tree = {"part_px": jag(rng.normal(0, 10, total)), "part_py": jag(rng.normal(0, 10, total)),
            "part_deta": jag(rng.normal(0, 0.2, total)), "part_dphi": jag(rng.normal(0, 0.2, total)),
            "jet_eta": rng.uniform(-2, 2, n_jets), "jet_phi": rng.uniform(-np.pi, np.pi, n_jets)}
    with uproot.recreate(path) as f:
        f["tree"] = tree
    return {"jet_eta": tree["jet_eta"], "jet_phi": tree["jet_phi"]}
