"""Per-file jet screening: unusable jets are refused or dropped, and every change is counted.

A jet with a NaN/inf value is refused (`DataError` naming the count, at the end of the file) or,
with `on_nonfinite="drop"`, dropped. A jet with no valid label (none or several classes set) is
dropped, or, with `labels="optional"`, kept with label -1 (counted only when other jets of the
file have labels). A jet with no real particle is dropped. Each dropped jet is counted once, under the first of those
reasons. Particles with a negative pT (or energy) become padding and are counted. Jets with more
particles than slots are kept, truncated to their highest-pT particles, and counted
(`FileReport.truncated`). Everything counted goes into ONE `ReaderWarning` per file.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from saltjet.errors import ConfigError, DataError

NONFINITE_POLICIES = ("raise", "drop")
LABEL_POLICIES = ("required", "optional")

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
    negative: int = 0
    negative_what: str = "pT"
    on_nonfinite: str = "raise"
    labels_optional: bool = False
    has_labels: bool = True  # the file has label columns (set False by the reader when it has none)
    unlabelled: int = 0  # kept without a valid label (labels_optional only)

    def screen(self, finite: np.ndarray, labelled: np.ndarray, n_real: np.ndarray) -> np.ndarray:
        """Decide which jets of a chunk to keep and count the others.

        Args:
            finite: (c,) bool, every value of the jet is finite.
            labelled: (c,) bool, exactly one class is set.
            n_real: (c,) int, real particles in the jet.
        Returns:
            keep: (c,) bool. Under `labels_optional` jets without a valid label are kept
            (`label_values` gives them -1).
        """
        finite = np.asarray(finite, dtype=bool)
        labelled = np.asarray(labelled, dtype=bool) & finite
        usable = finite if self.labels_optional else labelled
        nonempty = (np.asarray(n_real) > 0) & usable
        self.n_read += len(finite)
        self.non_finite += int((~finite).sum())
        if self.labels_optional:
            self.unlabelled += int((nonempty & ~labelled).sum())
        else:
            self.bad_label += int((finite & ~labelled).sum())
        self.empty += int((usable & ~nonempty).sum())
        self.n_kept += int(nonempty.sum())
        return nonempty

    @staticmethod
    def label_values(y: np.ndarray, labelled: np.ndarray) -> np.ndarray:
        """(c,) int64: `y` where `labelled`, -1 elsewhere."""
        return np.where(labelled, y, -1).astype(np.int64)

    def count_negative(self, positive_column: np.ndarray) -> None:
        """Count particles whose mask quantity (pT or E) is negative: they become padding.

        Args:
            positive_column: (c, m) the quantity whose sign decides real (> 0) vs padding (0).
        """
        with np.errstate(invalid="ignore"):
            self.negative += int((positive_column < 0).sum())

    @property
    def skipped(self) -> int:
        return self.non_finite + self.bad_label + self.empty

    def reasons(self) -> str:
        """e.g. "2 with NaN/inf values, 1 with no particles"."""
        parts = [f"{self.non_finite} with NaN/inf values" if self.non_finite else "",
                 f"{self.bad_label} with no label or several labels" if self.bad_label else "",
                 f"{self.empty} with no particles" if self.empty else ""]
        return ", ".join(p for p in parts if p)

    def finish(self) -> None:
        """End of the file: `DataError` for NaN/inf jets under `on_nonfinite="raise"`, else one
        `ReaderWarning` summarising what was skipped, turned into padding or truncated."""
        if self.non_finite and self.on_nonfinite == "raise":
            raise DataError(f"{self.fmt}: {self.path}: {self.non_finite} of {self.n_read} jets hold NaN/inf "
                            "values; refusing them (--drop-nonfinite, data.on_nonfinite: drop or "
                            "load(..., on_nonfinite='drop') skips them with a count)")
        parts = []
        if self.negative:
            parts.append(f"treated {self.negative} particles with negative {self.negative_what} as padding")
        if self.skipped:
            parts.append(f"skipped {self.skipped} of {self.n_read} jets ({self.reasons()})")
        if self.unlabelled and self.has_labels and self.unlabelled < self.n_kept:  # some labelled, some not
            parts.append(f"kept {self.unlabelled} jets with no label or several labels as unlabelled (-1)")
        if self.truncated:
            parts.append(f"truncated {self.truncated} jets to their {self.n_slots} highest-pT particles")
        if parts:
            warnings.warn(f"{self.fmt}: {self.path}: {'; '.join(parts)}", ReaderWarning, stacklevel=3)


def check_nonfinite_policy(on_nonfinite: str) -> str:
    """`on_nonfinite` if it is "raise" or "drop", else `ConfigError`."""
    if on_nonfinite not in NONFINITE_POLICIES:
        raise ConfigError(f"on_nonfinite must be 'raise' or 'drop', got {on_nonfinite!r}")
    return on_nonfinite


def refuse_options(fmt: str, options: dict) -> None:
    """`ConfigError` naming the options a reader does not have (every reader takes `**options`
    after the common ones, so a wrong name is one line, not a TypeError)."""
    if options:
        raise ConfigError(f"unknown {fmt} reader option(s): {', '.join(sorted(options))}")


def missing_labels(path, what: str) -> DataError:
    """The error for a file without label columns read with labels="required"."""
    return DataError(f"{path}: no labels ({what}); training and evaluation need them "
                     "(saltjet predict and load(..., labels='optional') read files without)")


def check_label_policy(labels: str) -> str:
    """`labels` if it is "required" or "optional", else `ConfigError`."""
    if labels not in LABEL_POLICIES:
        raise ConfigError(f"labels must be 'required' or 'optional', got {labels!r}")
    return labels


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
