"""A tagger that takes PHYSICAL particles: derived features (and optionally the sort) inside.

    x (B, n, P) physical columns (`input_names`: pt, eta_rel, phi_rel, then e or file columns)
    mask (B, n) bool
      -> [with_sort] per-jet order by the run's key (kt = pT·ΔR descending, ...), padding last
      -> FeatureBuilder: the run's F features (log pT, log pT/pT_jet, log E, ΔR, ...)   (B, n, F)
      -> the trained tagger (its fitted scaling inside)                                   (B, out)

This is what `saltjet export` puts into ONNX, so every run's graph takes the same kind of input
whatever its feature set. Without `with_sort` the caller sorts (`saltjet.data.sort_particles`).
"""

from __future__ import annotations

import torch
from torch import nn

from saltjet.data.feature_module import FeatureBuilder, wrap_phi
from saltjet.errors import ConfigError, InputError
from saltjet.models.layers import is_tracing

GRAPH_SORT_KEYS = ("kt", "pt", "deltar", "none")


def sort_key(x: torch.Tensor, mask: torch.Tensor, by: str) -> torch.Tensor:
    """(B, n) key whose DESCENDING order is the run's particle order; padding gets -inf.

    x: (B, n, P) with pt, eta_rel, phi_rel in columns 0..2. "none" keeps the given order.
    """
    pt, eta, phi = x[..., 0], x[..., 1], wrap_phi(x[..., 2])
    dr = torch.sqrt(eta * eta + phi * phi)
    if by == "kt":
        key = pt * dr
    elif by == "pt":
        key = pt
    elif by == "deltar":
        key = -dr
    elif by == "none":
        key = -torch.arange(x.shape[1], dtype=x.dtype, device=x.device).expand_as(pt)
    else:
        raise ConfigError(f"sort key {by!r} cannot go inside the graph; choose from {', '.join(GRAPH_SORT_KEYS)}")
    return torch.where(mask, key, torch.full_like(key, float("-inf")))


class PhysicalInputTagger(nn.Module):
    """Wraps a trained tagger so it takes physical particles (see the module docstring).

    Args:
        tagger: a `JetTagger` (forward(x (B, n, F), mask) -> logits).
        input_names: the P physical columns of x, in order (core three first for jets).
        feature_names: the tagger's F input features, built from them.
        sort_by: a key of `GRAPH_SORT_KEYS` to sort inside, or None (the caller sorts).
    """

    def __init__(self, tagger: nn.Module, input_names: list[str], feature_names: list[str],
                 sort_by: str | None = None):
        super().__init__()
        if len(feature_names) != tagger.config.n_features:
            raise ConfigError(f"{len(feature_names)} feature names for a model with {tagger.config.n_features} inputs")
        if sort_by is not None and sort_by not in GRAPH_SORT_KEYS:
            raise ConfigError(f"sort key {sort_by!r} cannot go inside the graph; choose from {', '.join(GRAPH_SORT_KEYS)}")
        self.tagger = tagger
        self.features = FeatureBuilder(input_names, feature_names)
        self.sort_by = sort_by
        self.config = tagger.config
        self.model_name = getattr(tagger, "model_name", type(tagger).__name__)

    @property
    def input_names(self) -> list[str]:
        return self.features.input_names

    @property
    def n_inputs(self) -> int:
        return self.features.n_inputs

    def example_inputs(self, batch: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Physical-looking jets to trace and check the graph with: x (batch, n, P), mask (batch, n).

        `saltjet.data.toy.random_jets` (kT-sorted, padding last) for pt, eta_rel, phi_rel; e = pT·cosh η;
        other columns standard normal. With an in-graph sort the particles are shuffled first.
        """
        from saltjet.data.toy import random_jets

        x, mask = random_jets(batch, self.config.n_particles, max(3, self.n_inputs), seed=seed)
        x = x[..., : self.n_inputs].clone()
        if "e" in self.input_names:
            x[..., self.input_names.index("e")] = x[..., 0] * torch.cosh(x[..., 1])
        if self.sort_by is not None:
            g = torch.Generator().manual_seed(seed)
            order = torch.argsort(torch.rand(mask.shape, generator=g), dim=1)
            x, mask = torch.gather(x, 1, order.unsqueeze(-1).expand_as(x)), torch.gather(mask, 1, order)
        return x, mask

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (B, n, P) physical columns, mask: (B, n) bool -> logits (B, out)."""
        if not is_tracing() and (x.ndim != 3 or x.shape[-1] != self.n_inputs):
            raise InputError(f"x must be (B, n, {self.n_inputs}) with columns {', '.join(self.input_names)}; "
                             f"got {tuple(x.shape)}")
        if self.sort_by is not None:
            # TopK (what ONNX has): real particles' keys are distinct in practice; padding (-inf) order is moot
            order = torch.topk(sort_key(x, mask, self.sort_by), x.shape[1], dim=1, largest=True, sorted=True).indices
            x = torch.gather(x, 1, order.unsqueeze(-1).expand_as(x))
            mask = torch.gather(mask, 1, order)
        return self.tagger(self.features(x, mask), mask)


def physical_model(model: nn.Module, info, with_sort: bool = False) -> PhysicalInputTagger:
    """The run's tagger (`saltjet.training.run.load_run`) taking the physical columns its features need.

    Args:
        model, info: from `load_run`. with_sort: put the run's particle sort inside too.
    """
    from saltjet.data.pipeline import InputSpec

    spec = InputSpec.from_run(info, model.config.n_particles)
    return PhysicalInputTagger(model, spec.inputs, spec.features, spec.sort_by if with_sort else None).eval()
