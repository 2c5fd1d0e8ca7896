"""Accumulate screened chunks of jets from one or more files into one `ParticleData`."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from saltjet.data.particles import ParticleData
from saltjet.data.readers.screening import FileReport, check_label_policy, check_nonfinite_policy
from saltjet.data.readers.slots import fit_slots
from saltjet.errors import DataError


class JetCollector:
    """Chunks in, one `ParticleData` out; stops once `max_jets` jets are kept.

    Chunks may differ in slot count (e.g. quark/gluon files are padded per file); the result is
    padded to the widest. Jet-level columns (`jets`, name -> (c,)) are kept when every chunk has
    them. With `labels="optional"` jets without a valid label are kept, with y = -1.
    """

    def __init__(self, fmt: str, max_jets: int | None = None, total: int | None = None, quiet: bool = False,
                 on_nonfinite: str = "raise", labels: str = "required"):
        from tqdm import tqdm

        self.fmt = fmt
        self.on_nonfinite = check_nonfinite_policy(on_nonfinite)
        self.labels = check_label_policy(labels)
        self.max_jets = max_jets
        self.reports: list[FileReport] = []
        self._x: list[np.ndarray] = []
        self._mask: list[np.ndarray] = []
        self._y: list[np.ndarray] = []
        self._jets: list[dict[str, np.ndarray]] = []
        self.n = 0
        if max_jets is not None and total is not None:
            total = min(total, max_jets)
        self._bar = tqdm(total=total, desc=fmt, unit="jet", unit_scale=True, disable=True if quiet else None, leave=False)

    def file_report(self, path: Path) -> FileReport:
        report = FileReport(self.fmt, Path(path), on_nonfinite=self.on_nonfinite,
                            labels_optional=self.labels == "optional")
        self.reports.append(report)
        return report

    @property
    def full(self) -> bool:
        return self.max_jets is not None and self.n >= self.max_jets

    @property
    def wanted(self) -> int | None:
        """Jets still wanted, None for all."""
        return None if self.max_jets is None else max(self.max_jets - self.n, 0)

    def add(self, x: np.ndarray, mask: np.ndarray, y: np.ndarray, jets: dict[str, np.ndarray] | None = None) -> bool:
        """Keep a chunk: x (c, n, F), mask (c, n), y (c,), jet-level columns name -> (c,).
        Returns True once enough jets are kept."""
        jets = dict(jets or {})
        if self.wanted is not None:
            x, mask, y = x[: self.wanted], mask[: self.wanted], y[: self.wanted]
            jets = {k: v[: self.wanted] for k, v in jets.items()}
        if len(x):
            self._x.append(np.asarray(x, dtype=np.float32))
            self._mask.append(np.asarray(mask, dtype=bool))
            self._y.append(np.asarray(y, dtype=np.int64))
            self._jets.append({k: np.asarray(v, dtype=np.float64) for k, v in jets.items()})
            self.n += len(x)
            self._bar.update(len(x))
        return self.full

    def add_fitted(self, x: np.ndarray, mask: np.ndarray, y: np.ndarray, n_particles: int | None,
                   report: FileReport, jets: dict[str, np.ndarray] | None = None) -> bool:
        """`add` after fitting each jet into `n_particles` slots (None: keep the file's width);
        jets that lose particles are counted in `report.truncated`."""
        if n_particles is not None:
            x, mask, truncated = fit_slots(x, mask, n_particles)
            report.truncated += truncated
        return self.add(x, mask, y, jets)

    def result(self, class_names: list[str], feature_names: list[str]) -> ParticleData:
        """All kept jets; `DataError` if none survived screening."""
        self._bar.close()
        if self.n == 0:
            read = sum(r.n_read for r in self.reports)
            why = "; ".join(f"{r.path.name}: {r.reasons()}" for r in self.reports if r.skipped)
            raise DataError(f"{self.fmt}: no usable jets in {len(self.reports)} file(s), "
                            f"{read} read" + (f" ({why})" if why else ""))
        width = max(a.shape[1] for a in self._x)
        xs, masks = [], []
        for x, mask in zip(self._x, self._mask):
            pad = width - x.shape[1]
            xs.append(np.pad(x, ((0, 0), (0, pad), (0, 0))) if pad else x)
            masks.append(np.pad(mask, ((0, 0), (0, pad))) if pad else mask)
        x = xs[0] if len(xs) == 1 else np.concatenate(xs)
        mask = masks[0] if len(masks) == 1 else np.concatenate(masks)
        y = self._y[0] if len(self._y) == 1 else np.concatenate(self._y)
        common = [k for k in self._jets[0] if all(k in chunk for chunk in self._jets)]
        jets = {k: np.concatenate([chunk[k] for chunk in self._jets]) for k in common}
        self._x, self._mask, self._y, self._jets = [], [], [], []
        return ParticleData(x, mask, y, class_names, feature_names, kind="jets", source=self.fmt, jet_columns=jets)


def collect_files(fmt: str, paths: list[Path], read_file: Callable[[Path, JetCollector], None],
                  class_names: list[str], feature_names: list[str], max_jets: int | None = None,
                  total: int | None = None, quiet: bool = False, on_nonfinite: str = "raise",
                  labels: str = "required") -> ParticleData:
    """Read `paths` in order with `read_file(path, collector)` until `max_jets` jets are kept.

    Returns the kept jets as `ParticleData` (`DataError` if none survived screening, or for NaN/inf
    jets under `on_nonfinite="raise"`).
    """
    collector = JetCollector(fmt, max_jets, total, quiet, on_nonfinite, labels)
    for path in paths:
        if collector.full:
            break
        read_file(path, collector)
    return collector.result(class_names, feature_names)
