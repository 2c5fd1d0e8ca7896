"""`load`: one entry point for every published data format.

Paths are expanded (globs, folders), sorted for determinism, the format is sniffed from the
files' contents (format="auto") or taken as given, and the matching reader in
`saltjet.data.readers` turns them into one `ParticleData`.
"""

from __future__ import annotations

import glob
import numbers
import warnings
from pathlib import Path

import numpy as np

from saltjet.data.particles import ParticleData
from saltjet.data.readers import READERS, get_reader
from saltjet.data.readers.files import HDF5_MAGIC, ROOT_MAGIC, ZIP_MAGIC, file_kind, require_regular, starts_with
from saltjet.data.readers.screening import ReaderWarning, check_label_policy, check_nonfinite_policy
from saltjet.errors import ConfigError, DataError

_GLOB_CHARS = set("*?[")


def _sniffers(fmt: str) -> list[tuple[str, object]]:
    """(name, module) of the readers to try: just `fmt`, or every importable reader for "auto"."""
    if fmt != "auto":
        return [(fmt, get_reader(fmt))]
    found = []
    for name in READERS:
        try:
            found.append((name, get_reader(name)))
        except ConfigError:  # a reader whose optional dependency is missing cannot claim a file
            continue
    return found


def _sniff(path: Path, sniffers) -> str | None:
    for name, module in sniffers:
        if module.sniff(path):
            return name
    return None


def describe_unknown(path: Path) -> str:
    """A one-line reason why no reader recognised `path`."""
    kind = file_kind(path)
    if kind == "missing":
        return f"{path}: no such file"
    if kind not in ("file", "folder"):
        return f"{path}: is a {kind}, not a regular file or folder"
    if path.is_file() and path.stat().st_size == 0:
        return f"{path}: empty file"
    if starts_with(path, HDF5_MAGIC):
        return f"{path}: HDF5 file that is unreadable (truncated?) or in no known layout"
    if starts_with(path, ROOT_MAGIC):
        from saltjet.extras import importable, install_hint

        if not all(importable(m) for m in ("uproot", "awkward")):
            return (f"{path}: a ROOT file, and reading ROOT files needs uproot and awkward; "
                    f"install them with: {install_hint('formats')}")
        return f"{path}: ROOT file that is unreadable or has no JetClass tree"
    if starts_with(path, ZIP_MAGIC):
        return f"{path}: zip/.npz archive that is unreadable or has no X and y arrays"
    kind = "folder" if path.is_dir() else "file"
    return f"{path}: unknown data layout ({kind} not recognised as any of {', '.join(READERS)})"


def expand_paths(path_or_glob) -> list[tuple[Path, bool]]:
    """Candidate paths, sorted, each with whether it was named explicitly (vs found by glob/folder).

    `path_or_glob` is a path, a glob pattern (`*`, `?`, `[`, `**`) or a list of those. A path named
    explicitly must be (a symlink to) a regular file or a folder: a named pipe, socket or device is
    refused with `DataError` before anything opens it; a glob skips such entries.
    """
    items = [path_or_glob] if isinstance(path_or_glob, (str, Path)) else list(path_or_glob)
    if not items:
        raise DataError("no data path given")
    out: list[tuple[Path, bool]] = []
    for item in items:
        text = str(item)
        if _GLOB_CHARS & set(text) and not Path(text).exists():
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise DataError(f"no files match {text}")
            out.extend((Path(m), False) for m in matches
                       if not Path(m).name.startswith(".") and file_kind(m) in ("file", "folder"))
        else:
            out.append((require_regular(text), True))
    return out


def resolve(path_or_glob, format: str = "auto") -> tuple[str, list[Path]]:
    """The format and the sorted list of paths its reader should read.

    A folder is passed whole when a reader recognises it as a data set (e.g. a ModelNet root);
    otherwise its files are candidates. Files found by a glob or in a folder that no reader
    recognises are ignored; a file named explicitly must be recognised.
    """
    if format != "auto" and format not in READERS:
        raise ConfigError(f"unknown data format {format!r}; choose from auto, {', '.join(READERS)}")
    sniffers = _sniffers(format)
    chosen: dict[Path, str] = {}
    unknown: list[Path] = []
    for path, explicit in expand_paths(path_or_glob):
        name = _sniff(path, sniffers)
        if name is not None:
            chosen[path] = name
        elif path.is_dir() and explicit:
            files = sorted(p for p in path.iterdir() if file_kind(p) == "file" and not p.name.startswith("."))
            hits = {p: n for p in files if (n := _sniff(p, sniffers)) is not None}
            if not hits:
                what = f"{format} files" if format != "auto" else "data files in a known layout"
                raise DataError(f"{path}: no {what} in this folder")
            chosen.update(hits)
        elif explicit and format != "auto" and path.is_file():
            chosen[path] = format  # not recognised: the reader gives the precise error
        elif explicit:
            raise DataError(describe_unknown(path))
        else:
            unknown.append(path)
    if not chosen:
        raise DataError(describe_unknown(unknown[0]) if unknown else "no data files found")
    formats = sorted(set(chosen.values()))
    if len(formats) > 1:
        examples = ", ".join(f"{next(p.name for p, n in chosen.items() if n == f)} is {f}" for f in formats)
        raise DataError(f"mixed data formats ({examples}); load one format at a time")
    return formats[0], sorted(chosen)


