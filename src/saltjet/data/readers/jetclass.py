"""JetClass reader (ROOT files, TTree "tree", read with uproot + awkward).

Branches used: the jagged particle branches part_px, part_py (for pT), part_deta and part_dphi
(already relative to the jet axis), optional extras (any other part_* branch, e.g. part_charge,
part_d0val, by branch name), and the label_* branches, which mix float, bool and int32 types.

Choices:
- Class names come from the label branches, in JetClass order: QCD, Hbb, Hcc, Hgg, H4q, Hqql, Zqq,
  Wqq, Tbqq, Tbl (any other label_* branch follows, sorted). All files read together must agree.
- A jet needs exactly one label set; others are skipped with a counted warning. With
  `labels="optional"` they are kept with y = -1, and files without label_* branches are read.
- jet_columns: the file's jet_eta and jet_phi branches, when present.
- mask = real particle = slot < the jet's particle count; particles stay in file order.
- Jets are padded to `n_particles` (default 128); a jet with more particles keeps its
  highest-pT ones, in file order (counted warning).
- The tree is read in steps of `chunk_size` entries.
- Only plain numeric branches are read: part_px, part_py, part_deta, part_dphi must be jagged
  floats, labels numbers or booleans; object or string branches are refused before reading.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from saltjet.data.particles import ParticleData
from saltjet.data.readers.collect import JetCollector
from saltjet.data.readers.features import CORE_FEATURES, select_extras
from saltjet.data.readers.files import ROOT_MAGIC, one_line, require_file, starts_with
from saltjet.data.readers.screening import missing_labels, one_hot_labels, refuse_options
from saltjet.errors import DataError

FORMAT = "jetclass"
TREE = "tree"
CLASS_ORDER = ["QCD", "Hbb", "Hcc", "Hgg", "H4q", "Hqql", "Zqq", "Wqq", "Tbqq", "Tbl"]
CORE_BRANCHES = ["part_px", "part_py", "part_deta", "part_dphi"]
DEFAULT_N_PARTICLES = 128
CHUNK_SIZE = 20_000
JET_BRANCHES = ["jet_eta", "jet_phi"]  # passed through as jet_columns when the file has them


def sniff(path) -> bool:
    """True for a ROOT file with a TTree "tree" holding part_px (label_* branches may be absent: the
    reader refuses such a file unless labels are optional)."""
    if not starts_with(path, ROOT_MAGIC):
        return False
    try:
        import uproot

        with uproot.open(path) as f:
            keys = f[TREE].keys()
        return "part_px" in keys
    except Exception:  # an unreadable file, or uproot missing: not this format
        return False


def label_branches(keys) -> list[str]:
    """The label_* branches, JetClass classes first in their published order."""
    labels = [k for k in keys if k.startswith("label_")]
    known = [f"label_{c}" for c in CLASS_ORDER if f"label_{c}" in labels]
    return known + sorted(set(labels) - set(known))


def _open_tree(path: Path):
    from saltjet.extras import require

    uproot = require("uproot", extra="formats", purpose="reading JetClass ROOT files")

    if not starts_with(path, ROOT_MAGIC):
        raise DataError(f"{path}: not a ROOT file")
    try:
        f = uproot.open(path)
    except Exception as e:
        raise DataError(f"{path}: cannot open ROOT file (truncated or corrupt?): {one_line(e)}") from None
    try:
        if TREE not in f:
            raise DataError(f"{path}: no TTree {TREE!r} (not a JetClass file)")
        tree = f[TREE]
        tree.keys()
    except Exception as e:
        f.close()
        if isinstance(e, DataError):
            raise
        raise DataError(f"{path}: cannot read TTree {TREE!r} (truncated or corrupt?): {one_line(e)}") from None
    return f, tree


_FLOAT_TYPES = {"float", "double", "Float_t", "Double_t", "Double32_t", "Float16_t"}
_INT_TYPES = {"bool", "Bool_t", "char", "short", "int", "long", "long long", "Char_t", "UChar_t", "Short_t",
              "UShort_t", "Int_t", "UInt_t", "Long_t", "ULong_t", "Long64_t", "ULong64_t"} | {
    f"{ns}{u}int{bits}_t" for ns in ("", "std::") for u in ("", "u") for bits in (8, 16, 32, 64)} | {
    f"unsigned {t}" for t in ("char", "short", "int", "long", "long long")}
_ELEMENT = re.compile(r"std::vector<\s*(.+?)\s*>|(.+?)\[\]|(.+)")


def branch_kind(tree, name: str, path: Path) -> str:
    """"f" (floats) or "i" (integers, booleans) for a flat or jagged numeric branch or field, from
    its C++ type name; `DataError` for any other type (objects, strings), never deserialised."""
    try:
        typename = str(tree[name].typename).strip()
    except Exception as e:
        raise DataError(f"{path}: cannot read branch {name} (corrupt file?): {one_line(e)}") from None
    element = next(g for g in _ELEMENT.fullmatch(typename).groups() if g is not None).strip()
    if element in _FLOAT_TYPES:
        return "f"
    if element in _INT_TYPES:
        return "i"
    raise DataError(f"{path}: branch {name} has type {typename!r}, not plain numbers")


def _check_branches(tree, extras: list[str], labels: list[str], path: Path) -> None:
    """Kinematic branches must be floats, labels and extras numbers or booleans."""
    for name in CORE_BRANCHES:
        if branch_kind(tree, name, path) != "f":
            raise DataError(f"{path}: branch {name} holds {tree[name].typename} values; kinematics must be "
                            "floating-point numbers")
    for name in extras + labels:
        branch_kind(tree, name, path)


def padded(array, width: int) -> np.ndarray:
    """A jagged awkward array (c, var) as a zero-padded numpy array (c, width) float64."""
    from saltjet.extras import require

    ak = require("awkward", extra="formats", purpose="reading JetClass ROOT files")

    return ak.to_numpy(ak.fill_none(ak.pad_none(array, width, axis=1, clip=True), 0.0)).astype(np.float64)


def _read_chunk(arrays, labels: list[str], extras: list[str], path: Path):
    """x (c, m, F) with m the chunk's largest multiplicity, mask (c, m), finite, labelled, y (labelled
    all False when there are no `labels`)."""
    from saltjet.extras import require

    ak = require("awkward", extra="formats", purpose="reading JetClass ROOT files")

    counts = ak.to_numpy(ak.num(arrays["part_px"], axis=1))
    for b in CORE_BRANCHES[1:] + extras:
        if not np.array_equal(ak.to_numpy(ak.num(arrays[b], axis=1)), counts):
            raise DataError(f"{path}: branch {b} has other particle counts than part_px")
    width = max(int(counts.max(initial=0)), 1)
    px, py, deta, dphi = (padded(arrays[b], width) for b in CORE_BRANCHES)
    columns = [np.hypot(px, py), deta, dphi] + [padded(arrays[b], width) for b in extras]
    x = np.stack(columns, axis=-1)
    mask = np.arange(width)[None, :] < counts[:, None]
    finite = np.isfinite(x).all(axis=(1, 2))
    if labels:
        y, labelled = one_hot_labels(np.stack([ak.to_numpy(arrays[b]).astype(np.float64) for b in labels], axis=1))
    else:
        y, labelled = np.full(len(x), -1, np.int64), np.zeros(len(x), bool)
    return x.astype(np.float32), mask, finite, labelled, y


def _read_file(path: Path, extras, n_particles: int, chunk_size: int, collector: JetCollector,
               class_branches: list[str] | None) -> list[str] | None:
    """Read one file; returns its label branches (those of the first labelled file must match; a file
    without any is read only when labels are optional, and returns `class_branches`)."""
    report = collector.file_report(path)
    report.n_slots = n_particles
    f, tree = _open_tree(path)
    with f:
        keys = tree.keys()
        missing = [b for b in CORE_BRANCHES + extras if b not in keys]
        if missing:
            raise DataError(f"{path}: no branch {', '.join(missing)} in {TREE!r}")
        labels = label_branches(keys)
        if not labels and collector.labels != "optional":
            raise missing_labels(path, f"no label_* branches in {TREE!r}")
        report.has_labels = bool(labels)
        if labels and class_branches is not None and labels != class_branches:
            raise DataError(f"{path}: label branches differ from the first file's "
                            f"({', '.join(labels)} vs {', '.join(class_branches)})")
        _check_branches(tree, extras, labels, path)
        jet_branches = [b for b in JET_BRANCHES if b in keys and _is_scalar_number(tree, b)]
        try:
            for arrays in tree.iterate(CORE_BRANCHES + extras + labels + jet_branches, step_size=chunk_size,
                                       library="ak"):
                x, mask, finite, labelled, y = _read_chunk(arrays, labels, extras, path)
                keep = report.screen(finite, labelled, mask.sum(axis=1))
                y = report.label_values(y, labelled)
                jets = {b: _flat(arrays[b])[keep] for b in jet_branches}
                if collector.add_fitted(x[keep], mask[keep], y[keep], n_particles, report, jets):
                    break
        except DataError:
            raise
        except Exception as e:
            raise DataError(f"{path}: cannot read {TREE!r} (truncated or wrong types?): {one_line(e)}") from None
    report.finish()
    return labels or class_branches


def _is_scalar_number(tree, name: str) -> bool:
    """True for a flat (one value per entry) numeric branch."""
    try:
        return str(tree[name].typename).strip() in _FLOAT_TYPES | _INT_TYPES
    except Exception:  # unreadable type: not passed through
        return False


def _flat(array) -> np.ndarray:
    """A flat awkward array of numbers as float64 numpy."""
    from saltjet.extras import require

    ak = require("awkward", extra="formats", purpose="reading JetClass ROOT files")
    return np.asarray(ak.to_numpy(array), dtype=np.float64)


def read(paths, *, max_jets: int | None = None, n_particles: int | None = None, features=None,
         quiet: bool = False, on_nonfinite: str = "raise", labels: str = "required",
         chunk_size: int = CHUNK_SIZE, **options) -> ParticleData:
    """Read JetClass ROOT files.

    Args:
        paths: list of `.root` files, read in order.
        max_jets: stop after this many usable jets.
        n_particles: slots per jet (default 128).
        features: None, "all" (every other part_* branch of the first file) or part_* names.
        chunk_size: tree entries per read.
        quiet: no progress bar.
        on_nonfinite: "raise" (default: `DataError` counting the jets with NaN/inf values) or
            "drop" (skip them, counted warning).
        labels: "required" (default: a file without label_* branches is refused, jets without
            exactly one label set are skipped, counted) or "optional" (such jets are kept with y = -1;
            no file with labels: no class names).
    Returns:
        ParticleData: x (N, n, 3 + extras) float32 (pT, Δη, Δφ, ...), mask (N, n), y (N,) into the
        class names of the label branches, jet_columns jet_eta, jet_phi (the file's branches).
    """
    refuse_options(FORMAT, options)
    paths = [require_file(p, FORMAT) for p in paths]
    f, tree = _open_tree(paths[0])
    with f:
        available = [k for k in tree.keys() if k.startswith("part_") and k not in CORE_BRANCHES]
    extras = select_extras(features, available, FORMAT)
    n = n_particles or DEFAULT_N_PARTICLES
    collector = JetCollector(FORMAT, max_jets, None, quiet, on_nonfinite, labels)
    labels = None
    for path in paths:
        if collector.full:
            break
        labels = _read_file(path, extras, n, chunk_size, collector, labels)
    class_names = [b.removeprefix("label_") for b in labels or []]
    return collector.result(class_names, CORE_FEATURES + extras)
