"""`saltjet predict` on files without labels (issue 11) and `data.on_nonfinite` through train,
evaluate and predict (issue 10). Fixture files are written here in the published layouts."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from published_layouts import (
    strip_hls4ml_labels,
    write_hls4ml,
    write_jetclass_unlabelled,
    write_quarkgluon,
    write_toplandscape_unlabelled,
)
from saltjet.cli import main
from saltjet.config import DataConfig
from saltjet.data.hls4ml_layout import JET_FEATURES
from saltjet.errors import ConfigError

TRAIN = ["--model", "salt", "--epochs", "1", "--batch-size", "32", "--n-particles", "20", "--device", "cpu",
         "--quiet", "--d-model", "8", "--d-ff", "8", "--n-heads", "2"]


@pytest.fixture(scope="module")
def raw_run(tmp_path_factory):
    """A 1-epoch raw-feature (pt, eta_rel, phi_rel) 5-class run: it can score jets of any format."""
    tmp = tmp_path_factory.mktemp("predict_unlabelled")
    write_hls4ml(tmp / "jetImage_train_150p_0.h5", n_jets=120, seed=0, n_slots=30, max_mult=25)
    assert main(["train", "--data", str(tmp / "jetImage_train_150p_0.h5"), "--out", str(tmp / "run"), *TRAIN]) == 0
    return tmp


def read_scores(path):
    with h5py.File(path) as f:
        return {name: f[name][()] for name in f}


@pytest.mark.parametrize("fmt", ["hls4ml", "toplandscape", "quarkgluon", "jetclass"])
def test_predict_scores_a_file_without_labels(raw_run, tmp_path, fmt, capsys):
    n = {"hls4ml": 30, "toplandscape": 25, "quarkgluon": 30, "jetclass": 20}[fmt]
    if fmt == "hls4ml":
        path = tmp_path / "jetImage_new_150p_0.h5"
        write_hls4ml(path, n_jets=n, seed=5, n_slots=30, max_mult=25)
        strip_hls4ml_labels(path, keep_columns=False)
    elif fmt == "toplandscape":
        path = tmp_path / "test.h5"
        write_toplandscape_unlabelled(path, n_jets=n)
    elif fmt == "quarkgluon":
        path = tmp_path / "QG_jets.npz"
        np.savez_compressed(path, X=write_quarkgluon(tmp_path / "full.npz", n_jets=n)["X"])
    else:
        pytest.importorskip("uproot")
        path = tmp_path / "JetClass.root"
        write_jetclass_unlabelled(path, n_jets=n)
    # training and evaluation need labels: one line, exit 2
    assert main(["evaluate", "--run", str(raw_run / "run"), "--data", str(path), "--device", "cpu", "--quiet"]) == 2
    assert main(["train", "--data", str(path), "--out", str(tmp_path / "r"), *TRAIN]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("no labels" in line and "need them" in line for line in err), err
    out = tmp_path / "scores.h5"
    assert main(["predict", "--run", str(raw_run / "run"), "--data", str(path), "--out", str(out), "--quiet"]) == 0
    scores = read_scores(out)
    assert list(scores) == sorted(["score_g", "score_q", "score_W", "score_Z", "score_t", "jet_pt", "jet_eta",
                                   "jet_phi", "jet_mass", "multiplicity", "label"])
    assert all(len(column) == n for column in scores.values())
    assert (scores["label"] == -1).all() and np.isfinite(scores["jet_eta"]).all()
    assert np.allclose(sum(scores[f"score_{c}"] for c in "gqWZt"), 1.0)
    assert f"{n} without a label" in capsys.readouterr().out


def test_predict_keeps_the_labels_a_file_has(raw_run, tmp_path):
    path = tmp_path / "jetImage_part_150p_0.h5"
    labels = np.array([0, 1, -1, 2, 3, -1, 4, 0, 1, 2])
    write_hls4ml(path, n_jets=10, seed=3, n_slots=30, max_mult=25, labels=labels)
    out = tmp_path / "scores.csv"
    assert main(["predict", "--run", str(raw_run / "run"), "--data", str(path), "--out", str(out), "--quiet"]) == 0
    table = np.genfromtxt(out, delimiter=",", names=True)
    np.testing.assert_array_equal(table["label"], labels)
    with h5py.File(path) as f:
        j_eta = f["jets"][:, JET_FEATURES.index("j_eta")]
    np.testing.assert_allclose(table["jet_eta"], j_eta, rtol=1e-6)


def test_on_nonfinite_is_validated_in_the_config():
    assert DataConfig().on_nonfinite == "raise"
    with pytest.raises(ConfigError, match="data.on_nonfinite must be one of raise, drop"):
        DataConfig(on_nonfinite="error")


def test_nan_jet_refused_by_train_unless_dropped(raw_run, tmp_path, capsys):
    path = tmp_path / "jetImage_nan_150p_0.h5"
    write_hls4ml(path, n_jets=60, seed=2, n_slots=30, max_mult=25)
    with h5py.File(path, "r+") as f:
        f["jetConstituentList"][7, 0, 5] = np.nan  # j1_pt of a real particle
    assert main(["train", "--data", str(path), "--out", str(tmp_path / "refused"), *TRAIN]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1 of 60 jets hold NaN/inf" in err[0] and "--drop-nonfinite" in err[0], err
    assert not (tmp_path / "refused" / "model.safetensors").exists()

    assert main(["train", "--data", str(path), "--out", str(tmp_path / "dropped"), "--drop-nonfinite", *TRAIN]) == 0
    err = capsys.readouterr().err
    assert "skipped 1 of 60 jets (1 with NaN/inf values)" in err
    assert "on_nonfinite: drop" in (tmp_path / "dropped" / "config.yaml").read_text()
    # the same through the config key
    assert main(["train", "--data", str(path), "--out", str(tmp_path / "set"), "--set", "data.on_nonfinite=drop",
                 *TRAIN]) == 0
    assert "skipped 1 of 60 jets (1 with NaN/inf values)" in capsys.readouterr().err

    # evaluate and predict: refused by default, dropped with --drop-nonfinite
    run = str(raw_run / "run")
    assert main(["evaluate", "--run", run, "--data", str(path), "--device", "cpu", "--quiet"]) == 2
    assert "--drop-nonfinite" in capsys.readouterr().err
    assert main(["evaluate", "--run", run, "--data", str(path), "--device", "cpu", "--quiet", "--json",
                 "--drop-nonfinite"]) == 0
    assert "skipped 1 of 60 jets (1 with NaN/inf values)" in capsys.readouterr().err
    out = tmp_path / "scores.npz"
    assert main(["predict", "--run", run, "--data", str(path), "--out", str(out), "--quiet"]) == 2
    assert main(["predict", "--run", run, "--data", str(path), "--out", str(out), "--quiet", "--drop-nonfinite"]) == 0
    assert "skipped 1 of 60 jets (1 with NaN/inf values)" in capsys.readouterr().err
    with np.load(out) as scores:
        assert len(scores["label"]) == 59
