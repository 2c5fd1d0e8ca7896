"""`saltjet evaluate` end to end on tiny files in the published layouts, written here."""

import json
import math

import h5py
import numpy as np
import pytest
import torch

from saltjet.cli import main
from saltjet.data.hls4ml_layout import JET_FEATURES, LABEL_COLUMNS, PARTICLE_FEATURE_NAMES_AS_PUBLISHED, PARTICLE_FEATURES
from saltjet.data.sorting import apply_permutation, sort_particles
from saltjet.errors import DataError
from saltjet.evaluation.evaluate import load_predictions, predict, predictions_path_for, save_predictions
from saltjet.evaluation.metrics import evaluate_predictions
from saltjet.models import create_model
from saltjet.training.run import RunInfo, save_model

HLS4ML_CLASSES = ["g", "q", "W", "Z", "t"]
# distinct counts per class, so a swapped label order shows up in per_class[...]["n"]
CLASS_COUNTS = {"g": 9, "q": 3, "W": 5, "Z": 6, "t": 7}
N_MODEL_SLOTS = 32  # < the file's 150 slots and < the largest multiplicity: truncation is exercised


def write_hls4ml_file(path, seed=0):
    """A tiny `jetImage_*_150p_*.h5`: jetConstituentList (N,150,16), jets (N,59) with one-hot labels,
    the 59 jet names and the 17 published particle names. Returns (pt, eta_rel, phi_rel, mult, labels)."""
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.full(k, c) for c, k in enumerate(CLASS_COUNTS.values())])
    labels = labels[rng.permutation(len(labels))]
    n = len(labels)
    mult = rng.integers(1, 61, n)
    mult[0] = 60  # at least one jet longer than the model's 32 slots
    real = np.arange(150)[None, :] < mult[:, None]
    pt = np.where(real, rng.exponential(20.0, (n, 150)) + 0.5, 0.0)
    eta = np.where(real, rng.normal(0, 0.2, (n, 150)), 0.0)
    phi = np.where(real, rng.normal(0, 0.2, (n, 150)), 0.0)
    cols = np.zeros((n, 150, 16), dtype=np.float32)
    col = PARTICLE_FEATURES.index
    cols[..., col("j1_pt")], cols[..., col("j1_etarel")], cols[..., col("j1_phirel")] = pt, eta, phi
    cols[..., col("j1_px")], cols[..., col("j1_py")] = pt * np.cos(phi), pt * np.sin(phi)
    cols[..., col("j1_pz")], cols[..., col("j1_e")] = pt * np.sinh(eta), pt * np.cosh(eta)
    jets = np.zeros((n, len(JET_FEATURES)), dtype=np.float32)
    label_cols = [JET_FEATURES.index(c) for c in LABEL_COLUMNS]
    jets[np.arange(n), np.asarray(label_cols)[labels]] = 1.0
    jets[:, JET_FEATURES.index("j_multiplicity")] = mult
    with h5py.File(path, "w") as f:
        f["jetConstituentList"] = cols
        f["jets"] = jets
        f["jetFeatureNames"] = np.array([s.encode() for s in JET_FEATURES])
        f["particleFeatureNames"] = np.array([s.encode() for s in PARTICLE_FEATURE_NAMES_AS_PUBLISHED])
    return pt.astype(np.float32), eta.astype(np.float32), phi.astype(np.float32), mult, labels


def make_run(run_dir, class_names=HLS4ML_CLASSES, model="salt", n_particles=N_MODEL_SLOTS, seed=0):
    """An untrained tagger saved as a run directory (scaler set to a pT-ish scale so outputs vary)."""
    torch.manual_seed(seed)
    net = create_model(model, n_particles=n_particles, n_classes=len(class_names))
    net.scaler.set(center=[0.0, 0.0, 0.0], scale=[20.0, 0.2, 0.2])
    save_model(run_dir, net, RunInfo(model=model, model_config=net.config.to_dict(), class_names=list(class_names),
                                     sort_by="kt"))
    return net.eval()


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """One `saltjet evaluate --json --out --plots` call shared by the checks below."""
    tmp = tmp_path_factory.mktemp("eval")
    truth = write_hls4ml_file(tmp / "jetImage_test_150p_0.h5")
    net = make_run(tmp / "run")
    out = tmp / "reports" / "eval.json"
    import contextlib
    import io

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["evaluate", "--run", str(tmp / "run"), "--data", str(tmp / "jetImage_test_150p_0.h5"), "--json",
                     "--out", str(out), "--plots", str(tmp / "plots"), "--quiet", "--device", "cpu"])
    return {"code": code, "stdout": stdout.getvalue(), "out": out, "tmp": tmp, "truth": truth, "net": net}


