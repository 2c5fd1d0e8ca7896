"""Top Tagging Landscape reader (train/val/test `.h5`: pandas HDF5, key "table").

Columns: E_i, PX_i, PY_i, PZ_i for i = 0..199 (E = 0: empty slot), then truthE, truthPX,
truthPY, truthPZ, ttv and the label is_signal_new (0 QCD, 1 top). The published files use
pandas' "table" format; "fixed" is read too. Both are read with h5py only
(`saltjet.data.readers.pandas_hdf5`), in chunks of rows: pandas itself is never called, because
`pd.read_hdf` unpickles object columns and column metadata, which can run code from the file.
Object, string and categorical columns are refused; the kinematic columns must be floats.

Kinematics, vectorised over a chunk:
- mask = real particle = E > 0 (a negative E becomes padding, counted in the file's warning);
- jet axis = the four-vector sum of the real constituents; its pT, pseudorapidity η and φ;
- x = (pT, Δη = η − η_jet, Δφ = φ − φ_jet wrapped into [−π, π)); η is pseudorapidity, like the
  hls4ml set's j1_etarel. Extras: "energy", "px", "py", "pz" (GeV).
- jet_columns: jet_eta, jet_phi of that four-vector sum (all constituents, before truncation).
- With `labels="optional"` a file without is_signal_new is read too; its jets get y = -1.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from saltjet.data.kinematics import pt_eta_phi, wrap_phi
from saltjet.data.particles import ParticleData
from saltjet.data.readers.collect import JetCollector, collect_files
from saltjet.data.readers.features import CORE_FEATURES, select_extras
from saltjet.data.readers.files import HDF5_MAGIC, open_hdf5, require_file, starts_with
from saltjet.data.readers.pandas_hdf5 import open_frame, pandas_layout
from saltjet.data.readers.screening import missing_labels, refuse_options
from saltjet.errors import DataError

FORMAT = "toplandscape"
KEY = "table"
LABEL = "is_signal_new"
CLASS_NAMES = ["QCD", "top"]
EXTRA_FEATURES = ["energy", "px", "py", "pz"]
CHUNK_SIZE = 20_000
_PARTICLE_COLUMN = re.compile(r"^(E|PX|PY|PZ)_(\d+)$")


def sniff(path) -> bool:
    """True for an HDF5 file with a pandas DataFrame stored under /table (no links followed)."""
    if not starts_with(path, HDF5_MAGIC):
        return False
    try:
        import h5py

        with h5py.File(path, "r") as f:
            return pandas_layout(f, KEY) is not None
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
    return m


def jet_features(e: np.ndarray, px: np.ndarray, py: np.ndarray, pz: np.ndarray, with_axis: bool = False):
    """Per-particle (pT, Δη, Δφ) relative to the jet four-vector sum.

    Args:
        e, px, py, pz: (c, M) constituent four-momenta, zeros in empty slots.
        with_axis: also return the jet axis.
    Returns:
        pt, deta, dphi: (c, M) float64 (zeros where E = 0); mask: (c, M) bool (E > 0); with
        `with_axis`, then jet_eta, jet_phi: (c,) pseudorapidity and φ of the four-vector sum.
    """
    mask = e > 0
    pt, eta, phi = pt_eta_phi(px, py, pz)
    _, jet_eta, jet_phi = pt_eta_phi(*(np.where(mask, p, 0.0).sum(axis=1) for p in (px, py, pz)))
    deta = np.where(mask, eta - jet_eta[:, None], 0.0)
    dphi = np.where(mask, wrap_phi(phi - jet_phi[:, None]), 0.0)
    out = (np.where(mask, pt, 0.0), deta, dphi, mask)
    return out + (jet_eta, jet_phi) if with_axis else out


def _columns(frame, path: Path, optional: bool) -> tuple[list[str], int, bool]:
    """The E_i, PX_i, PY_i, PZ_i column names (E first, then PX, PY, PZ), M and whether the file
    has the label column (required unless `optional`); kinematics must be stored as floats."""
    m = _n_slots(frame.columns, path)
    has_label = LABEL in frame.columns
    if not has_label and not optional:
        raise missing_labels(path, f"no label column {LABEL!r}")
    names = [f"{k}_{i}" for k in ("E", "PX", "PY", "PZ") for i in range(m)]
    bad = next((n for n in names if frame.dtype(n).kind != "f"), None)
    if bad is not None:
        raise DataError(f"{path}: column {bad} holds {frame.dtype(bad)} values; kinematics "
                        "(E, PX, PY, PZ) must be floating-point numbers")
    return names, m, has_label


def _read_file(path: Path, extras: list[str], n_particles: int | None, chunk_size: int,
               collector: JetCollector) -> None:
    report = collector.file_report(path)
    report.negative_what = "E"
    with open_hdf5(path) as f:
        frame = open_frame(f, KEY, path)
        names, m, has_label = _columns(frame, path, collector.labels == "optional")
        report.has_labels = has_label
        report.n_slots = n_particles or m
        n, start = frame.n_rows, 0
        while start < n and not collector.full:
            stop = min(n, start + min(chunk_size, collector.wanted or chunk_size))
            values = frame.read(names + [LABEL] * has_label, start, stop, path)  # (c, 4M [+ 1])
            e, px, py, pz = (values[:, k * m:(k + 1) * m] for k in range(4))
            label = values[:, -1] if has_label else np.full(len(values), -1.0)
            finite = np.isfinite(values[:, :4 * m]).all(axis=1)
            report.count_negative(e[finite])
            with np.errstate(invalid="ignore", over="ignore"):
                pt, deta, dphi, mask, jet_eta, jet_phi = jet_features(e, px, py, pz, with_axis=True)
            columns = [pt, deta, dphi] + [{"energy": e, "px": px, "py": py, "pz": pz}[k] for k in extras]
            x = np.stack(columns, axis=-1).astype(np.float32)
            x *= mask[..., None]
            labelled = (label == 0) | (label == 1)
            keep = report.screen(finite, labelled, mask.sum(axis=1))
            y = report.label_values(np.where(labelled, label, 0).astype(np.int64), labelled)
            jets = {"jet_eta": jet_eta[keep], "jet_phi": jet_phi[keep]}
            collector.add_fitted(x[keep], mask[keep], y[keep], n_particles, report, jets)
            start = stop
    report.finish()


def read(paths, *, max_jets: int | None = None, n_particles: int | None = None, features=None,
         quiet: bool = False, on_nonfinite: str = "raise", labels: str = "required",
         chunk_size: int = CHUNK_SIZE, **options) -> ParticleData:
    """Read Top Tagging Landscape files.

    Args:
        paths: list of `.h5` files, read in order.
        max_jets: stop after this many usable jets.
        n_particles: slots per jet (default: the file's 200); extra real particles are dropped,
            lowest pT first (counted warning).
        features: None, "all", or extras among "energy", "px", "py", "pz".
        chunk_size: rows per read.
        quiet: no progress bar.
        on_nonfinite: "raise" (default: `DataError` counting the jets with NaN/inf values) or
            "drop" (skip them, counted warning).
        labels: "required" (default: a file without is_signal_new is refused, jets whose label is
            not 0 or 1 are skipped, counted) or "optional" (such jets are kept with y = -1).
    Returns:
        ParticleData: x (N, n, 3 + extras) float32, mask (N, n), y (N,) into ["QCD", "top"],
        jet_columns jet_eta, jet_phi of the four-vector sum of all the jet's constituents.
    """
    refuse_options(FORMAT, options)
    paths = [require_file(p, FORMAT) for p in paths]
    extras = select_extras(features, EXTRA_FEATURES, FORMAT)
    return collect_files(FORMAT, paths, lambda path, collector: _read_file(path, extras, n_particles, chunk_size, collector),
                         list(CLASS_NAMES), CORE_FEATURES + extras, max_jets, quiet=quiet,
                         on_nonfinite=on_nonfinite, labels=labels)
