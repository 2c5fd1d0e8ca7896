"""Point ordering for point clouds: the counterpart of kT sorting for jets.

SAL-T cuts the sequence into contiguous partitions, so the order decides which points share a
partition. For jets the method sorts by kT = pT·ΔR descending: a "hardness times spread" key
that puts the hard, wide-angle particles first. A point cloud has no hardness, only geometry, so
the spread part is what carries over: the key is the distance of each point from the cloud's
centroid, **descending** (outermost points first). Like ΔR·pT it ranks points by how far they
reach from the object's centre; the partitions then become concentric shells, from the
extremities that tell a chair from a table (legs, backrest, corners) to the core. The order is
rotation invariant, which is what a shape key should be.

"none" keeps the file order (padding last) and "random" is a seeded shuffle, as for jets.
"""

from __future__ import annotations

import numpy as np

from saltjet.data.sorting import sort_by_key, sort_without_key
from saltjet.errors import ConfigError, InputError

POINT_SORT_KEYS = ("radius", "none", "random")


def centroid_distance(xyz: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Distance of every point from its cloud's centroid (over real points only).

    Args:
        xyz: (N, n, 3) coordinates; mask: (N, n) bool, True = real point.
    Returns:
        (N, n) float64 distances (values at padded slots are meaningless).
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if xyz.ndim != 3 or xyz.shape[2] < 3 or mask.shape != xyz.shape[:2]:
        raise InputError(f"xyz {xyz.shape} must be (N, n, 3) with mask (N, n), got mask {mask.shape}")
    xyz = xyz[..., :3]
    weight = mask[..., None]
    count = np.maximum(mask.sum(axis=1), 1)[:, None]
    centre = np.where(weight, xyz, 0.0).sum(axis=1) / count
    return np.linalg.norm(xyz - centre[:, None, :], axis=2)


def sort_points(xyz: np.ndarray, mask: np.ndarray, by: str = "radius",
                rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Per-cloud permutation of points, padding last.

    Args:
        xyz: (N, n, 3) point coordinates (extra trailing columns are ignored).
        mask: (N, n) bool, True = real point.
        by: "radius" (distance from the centroid, descending: outermost first), "none" (file
            order) or "random" (seeded shuffle).
        rng: seed or Generator for "random".
    Returns:
        perm: (N, n) int64; apply with `saltjet.data.sorting.apply_permutation`.
    """
    if by not in POINT_SORT_KEYS:
        raise ConfigError(f"unknown point-cloud sort key {by!r}; choose from {', '.join(POINT_SORT_KEYS)}")
    mask = np.asarray(mask, dtype=bool)
    if by == "radius":
        return sort_by_key(centroid_distance(xyz, mask), mask, descending=True)
    return sort_without_key(mask, by, rng)
