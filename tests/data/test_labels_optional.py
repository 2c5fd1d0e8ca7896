"""`load(..., labels="optional")`: files without labels (in the published layouts, minus the labels)
keep every jet with y = -1; `labels="required"` (the default, for training and evaluation) refuses
them in one line. Jet-level columns jet_eta / jet_phi come with the jets of every format."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest

from published_layouts import (
    strip_hls4ml_labels,
    write_hls4ml,
    write_jetclass,
    write_jetclass_unlabelled,
    write_quarkgluon,
    write_toplandscape,
    write_toplandscape_unlabelled,
)
from saltjet.data import load
from saltjet.data.hls4ml_layout import JET_FEATURES
from saltjet.errors import ConfigError, DataError


def test_label_policy_is_checked(tmp_path):
    write_hls4ml(tmp_path / "a.h5", n_jets=5, n_slots=20, max_mult=10)
    with pytest.raises(ConfigError, match="labels must be 'required' or 'optional'"):
        load(tmp_path / "a.h5", labels="maybe")


@pytest.mark.parametrize("keep_columns", [True, False], ids=["one-hot all zero", "no label columns"])
def test_hls4ml_without_labels(tmp_path, keep_columns):
    path = tmp_path / "jetImage_x_150p_0.h5"
    truth = write_hls4ml(path, n_jets=30, n_slots=40, max_mult=30)
    labelled = load(path, quiet=True)
    strip_hls4ml_labels(path, keep_columns)
    error = "no usable jets" if keep_columns else "no labels .*training and evaluation need them"
    with pytest.raises(DataError, match=error), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # all-zero one-hot: "skipped 30 of 30 jets", then no usable jets
        load(path, quiet=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing was changed: no warning
        data = load(path, quiet=True, labels="optional")
    assert len(data) == 30 and (data.y == -1).all() and not data.labelled.any()
    assert data.class_names == ["g", "q", "W", "Z", "t"]
    np.testing.assert_array_equal(data.x, labelled.x)
    np.testing.assert_array_equal(data.mask, labelled.mask)
    assert truth["labels"].shape == (30,)


def test_hls4ml_partly_labelled_keeps_rows_and_labels(tmp_path):
    path = tmp_path / "jetImage_x_150p_0.h5"
    labels = np.array([0, 1, -1, 2, 3, -1, 4, 0])  # -1: written with only j_undef set
    write_hls4ml(path, n_jets=8, n_slots=20, max_mult=10, labels=labels)
    with pytest.warns(UserWarning, match="skipped 2 of 8 jets \\(2 with no label"):
        assert len(load(path, quiet=True)) == 6  # required: unlabelled jets skipped (counted)
    with pytest.warns(UserWarning, match="kept 2 jets with no label or several labels as unlabelled"):
        data = load(path, quiet=True, labels="optional")
    np.testing.assert_array_equal(data.y, labels)


def test_toplandscape_without_is_signal_new(tmp_path):
    path = tmp_path / "test.h5"
    truth = write_toplandscape_unlabelled(path)
    with pytest.raises(DataError, match="no labels \\(no label column 'is_signal_new'\\)"):
        load(path, quiet=True)
    data = load(path, quiet=True, labels="optional")
    assert len(data) == 25 and (data.y == -1).all() and data.class_names == ["QCD", "top"]
    jpx, jpy, jpz = (truth[k].sum(axis=1) for k in ("px", "py", "pz"))
    np.testing.assert_allclose(data.jet_columns["jet_phi"], np.arctan2(jpy, jpx), atol=1e-9)
    np.testing.assert_allclose(data.jet_columns["jet_eta"], np.arcsinh(jpz / np.hypot(jpx, jpy)), atol=1e-9)


def test_quarkgluon_without_y(tmp_path):
    path = tmp_path / "QG_jets.npz"
    X = write_quarkgluon(tmp_path / "full.npz", n_jets=30)["X"]
    np.savez_compressed(path, X=X)
    with pytest.raises(DataError, match="no labels \\(no array y\\)"):
        load(path, quiet=True)
    data = load(path, quiet=True, labels="optional")
    assert len(data) == 30 and (data.y == -1).all() and data.class_names == ["g", "q"]
    np.testing.assert_array_equal(data.x, load(tmp_path / "full.npz", quiet=True).x)


def test_jetclass_without_label_branches(tmp_path):
    pytest.importorskip("uproot")
    path = tmp_path / "JetClass.root"
    truth = write_jetclass_unlabelled(path)
    with pytest.raises(DataError, match="no labels \\(no label_\\* branches"):
        load(path, quiet=True)
    data = load(path, quiet=True, labels="optional")
    assert len(data) == 20 and (data.y == -1).all() and data.class_names == []
    np.testing.assert_allclose(data.jet_columns["jet_eta"], truth["jet_eta"])
    np.testing.assert_allclose(data.jet_columns["jet_phi"], truth["jet_phi"])
    # a labelled file read with it gives the class names; the unlabelled file's jets stay -1
    write_jetclass(tmp_path / "labelled.root", n_jets=10)
    both = load([tmp_path / "JetClass.root", tmp_path / "labelled.root"], quiet=True, labels="optional")
    assert len(both) == 30 and both.class_names[0] == "QCD"
    assert (both.y[:20] == -1).all() and (both.y[20:] >= 0).all()


def test_jet_columns_of_each_format(tmp_path):
    """jet_eta / jet_phi: the file's columns (hls4ml j_eta, JetClass jet_eta/jet_phi) or those of the
    constituent sum (hls4ml φ, top tagging, quark/gluon); they follow max_jets and subsets."""
    write_hls4ml(tmp_path / "h.h5", n_jets=12, n_slots=30, max_mult=20)
    data = load(tmp_path / "h.h5", quiet=True)
    with h5py.File(tmp_path / "h.h5") as f:
        jets, cons = f["jets"][()], f["jetConstituentList"][()].astype(np.float64)
    np.testing.assert_array_equal(data.jet_columns["jet_eta"], jets[:, JET_FEATURES.index("j_eta")])
    real = cons[..., 5] > 0
    jpx, jpy = (np.where(real, cons[..., k], 0).sum(1) for k in (0, 1))
    np.testing.assert_allclose(data.jet_columns["jet_phi"], np.arctan2(jpy, jpx), atol=1e-6)
    assert set(load(tmp_path / "h.h5", quiet=True, max_jets=5).jet_columns) == {"jet_eta", "jet_phi"}
    sub = data.subset(np.array([3, 1]))
    np.testing.assert_array_equal(sub.jet_columns["jet_eta"], data.jet_columns["jet_eta"][[3, 1]])

    t = write_toplandscape(tmp_path / "t.h5", n_jets=10, n_slots=40, max_mult=30)
    top = load(tmp_path / "t.h5", quiet=True)
    jpx, jpy = t["px"].sum(1), t["py"].sum(1)
    np.testing.assert_allclose(top.jet_columns["jet_phi"], np.arctan2(jpy, jpx), atol=1e-9)

    qg = write_quarkgluon(tmp_path / "q.npz", n_jets=10)["X"]
    data = load(tmp_path / "q.npz", quiet=True)
    pt, rap, phi = qg[..., 0], qg[..., 1], qg[..., 2]
    jpx, jpy, jpz = (pt * np.cos(phi)).sum(1), (pt * np.sin(phi)).sum(1), (pt * np.sinh(rap)).sum(1)
    np.testing.assert_allclose(data.jet_columns["jet_phi"], np.arctan2(jpy, jpx), atol=1e-9)
    np.testing.assert_allclose(data.jet_columns["jet_eta"], np.arcsinh(jpz / np.hypot(jpx, jpy)), atol=1e-9)
