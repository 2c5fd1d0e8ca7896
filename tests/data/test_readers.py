"""`saltjet.data.load`, the reader registry and the hls4ml reader, on files in the published layout."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest
from published_layouts import wrap, write_hls4ml, write_quarkgluon

from saltjet.data import load
from saltjet.data.readers import READERS, get_reader, list_formats
from saltjet.data.readers.screening import ReaderWarning
from saltjet.errors import ConfigError, DataError, SaltjetError

PT, PX, PY, PZ, E, ETA, PHI = 5, 0, 1, 2, 3, 7, 10


def expected_hls4ml(cons: np.ndarray):
    """(pT, Δη, Δφ) and mask computed from the px, py, pz, E columns, not from the columns read."""
    px, py, pz, e = (cons[..., i].astype(np.float64) for i in (PX, PY, PZ, E))
    real = e > 0
    pt = np.hypot(px, py)
    eta = np.arcsinh(np.divide(pz, pt, out=np.zeros_like(pz), where=pt > 0))
    phi = np.arctan2(py, px)
    jpx, jpy, jpz = px.sum(1, keepdims=True), py.sum(1, keepdims=True), pz.sum(1, keepdims=True)
    jeta, jphi = np.arcsinh(jpz / np.hypot(jpx, jpy)), np.arctan2(jpy, jpx)
    x = np.stack([pt, eta - jeta, wrap(phi - jphi)], axis=-1) * real[..., None]
    return x, real


def test_registry_lists_every_format():
    assert list_formats() == ["hls4ml", "toplandscape", "quarkgluon", "jetclass", "modelnet"]
    for name in ("hls4ml", "toplandscape", "quarkgluon", "jetclass"):
        module = get_reader(name)
        assert module.FORMAT == name and callable(module.sniff) and callable(module.read)
    assert READERS["modelnet"] == "saltjet.data.readers.modelnet"
    with pytest.raises(ConfigError, match="unknown data format"):
        get_reader("csv")


def test_hls4ml_round_trip_values_labels_and_class_order(tmp_path):
    path = tmp_path / "jetImage_0_150p_0_10000.h5"
    truth = write_hls4ml(path, n_jets=40, seed=1)
    data = load(path)
    assert data.source == "hls4ml" and data.kind == "jets"
    assert data.class_names == ["g", "q", "W", "Z", "t"]
    assert data.feature_names == ["pt", "eta_rel", "phi_rel"]
    assert data.x.shape == (40, 150, 3) and data.x.dtype == np.float32
    x, real = expected_hls4ml(truth["constituents"])
    np.testing.assert_array_equal(data.mask, real)
    np.testing.assert_allclose(data.x, x, rtol=1e-4, atol=2e-4)
    np.testing.assert_array_equal(data.y, truth["labels"])
    # label column j_g is class "g", j_q is "q" (the authors' scripts swapped these)
    with h5py.File(path) as f:
        jets, names = f["jets"][()], [n.decode() for n in f["jetFeatureNames"][()]]
    for name in ("g", "q"):
        column = jets[:, names.index(f"j_{name}")] == 1
        assert column.any()
        assert all(data.class_names[k] == name for k in data.y[column])


def test_hls4ml_labels_follow_jetfeaturenames(tmp_path):
    """A file whose name array puts j_q before j_g is read by name, not by position."""
    path = tmp_path / "swapped.h5"
    truth = write_hls4ml(path, n_jets=30, seed=2)
    with h5py.File(path, "r+") as f:
        jets, names = f["jets"][()], f["jetFeatureNames"][()]
        g, q = len(names) - 6, len(names) - 5
        jets[:, [g, q]] = jets[:, [q, g]]
        names[[g, q]] = names[[q, g]]
        f["jets"][...] = jets
        f["jetFeatureNames"][...] = names
    np.testing.assert_array_equal(load(path).y, truth["labels"])


def test_hls4ml_particle_names_quirk_and_extras(tmp_path):
    path = tmp_path / "a.h5"
    truth = write_hls4ml(path, n_jets=10, seed=3)
    with h5py.File(path) as f:
        assert len(f["particleFeatureNames"]) == 17 and f["jetConstituentList"].shape[2] == 16
    data = load(path, features="all")
    assert data.x.shape[2] == 16
    assert data.feature_names[:3] == ["pt", "eta_rel", "phi_rel"] and "j1_pdgid" not in data.feature_names
    some = load(path, features=["j1_e", "j1_deltaR"])
    assert some.feature_names == ["pt", "eta_rel", "phi_rel", "j1_e", "j1_deltaR"]
    np.testing.assert_array_equal(some.x[..., 3], truth["constituents"][..., E])
    np.testing.assert_array_equal(some.x[..., 4], truth["constituents"][..., 13])
    with pytest.raises(ConfigError, match="j1_pdgid"):
        load(path, features=["j1_pdgid"])


def test_hls4ml_many_files_glob_sorted_and_max_jets(tmp_path):
    a = write_hls4ml(tmp_path / "jetImage_0_150p_0_10000.h5", n_jets=20, seed=4)
    b = write_hls4ml(tmp_path / "jetImage_1_150p_0_10000.h5", n_jets=20, seed=5)
    (tmp_path / "README.txt").write_text("not data")
    both = np.concatenate([a["labels"], b["labels"]])
    data = load(str(tmp_path / "jetImage_*_150p_*.h5"), chunk_size=7)
    np.testing.assert_array_equal(data.y, both)
    np.testing.assert_array_equal(load(tmp_path).y, both)  # a folder: its data files, sorted
    cut = load(str(tmp_path / "*.h5"), max_jets=25, chunk_size=6)
    assert len(cut) == 25
    np.testing.assert_array_equal(cut.y, both[:25])
    np.testing.assert_array_equal(cut.x, data.x[:25])


def test_repeated_jets_are_counted_in_one_warning(tmp_path):
    for folder in "abc":
        (tmp_path / folder).mkdir()
    write_hls4ml(tmp_path / "a" / "jetImage_0_150p_0_10000.h5", n_jets=20, seed=4)
    write_hls4ml(tmp_path / "b" / "jetImage_0_150p_0_10000.h5", n_jets=20, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # distinct jets: no warning
        assert len(load(str(tmp_path / "[ab]" / "*.h5"))) == 40
    copy = tmp_path / "c" / "jetImage_0_150p_0_10000.h5"  # the same file again, in another folder
    copy.write_bytes((tmp_path / "a" / "jetImage_0_150p_0_10000.h5").read_bytes())
    with pytest.warns(ReaderWarning, match="20 of 60 jets are repeats") as caught:
        assert len(load(str(tmp_path / "*" / "*.h5"))) == 60
    assert len([w for w in caught if "repeats" in str(w.message)]) == 1


def test_truncation_keeps_highest_pt_in_file_order_with_one_warning(tmp_path):
    path = tmp_path / "a.h5"
    truth = write_hls4ml(path, n_jets=30, seed=6, max_mult=60)
    n = 20
    with pytest.warns(ReaderWarning) as record:
        data = load(path, n_particles=n)
    mult = (truth["constituents"][..., PT] > 0).sum(1)
    assert len(record) == 1 and f"truncated {(mult > n).sum()} jets" in str(record[0].message)
    assert data.x.shape == (30, n, 3)
    full = load(path)
    for i in range(30):
        pt = full.x[i, full.mask[i], 0]
        keep = np.sort(np.argsort(-pt, kind="stable")[:n])
        np.testing.assert_array_equal(data.x[i, data.mask[i]], full.x[i, full.mask[i]][keep])
    assert load(path, n_particles=200).x.shape == (30, 200, 3)


def test_nan_empty_and_unlabelled_jets_are_skipped_and_counted(tmp_path):
    path = tmp_path / "bad.h5"
    write_hls4ml(path, n_jets=12, seed=7, labels=[0, 1, 2, 3, 4, 0, 1, 2, 3, 4, -1, 0])
    with h5py.File(path, "r+") as f:
        cons, jets = f["jetConstituentList"][()], f["jets"][()]
        cons[1, 0, PT] = np.nan  # NaN in a feature we read
        cons[2, 3, 8] = np.inf
        cons[3] = 0  # no particles
        jets[4, -6:-1] = [1, 1, 0, 0, 0]  # two labels
        f["jetConstituentList"][...] = cons
        f["jets"][...] = jets
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        data = load(path, on_nonfinite="drop")
    messages = [str(w.message) for w in record if issubclass(w.category, ReaderWarning)]
    assert len(messages) == 1
    assert "skipped 5 of 12 jets" in messages[0]
    assert "2 with NaN/inf" in messages[0] and "1 with no particles" in messages[0]
    assert "2 with no label or several labels" in messages[0]
    np.testing.assert_array_equal(data.y, [0, 0, 1, 2, 3, 4, 0])
    assert np.isfinite(data.x).all() and data.mask.any(axis=1).all()


def test_all_jets_bad_is_an_error(tmp_path):
    path = tmp_path / "nan.h5"
    write_hls4ml(path, n_jets=5, constituents=np.full((5, 150, 16), np.nan, dtype=np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReaderWarning)
        with pytest.raises(DataError, match="no usable jets.*5 with NaN/inf"):
            load(path, on_nonfinite="drop")


def test_bad_files(tmp_path):
    good = tmp_path / "good.h5"
    write_hls4ml(good, n_jets=10)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"this is not a data file\n" * 20)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    wrong_shape = tmp_path / "wrong_shape.h5"
    with h5py.File(wrong_shape, "w") as f:
        f["jetConstituentList"] = np.zeros((4, 150), dtype=np.float32)
        f["jets"] = np.zeros((4, 59), dtype=np.float32)
    no_jets = tmp_path / "no_jets.h5"
    with h5py.File(no_jets, "w") as f:
        f["jetConstituentList"] = np.zeros((4, 150, 16), dtype=np.float32)
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    cases = [
        (tmp_path / "missing.h5", "auto", "no such file"),
        (garbage, "auto", "unknown data layout"),
        (garbage, "hls4ml", "not an HDF5 file"),
        (truncated, "auto", "HDF5 file that is unreadable"),
        (truncated, "hls4ml", "truncated"),
        (wrong_shape, "hls4ml", r"expected jetConstituentList \(N, n, 16\)"),
        (no_jets, "hls4ml", "no dataset 'jets'"),
        (no_jets, "auto", "no known layout"),
        (empty, "auto", "empty file"),
        (str(tmp_path / "nothing_*.h5"), "auto", "no files match"),
    ]
    for path, fmt, message in cases:
        with pytest.raises(SaltjetError, match=message) as info:
            load(path, format=fmt)
        assert "\n" not in str(info.value)


def test_mixed_formats_and_bad_options(tmp_path):
    write_hls4ml(tmp_path / "a.h5", n_jets=5)
    write_quarkgluon(tmp_path / "QG_jets.npz", n_jets=5)
    with pytest.raises(DataError, match="mixed data formats"):
        load(tmp_path)
    with pytest.raises(DataError, match="mixed data formats"):
        load([tmp_path / "a.h5", tmp_path / "QG_jets.npz"])
    with pytest.raises(ConfigError, match="unknown data format"):
        load(tmp_path / "a.h5", format="csv")
    for bad in (0, -3, 2.5):
        with pytest.raises(ConfigError, match="max_jets"):
            load(tmp_path / "a.h5", max_jets=bad)
    with pytest.raises(ConfigError, match="no particle feature 'spin'"):
        load(tmp_path / "a.h5", features="spin")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(DataError, match="no data files in a known layout"):
        load(tmp_path / "empty_dir")


def test_fit_slots_compacts_gaps_and_keeps_highest_pt():
    from saltjet.data.readers.slots import fit_slots

    pt = np.array([[5.0, 0, 9, 0, 1, 7], [3.0, 2, 0, 0, 0, 0], [0, 0, 0, 0, 4, 0]])
    mask = pt > 0
    x = (np.stack([pt, pt + 100, pt + 200], axis=-1) * mask[..., None]).astype(np.float32)
    out, out_mask, truncated = fit_slots(x, mask, 3)
    assert truncated == 1  # only jet 0 has more than 3 particles; jet 2 is just compacted
    np.testing.assert_array_equal(out[..., 0], [[5, 9, 7], [3, 2, 0], [4, 0, 0]])
    np.testing.assert_array_equal(out[..., 1], np.where(out_mask, out[..., 0] + 100, 0))
    np.testing.assert_array_equal(out_mask, [[1, 1, 1], [1, 1, 0], [1, 0, 0]])
    wide, wide_mask, none = fit_slots(x, mask, 8)
    assert wide.shape == (3, 8, 3) and none == 0 and not wide_mask[:, 6:].any()


def test_modelnet_folders_go_through_load(tmp_path):
    pytest.importorskip("saltjet.data.readers.modelnet")
    cube = "OFF\n8 6 0\n" + "".join(f"{x} {y} {z}\n" for x in (0, 1) for y in (0, 1) for z in (0, 1))
    cube += "4 0 1 3 2\n4 4 6 7 5\n4 0 4 5 1\n4 2 3 7 6\n4 0 2 6 4\n4 1 5 7 3\n"
    for name in ("bed", "chair"):
        for split in ("train", "test"):
            (tmp_path / name / split).mkdir(parents=True)
            (tmp_path / name / split / f"{name}_0001.off").write_text(cube)
    data = load(tmp_path, n_particles=32, max_jets=1)
    assert data.source == "modelnet" and data.kind == "pointcloud"
    assert data.x.shape == (1, 32, 3) and data.class_names == ["bed", "chair"]
    with pytest.raises(ConfigError, match="modelnet format has no feature selection"):
        load(tmp_path, features="all")
    assert load(tmp_path, n_particles=16, split="all", max_jets=3).x.shape == (3, 16, 3)  # stops at max_jets


def test_every_reader_takes_the_common_options_and_refuses_unknown_ones():
    import inspect

    common = {"max_jets", "n_particles", "features", "quiet", "on_nonfinite", "labels"}
    for name in READERS:
        try:
            read = get_reader(name).read
        except ConfigError:  # optional extra not installed
            continue
        params = inspect.signature(read).parameters
        assert common <= set(params), name
        assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()), name


def test_an_option_a_reader_does_not_have_is_one_line(tmp_path):
    path = tmp_path / "jetImage_0_150p_0.h5"
    write_hls4ml(path, n_jets=4, seed=0)
    with pytest.raises(ConfigError, match=r"unknown hls4ml reader option\(s\): split"):
        load(path, split="test")
