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
  becomes padding and is counted in the file's warning.
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
from saltjet.errors import DataError

FORMAT = "quarkgluon"
CLASS_NAMES = ["g", "q"]
EXTRA_FEATURES = ["pdgid"]
CHUNK_SIZE = 20_000


def sniff(path) -> bool:
    """True for a `.npz` (zip) archive holding `X.npy` and `y.npy`."""
    if not starts_with(path, ZIP_MAGIC):
        return False
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
        return {"X.npy", "y.npy"} <= names
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


def _load_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not starts_with(path, ZIP_MAGIC):
        raise DataError(f"{path}: not an .npz archive")
    try:
        check_members(path)
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in ("X", "y") if k not in npz.files]
            if missing:
                raise DataError(f"{path}: no array {', '.join(missing)} (not an EnergyFlow QG file)")
            return npz["X"], npz["y"]
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"{path}: cannot read .npz (truncated or corrupt?): {one_line(e)}") from None


def _read_file(path: Path, extras: list[str], n_particles: int | None, chunk_size: int,
               collector: JetCollector) -> None:
    report = collector.file_report(path)
    X, labels = _load_arrays(path)
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
        columns = [np.where(mask, pt, 0.0), deta, dphi]
        if extras:
            columns.append(np.where(mask, part[..., 3], 0.0))
        x = np.stack(columns, axis=-1).astype(np.float32)
        labelled = (label == 0) | (label == 1)
        keep = report.screen(finite, labelled, mask.sum(axis=1))
        x, mask, y = x[keep], mask[keep], label[keep].astype(np.int64)
        collector.add_fitted(x, mask, y, n_particles, report)
    report.finish()


def read(paths, *, max_jets: int | None = None, n_particles: int | None = None, features=None,
         chunk_size: int = CHUNK_SIZE, quiet: bool = False, on_nonfinite: str = "raise") -> ParticleData:
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
    Returns:
        ParticleData: x (N, n, 3 + extras) float32, mask (N, n), y (N,) into ["g", "q"].
    """
    paths = [require_file(p, FORMAT) for p in paths]
    extras = select_extras(features, EXTRA_FEATURES, FORMAT)
    return collect_files(FORMAT, paths, lambda path, collector: _read_file(path, extras, n_particles, chunk_size, collector),
                         list(CLASS_NAMES), CORE_FEATURES + extras, max_jets, quiet=quiet,
                         on_nonfinite=on_nonfinite)
