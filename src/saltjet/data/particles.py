"""`ParticleData`: what every reader returns and every later stage consumes.

Raw physical arrays, particles in the file's order (sorting is the pipeline's job).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from saltjet.errors import DataError

CORE_FEATURES = ["pt", "eta_rel", "phi_rel"]  # the first three columns of jets: pT [GeV], Δη, Δφ
UNLABELLED = -1  # y of a jet without a label (read with `load(..., labels="optional")`)


@dataclass
class ParticleData:
    """A set of jets (or point clouds) as padded particle arrays.

    Attributes:
        x: (N, n, F) float32 physical features. For jets the first three columns are pT [GeV], Δη and
            Δφ relative to the jet axis; extra columns may follow. For point clouds: x, y, z.
        mask: (N, n) bool, True = real particle.
        y: (N,) int64 class index into `class_names`, or -1 (`UNLABELLED`) for a jet without a label
            (only from `load(..., labels="optional")`; training and evaluation refuse such jets).
        class_names: list of str, e.g. ["g", "q", "W", "Z", "t"]; may be empty when no jet has a label.
        feature_names: list of F str naming the columns of `x`.
        kind: "jets" or "pointcloud" (decides which sort keys apply).
        source: the format the data came from, e.g. "hls4ml".
        jet_columns: jet-level values read from the file or computed from all its constituents,
            name -> (N,) float64: "jet_eta" (pseudorapidity) and "jet_phi" where the format gives
            them. They travel with the jets (subsets keep them) but are never model inputs.
    """

    x: np.ndarray
    mask: np.ndarray
    y: np.ndarray
    class_names: list[str]
    feature_names: list[str] = field(default_factory=lambda: list(CORE_FEATURES))
    kind: str = "jets"
    source: str = ""
    jet_columns: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self):
        self.x = np.asarray(self.x, dtype=np.float32)
        self.mask = np.asarray(self.mask, dtype=bool)
        self.y = np.asarray(self.y, dtype=np.int64)
        self.class_names = [str(c) for c in self.class_names]
        self.feature_names = [str(f) for f in self.feature_names]
        n = len(self.x)
        if self.x.ndim != 3:
            raise DataError(f"x must be (N, n, F), got shape {self.x.shape}")
        if self.mask.shape != self.x.shape[:2]:
            raise DataError(f"mask {self.mask.shape} does not match x {self.x.shape}")
        if self.y.shape != (n,):
            raise DataError(f"y must be ({n},), got {self.y.shape}")
        if len(self.feature_names) != self.x.shape[2]:
            raise DataError(f"{len(self.feature_names)} feature names for {self.x.shape[2]} features")
        if n and (self.y.min() < UNLABELLED or self.y.max() >= len(self.class_names)):
            raise DataError(f"labels must be in 0..{len(self.class_names) - 1} (or -1: no label)")
        self.jet_columns = {str(k): np.asarray(v, dtype=np.float64) for k, v in self.jet_columns.items()}
        for name, column in self.jet_columns.items():
            if column.shape != (n,):
                raise DataError(f"jet column {name} must be ({n},), got {column.shape}")

    def __len__(self) -> int:
        return len(self.x)

    @property
    def n_particles(self) -> int:
        """Slots per jet, n."""
        return self.x.shape[1]

    @property
    def labelled(self) -> np.ndarray:
        """(N,) bool, True where the jet has a label (y ≥ 0)."""
        return self.y >= 0

    def require_labels(self, purpose: str) -> "ParticleData":
        """`self` if every jet has a label, else `DataError` naming how many have none."""
        missing = int((~self.labelled).sum())
        if missing:
            raise DataError(f"{purpose} needs labelled jets, but {missing} of {len(self)} jets have no label "
                            "(read with labels='optional'?)")
        return self

    @property
    def multiplicity(self) -> np.ndarray:
        """(N,) number of real particles per jet."""
        return self.mask.sum(axis=1)

    def subset(self, index) -> "ParticleData":
        """The jets at `index` (slice, integer array or bool mask)."""
        return ParticleData(self.x[index], self.mask[index], self.y[index], self.class_names,
                            self.feature_names, self.kind, self.source,
                            {name: column[index] for name, column in self.jet_columns.items()})
