"""Top Tagging Landscape reader (train/val/test `.h5`: pandas HDF5, key "table").

Columns: E_i, PX_i, PY_i, PZ_i for i = 0..199 (E = 0: empty slot), then truthE, truthPX,
truthPY, truthPZ, ttv and the label is_signal_new (0 QCD, 1 top). Both pandas storage formats are
read in chunks of rows (`HDFStore.select(start=, stop=)`): "fixed" (the published files) and
"table".

Kinematics, vectorised over a chunk:
- mask = real particle = E > 0;
- jet axis = the four-vector sum of the real constituents; its pT, pseudorapidity η and φ;
- x = (pT, Δη = η − η_jet, Δφ = φ − φ_jet wrapped into [−π, π)); η is pseudorapidity, like the
  hls4ml set's j1_etarel. Extras: "energy", "px", "py", "pz" (GeV).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from saltjet.data.kinematics import pt_eta_phi, wrap_phi
from saltjet.data.particles import ParticleData
from saltjet.data.readers.collect import JetCollector, collect_files
from saltjet.data.readers.features import CORE_FEATURES, select_extras
from saltjet.data.readers.files import HDF5_MAGIC, one_line, require_file, starts_with
from saltjet.errors import DataError

FORMAT = "toplandscape"
KEY = "table"
LABEL = "is_signal_new"
CLASS_NAMES = ["QCD", "top"]
EXTRA_FEATURES = ["energy", "px", "py", "pz"]
CHUNK_SIZE = 20_000
_PARTICLE_COLUMN = re.compile(r"^(E|PX|PY|PZ)_(\d+)$")


def sniff(path) -> bool:
    """True for an HDF5 file with a pandas object under /table (and no hls4ml datasets)."""
    if not starts_with(path, HDF5_MAGIC):
        return False
    try:
        import h5py

        with h5py.File(path, "r") as f:
            group = f.get(KEY)
            return isinstance(group, h5py.Group) and "pandas_type" in group.attrs
    except Exception:  # an unreadable file is simply not this format
        return False


def _n_slots(columns, path: Path) -> int:
    """Number of constituent slots M, checking that E_i, PX_i, PY_i, PZ_i exist for i < M."""
    found: dict[str, set[int]] = {"E": set(), "PX": set(), "PY": set(), "PZ": set()}
    for c in columns:
        m = _PARTICLE_COLUMN.match(str(c))
        if m:
            found[m.group(1)].add(int(m.group(2)))
    m = len(found["E"])
    if m == 0 or any(found[k] != set(range(m)) for k in found):
        raise DataError(f"{path}: expected columns E_i, PX_i, PY_i, PZ_i for i = 0..M-1")
    if LABEL not in columns:
        raise DataError(f"{path}: no label column {LABEL!r}")
    return m


def jet_features(e: np.ndarray, px: np.ndarray, py: np.ndarray, pz: np.ndarray):
    """Per-particle (pT, Δη, Δφ) relative to the jet four-vector sum.

    Args:
        e, px, py, pz: (c, M) constituent four-momenta, zeros in empty slots.
    Returns:
        pt, deta, dphi: (c, M) float64 (zeros where E = 0); mask: (c, M) bool (E > 0).
    """
    mask = e > 0
    pt, eta, phi = pt_eta_phi(px, py, pz)
    _, jet_eta, jet_phi = pt_eta_phi(*(np.where(mask, p, 0.0).sum(axis=1) for p in (px, py, pz)))
    deta = np.where(mask, eta - jet_eta[:, None], 0.0)
    dphi = np.where(mask, wrap_phi(phi - jet_phi[:, None]), 0.0)
    return np.where(mask, pt, 0.0), deta, dphi, mask


def _read_file(path: Path, extras: list[str], n_particles: int | None, chunk_size: int,
               collector: JetCollector) -> None:
    import pandas as pd

    report = collector.file_report(path)
    if not starts_with(path, HDF5_MAGIC):
        raise DataError(f"{path}: not an HDF5 file")
    try:
        store = pd.HDFStore(path, mode="r")
    except Exception as e:
        raise DataError(f"{path}: cannot open HDF5 file (truncated or corrupt?): {one_line(e)}") from None
    with store:
        if "/" + KEY not in store.keys():
            raise DataError(f"{path}: no pandas key {KEY!r} (not a Top Tagging Landscape file)")
        storer = store.get_storer(KEY)
        n = int(storer.nrows if storer.is_table else storer.shape[0])
        start, cols = 0, None
        while start < n and not collector.full:
            stop = min(n, start + min(chunk_size, collector.wanted or chunk_size))
            try:
                df = store.select(KEY, start=start, stop=stop)
            except Exception as e:
                raise DataError(f"{path}: cannot read rows {start}..{stop} (truncated file?): {one_line(e)}") from None
            if cols is None:
                m = _n_slots(df.columns, path)
                cols = [[f"{k}_{i}" for i in range(m)] for k in ("E", "PX", "PY", "PZ")]
                report.n_slots = n_particles or m
            e, px, py, pz = (df[c].to_numpy(dtype=np.float64) for c in cols)
            label = df[LABEL].to_numpy(dtype=np.float64)
            finite = np.isfinite(e).all(1) & np.isfinite(px).all(1) & np.isfinite(py).all(1) & np.isfinite(pz).all(1)
            with np.errstate(invalid="ignore", over="ignore"):
                pt, deta, dphi, mask = jet_features(e, px, py, pz)
            columns = [pt, deta, dphi] + [{"energy": e, "px": px, "py": py, "pz": pz}[k] for k in extras]
            x = np.stack(columns, axis=-1).astype(np.float32)
            x *= mask[..., None]
            labelled = (label == 0) | (label == 1)
            keep = report.screen(finite, labelled, mask.sum(axis=1))
            x, mask, y = x[keep], mask[keep], label[keep].astype(np.int64)
            collector.add_fitted(x, mask, y, n_particles, report)
            start = stop
    report.warn()


def read(paths, *, max_jets: int | None = None, n_particles: int | None = None, features=None,
         chunk_size: int = CHUNK_SIZE, quiet: bool = False) -> ParticleData:
    """Read Top Tagging Landscape files.

    Args:
        paths: list of `.h5` files, read in order.
        max_jets: stop after this many usable jets.
        n_particles: slots per jet (default: the file's 200); extra real particles are dropped,
            lowest pT first (counted warning).
        features: None, "all", or extras among "energy", "px", "py", "pz".
        chunk_size: rows per read.
        quiet: no progress bar.
    Returns:
        ParticleData: x (N, n, 3 + extras) float32, mask (N, n), y (N,) into ["QCD", "top"].
    """
    paths = [require_file(p, FORMAT) for p in paths]
    extras = select_extras(features, EXTRA_FEATURES, FORMAT)
    return collect_files(FORMAT, paths, lambda path, collector: _read_file(path, extras, n_particles, chunk_size, collector),
                         list(CLASS_NAMES), CORE_FEATURES + extras, max_jets, quiet=quiet)
