"""hls4ml LHC jet data set reader (`jetImage_*_150p_*.h5`; also what `saltjet generate` writes).

Layout (see `saltjet.data.hls4ml_layout`): `jetConstituentList` (N, 150, 16) zero-padded particle
features, `jets` (N, 59) with one-hot labels j_g, j_q, j_w, j_z, j_t (then j_undef),
`jetFeatureNames` (59) and `particleFeatureNames` (17 names for 16 columns: a trailing
`j1_pdgid` has no column). The `jetImage*` arrays are never read.

Choices:
- Columns and label columns are found BY NAME from the two name arrays when present (falling back
  to the published order), so classes are g, q, W, Z, t exactly as the file names them. With
  `labels="optional"` a file without label columns (or a jet whose one-hot is all zero) is read
  too: its jets get y = -1.
- Jet-level `jet_columns`: jet_eta = the file's j_eta, jet_phi = its j_phi if it has one (the
  published layout does not), else the φ of the summed constituent momenta (j1_px, j1_py): all
  particles of the file, before any truncation to `n_particles`.
- x = (j1_pt, j1_etarel, j1_phirel) = pT [GeV], Δη, Δφ; `features="all"` or a list of column names
  (e.g. ["j1_e", "j1_deltaR"]) appends extras after them.
- mask = real particle = j1_pt > 0 (the files are zero-padded; pT of a real particle is never 0).
  A negative pT becomes padding and is counted in the file's warning.
- `jetConstituentList` must hold floats: integer kinematics (Δη, Δφ rounded to 0) or strings are
  refused. Every dataset read must be stored in the file (no links, virtual or external data).
- Files are read in chunks of `chunk_size` jets, so memory holds one chunk of the (N, 150, 16)
  array at a time plus the output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from saltjet.data.hls4ml_layout import (
    CLASS_NAMES,
    JET_FEATURES,
    LABEL_COLUMNS,
    PARTICLE_FEATURES,
)
from saltjet.data.particles import ParticleData
from saltjet.data.readers.collect import JetCollector, collect_files
from saltjet.data.readers.features import CORE_FEATURES, select_extras
from saltjet.data.readers.files import (
    HDF5_MAGIC,
    decode_names,
    hdf5_dataset,
    one_line,
    open_hdf5,
    require_file,
    require_float,
    require_numeric,
    starts_with,
)
from saltjet.data.readers.screening import missing_labels, one_hot_labels, refuse_options
from saltjet.errors import DataError

FORMAT = "hls4ml"
PARTICLES = "jetConstituentList"
JETS = "jets"
CORE_COLUMNS = ["j1_pt", "j1_etarel", "j1_phirel"]
EXTRA_FEATURES = [name for name in PARTICLE_FEATURES if name not in CORE_COLUMNS]
CHUNK_SIZE = 8192


def sniff(path) -> bool:
    """True for an HDF5 file holding a `jetConstituentList` dataset."""
    if not starts_with(path, HDF5_MAGIC):
        return False
    try:
        import h5py

        with h5py.File(path, "r") as f:  # links are looked at, never followed
            return f.get(PARTICLES, getlink=True) is not None and f.get(JETS, getlink=True) is not None
    except Exception:  # an unreadable file is simply not this format
        return False


def _names(f, name: str, path: Path) -> list[str] | None:
    """A 1-D string dataset (fixed or variable length) as a list of str; None if absent."""
    import h5py

    dset = hdf5_dataset(f, name, path, required=False)
    if dset is None:
        return None
    if dset.ndim != 1 or not (dset.dtype.kind in "SU" or h5py.check_string_dtype(dset.dtype)):
        raise DataError(f"{path}: {name} is not a list of strings ({dset.dtype}, shape {dset.shape})")
    try:
        return decode_names(dset[()])
    except Exception as e:
        raise DataError(f"{path}: cannot read {name} (corrupt file?): {one_line(e)}") from None


def _particle_columns(f, path: Path, n_cols: int) -> list[str]:
    """Names of the particle columns; the published 17-names-for-16-columns quirk is accepted."""
    stored = _names(f, "particleFeatureNames", path)
    if stored is None:
        names = list(PARTICLE_FEATURES)
    else:
        names = stored
        if len(names) == n_cols + 1:  # the published files list j1_pdgid without a column
            names = names[:n_cols]
    if len(names) != n_cols:
        raise DataError(f"{path}: {PARTICLES} has {n_cols} columns but {len(names)} feature names")
    missing = [c for c in CORE_COLUMNS if c not in names]
    if missing:
        raise DataError(f"{path}: particle features lack {', '.join(missing)}")
    return names


def _jet_names(f, path: Path, n_cols: int) -> list[str] | None:
    """Names of the `jets` columns: `jetFeatureNames`, or the published 59 when the file has none
    and 59 columns; None when unknown."""
    names = _names(f, "jetFeatureNames", path)
    if names is None:
        return list(JET_FEATURES) if n_cols == len(JET_FEATURES) else None
    if len(names) != n_cols:
        raise DataError(f"{path}: {JETS} has {n_cols} columns but jetFeatureNames has {len(names)}")
    return names


def _label_columns(jet_names: list[str] | None, path: Path, n_cols: int, optional: bool) -> list[int] | None:
    """Indices of j_g, j_q, j_w, j_z, j_t in `jets`, found by name; None (no labels) when they are
    missing and labels are optional."""
    if jet_names is None:
        if optional:
            return None
        raise missing_labels(path, f"{JETS} has {n_cols} columns and no jetFeatureNames, so no j_g..j_t columns")
    missing = [c for c in LABEL_COLUMNS if c not in jet_names]
    if missing:
        if optional:
            return None
        raise missing_labels(path, f"no label column {', '.join(missing)} in jetFeatureNames")
    return [jet_names.index(c) for c in LABEL_COLUMNS]


def jet_direction(px: np.ndarray, py: np.ndarray, pz: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pseudorapidity and φ of the summed real constituents (c,), from (c, m) momenta."""
    from saltjet.data.kinematics import pt_eta_phi

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        _, eta, phi = pt_eta_phi(*(np.where(mask, p, 0.0).sum(axis=1, dtype=np.float64) for p in (px, py, pz)))
    return eta, phi


