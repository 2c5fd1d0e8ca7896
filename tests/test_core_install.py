"""The wheel with no extras, in a fresh virtual environment that holds only torch and saltjet's core
dependencies: `saltjet models` runs, a trained run predicts, and a command that needs an extra says
which one in one line. Slow (about a minute: a wheel build, a venv, pip installs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from published_layouts import write_hls4ml

from saltjet.cli import main

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL = ["sklearn", "matplotlib", "mplhep", "onnx", "onnxruntime", "pythia8mc", "fastjet", "awkward",
            "vector", "uproot", "pandas", "trimesh", "tensorboard", "scipy"]


def sh(*argv, check=True, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, check=check, timeout=600, **kw)


@pytest.mark.slow
def test_wheel_without_extras_runs_a_trained_model(tmp_path):
    # a trained run and some jets, made here with the full install
    data = tmp_path / "jetImage_0_150p_0.h5"
    write_hls4ml(data, n_jets=60, seed=0)
    run_dir = tmp_path / "run"
    assert main(["train", "--data", str(data), "--model", "salt", "--out", str(run_dir), "--epochs", "1",
                 "--n-particles", "30", "--batch-size", "32", "--num-threads", "1", "--quiet"]) == 0

    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", ROOT, "-w", tmp_path / "dist")
    wheel = next((tmp_path / "dist").glob("saltjet-*.whl"))
    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", venv)
    bin_dir = venv / "bin"
    torch_pin = "torch==" + torch.__version__.split("+")[0]
    got = sh(bin_dir / "pip", "install", "-q", torch_pin, check=False)
    if got.returncode:
        pytest.skip(f"cannot install {torch_pin} into a fresh venv here: {got.stderr.strip().splitlines()[-1:]}")
    sh(bin_dir / "pip", "install", "-q", wheel)  # the core dependencies only

    present = sh(bin_dir / "python", "-c",
                 "import importlib.util, sys; print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m)))",
                 *OPTIONAL).stdout.split()
    assert present == []  # no optional package came along with the core

    models = sh(bin_dir / "saltjet", "models", cwd=tmp_path)
    assert "salt" in models.stdout and "3,264" in models.stdout
    forward = ("import torch; from saltjet.training.run import load_run; model, info = load_run(__import__('sys').argv[1]); "
               "x = torch.rand(4, 30, 3) * torch.tensor([100.0, 0.5, 0.5]); mask = torch.ones(4, 30, dtype=torch.bool); "
               "print(tuple(model(x, mask).shape))")
    assert sh(bin_dir / "python", "-c", forward, run_dir, cwd=tmp_path).stdout.strip() == "(4, 5)"
    if (ROOT / "src" / "saltjet" / "cli" / "predict.py").is_file():  # `saltjet predict` (being added alongside)
        scores = tmp_path / "scores.csv"
        sh(bin_dir / "saltjet", "predict", "--run", run_dir, "--data", data, "--out", scores, "--quiet",
           cwd=tmp_path)
        lines = scores.read_text().splitlines()
        assert len(lines) == 61 and lines[0].startswith("score_g,score_q,score_W,score_Z,score_t")

    export = sh(bin_dir / "saltjet", "export", "--run", run_dir, "--onnx", tmp_path / "m.onnx", check=False,
                cwd=tmp_path)
    assert export.returncode == 2
    assert export.stderr.strip().splitlines() == [
        "saltjet export: error: ONNX export needs onnx, which is not installed; "
        "install it with: pip install 'saltjet[export]'"]
