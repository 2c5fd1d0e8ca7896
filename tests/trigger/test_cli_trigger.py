"""`saltjet quantize` and `saltjet emulate` end to end on a tiny run, and their one-line errors."""

from __future__ import annotations

import json

import pytest
from published_layouts import write_hls4ml

from saltjet.cli import main

TRAIN = ["--model", "salt", "--n-particles", "16", "--d-model", "8", "--n-heads", "2", "--d-ff", "8", "--partitions", "4",
         "--epochs", "1", "--batch-size", "32", "--test-fraction", "0.25", "--num-threads", "1", "--quiet"]
QUANT = ["--epochs", "1", "--jets", "64", "--val-jets", "40", "--calib-jets", "64", "--batch-size", "32", "--num-threads", "1"]


@pytest.fixture(scope="module")
def float_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trigger")
    write_hls4ml(folder / "jetImage_0_150p_0.h5", n_jets=200, seed=0)
    assert main(["train", "--data", str(folder / "jetImage_0_150p_0.h5"), "--out", str(folder / "run"), *TRAIN]) == 0
    return folder


def test_quantize_then_emulate_bit_exact(float_run, tmp_path, capsys):
    data = str(float_run / "jetImage_0_150p_0.h5")
    assert main(["quantize", "--run", str(float_run / "run"), "--data", data, "--out", str(tmp_path / "q"), *QUANT]) == 0
    out = capsys.readouterr().out
    assert "epoch  1" in out and "EBOPs" in out and "quantised run written" in out
    spec = json.loads((tmp_path / "q" / "quant_spec.json").read_text())
    assert spec["ap_types"]["l0_s"].startswith("ap_") and len(spec["types"]["in"]) == 3
    assert len((tmp_path / "q" / "qat.jsonl").read_text().splitlines()) == 2
    assert main(["emulate", "--run", str(tmp_path / "q"), "--data", data]) == 0
    out = capsys.readouterr().out
    assert "emulator == QAT model bit for bit: 51 of 51 jets" in out and "float" in out
    assert main(["emulate", "--run", str(tmp_path / "q"), "--data", data, "--split", "all", "--jets", "30", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["jets"] == 30 and report["bit_exact"] and report["float_accuracy"] is not None


@pytest.mark.parametrize("argv, fragment", [
    (["quantize", "--run", "no/such/run", "--data", "x.h5", "--out", "q"], "does not exist"),
    (["quantize", "--run", "RUN", "--data", "DATA", "--out", "q", "--ebops-weight", "nan"], "--ebops-weight"),
    (["quantize", "--run", "RUN", "--data", "DATA", "--out", "q", "--init-bits", "40"], "--init-bits"),
    (["quantize", "--run", "RUN", "--data", "no/such.h5", "--out", "q"], "no/such.h5"),
    (["emulate", "--run", "RUN", "--data", "DATA"], "not a quantised run"),
    (["emulate", "--run", "no/such/qrun", "--data", "DATA"], "does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(float_run, tmp_path, capsys, argv, fragment):
    argv = [str(float_run / "run") if a == "RUN" else str(float_run / "jetImage_0_150p_0.h5") if a == "DATA"
            else str(tmp_path / a) if a == "q" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err and err.startswith(f"saltjet {argv[0]}: error:")


@pytest.mark.parametrize("value, fragment", [("-2", "expected a number ≥ -1, got -2"), ("two", "expected a whole number, got 'two'")])
def test_bad_hard_dc_is_one_usage_error(tmp_path, capsys, value, fragment):
    with pytest.raises(SystemExit) as exit_info:  # argparse's own exit for a bad flag value
        main(["firmware", "--run", str(tmp_path), "--out", str(tmp_path / "fw"), "--hard-dc", value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1] == f"saltjet firmware: error: argument --hard-dc: {fragment}" and "Traceback" not in err