def _read_file(path: Path, extras: list[str], n_particles: int | None, chunk_size: int,
               collector: JetCollector) -> None:
    report = collector.file_report(path)
    optional = collector.labels == "optional"
    with open_hdf5(path) as f:
        parts, jets = hdf5_dataset(f, PARTICLES, path), hdf5_dataset(f, JETS, path)
        require_float(parts, PARTICLES, path, "particle kinematics")
        require_numeric(jets, JETS, path)
        if parts.ndim != 3 or jets.ndim != 2 or len(parts) != len(jets):
            raise DataError(f"{path}: expected {PARTICLES} (N, n, 16) and {JETS} (N, 59), "
                            f"got {parts.shape} and {jets.shape}")
        names = _particle_columns(f, path, parts.shape[2])
        jet_names = _jet_names(f, path, jets.shape[1])
        label_cols = _label_columns(jet_names, path, jets.shape[1], optional)
        report.has_labels = label_cols is not None
        # jet η and φ: the file's columns, else those of the summed constituents when it has momenta
        stored = {key: jet_names.index(col) for key, col in (("jet_eta", "j_eta"), ("jet_phi", "j_phi"))
                  if jet_names is not None and col in jet_names}
        momenta = [names.index(c) for c in ("j1_px", "j1_py", "j1_pz")] if {"j1_px", "j1_py", "j1_pz"} <= set(names) else None
        read_jets = sorted(set((label_cols or []) + list(stored.values())))
        columns = [names.index(c) for c in CORE_COLUMNS + extras]
        report.n_slots = n_particles or parts.shape[1]
        n = len(parts)
        buffer = np.empty((min(chunk_size, n),) + parts.shape[1:], dtype=parts.dtype)
        start = 0
        while start < n and not collector.full:
            stop = min(n, start + min(chunk_size, collector.wanted or chunk_size))
            raw = buffer[: stop - start]
            try:
                parts.read_direct(raw, np.s_[start:stop], np.s_[0 : stop - start])
                jet_values = jets[start:stop][:, read_jets] if read_jets else np.zeros((stop - start, 0))
            except (OSError, ValueError, TypeError) as e:
                raise DataError(f"{path}: cannot read jets {start}..{stop} (truncated file?): {one_line(e)}") from None
            x = np.take(raw, columns, axis=2).astype(np.float32, copy=False)
            finite = np.isfinite(x).all(axis=(1, 2))
            report.count_negative(x[finite, :, 0])
            mask = x[:, :, 0] > 0
            if label_cols is None:
                y, labelled = np.full(len(x), -1, np.int64), np.zeros(len(x), bool)
            else:
                y, labelled = one_hot_labels(jet_values[:, [read_jets.index(c) for c in label_cols]])
            keep = report.screen(finite, labelled, mask.sum(axis=1))
            y = report.label_values(y, labelled)
            jet_cols = {key: jet_values[:, read_jets.index(c)].astype(np.float64) for key, c in stored.items()}
            if momenta is not None and len(jet_cols) < 2:
                eta, phi = jet_direction(*(raw[..., c] for c in momenta), mask)
                jet_cols = {"jet_eta": jet_cols.get("jet_eta", eta), "jet_phi": jet_cols.get("jet_phi", phi)}
            if not keep.all():
                x, mask, y = x[keep], mask[keep], y[keep]
                jet_cols = {k: v[keep] for k, v in jet_cols.items()}
            x *= mask[:, :, None]
            collector.add_fitted(x, mask, y, n_particles, report, jet_cols)
            start = stop
    report.finish()


