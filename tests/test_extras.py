"""Optional extras: each entry point whose extra is missing prints one line naming the extra to
install and exits 2; the core (no extra at all) still builds, loads and runs a model.

A package is "missing" here by `sys.modules[name] = None` (then `import name` fails), for it and
every submodule already imported.
"""

from __future__ import annotations

import pickle
import sys

import numpy as np
import pytest
import torch

from conftest import random_jets
from saltjet.cli import main
from saltjet.errors import MissingExtraError, SaltjetError
from saltjet.extras import EXTRAS, check_extras, install_hint, require

OPTIONAL = sorted({m for modules in EXTRAS.values() for m in modules} | {"tensorboard"})


def hide(monkeypatch, *packages: str) -> None:
    """Make `import P` (and `import P.sub`) fail for each package, as if it were not installed."""
    for name in packages:
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            monkeypatch.setitem(sys.modules, key, None)
        monkeypatch.setitem(sys.modules, name, None)


def forget(monkeypatch, *modules: str) -> None:
    """Drop saltjet modules that imported an optional package at import time, so they import again."""
    for name in modules:
        monkeypatch.delitem(sys.modules, name, raising=False)
        parent, _, child = name.rpartition(".")
        if parent in sys.modules:  # `from parent import child` would find the old module there
            monkeypatch.delattr(sys.modules[parent], child, raising=False)


