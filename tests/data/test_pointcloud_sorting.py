"""`sort_points`: the point-cloud counterpart of kT sorting, checked against a slow reference."""

from __future__ import annotations

import numpy as np
import pytest

from saltjet.data.pointcloud_sorting import POINT_SORT_KEYS, centroid_distance, sort_points
from saltjet.data.sorting import apply_permutation
from saltjet.errors import ConfigError, InputError


def clouds(seed=0, n_clouds=7, n=40):
    rng = np.random.default_rng(seed)
    xyz = rng.normal(size=(n_clouds, n, 3)) * rng.uniform(0.5, 3, (n_clouds, 1, 3)) + rng.normal(size=(n_clouds, 1, 3))
    mask = rng.random((n_clouds, n)) < 0.8
    mask[0] = True  # a full cloud
    mask[1, :] = False
    mask[1, 5] = True  # a single point
    xyz[~mask] = rng.normal(size=(int((~mask).sum()), 3)) * 100  # padding junk must not matter
    return xyz, mask


def reference_radius_order(xyz, mask):
    """One cloud at a time, plain Python: real points by distance from their centroid, descending,
    ties in file order, then the padded slots in file order."""
    perms = []
    for points, real in zip(xyz, mask):
        idx = [i for i in range(len(points)) if real[i]]
        centre = sum(points[i] for i in idx) / max(len(idx), 1)
        dist = {i: float(np.sqrt(sum((points[i] - centre) ** 2))) for i in idx}
        order = sorted(idx, key=lambda i: (-dist[i], i))
        perms.append(order + [i for i in range(len(points)) if not real[i]])
    return np.array(perms)


def test_radius_matches_slow_reference():
    xyz, mask = clouds()
    perm = sort_points(xyz, mask, by="radius")
    np.testing.assert_array_equal(perm, reference_radius_order(xyz, mask))
    # outermost first: the sorted distances never increase over the real points
    d = np.take_along_axis(centroid_distance(xyz, mask), perm, axis=1)
    m = np.take_along_axis(mask, perm, axis=1)
    for row, real in zip(d, m):
        assert np.all(np.diff(row[real]) <= 0)
        assert not np.any(real[real.sum():])  # padding last


def test_radius_ignores_extra_columns_and_is_rotation_invariant():
    xyz, mask = clouds(seed=2)
    perm = sort_points(xyz, mask)
    extra = np.concatenate([xyz, np.ones(xyz.shape[:2] + (2,))], axis=2)
    np.testing.assert_array_equal(sort_points(extra, mask), perm)
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))
    np.testing.assert_array_equal(sort_points(xyz @ q.T + 5.0, mask), perm)


def test_none_and_random():
    xyz, mask = clouds(seed=3)
    perm = sort_points(xyz, mask, by="none")
    for p, real in zip(perm, mask):
        idx = np.arange(len(real))
        np.testing.assert_array_equal(p, np.concatenate([idx[real], idx[~real]]))
    a = sort_points(xyz, mask, by="random", rng=5)
    np.testing.assert_array_equal(a, sort_points(xyz, mask, by="random", rng=np.random.default_rng(5)))
    assert not np.array_equal(a, sort_points(xyz, mask, by="random", rng=6))
    for p, real in zip(a, mask):
        assert sorted(p) == list(range(len(real)))
        assert real[p][: real.sum()].all()
    moved = apply_permutation(xyz, a)
    np.testing.assert_array_equal(np.sort(moved.reshape(-1)), np.sort(xyz.reshape(-1)))


def test_bad_arguments():
    xyz, mask = clouds()
    assert POINT_SORT_KEYS == ("radius", "none", "random")
    with pytest.raises(ConfigError, match="kt"):
        sort_points(xyz, mask, by="kt")
    with pytest.raises(InputError):
        sort_points(xyz[..., :2], mask)
    with pytest.raises(InputError):
        sort_points(xyz, mask[:, :-1])
