"""Training data pipeline: sort + truncate/pad, empty jets, splits, normaliser fit, batching."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from published_layouts import write_hls4ml

from saltjet.config import DataConfig
from saltjet.data.batches import epoch_batches, eval_shard
from saltjet.data.particles import ParticleData
from saltjet.data.pipeline import (
    JetTensors,
    build_splits,
    load_particles,
    prepare,
    resolve_sort_key,
    split_data,
    split_indices,
)
from saltjet.data.toy import toy_jets
from saltjet.errors import ConfigError, DataError


def _kt(x):
    return x[..., 0] * np.hypot(x[..., 1], x[..., 2])


def test_prepare_keeps_the_hardest_kt_particles_padding_last():
    data = toy_jets(200, n_classes=3, n_slots=60, seed=3)
    out, stats = prepare(data, n_particles=25, sort_by="kt")
    assert out.x.shape == (200, 25, 3) and out.mask.shape == (200, 25)
    mult = data.mask.sum(1)
    assert stats.n_truncated == int((mult > 25).sum()) > 0
    # padding last: the mask is a prefix of True
    n_kept = out.mask.sum(1)
    assert (out.mask == (np.arange(25)[None] < n_kept[:, None])).all()
    assert (n_kept == np.minimum(mult, 25)).all()
    assert (out.x[~out.mask] == 0).all()
    # kept particles are the top-kT ones, in descending kT (checked per jet against a plain sort)
    for i in range(0, 200, 17):
        real = data.x[i][data.mask[i]]
        expected = real[np.argsort(-_kt(real), kind="stable")][:25]
        np.testing.assert_array_equal(out.x[i][out.mask[i]], expected)
    np.testing.assert_array_equal(out.y, data.y)


def test_prepare_pads_short_files_to_n():
    data = toy_jets(30, n_slots=10, seed=1)
    out, stats = prepare(data, n_particles=16, sort_by="pt")
    assert out.x.shape == (30, 16, 3) and not out.mask[:, 10:].any() and stats.n_truncated == 0
    pts = np.where(out.mask, out.x[..., 0], -1.0)
    assert (np.diff(pts[:, :10], axis=1)[out.mask[:, 1:10]] <= 0).all()


def test_prepare_drops_empty_jets_with_a_counted_warning():
    data = toy_jets(20, n_slots=12, seed=2)
    data.mask[[3, 7]] = False
    data.x[[3, 7]] = 0
    with pytest.warns(UserWarning, match="dropped 2 of 20 jets with no particles"):
        out, stats = prepare(data, 12)
    assert len(out) == 18 and stats.n_empty == 2
    np.testing.assert_array_equal(out.y, np.delete(data.y, [3, 7]))
    data.mask[:] = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match="no jets with particles"):
            prepare(data, 12)


def test_feature_selection_by_name():
    data = toy_jets(10, n_slots=8)
    extra = np.concatenate([data.x, data.x[..., :1] * 2], axis=2)
    data = ParticleData(extra, data.mask, data.y, data.class_names, ["pt", "eta_rel", "phi_rel", "two_pt"])
    out, _ = prepare(data, 8, "kt", ["two_pt", "pt"])
    assert out.feature_names == ["two_pt", "pt"]
    np.testing.assert_allclose(out.x[..., 0], 2 * out.x[..., 1])
    with pytest.raises(ConfigError, match="unknown feature"):
        prepare(data, 8, "kt", ["energy"])


def test_sort_keys_by_data_kind():
    assert resolve_sort_key("jets", "auto") == "kt" and resolve_sort_key("pointcloud", "auto") == "radius"
    with pytest.raises(ConfigError):
        resolve_sort_key("pointcloud", "kt")
    with pytest.raises(ConfigError):
        resolve_sort_key("jets", "radius")


def test_point_clouds_are_sorted_outermost_first():
    rng = np.random.default_rng(0)
    xyz = rng.normal(size=(6, 40, 3)).astype(np.float32)
    mask = np.ones((6, 40), bool)
    data = ParticleData(xyz, mask, np.arange(6) % 2, ["a", "b"], ["x", "y", "z"], kind="pointcloud")
    out, _ = prepare(data, 40)
    r = np.linalg.norm(out.x - out.x.mean(axis=1, keepdims=True), axis=2)
    assert (np.diff(r, axis=1) <= 1e-6).all()


def test_split_is_disjoint_stratified_and_seeded():
    y = np.repeat(np.arange(4), [100, 200, 300, 400])
    rest, val, test = split_indices(y, (0.2, 0.1), seed=5)
    assert len(np.intersect1d(rest, val)) == len(np.intersect1d(val, test)) == 0
    assert len(rest) + len(val) + len(test) == len(y)
    np.testing.assert_array_equal(np.bincount(y[val]), [20, 40, 60, 80])
    again = split_indices(y, (0.2, 0.1), seed=5)
    assert all((a == b).all() for a, b in zip(again, (rest, val, test)))
    assert not (split_indices(y, (0.2, 0.1), seed=6)[1] == val).all()


def test_test_split_does_not_depend_on_val_fraction():
    data = toy_jets(500, seed=4)
    _, _, t1 = split_data(data, 0.1, 0.2, seed=9)
    tr, va, t2 = split_data(data, 0.3, 0.2, seed=9)
    np.testing.assert_array_equal(t1.x, t2.x)
    assert len(tr) + len(va) + len(t2) == 500 and len(t2) == 100


def test_normaliser_is_fitted_on_train_real_particles_only():
    data = toy_jets(400, seed=7, n_slots=30)
    cfg = DataConfig(n_particles=30, val_fraction=0.25, seed=1)
    splits = build_splits(cfg, data=data)
    train, _, _ = split_data(data, 0.25, 0.0, seed=1)
    real = train.x[train.mask]  # physical features of the train jets' real particles (order is irrelevant)
    p5, med, p95 = np.percentile(real, [5, 50, 95], axis=0)
    np.testing.assert_allclose(splits.center, med, rtol=1e-5)
    np.testing.assert_allclose(splits.scale, p95 - p5, rtol=1e-5)
    with_padding = np.percentile(train.x.reshape(-1, 3), 50, axis=0)
    assert not np.allclose(with_padding[0], med[0])  # padding zeros would have moved the pT median
    assert splits.stats["n_train"] == 300 and splits.stats["n_val"] == 100 and len(splits.train) == 300
    assert splits.train.x.dtype == torch.float32 and splits.train.x.is_contiguous()


def test_separate_validation_data_and_class_mismatch():
    cfg = DataConfig(n_particles=20)
    splits = build_splits(cfg, data=toy_jets(100, n_slots=20), val_data=toy_jets(40, n_slots=20, seed=2))
    assert len(splits.train) == 100 and len(splits.val) == 40
    with pytest.raises(DataError, match="classes"):
        build_splits(cfg, data=toy_jets(100, n_slots=20), val_data=toy_jets(40, n_classes=3, n_slots=20))


def test_epoch_batches_are_seeded_and_ranks_disjoint():
    a = torch.cat(epoch_batches(103, 16, seed=3, epoch=2))
    assert sorted(a.tolist()) == list(range(103))
    assert torch.equal(a, torch.cat(epoch_batches(103, 16, seed=3, epoch=2)))
    assert not torch.equal(a, torch.cat(epoch_batches(103, 16, seed=3, epoch=3)))
    assert not torch.equal(a, torch.cat(epoch_batches(103, 16, seed=4, epoch=2)))
    parts = [epoch_batches(103, 16, seed=3, epoch=2, rank=r, world_size=2) for r in range(2)]
    assert len(parts[0]) == len(parts[1])  # every process takes the same number of steps
    r0, r1 = torch.cat(parts[0]), torch.cat(parts[1])
    assert len(set(r0.tolist()) & set(r1.tolist())) == 0 and len(r0) == len(r1) == 51
    # the union of the processes' k-th batches is the single-process k-th global batch
    for k in range(len(parts[0])):
        both = torch.cat([parts[0][k], parts[1][k]])
        assert sorted(both.tolist()) == sorted(a[k * 16:min((k + 1) * 16, 102)].tolist())
    shards = [eval_shard(10, r, 3) for r in range(3)]
    assert torch.equal(torch.cat(shards), torch.arange(10))


def test_jet_tensors_batch_gathers_rows():
    data = toy_jets(50, n_slots=10)
    t = JetTensors.from_data(data)
    x, mask, y = t.batch(torch.tensor([4, 1]))
    assert torch.equal(x, torch.from_numpy(data.x[[4, 1]])) and torch.equal(y, torch.tensor(data.y[[4, 1]]))
    assert mask.dtype == torch.bool and len(t) == 50


def test_load_particles_from_an_hls4ml_file(tmp_path):
    path = tmp_path / "jetImage_0_150p_0.h5"
    truth = write_hls4ml(path, n_jets=30, seed=1)
    data = load_particles([str(path)], max_jets=20, quiet=True)
    assert len(data) == 20 and data.class_names == ["g", "q", "W", "Z", "t"]
    np.testing.assert_array_equal(data.y, truth["labels"][:20])
    splits = build_splits(DataConfig(path=[str(path)], n_particles=40, max_jets=25), None)
    assert splits.stats["n_train"] + splits.stats["n_val"] == 25
    with pytest.raises(DataError):
        load_particles([str(tmp_path / "missing.h5")])
