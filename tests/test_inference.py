"""One pipeline from file to score: a log-feature, top-vs-QCD run trained here on hls4ml-layout files
is evaluated, scored (`Tagger`, `saltjet predict`) and exported, and every path agrees."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch

from published_layouts import write_hls4ml
from saltjet.cli import main
from saltjet.config import RunConfig
from saltjet.data.features import FEATURE_SETS
from saltjet.data.sorting import apply_permutation, sort_particles
from saltjet.errors import ConfigError, InputError
from saltjet.evaluation.evaluate import evaluate_run
from saltjet.cost.export import ExportOptions, export_run, onnx_predict, read_metadata
from saltjet.inference import Tagger
from saltjet.training.run import CONFIG_FILE
from saltjet.training.loop import train

N = 32  # model slots; the files have 40 slots and up to 36 particles


@pytest.fixture(scope="module")
def log_run(tmp_path_factory):
    """A 1-epoch SAL-T run on log features and the top_vs_qcd task, plus a held-out file."""
    tmp = tmp_path_factory.mktemp("inference")
    write_hls4ml(tmp / "jetImage_train_150p_0.h5", n_jets=200, seed=0, n_slots=40, max_mult=36)
    write_hls4ml(tmp / "jetImage_test_150p_0.h5", n_jets=80, seed=7, n_slots=40, max_mult=36)
    config = RunConfig.from_dict({"model": "salt", "data": {"path": [str(tmp / "jetImage_train_150p_0.h5")],
                                                            "features": "log", "task": "top_vs_qcd",
                                                            "n_particles": N},
                                  "train": {"epochs": 1, "batch_size": 32, "device": "cpu", "quiet": True}})
    train(config, tmp / "run")
    return {"tmp": tmp, "run": tmp / "run", "test": tmp / "jetImage_test_150p_0.h5"}


def test_the_run_records_its_inputs(log_run):
    text = (log_run["run"] / CONFIG_FILE).read_text()
    tagger = Tagger.from_run(log_run["run"], device="cpu")
    assert tagger.features == FEATURE_SETS["log"] and tagger.class_names == ["QCD", "t"]
    assert tagger.inputs == ["pt", "eta_rel", "phi_rel", "e"] and tagger.spec.task == "top_vs_qcd"
    assert "task: top_vs_qcd" in text and "log_ptrel" in text


def test_tagger_predict_equals_evaluate_exactly(log_run):
    report, predictions = evaluate_run(log_run["run"], log_run["test"], device="cpu")
    assert report["n_jets"] == len(predictions["probs"]) > 0
    tagger = Tagger.from_run(log_run["run"], device="cpu")
    from saltjet.data.tasks import relabel

    data = relabel(tagger.load(log_run["test"]), "top_vs_qcd")  # the jets evaluate scored (balanced)
    probs = tagger.predict(data)
    assert probs.shape == (len(data), 2)
    np.testing.assert_array_equal(probs[:, 1], predictions["probs"])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_tagger_takes_paths_and_arrays_in_any_order(log_run):
    tagger = Tagger.from_run(log_run["run"], device="cpu")
    data = tagger.load(log_run["test"])
    from_path = tagger.predict(str(log_run["test"]))
    e = data.x[..., data.feature_names.index("j1_e")]
    cols = {"pt": data.x[..., 0], "eta_rel": data.x[..., 1], "phi_rel": data.x[..., 2], "e": e}
    from_arrays = tagger.predict(**cols, mask=data.mask)
    np.testing.assert_array_equal(from_path, from_arrays)
    shuffle = np.random.default_rng(0).permuted(np.tile(np.arange(data.mask.shape[1]), (len(data), 1)), axis=1)
    shuffled = {k: np.take_along_axis(v, shuffle, axis=1) for k, v in cols.items()}
    from_shuffled = tagger.predict(shuffled, mask=np.take_along_axis(data.mask, shuffle, axis=1))
    np.testing.assert_allclose(from_shuffled, from_arrays, atol=1e-6)  # the tagger sorts
    empty = {k: np.concatenate([v[:2], np.zeros_like(v[:1])]) for k, v in cols.items()}
    probs = tagger.predict(empty)  # mask defaults to pt > 0
    assert np.isnan(probs[2]).all() and np.isfinite(probs[:2]).all()
    with pytest.raises(InputError, match="missing e"):
        tagger.predict(pt=cols["pt"], eta_rel=cols["eta_rel"], phi_rel=cols["phi_rel"])


def test_evaluate_and_export_work_from_the_cli(log_run, capsys):
    run, test = str(log_run["run"]), str(log_run["test"])
    assert main(["evaluate", "--run", run, "--data", test, "--quiet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["class_names"] == ["QCD", "t"]
    assert main(["export", "--run", run, "--onnx", str(log_run["tmp"] / "cli.onnx")]) == 0
    assert "pt, eta_rel, phi_rel, e" in capsys.readouterr().out


@pytest.mark.parametrize("with_sort", [False, True])
def test_onnx_of_a_log_run_takes_physical_inputs(log_run, with_sort):
    path = export_run(log_run["run"], log_run["tmp"] / f"log_{with_sort}.onnx", ExportOptions(with_sort=with_sort))
    meta = read_metadata(path)
    assert json.loads(meta["input_features"]) == ["pt", "eta_rel", "phi_rel", "e"]
    assert json.loads(meta["feature_names"]) == FEATURE_SETS["log"]
    tagger = Tagger.from_run(log_run["run"], device="cpu")
    data = tagger.load(log_run["test"])
    pt, eta, phi = data.x[..., 0], data.x[..., 1], data.x[..., 2]
    x = np.stack([pt, eta, phi, data.x[..., data.feature_names.index("j1_e")]], axis=-1)[:, :N]
    mask = data.mask[:, :N]
    perm = sort_particles(pt[:, :N], eta[:, :N], phi[:, :N], mask, by="kt")
    x_sorted, mask_sorted = apply_permutation(x, perm), apply_permutation(mask, perm)
    with torch.no_grad():
        expected = tagger.physical_model()(torch.from_numpy(x_sorted), torch.from_numpy(mask_sorted)).numpy()
    got = onnx_predict(path, x if with_sort else x_sorted, mask if with_sort else mask_sorted)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    # and the physical-input torch model gives the pipeline's probabilities
    probs = tagger.predict(pt=pt[:, :N], eta_rel=eta[:, :N], phi_rel=phi[:, :N], e=x[..., 3], mask=mask)
    np.testing.assert_allclose(1.0 / (1.0 + np.exp(-expected[:, 0])), probs[:, 1], atol=1e-5)


def test_predict_cli_writes_scores_and_passes_observers_through(log_run, capsys):
    out = log_run["tmp"] / "scores.h5"
    assert main(["predict", "--run", str(log_run["run"]), "--data", str(log_run["test"]), "--out", str(out),
                 "--quiet"]) == 0
    tagger = Tagger.from_run(log_run["run"], device="cpu")
    data = tagger.load(log_run["test"])
    with h5py.File(out) as f:
        assert {"score_QCD", "score_t", "jet_pt", "jet_mass", "multiplicity", "label"} <= set(f)
        np.testing.assert_array_equal(np.stack([f["score_QCD"][:], f["score_t"][:]], 1), tagger.predict(data))
        np.testing.assert_array_equal(f["multiplicity"][:], data.multiplicity)
        classes = np.asarray(data.class_names)[data.y]
        expected = np.where(classes == "t", 1, np.where(np.isin(classes, ["q", "g"]), 0, -1))
        np.testing.assert_array_equal(f["label"][:], expected)  # every jet scored, W/Z labelled -1
        assert json.loads(f.attrs["class_names"]) == ["QCD", "t"]
        assert np.all(f["jet_pt"][:] > 0)
    csv = log_run["tmp"] / "scores.csv"
    assert main(["predict", "--run", str(log_run["run"]), "--data", str(log_run["test"]), "--out", str(csv),
                 "--quiet"]) == 0
    assert csv.read_text().splitlines()[0].startswith("score_QCD,score_t,jet_pt")
    assert main(["predict", "--run", str(log_run["run"]), "--data", str(log_run["test"]), "--out",
                 str(log_run["tmp"] / "scores.txt")]) == 2


def test_train_cli_takes_a_feature_set_and_a_task(log_run, capsys):
    out = log_run["tmp"] / "cli_run"
    assert main(["train", "--data", str(log_run["tmp"] / "jetImage_train_150p_0.h5"), "--features", "log",
                 "--task", "quark_vs_gluon", "--n-particles", str(N), "--epochs", "1", "--quiet", "--out",
                 str(out)]) == 0
    tagger = Tagger.from_run(out, device="cpu")
    assert tagger.features == FEATURE_SETS["log"] and tagger.class_names == ["g", "q"]
    assert main(["train", "--data", "x.h5", "--task", "nope", "--out", str(log_run["tmp"] / "bad")]) == 2
    assert "unknown task" in capsys.readouterr().err


def test_old_run_folders_without_task_still_load(log_run, tmp_path):
    """Run folders written before the task was recorded: the task comes from the class names."""
    import shutil

    import yaml

    old = tmp_path / "old"
    shutil.copytree(log_run["run"], old)
    config = yaml.safe_load((old / CONFIG_FILE).read_text())
    del config["run_config"]["data"]["task"]
    (old / CONFIG_FILE).write_text(yaml.safe_dump(config, sort_keys=False))
    tagger = Tagger.from_run(old, device="cpu")
    assert tagger.spec.task == "top_vs_qcd"
    report, _ = evaluate_run(old, log_run["test"], device="cpu")
    assert report["class_names"] == ["QCD", "t"]


def test_feature_and_task_options_are_checked_in_the_config():
    with pytest.raises(ConfigError, match="unknown task"):
        RunConfig.from_dict({"data": {"task": "top"}})
    assert RunConfig.from_dict({"data": {"features": "hls4ml"}}).data.features == FEATURE_SETS["hls4ml"]
    assert RunConfig.from_dict({"data": {"features": "log_pt,eta_rel"}}).data.features == ["log_pt", "eta_rel"]