def read(paths, *, max_jets: int | None = None, n_particles: int | None = None, features=None,
         quiet: bool = False, on_nonfinite: str = "raise", labels: str = "required",
         chunk_size: int = CHUNK_SIZE, **options) -> ParticleData:
    """Read hls4ml HDF5 files.

    Args:
        paths: list of files, read in the given order.
        max_jets: stop after this many usable jets.
        n_particles: slots per jet (default: the file's, 150); jets with more real particles keep
            their highest-pT ones (counted warning).
        features: None, "all", or extra column names (see the module docstring).
        chunk_size: jets per HDF5 read.
        quiet: no progress bar.
        on_nonfinite: "raise" (default: `DataError` counting the jets with NaN/inf values) or
            "drop" (skip them, counted warning).
        labels: "required" (default: jets without exactly one of j_g..j_t set are skipped, counted;
            a file without those columns is refused) or "optional" (such jets are kept with y = -1).
    Returns:
        ParticleData: x (N, n, 3 + extras) float32, mask (N, n), y (N,) into ["g", "q", "W", "Z", "t"],
        jet_columns jet_eta (the file's j_eta) and jet_phi (j_phi when the file has it, else the φ
        of the summed constituents' j1_px, j1_py).
    """
    refuse_options(FORMAT, options)
    paths = [require_file(p, FORMAT) for p in paths]
    extras = select_extras(features, EXTRA_FEATURES, FORMAT)
    total = 0
    for path in paths:
        with open_hdf5(path) as f:
            parts = hdf5_dataset(f, PARTICLES, path, required=False)
            total += len(parts) if parts is not None else 0
    return collect_files(FORMAT, paths, lambda path, collector: _read_file(path, extras, n_particles, chunk_size, collector),
                         list(CLASS_NAMES), CORE_FEATURES + extras, max_jets, total, quiet, on_nonfinite, labels)
