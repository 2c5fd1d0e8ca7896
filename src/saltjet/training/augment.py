"""Training-time augmentation by the jet's symmetries in the (Δη, Δφ) plane.

A jet's substructure looks the same after a rotation about the jet axis or a reflection through
it (up to colour-flow and detector effects, which these generated jets do not have), so each
training batch can show the model a rotated or reflected copy of every jet:

    rotate    (Δη, Δφ) -> R(θ)·(Δη, Δφ), θ uniform in [0, 2π), one θ per jet
    reflect   Δφ -> −Δφ with probability ½ per jet (η ↔ −η follows from a rotation by π)

pT, E, ΔR and the kT order are invariant, so the sorted slots and the derived features log pT,
log pT/pT_jet, log E and ΔR stay valid; only the columns named `eta_rel` and `phi_rel` change.
A feature set with other angle-dependent columns (e.g. the hls4ml columns) is refused. The random
numbers come from torch's generator, which the training loop reseeds every epoch from
(seed, epoch), so resumed runs see the same copies.
"""

from __future__ import annotations

import math

import torch

from saltjet.errors import ConfigError

AUGMENTATIONS = ("none", "rotate")
ANGLE_FREE = {"pt", "log_pt", "log_ptrel", "log_e", "delta_r", "e", "energy"}


def augment_columns(feature_names: list[str], kind: str) -> tuple[int, int] | None:
    """(eta column, phi column) to transform for `kind`, None for "none"; `ConfigError` otherwise."""
    if kind == "none":
        return None
    if "eta_rel" not in feature_names or "phi_rel" not in feature_names:
        raise ConfigError(f"train.augment={kind} needs the eta_rel and phi_rel features; the run has {', '.join(feature_names)}")
    other = [f for f in feature_names if f not in ANGLE_FREE | {"eta_rel", "phi_rel"}]
    if other:
        raise ConfigError(f"train.augment={kind} cannot transform feature(s) {', '.join(other)}; use the raw or log feature set")
    return feature_names.index("eta_rel"), feature_names.index("phi_rel")


def rotate_reflect(x: torch.Tensor, columns: tuple[int, int]) -> torch.Tensor:
    """A randomly rotated and reflected copy of every jet. x: (B, n, F) -> (B, n, F) (a new tensor).

    Padded slots hold zeros in the (Δη, Δφ) columns and stay zero.
    """
    i_eta, i_phi = columns
    b = x.shape[0]
    theta = torch.rand(b, 1, device=x.device, dtype=x.dtype) * (2 * math.pi)
    flip = torch.where(torch.rand(b, 1, device=x.device) < 0.5, -1.0, 1.0).to(x.dtype)
    eta, phi = x[..., i_eta], x[..., i_phi] * flip
    cos, sin = torch.cos(theta), torch.sin(theta)
    out = x.clone()
    out[..., i_eta] = cos * eta - sin * phi
    out[..., i_phi] = sin * eta + cos * phi
    return out
