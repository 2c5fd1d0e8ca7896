"""Per-file jet screening: drop unusable jets and report them with ONE counted warning per file.

A jet is dropped when any of its values is NaN/inf, when it has no valid label (none or several
classes set), or when it has no real particle. Each dropped jet is counted once, under the first
of those reasons. Jets with more particles than slots are kept, truncated to their highest-pT
particles, and counted too (`FileReport.truncated`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class ReaderWarning(UserWarning):
    """Jets skipped or truncated while reading a data file (one warning per file)."""


@dataclass
class FileReport:
    """What happened to the jets of one file."""

    fmt: str
    path: Path
    n_read: int = 0
    n_kept: int = 0
    non_finite: int = 0
    bad_label: int = 0
    empty: int = 0
    truncated: int = 0
    n_slots: int = 0

    def screen(self, finite: np.ndarray, labelled: np.ndarray, n_real: np.ndarray) -> np.ndarray:
        """Decide which jets of a chunk to keep and count the others.

        Args:
            finite: (c,) bool, every value of the jet is finite.
            labelled: (c,) bool, exactly one class is set.
            n_real: (c,) int, real particles in the jet.
        Returns:
            keep: (c,) bool.
        """
        finite = np.asarray(finite, dtype=bool)
        labelled = np.asarray(labelled, dtype=bool) & finite
        nonempty = (np.asarray(n_real) > 0) & labelled
        self.n_read += len(finite)
        self.non_finite += int((~finite).sum())
        self.bad_label += int((finite & ~labelled).sum())
        self.empty += int((labelled & ~nonempty).sum())
        self.n_kept += int(nonempty.sum())
        return nonempty

    @property
    def skipped(self) -> int:
        return self.non_finite + self.bad_label + self.empty

    def reasons(self) -> str:
        """e.g. "2 with NaN/inf values, 1 with no particles"."""
        parts = [f"{self.non_finite} with NaN/inf values" if self.non_finite else "",
                 f"{self.bad_label} with no label or several labels" if self.bad_label else "",
                 f"{self.empty} with no particles" if self.empty else ""]
        return ", ".join(p for p in parts if p)

    def warn(self) -> None:
        """Emit one `ReaderWarning` summarising this file, if anything was skipped or truncated."""
        parts = []
        if self.skipped:
            parts.append(f"skipped {self.skipped} of {self.n_read} jets ({self.reasons()})")
        if self.truncated:
            parts.append(f"truncated {self.truncated} jets to their {self.n_slots} highest-pT particles")
        if parts:
            warnings.warn(f"{self.fmt}: {self.path}: {'; '.join(parts)}", ReaderWarning, stacklevel=3)


def one_hot_labels(onehot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class index and validity of one-hot rows of any numeric or bool dtype.

    Args:
        onehot: (c, K) label columns.
    Returns:
        y: (c,) int64 index of the set column (0 where invalid); labelled: (c,) bool, True where
        exactly one column is 1 and every other is 0.
    """
    onehot = np.asarray(onehot, dtype=np.float64)
    is_one, is_zero = onehot == 1, onehot == 0
    labelled = (is_one.sum(axis=1) == 1) & (is_one | is_zero).all(axis=1)
    return np.argmax(is_one, axis=1).astype(np.int64), labelled
