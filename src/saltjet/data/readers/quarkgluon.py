"""Quark/gluon jet reader (EnergyFlow `QG_jets*.npz`).

Each file holds `X` (N, M, 4) = (pT [GeV], rapidity y, φ, pdgid), zero-padded to the file's M
(M differs between files: the result is padded to the largest), and `y` (N,) with 1 = quark,
0 = gluon. Class names are ["g", "q"], so label 1 stays "q".

Choices:
- mask = real particle = pT > 0.
- Jet axis = the pT-weighted centroid in (y, φ). φ is averaged as offsets from the jet's
  highest-pT particle, wrapped into [−π, π), so jets straddling φ = 0 = 2π get the right axis.
- x = (pT, Δy, Δφ): for this format the second column is a RAPIDITY difference (the file stores
  rapidity, not pseudorapidity). Extra feature: "pdgid" (the particle's PDG id, as a float).
- An `.npz` member cannot be read in parts, so each file's `X` is loaded whole, then processed
  in chunks of `chunk_size` jets. Before loading, each member's `.npy` header is checked: object
  arrays (pickles) are refused, and so is a declared shape larger than the stored bytes (a
  corrupt header must not allocate memory). Arrays are loaded with `allow_pickle=False`.
- `X` must hold floats (integer rapidity/φ would be rounded) and `y` numbers; a negative pT
  becomes padding and is counted in the file's warning. With `labels="optional"` a file without
  `y` is read too; its jets get y = -1.
- jet_columns: jet_eta, jet_phi of the four-vector sum of the constituents, taken as massless
  (E = pT cosh y, pz = pT sinh y), all particles of the file before truncation.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from saltjet.data.kinematics import wrap_phi
from saltjet.data.particles import ParticleData
from saltjet.data.readers.collect import JetCollector, collect_files
from saltjet.data.readers.features import CORE_FEATURES, select_extras
from saltjet.data.readers.files import (
    ZIP_MAGIC,
    one_line,
    require_file,
    require_float,
    require_numeric,
    starts_with,
)
from saltjet.data.readers.screening import missing_labels, refuse_options
from saltjet.errors import DataError

FORMAT = "quarkgluon"
CLASS_NAMES = ["g", "q"]
EXTRA_FEATURES = ["pdgid"]
CHUNK_SIZE = 20_000


def sniff(path) -> bool:
    """True for a `.npz` (zip) archive holding `X.npy` (labels `y.npy` may be absent: the reader
    refuses such a file unless labels are optional)."""
    if not starts_with(path, ZIP_MAGIC):
        return False
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
        return "X.npy" in names
    except Exception:  # an unreadable file is simply not this format
        return False


def centroid_features(pt: np.ndarray, rap: np.ndarray, phi: np.ndarray, mask: np.ndarray):
    """(pT, Δy, Δφ) relative to the pT-weighted (y, φ) centroid.

    Args:
        pt, rap, phi: (c, M) particle pT, rapidity and azimuth.
        mask: (c, M) bool, True = real particle.
    Returns:
        deta, dphi: (c, M) float64, zero at padded slots.
    """
    w = np.where(mask, pt, 0.0)
    total = w.sum(axis=1)
    total = np.where(total > 0, total, 1.0)
    lead = np.take_along_axis(phi, np.argmax(w, axis=1)[:, None], axis=1)
    dphi_lead = wrap_phi(phi - lead)
    rap_c = (w * rap).sum(axis=1, keepdims=True) / total[:, None]
    phi_c = lead + (w * dphi_lead).sum(axis=1, keepdims=True) / total[:, None]
    return np.where(mask, rap - rap_c, 0.0), np.where(mask, wrap_phi(phi - phi_c), 0.0)


def check_members(path: Path, names=("X", "y")) -> None:
    """Check the `.npy` headers of the archive's members `names` without loading them.

    `DataError` for a missing member, an object dtype (a pickle: never loaded), or a header whose
    shape needs more bytes than the member stores.
    """
    with zipfile.ZipFile(path) as z:
        infos = {info.filename: info for info in z.infolist()}
        for name in names:
            info = infos.get(f"{name}.npy")
            if info is None:
                raise DataError(f"{path}: no array {name} (not an EnergyFlow QG file)")
            with z.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read_header is None:
                    raise DataError(f"{path}: array {name} has .npy format version {version}, expected 1.0 or 2.0")
                shape, _, dtype = read_header(fh)
            if dtype.hasobject:
                raise DataError(f"{path}: array {name} holds Python objects (a pickle); refusing to load it")
            if int(np.prod(shape, dtype=np.float64)) * dtype.itemsize > info.file_size:
                raise DataError(f"{path}: array {name} declares shape {shape} but stores only "
                                f"{info.file_size} bytes (corrupt file?)")


def _load_arrays(path: Path, optional: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """X and y (None when the file has no y and labels are `optional`)."""
    if not starts_with(path, ZIP_MAGIC):
        raise DataError(f"{path}: not an .npz archive")
    try:
        with zipfile.ZipFile(path) as z:
            has_y = "y.npy" in z.namelist()
        if not has_y and not optional:
            raise missing_labels(path, "no array y")
        names = ("X", "y") if has_y else ("X",)
        check_members(path, names)
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in names if k not in npz.files]
            if missing:
                raise DataError(f"{path}: no array {', '.join(missing)} (not an EnergyFlow QG file)")
            return npz["X"], (npz["y"] if "y" in names else None)
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"{path}: cannot read .npz (truncated or corrupt?): {one_line(e)}") from None


def jet_direction(pt: np.ndarray, rap: np.ndarray, phi: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pseudorapidity and φ (c,) of the four-vector sum of massless constituents (c, M) given by
    pT, rapidity and φ (for a massless particle rapidity = pseudorapidity)."""
    from saltjet.data.kinematics import pt_eta_phi

    w = np.where(mask, pt, 0.0)
    _, eta, jet_phi = pt_eta_phi((w * np.cos(phi)).sum(axis=1), (w * np.sin(phi)).sum(axis=1),
                                 (w * np.sinh(np.where(mask, rap, 0.0))).sum(axis=1))
    return eta, jet_phi


