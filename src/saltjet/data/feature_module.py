"""Derived per-particle input features as one torch module: the single implementation.

`FeatureBuilder` turns the physical columns a run reads (pT, Δη, Δφ, E and any file column) into
the run's input features. The data pipeline calls it on numpy arrays (in float64, through
`saltjet.data.features.build_features`), and the ONNX export puts the same module inside the graph
(float32), so an ONNX user feeds physical particles whatever the feature set.

Derived columns (zero at padded slots; jet quantities use the particles given, i.e. the n slots
the model sees):
    log_pt      ln pT
    log_ptrel   ln(pT / pT_jet), pT_jet = |Σ p⃗T| of the jet's particles
    log_e       ln E (physical input "e")
    delta_r     ΔR from the jet axis, sqrt(Δη² + wrap(Δφ)²)
Every other feature name is a physical input passed through unchanged.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from saltjet.errors import ConfigError

DERIVED = ("log_pt", "log_ptrel", "log_e", "delta_r")
ENERGY = "e"  # name of the energy among the physical inputs
_NEEDS = {"log_pt": ("pt",), "log_ptrel": ("pt", "phi_rel"), "log_e": (ENERGY,), "delta_r": ("eta_rel", "phi_rel")}


def wrap_phi(phi: torch.Tensor) -> torch.Tensor:
    """Δφ wrapped into [-π, π) (torch; exports to ONNX)."""
    return torch.remainder(phi + math.pi, 2 * math.pi) - math.pi


def masked_log(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """ln(values) at real particles, 0 at padding. values, mask: (B, n). Non-positive real values
    give -inf/NaN, which the pipeline turns into a `DataError`."""
    return torch.where(mask, torch.log(torch.where(mask, values, torch.ones_like(values))), torch.zeros_like(values))


class FeatureBuilder(nn.Module):
    """Physical inputs (B, n, P) -> model input features (B, n, F).

    Args:
        input_names: the P physical columns of `x`, in order (e.g. pt, eta_rel, phi_rel, e).
        feature_names: the F features to build: names in `DERIVED` or in `input_names`.
    """

    def __init__(self, input_names: list[str], feature_names: list[str]):
        super().__init__()
        self.input_names, self.feature_names = list(input_names), list(feature_names)
        missing = sorted({need for f in self.feature_names for need in _NEEDS.get(f, (f,))} - set(self.input_names))
        if missing:
            raise ConfigError(f"features {', '.join(self.feature_names)} need the input column(s) {', '.join(missing)}")
        self._index = {name: self.input_names.index(name) for name in self.input_names}

    @property
    def n_inputs(self) -> int:
        return len(self.input_names)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (B, n, P) physical columns, mask: (B, n) bool -> (B, n, F) in x's dtype."""
        columns = []
        for name in self.feature_names:
            if name in DERIVED:
                columns.append(self.derive(x, mask, name))
            else:
                columns.append(torch.where(mask, x[..., self._index[name]], torch.zeros_like(x[..., 0])))
        return torch.stack(columns, dim=-1)

    def _col(self, x: torch.Tensor, mask: torch.Tensor, name: str) -> torch.Tensor:
        return torch.where(mask, x[..., self._index[name]], torch.zeros_like(x[..., 0]))

    def derive(self, x: torch.Tensor, mask: torch.Tensor, name: str) -> torch.Tensor:
        """One derived column (B, n)."""
        if name == "log_pt":
            return masked_log(self._col(x, mask, "pt"), mask)
        if name == "log_ptrel":
            pt, phi = self._col(x, mask, "pt"), self._col(x, mask, "phi_rel")
            px, py = (pt * torch.cos(phi)).sum(dim=1), (pt * torch.sin(phi)).sum(dim=1)
            jet_pt = torch.sqrt(px * px + py * py).clamp_min(torch.finfo(x.dtype).tiny)
            return masked_log(pt / jet_pt.unsqueeze(1), mask)
        if name == "log_e":
            return masked_log(self._col(x, mask, ENERGY), mask)
        if name == "delta_r":
            eta, phi = self._col(x, mask, "eta_rel"), wrap_phi(self._col(x, mask, "phi_rel"))
            return torch.where(mask, torch.sqrt(eta * eta + phi * phi), torch.zeros_like(eta))
        raise ConfigError(f"unknown derived feature {name!r}; choose from {', '.join(DERIVED)}")