def test_json_has_the_required_keys(evaluated):
    assert evaluated["code"] == 0
    report = json.loads(evaluated["stdout"])  # stdout is exactly one JSON object
    for key in ("accuracy", "auc_macro", "per_class", "mean_rejection_at_tpr_0.8", "multiplicity_bins",
                "confusion_matrix", "n_jets"):
        assert key in report
    assert report["n_jets"] == sum(CLASS_COUNTS.values())
    assert report["model"] == "salt" and report["sort_by"] == "kt"
    assert report["n_truncated"] == int((evaluated["truth"][3] > N_MODEL_SLOTS).sum()) > 0
    assert json.loads(evaluated["out"].read_text()) == report


def test_label_order_is_the_files(evaluated):
    """g stays g and q stays q (the authors' scripts swapped them): counts and labels per class."""
    report = json.loads(evaluated["stdout"])
    assert report["class_names"] == HLS4ML_CLASSES and list(report["per_class"]) == HLS4ML_CLASSES
    assert {c: v["n"] for c, v in report["per_class"].items()} == CLASS_COUNTS
    pred = load_predictions(predictions_path_for(evaluated["out"]))
    labels = evaluated["truth"][4]
    np.testing.assert_array_equal(pred["labels"], labels)  # file order, label index of j_g..j_t
    assert [pred["class_names"][k] for k in labels[:3]] == [HLS4ML_CLASSES[k] for k in labels[:3]]
    assert pred["class_names"][int(labels[np.flatnonzero(labels == 0)[0]])] == "g"