def one_line_hint(capsys, extra: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert f"pip install 'saltjet[{extra}]'" in err, err
    return err


def tiny_run(tmp_path, n=20):
    from saltjet.models import create_model
    from saltjet.training.run import RunInfo, save_model

    model = create_model("salt", n_particles=n).eval()
    info = RunInfo(model="salt", model_config=model.config.to_dict(), class_names=["g", "q", "W", "Z", "t"],
                   sort_by="kt")
    return save_model(tmp_path / "run", model, info), model


# ---- the helper ----

def test_require_returns_the_module_or_names_the_extra(monkeypatch):
    assert require("numpy", extra="eval") is np
    hide(monkeypatch, "onnx")
    with pytest.raises(MissingExtraError) as e:
        require("onnx", extra="export", purpose="ONNX export")
    assert str(e.value) == "ONNX export needs onnx, which is not installed; install it with: pip install 'saltjet[export]'"
    assert e.value.extra == "export" and isinstance(e.value, SaltjetError)
    again = pickle.loads(pickle.dumps(e.value))  # crosses worker processes intact
    assert str(again) == str(e.value) and again.extra == "export"


def test_require_uses_the_pip_name_and_check_extras_names_every_missing_extra(monkeypatch):
    hide(monkeypatch, "sklearn", "mplhep")
    with pytest.raises(MissingExtraError, match=r"scikit-learn is not installed.*saltjet\[eval\]"):
        require("sklearn.metrics", extra="eval")
    with pytest.raises(MissingExtraError) as e:
        check_extras("train", "plot", "export", purpose="the demo")
    assert str(e.value) == "the demo needs scikit-learn, mplhep; install with: pip install 'saltjet[train,plot]'"
    assert install_hint("eval", "eval") == "pip install 'saltjet[eval]'"


# ---- each extra's entry points, with the extra hidden ----

def test_export_without_onnx(tmp_path, monkeypatch, capsys):
    run_dir, _ = tiny_run(tmp_path)
    hide(monkeypatch, "onnx")
    assert main(["export", "--run", str(run_dir), "--onnx", str(tmp_path / "m.onnx")]) == 2
    one_line_hint(capsys, "export")
    assert not (tmp_path / "m.onnx").exists()


def test_bench_onnxruntime_without_onnxruntime_fails_before_timing(monkeypatch, capsys):
    hide(monkeypatch, "onnxruntime")
    import saltjet.cost.bench

    monkeypatch.setattr(saltjet.cost.bench, "run_bench", lambda *a, **k: pytest.fail("timed before checking the extra"))
    assert main(["bench", "--backend", "torch,onnxruntime", "--quick", "--quiet"]) == 2
    assert "--backend onnxruntime needs onnxruntime" in one_line_hint(capsys, "export")


def test_generate_without_pythia(tmp_path, monkeypatch, capsys):
    hide(monkeypatch, "pythia8mc")
    assert main(["generate", "--out", str(tmp_path / "gen"), "--jets-per-class", "1", "--workers", "1", "--quiet"]) == 2
    assert "generating jets needs pythia8mc" in one_line_hint(capsys, "gen")


def test_shapes_without_trimesh(tmp_path, monkeypatch, capsys):
    from saltjet.data.generate import furniture

    furniture._template.cache_clear()
    hide(monkeypatch, "trimesh")
    assert main(["generate", "--dataset", "shapes", "--out", str(tmp_path / "s"), "--jets-per-class", "1",
                 "--quiet"]) == 2
    one_line_hint(capsys, "formats")
    furniture._template.cache_clear()


def test_plot_without_matplotlib(tmp_path, monkeypatch, capsys):
    hide(monkeypatch, "matplotlib", "mplhep")
    forget(monkeypatch, "saltjet.evaluation.plots", "saltjet.study.figures")
    assert main(["plot", "roc", "--run", str(tmp_path), "--out", str(tmp_path / "fig")]) == 2
    assert "plotting needs matplotlib" in one_line_hint(capsys, "plot")


def test_metrics_and_floor_without_sklearn(monkeypatch):
    from saltjet.data.particles import ParticleData
    from saltjet.evaluation.floor import fit_floor
    from saltjet.evaluation.metrics import evaluate_predictions

    hide(monkeypatch, "sklearn")
    probs = np.full((4, 2), 0.5)
    with pytest.raises(MissingExtraError, match=r"saltjet\[eval\]"):
        evaluate_predictions(probs, np.array([0, 1, 0, 1]), ["a", "b"])
    x, mask = random_jets(6, 10)
    jets = ParticleData(x=x.numpy(), mask=mask.numpy(), y=np.array([0, 1] * 3), class_names=["a", "b"])
    with pytest.raises(MissingExtraError, match=r"physics floor needs scikit-learn.*saltjet\[train\]"):
        fit_floor(jets)


def test_evaluate_and_train_without_sklearn(tmp_path, monkeypatch, capsys):
    from published_layouts import write_hls4ml

    data = tmp_path / "jetImage_0_150p_0_10000.h5"
    write_hls4ml(data, n_jets=20)
    run_dir, _ = tiny_run(tmp_path)
    hide(monkeypatch, "sklearn")
    assert main(["evaluate", "--run", str(run_dir), "--data", str(data), "--quiet"]) == 2
    one_line_hint(capsys, "eval")
    assert main(["train", "--data", str(data), "--model", "salt", "--epochs", "1",
                 "--out", str(tmp_path / "trained")]) == 2
    one_line_hint(capsys, "train")


def test_jetclass_without_uproot(tmp_path, monkeypatch, capsys):
    pytest.importorskip("uproot")
    from published_layouts import write_jetclass

    path = tmp_path / "jc.root"
    write_jetclass(path)
    hide(monkeypatch, "uproot", "awkward")
    for fmt in ("jetclass", "auto"):
        assert main(["inspect", str(path), "--format", fmt, "--quiet"]) == 2
        assert "ROOT" in one_line_hint(capsys, "formats")


# ---- the core alone ----

def test_core_runs_a_trained_model_with_every_extra_hidden(tmp_path, monkeypatch, capsys):
    run_dir, model = tiny_run(tmp_path)
    hide(monkeypatch, *OPTIONAL)
    forget(monkeypatch, "saltjet.evaluation.metrics", "saltjet.evaluation.evaluate", "saltjet.evaluation.plots")
    from saltjet.training.run import load_run

    loaded, info = load_run(run_dir)
    x, mask = random_jets(3, 20)
    with torch.no_grad():
        np.testing.assert_allclose(loaded(x, mask).numpy(), model(x, mask).numpy(), atol=1e-6)
    import saltjet.evaluation.evaluate  # noqa: F401  (imported by the predict path; must not need scikit-learn)

    assert main(["models"]) == 0
    assert "salt" in capsys.readouterr().out