def _read_file(path: Path, extras: list[str], n_particles: int | None, chunk_size: int,
               collector: JetCollector) -> None:
    report = collector.file_report(path)
    X, labels = _load_arrays(path, collector.labels == "optional")
    report.has_labels = labels is not None
    if labels is None:
        labels = np.full(len(X) if X.ndim else 0, -1.0)
    need = 4 if extras else 3
    if X.ndim != 3 or X.shape[2] < need or labels.shape != (len(X),):
        raise DataError(f"{path}: expected X (N, M, 4) and y (N,), got X {X.shape} and y {labels.shape}")
    require_float(X, "X", path, "particle pT, rapidity and φ")
    require_numeric(labels, "y", path)
    report.n_slots = n_particles or X.shape[1]
    for start in range(0, len(X), chunk_size):
        if collector.full:
            break
        part = X[start:start + chunk_size].astype(np.float64, copy=False)
        label = labels[start:start + chunk_size].astype(np.float64)
        pt, rap, phi = part[..., 0], part[..., 1], part[..., 2]
        finite = np.isfinite(part[..., :need]).all(axis=(1, 2))
        report.count_negative(pt[finite])
        mask = pt > 0
        with np.errstate(invalid="ignore", over="ignore"):
            deta, dphi = centroid_features(pt, rap, phi, mask)
            jet_eta, jet_phi = jet_direction(pt, rap, phi, mask)
        columns = [np.where(mask, pt, 0.0), deta, dphi]
        if extras:
            columns.append(np.where(mask, part[..., 3], 0.0))
        x = np.stack(columns, axis=-1).astype(np.float32)
        labelled = (label == 0) | (label == 1)
        keep = report.screen(finite, labelled, mask.sum(axis=1))
        y = report.label_values(np.where(labelled, label, 0).astype(np.int64), labelled)
        jets = {"jet_eta": jet_eta[keep], "jet_phi": jet_phi[keep]}
        collector.add_fitted(x[keep], mask[keep], y[keep], n_particles, report, jets)
    report.finish()


def read(paths, *, max_jets: int | None = None, n_particles: int | None = None, features=None,
         quiet: bool = False, on_nonfinite: str = "raise", labels: str = "required",
         chunk_size: int = CHUNK_SIZE, **options) -> ParticleData:
    """Read EnergyFlow quark/gluon `.npz` files.

    Args:
        paths: list of files, read in order.
        max_jets: stop after this many usable jets.
        n_particles: slots per jet (default: the largest M among the files read); extra real
            particles are dropped, lowest pT first (counted warning).
        features: None, "all" or ["pdgid"].
        chunk_size: jets processed at once.
        quiet: no progress bar.
        on_nonfinite: "raise" (default: `DataError` counting the jets with NaN/inf values) or
            "drop" (skip them, counted warning).
        labels: "required" (default: a file without y is refused, jets whose y is not 0 or 1 are
            skipped, counted) or "optional" (such jets are kept with y = -1).
    Returns:
        ParticleData: x (N, n, 3 + extras) float32, mask (N, n), y (N,) into ["g", "q"], jet_columns
        jet_eta, jet_phi of the four-vector sum of all the jet's (massless) constituents.
    """
    refuse_options(FORMAT, options)
    paths = [require_file(p, FORMAT) for p in paths]
    extras = select_extras(features, EXTRA_FEATURES, FORMAT)
    return collect_files(FORMAT, paths, lambda path, collector: _read_file(path, extras, n_particles, chunk_size, collector),
                         list(CLASS_NAMES), CORE_FEATURES + extras, max_jets, quiet=quiet,
                         on_nonfinite=on_nonfinite, labels=labels)
