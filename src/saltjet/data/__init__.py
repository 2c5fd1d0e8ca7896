"""Data: kinematics, particle sorting, normalisation, readers, generators and the training pipeline."""

from saltjet.data.kinematics import delta_r, kt, wrap_phi
from saltjet.data.loading import load
from saltjet.data.normalization import fit_robust_scaling
from saltjet.data.sorting import SORT_KEYS, apply_permutation, sort_by_key, sort_particles

__all__ = [
    "SORT_KEYS",
    "apply_permutation",
    "delta_r",
    "fit_robust_scaling",
    "kt",
    "load",
    "sort_by_key",
    "sort_particles",
    "wrap_phi",
]
