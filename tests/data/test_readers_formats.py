"""Top Tagging Landscape, quark/gluon and JetClass readers on files in their published layouts."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from published_layouts import wrap, write_jetclass, write_quarkgluon, write_toplandscape

from saltjet.data import load
from saltjet.data.readers.screening import ReaderWarning
from saltjet.errors import DataError, SaltjetError


def quiet_load(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReaderWarning)
        return load(*args, **kwargs)


# ----------------------------------------------------------------------------------------------
# Top Tagging Landscape


@pytest.mark.parametrize("table_format", ["fixed", "table"])
def test_toplandscape_round_trip(tmp_path, table_format):
    path = tmp_path / "train.h5"
    t = write_toplandscape(path, n_jets=30, seed=1, table_format=table_format)
    data = load(path)
    assert data.source == "toplandscape" and data.class_names == ["QCD", "top"]
    assert data.x.shape == (30, 200, 3)
    real = t["e"] > 0
    # the jet axis from the summed four-vector, computed here independently
    jpx, jpy, jpz = t["px"].sum(1), t["py"].sum(1), t["pz"].sum(1)
    jeta = np.arctanh(jpz / np.sqrt(jpx**2 + jpy**2 + jpz**2))
    jphi = np.arctan2(jpy, jpx)
    expected = np.stack([t["pt"], t["eta"] - jeta[:, None], wrap(t["phi"] - jphi[:, None])], -1) * real[..., None]
    np.testing.assert_array_equal(data.mask, real)
    np.testing.assert_allclose(data.x, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(data.y, t["labels"])
    chunked = load(path, chunk_size=7, max_jets=20)
    np.testing.assert_array_equal(chunked.x, data.x[:20])
    extra = load(path, features="all")
    assert extra.feature_names == ["pt", "eta_rel", "phi_rel", "energy", "px", "py", "pz"]
    np.testing.assert_allclose(extra.x[..., 3], t["e"], rtol=1e-6)


def test_toplandscape_nan_jet_and_truncation(tmp_path):
    path = tmp_path / "val.h5"
    t = write_toplandscape(path, n_jets=20, seed=2, nan_jet=3, max_mult=50)
    with pytest.warns(ReaderWarning) as record:
        data = load(path, n_particles=30, on_nonfinite="drop")
    message = str(record[0].message)
    assert len(record) == 1 and "skipped 1 of 20 jets (1 with NaN/inf values)" in message
    n_trunc = ((t["e"] > 0).sum(1) > 30)[np.arange(20) != 3].sum()
    assert f"truncated {n_trunc} jets to their 30 highest-pT particles" in message
    np.testing.assert_array_equal(data.y, np.delete(t["labels"], 3))
    assert data.x.shape == (19, 30, 3)


def test_toplandscape_bad_layouts(tmp_path):
    other_key = tmp_path / "other.h5"
    pd.DataFrame({"E_0": [1.0]}).to_hdf(other_key, key="jets")
    no_label = tmp_path / "nolabel.h5"
    pd.DataFrame({"E_0": [1.0], "PX_0": [1.0], "PY_0": [0.0], "PZ_0": [0.0]}).to_hdf(no_label, key="table")
    bad_cols = tmp_path / "badcols.h5"
    pd.DataFrame({"E_0": [1.0], "PX_0": [1.0], "is_signal_new": [1]}).to_hdf(bad_cols, key="table")
    for path, message in [(other_key, "no pandas key 'table'"), (no_label, "no label column"),
                          (bad_cols, "expected columns E_i, PX_i, PY_i, PZ_i")]:
        with pytest.raises(DataError, match=message):
            load(path, format="toplandscape")
    with pytest.raises(DataError, match="no known layout"):
        load(other_key)


# ----------------------------------------------------------------------------------------------
# Quark/gluon


def test_quarkgluon_round_trip_and_phi_wrap(tmp_path):
    path = tmp_path / "QG_jets.npz"
    t = write_quarkgluon(path, n_jets=25, seed=3, n_slots=60)
    data = load(path)
    assert data.source == "quarkgluon" and data.class_names == ["g", "q"]
    np.testing.assert_array_equal(data.y, t["y"].astype(int))
    assert all(data.class_names[k] == "q" for k in data.y[t["y"] == 1])
    X = t["X"]
    for i in range(len(X)):  # a per-jet reference computation
        real = X[i, :, 0] > 0
        pt, rap, phi = X[i, real, 0], X[i, real, 1], X[i, real, 2]
        ref = phi[np.argmax(pt)]
        phi_c = ref + np.sum(pt * wrap(phi - ref)) / pt.sum()
        expected = np.stack([pt, rap - np.sum(pt * rap) / pt.sum(), wrap(phi - phi_c)], -1)
        np.testing.assert_array_equal(data.mask[i], real)
        np.testing.assert_allclose(data.x[i, real], expected, rtol=1e-5, atol=1e-5)
    assert np.abs(data.x[0, data.mask[0], 2]).max() < 1.5  # the jet across φ = 0 stays narrow
    assert load(path, features=["pdgid"]).x.shape[2] == 4


def test_quarkgluon_files_of_different_widths(tmp_path):
    write_quarkgluon(tmp_path / "QG_jets_0.npz", n_jets=10, n_slots=40, max_mult=40)
    write_quarkgluon(tmp_path / "QG_jets_1.npz", n_jets=10, seed=1, n_slots=70, max_mult=70)
    data = load(str(tmp_path / "QG_jets_*.npz"))
    assert data.x.shape == (20, 70, 3)
    with pytest.warns(ReaderWarning, match="truncated"):
        assert load(tmp_path, n_particles=30).x.shape == (20, 30, 3)


def test_quarkgluon_bad_files(tmp_path):
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, X=np.ones((5, 10)), y=np.ones(5))
    no_y = tmp_path / "no_y.npz"
    np.savez(no_y, X=np.ones((5, 10, 4)))
    truncated = tmp_path / "QG_trunc.npz"
    write_quarkgluon(truncated, n_jets=50)
    truncated.write_bytes(truncated.read_bytes()[:-200])
    nan = tmp_path / "nan.npz"
    np.savez(nan, X=np.full((3, 5, 4), np.nan), y=np.ones(3))
    for path, message in [(wrong, r"expected X \(N, M, 4\)"), (no_y, "no array y"),
                          (truncated, "truncated or corrupt"), (nan, "3 of 3 jets hold NaN/inf")]:
        with pytest.raises(SaltjetError, match=message) as info:
            quiet_load(path, format="quarkgluon")
        assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------------------------
# JetClass


def test_jetclass_round_trip_mixed_label_types(tmp_path):
    path = tmp_path / "HToBB_120.root"
    t = write_jetclass(path, n_jets=30, seed=4, max_mult=60)
    data = load(path)
    assert data.source == "jetclass"
    assert data.class_names == ["QCD", "Hbb", "Hcc", "Hgg", "H4q", "Hqql", "Zqq", "Wqq", "Tbqq", "Tbl"]
    assert data.x.shape == (30, 128, 3)
    np.testing.assert_array_equal(data.y, t["labels"])
    for i in range(30):
        m = t["mult"][i]
        assert data.mask[i].sum() == m and data.mask[i, :m].all()
        expected = np.stack([t["pt"][i], t["deta"][i], t["dphi"][i]], -1)
        np.testing.assert_allclose(data.x[i, :m], expected, rtol=1e-6)
    extra = load(path, features=["part_charge"])
    assert extra.feature_names == ["pt", "eta_rel", "phi_rel", "part_charge"]


def test_jetclass_truncation_empty_and_label_errors(tmp_path):
    path = tmp_path / "a.root"
    labels = np.arange(12) % 10
    onehot = np.eye(10)[labels]
    onehot[5] = 0  # no label
    onehot[6, [0, 3]] = 1  # two labels
    t = write_jetclass(path, n_jets=12, seed=5, min_mult=0, max_mult=40, onehot=onehot)
    with pytest.warns(ReaderWarning) as record:
        data = load(path, n_particles=16, chunk_size=5)
    assert len(record) == 1
    message = str(record[0].message)
    bad = {5, 6}
    empty = {i for i in range(12) if t["mult"][i] == 0} - bad
    kept = [i for i in range(12) if i not in bad | empty]
    assert f"skipped {len(bad | empty)} of 12 jets" in message
    assert "2 with no label or several labels" in message
    n_trunc = sum(t["mult"][i] > 16 for i in kept)
    assert (f"truncated {n_trunc} jets" in message) == (n_trunc > 0)
    np.testing.assert_array_equal(data.y, labels[kept])
    for row, i in enumerate(kept):
        pt = t["pt"][i]
        keep = np.sort(np.argsort(-pt, kind="stable")[:16])
        np.testing.assert_allclose(data.x[row, data.mask[row], 0], pt[keep], rtol=1e-6)


def test_jetclass_bad_files(tmp_path):
    import uproot

    no_tree = tmp_path / "no_tree.root"
    with uproot.recreate(no_tree) as f:
        f["events"] = {"x": np.ones(3)}
    no_branch = tmp_path / "no_branch.root"
    with uproot.recreate(no_branch) as f:
        f["tree"] = {"part_px": np.ones(3), "label_QCD": np.ones(3)}
    garbage = tmp_path / "garbage.root"
    garbage.write_bytes(b"root" + b"\0" * 100)
    truncated = tmp_path / "truncated.root"
    write_jetclass(truncated, n_jets=200)
    truncated.write_bytes(truncated.read_bytes()[:-5000])
    for path, message in [(no_tree, "no TTree 'tree'"), (no_branch, "no branch part_py"),
                          (garbage, "cannot open ROOT file|no TTree"), (truncated, "truncated")]:
        with pytest.raises(DataError, match=message) as info:
            load(path, format="jetclass")
        assert "\n" not in str(info.value)
    with pytest.raises(DataError, match="ROOT file that is unreadable"):
        load(garbage)
    with pytest.raises(DataError, match="truncated"):
        load(truncated)