def test_report_agrees_with_the_saved_predictions(evaluated):
    report = json.loads(evaluated["stdout"])
    pred = load_predictions(predictions_path_for(evaluated["out"]))
    probs, labels = pred["probs"], pred["labels"]
    assert probs.shape == (report["n_jets"], 5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert report["accuracy"] == pytest.approx(np.mean(probs.argmax(axis=1) == labels))
    np.testing.assert_array_equal(pred["multiplicity"], evaluated["truth"][3])  # before truncation to 32
    again = evaluate_predictions(probs, labels, pred["class_names"], pred["multiplicity"])
    assert {k: report[k] for k in again} == json.loads(json.dumps(again))
    assert sum(b["n"] for b in report["multiplicity_bins"]) == report["n_jets"]
    assert np.sum(report["confusion_matrix"]) == report["n_jets"]


def test_probabilities_are_the_model_on_kt_sorted_truncated_jets(evaluated):
    """Independent preprocessing: kT sort of the written arrays, keep 32 slots, softmax(model)."""
    pt, eta, phi, mult, _ = evaluated["truth"]
    mask = pt > 0
    perm = sort_particles(pt, eta, phi, mask, by="kt")[:, :N_MODEL_SLOTS]
    x = apply_permutation(np.stack([pt, eta, phi], axis=-1), perm)
    m = apply_permutation(mask, perm)
    with torch.no_grad():
        expected = torch.softmax(evaluated["net"](torch.from_numpy(x), torch.from_numpy(m)), dim=1).numpy()
    pred = load_predictions(predictions_path_for(evaluated["out"]))
    np.testing.assert_allclose(pred["probs"], expected, rtol=1e-5, atol=1e-6)


def test_plots_are_written(evaluated):
    plots = evaluated["tmp"] / "plots"
    for stem in ("roc", "accuracy_vs_multiplicity", "confusion_matrix"):
        for ext in ("png", "pdf"):
            assert (plots / f"{stem}.{ext}").stat().st_size > 1000


def test_plot_works_on_evaluate_and_predict_output(evaluated, tmp_path, capsys):
    """`saltjet plot roc/multiplicity --run` on an evaluate report, its folder, its predictions file and
    a `saltjet predict` scores file."""
    pytest.importorskip("matplotlib")
    out, tmp = evaluated["out"], evaluated["tmp"]
    for i, run in enumerate((out, out.parent, predictions_path_for(out))):
        assert main(["plot", "roc", "--run", str(run), "--out", str(tmp_path / f"roc{i}")]) == 0
        assert {p.name for p in (tmp_path / f"roc{i}").glob("*.png")} == {f"roc_{c}.png" for c in HLS4ML_CLASSES}
    assert main(["plot", "multiplicity", "--run", str(out), "--out", str(tmp_path / "mult")]) == 0
    assert (tmp_path / "mult" / "multiplicity.png").stat().st_size > 1000
    scores = tmp_path / "scores.h5"
    assert main(["predict", "--run", str(tmp / "run"), "--data", str(tmp / "jetImage_test_150p_0.h5"),
                 "--out", str(scores), "--quiet", "--device", "cpu"]) == 0
    for kind in ("roc", "multiplicity"):
        assert main(["plot", kind, "--run", str(scores), "--out", str(tmp_path / "scores")]) == 0
    assert (tmp_path / "scores" / "roc_t.png").is_file() and (tmp_path / "scores" / "multiplicity.png").is_file()
    capsys.readouterr()
    assert main(["plot", "roc", "--run", str(tmp_path / "nothing_here")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_text_table(evaluated, capsys):
    tmp = evaluated["tmp"]
    code = main(["evaluate", "--run", str(tmp / "run"), "--data", str(tmp / "jetImage_test_150p_0.h5"), "--quiet",
                 "--max-jets", "20"])
    out = capsys.readouterr().out
    assert code == 0
    assert "accuracy" in out and "AUC (macro)" in out and "1/FPR @ TPR 0.8" in out and "confusion matrix" in out
    assert "20 jets" in out
    for name in HLS4ML_CLASSES:
        assert f"\n{name} " in out


def test_binary_run_on_quark_gluon_npz(tmp_path, capsys):
    """One-logit model: sigmoid probabilities (N,), signal = q, 1/eps_B at eps_S 0.3 and 0.5."""
    rng = np.random.default_rng(3)
    n, m = 40, 50
    y = np.array([0, 1] * (n // 2))
    mult = rng.integers(5, m + 1, n)
    real = np.arange(m)[None, :] < mult[:, None]
    X = np.zeros((n, m, 4))
    X[..., 0] = np.where(real, rng.exponential(20.0, (n, m)) + 0.5, 0)
    X[..., 1] = np.where(real, 0.3 + rng.normal(0, 0.2, (n, m)), 0)
    X[..., 2] = np.where(real, 1.0 + rng.normal(0, 0.2, (n, m)), 0)
    X[..., 3] = np.where(real, 211.0, 0)
    np.savez(tmp_path / "QG_jets_test.npz", X=X, y=y)
    net = make_run(tmp_path / "run", class_names=["g", "q"], model="transformer", n_particles=m)
    code = main(["evaluate", "--run", str(tmp_path / "run"), "--data", str(tmp_path / "QG_jets_test.npz"), "--json",
                 "--quiet", "--out", str(tmp_path / "qg.json")])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["n_jets"] == n and list(report["per_class"]) == ["g", "q"]
    assert {"rejection_at_eff_0.3", "rejection_at_eff_0.5"} <= set(report)
    pred = load_predictions(tmp_path / "qg.predictions.npz")
    assert pred["probs"].shape == (n,) and ((pred["probs"] >= 0) & (pred["probs"] <= 1)).all()
    np.testing.assert_array_equal(pred["labels"], y)
    assert report["accuracy"] == pytest.approx(np.mean((pred["probs"] > 0.5) == y))
    assert report["per_class"]["q"]["auc"] == pytest.approx(report["per_class"]["g"]["auc"])
    assert net.config.n_classes == 2


def _one_line_error(capsys, argv):
    code = main(argv + ["--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_bad_run_dir_missing_data_and_class_mismatch(evaluated, tmp_path, capsys):
    data = str(evaluated["tmp"] / "jetImage_test_150p_0.h5")
    err = _one_line_error(capsys, ["evaluate", "--run", str(tmp_path / "nope"), "--data", data])
    assert "does not exist" in err
    (tmp_path / "empty_run").mkdir()
    err = _one_line_error(capsys, ["evaluate", "--run", str(tmp_path / "empty_run"), "--data", data])
    assert "not a saltjet run directory" in err
    run = str(evaluated["tmp"] / "run")
    err = _one_line_error(capsys, ["evaluate", "--run", run, "--data", str(tmp_path / "missing.h5")])
    assert "missing.h5" in err
    # a run trained with q and g swapped must not be silently scored against g-first data
    make_run(tmp_path / "swapped", class_names=["q", "g", "W", "Z", "t"])
    err = _one_line_error(capsys, ["evaluate", "--run", str(tmp_path / "swapped"), "--data", data])
    assert "classes" in err and "['g', 'q', 'W', 'Z', 't']" in err


def test_predict_is_batch_independent_and_binary_uses_sigmoid():
    torch.manual_seed(0)
    net = create_model("salt", n_particles=16, n_classes=2).eval()
    x = torch.rand(23, 16, 3) * 10
    mask = torch.arange(16)[None, :] < torch.randint(1, 17, (23, 1))
    x = x * mask[..., None]
    p_small = predict(net, x, mask, batch_size=5, device="cpu")
    p_big = predict(net, x.numpy(), mask.numpy(), batch_size=1000, device="cpu")
    assert p_small.shape == (23,)
    np.testing.assert_allclose(p_small, p_big, rtol=1e-6)
    with torch.no_grad():
        np.testing.assert_allclose(p_small, torch.sigmoid(net(x, mask)[:, 0]).numpy(), rtol=1e-5)


def test_predictions_round_trip(tmp_path):
    pred = {"probs": np.random.default_rng(0).random((4, 3)), "labels": np.array([0, 2, 1, 0]),
            "multiplicity": np.array([3, 4, 5, 6]), "class_names": ["g", "q", "W"]}
    path = save_predictions(tmp_path / "p.npz", pred)
    back = load_predictions(path)
    assert back["class_names"] == ["g", "q", "W"]
    for key in ("probs", "labels", "multiplicity"):
        np.testing.assert_array_equal(back[key], pred[key])
    assert predictions_path_for(tmp_path / "x" / "eval.json") == tmp_path / "x" / "eval.predictions.npz"
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError):
        load_predictions(tmp_path / "bad.npz")
    assert not math.isnan(back["probs"].sum())