def load(path_or_glob, format: str = "auto", max_jets: int | None = None, n_particles: int | None = None,
         features=None, quiet: bool = False, on_nonfinite: str = "raise", labels: str = "required",
         **options) -> ParticleData:
    """Read jets (or point clouds) from published data files.

    Args:
        path_or_glob: a file, a folder, a glob pattern ("data/jetImage_*_150p_*.h5") or a list of
            those. Files are read in sorted order.
        format: "auto" (sniff the contents) or one of `saltjet.data.readers.READERS`:
            hls4ml, toplandscape, quarkgluon, jetclass, modelnet.
        max_jets: keep at most this many jets (the first ones, in sorted file order).
        n_particles: slots per jet; jets with more particles keep their highest-pT ones. None: the
            format's own (150 hls4ml, 200 top tagging, the file's M for quark/gluon, 128 JetClass,
            1,024 points for ModelNet).
        features: extra particle features after pT, Δη, Δφ: None, "all" or a list of names.
        quiet: hide the progress bar (shown on stderr while reading by default).
        on_nonfinite: jets with a NaN/inf value: "raise" (default, `DataError` with their count) or
            "drop" (skipped, counted in a `ReaderWarning`). ModelNet meshes follow `on_error`.
        labels: "required" (default: what training and evaluation need; a file without labels is
            refused, a jet without exactly one label is skipped and counted) or "optional" (for
            scoring: every jet keeps its row, y = -1 where it has no label; class names come from
            the file's label columns, else the format's own, none for JetClass).
        **options: the format's own reader options (e.g. chunk_size, or split="test" for
            modelnet); an option the reader does not have is a `ConfigError`.
    Returns:
        ParticleData with x (N, n, F) float32 physical features, mask (N, n), y (N,), class_names,
        and jet_columns (jet_eta, jet_phi) where the format gives them.
    Raises:
        DataError for missing/unreadable files, unknown layouts or data that cannot mean anything
        (integer or string kinematics, object columns, links out of the file), ConfigError for bad
        options. Changes made to the data (skipped jets, negative-pT particles turned into padding,
        truncated jets) are counted in one `ReaderWarning` per file. No reader unpickles anything.
    """
    for name, value in (("max_jets", max_jets), ("n_particles", n_particles)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)
                                  or value < 1):
            raise ConfigError(f"{name} must be a whole number ≥ 1, got {value!r}")
    check_nonfinite_policy(on_nonfinite)
    check_label_policy(labels)
    fmt, paths = resolve(path_or_glob, format)
    data = get_reader(fmt).read(paths, max_jets=max_jets, n_particles=n_particles, features=features, quiet=quiet,
                                on_nonfinite=on_nonfinite, labels=labels, **options)
    repeated = repeated_jets(data)
    if repeated:
        warnings.warn(f"{repeated:,} of {len(data):,} jets are repeats of another jet in the data (the same files, or "
                      f"a generate --classes run and a full run of one --seed, read together?): repeats can land on "
                      f"both sides of a train/test split", ReaderWarning, stacklevel=2)
    return data


def repeated_jets(data: ParticleData) -> int:
    """How many jets repeat an earlier jet: same multiplicity, ΣpT and first slot's values (continuous
    values, so distinct physics jets never match). Empty jets are not counted."""
    if data.kind != "jets" or len(data) < 2:
        return 0
    mult = data.multiplicity
    real = mult > 0
    pt_sum = np.where(data.mask, data.x[..., 0], 0.0).sum(axis=1, dtype=np.float64)
    keys = np.ascontiguousarray(np.column_stack([mult, pt_sum, data.x[:, 0, :].astype(np.float64)])[real])
    rows = keys.view(np.dtype((np.void, keys.shape[1] * keys.itemsize))).ravel()  # one bytes value per jet
    return int(len(rows) - len(np.unique(rows)))
