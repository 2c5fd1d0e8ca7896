"""`saltjet study trigger`: quick run end to end (train, quantise, emulate, trace), resumption, the
report and figure rendered from results.json, and the study file's checks."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from published_layouts import write_hls4ml
from saltjet.cli import main
from saltjet.errors import ConfigError
from saltjet.study import load_study, write_report
from saltjet.study.runner import run_study
from saltjet.study.spec import parse_study
from saltjet.study.trigger import VU13P_LUTS, trigger_figures, trigger_key

pytest.importorskip("da4ml")


@pytest.fixture(scope="module")
def trigger_out(tmp_path_factory):
    path = tmp_path_factory.mktemp("jets") / "jetImage_0_150p_0_250.h5"
    write_hls4ml(path, n_jets=250, seed=7, max_mult=40, labels=np.arange(250) % 5)
    out = tmp_path_factory.mktemp("trigger")
    assert main(["study", "trigger", "--quick", "--quiet", "--data", str(path), "--out", str(out)]) == 0
    return path, out


@pytest.mark.slow
def test_trigger_quick_quantises_emulates_and_traces(trigger_out, capsys):
    path, out = trigger_out
    results = json.loads((out / "results.json").read_text())
    [row] = results["trigger"]
    assert row["run"] == "salt-narrow-n16" and row["n_particles"] == 16
    assert row["bit_exact"] and row["bit_exact_jets"] == row["jets"] == results["tasks"]["5class"]["n_test"]
    # the float accuracy the trigger path measured is the study's own evaluation of the same run and jets
    assert row["float_accuracy"] == pytest.approx(row["float_test_accuracy"], abs=1e-12)
    assert row["lut"] > 1000 and row["pipeline_stages"] > 0 and row["latency_ns"] == 5.0 * row["pipeline_stages"]
    assert row["fits_vu13p"] == (row["lut"] <= VU13P_LUTS)
    run_dir = out / results["runs"][0]["run_dir"]
    assert (run_dir / "qrun" / "quant_spec.json").is_file() and (run_dir / "trigger.json").is_file()
    report = (out / "report.md").read_text()
    assert "## Fixed point and firmware" in report and f"{row['lut']:,}" in report and "JEDI-linear" in report
    assert (out / "figures" / "trigger.png").is_file()
    # a rerun reads the finished record back instead of quantising again
    stamp = (run_dir / "trigger.json").stat().st_mtime_ns
    assert main(["study", "trigger", "--quick", "--data", str(path), "--out", str(out)]) == 0
    assert "[trigger 1/1] 5class salt-narrow-n16 seed 0: done, skipped" in capsys.readouterr().err
    assert (run_dir / "trigger.json").stat().st_mtime_ns == stamp
    # other firmware settings re-trace the design but keep the quantised run
    qat_stamp = (run_dir / "qrun" / "quant_spec.json").stat().st_mtime_ns
    spec_file = out / "trigger_hard_dc.yaml"
    raw = yaml.safe_load(Path(load_study("trigger").source).read_text())
    spec_file.write_text(yaml.safe_dump({**raw, "firmware": {"clock_mhz": 200, "hard_dc": -1}}))
    results = run_study(str(spec_file), data=str(path), quick=True, out=out, quiet=True)
    assert (run_dir / "qrun" / "quant_spec.json").stat().st_mtime_ns == qat_stamp
    assert results["trigger"][0]["hard_dc"] == -1 and row["hard_dc"] == 0


def _record(label: str, n: int, lut: int, stages: int, float_acc: float, emu_acc: float, exact: bool = True) -> dict:
    return {"task": "5class", "run": label, "label": label, "seed": 0, "n_particles": n, "model_options": {},
            "float_accuracy": float_acc, "float_test_accuracy": float_acc, "qat_accuracy": emu_acc,
            "emulator_accuracy": emu_acc, "bit_exact": exact, "bit_exact_jets": 100 if exact else 99, "jets": 100,
            "min_bits": 3, "max_bits": 12, "mean_bits": 8.0, "lut": lut, "ff": lut // 3, "dsp": 0,
            "pipeline_stages": stages, "latency_ns": 5.0 * stages, "clock_mhz": 200.0,
            "fits_vu13p": lut <= VU13P_LUTS, "meets_latency_target": 5.0 * stages <= 100}


def test_trigger_report_and_figure_come_from_results(tmp_path):
    results = {"study": "trigger", "title": "t", "claim": "", "quick": False, "command": "saltjet study trigger",
               "versions": {"torch": "x"}, "settings": {"seeds": 1, "columns": ["accuracy"], "train": {}, "data": {},
                                                        "figures": ["trigger"]},
               "runs": [], "floor": [], "bench": [], "notes": [], "figures": [], "wall_seconds": 1.0,
               "trigger": [_record("small", 16, 200_000, 30, 0.66, 0.655), _record("big", 150, 5_400_000, 36, 0.70, 0.69)]}
    (tmp_path / "results.json").write_text(json.dumps(results))
    report = write_report(tmp_path).read_text()
    small = next(l for l in report.splitlines() if l.startswith("| small |"))
    big = next(l for l in report.splitlines() if l.startswith("| big |"))
    assert "| 66.00 | 65.50 = 65.50 | 0.50 |" in small and "| 200,000 |" in small and small.endswith("| yes | **no** |")
    assert "| 5,400,000 |" in big and big.endswith("| **no** | **no** |")
    assert "Quantisation cost 0.50 to 1.00 accuracy points (float − quantised; negative: the quantised run scored higher; target ≤ 1); 2 of 2 runs within 1 point." in report
    assert "Does not fit one VU13P: big." in report and "Latency ≤ 100 ns: none" in report
    # change the numbers: the table and the findings follow
    changed = copy.deepcopy(results)
    changed["trigger"][0].update(pipeline_stages=18, latency_ns=90.0, meets_latency_target=True, bit_exact=False,
                                 bit_exact_jets=99, emulator_accuracy=0.60)
    (tmp_path / "results.json").write_text(json.dumps(changed))
    report = write_report(tmp_path).read_text()
    small = next(l for l in report.splitlines() if l.startswith("| small |"))
    assert "65.50 ≠ 60.00" in small and "| 99 / 100 |" in small and small.endswith("| yes | yes |")
    assert "Latency ≤ 100 ns: small; the shortest estimate is 90 ns" in report
    assert "bit for bit on every test jet in 1 of 2 runs" in report
    paths = trigger_figures(results["trigger"], tmp_path)
    assert [p.name for p in paths] == ["trigger.png", "trigger.pdf"] and all(p.stat().st_size > 1000 for p in paths)


def test_trigger_study_file_is_checked():
    spec = load_study("trigger")
    assert spec.kind == "trigger" and {r.model for r in spec.runs} == {"salt"}
    assert {int(r.data["n_particles"]) for r in spec.runs} == {16, 32, 64, 150}
    raw = {"name": "t", "kind": "trigger", "runs": [{"name": "salt", "model": "salt"}]}
    with pytest.raises(ConfigError, match="unknown quantize/firmware key"):
        parse_study({**raw, "quantize": {"epoch": 3}})
    with pytest.raises(ConfigError, match="converts SAL-T only"):
        parse_study({**raw, "runs": [{"name": "l", "model": "linformer"}]})
    with pytest.raises(ConfigError, match="belong to a kind: trigger study"):
        parse_study({**raw, "kind": "jets", "quantize": {"epochs": 3}})
    a = parse_study({**raw, "quantize": {"epochs": 3}})
    assert trigger_key(a, 0) != trigger_key(parse_study({**raw, "quantize": {"epochs": 4}}), 0)
    assert trigger_key(a, 0) != trigger_key(a, 1)
    assert trigger_key(a, 0) == trigger_key(parse_study({**raw, "quantize": {"epochs": 3}}), 0)


def test_trigger_study_quick_keeps_only_its_small_run():
    quick = load_study("trigger").quick_version()
    assert [r.name for r in quick.runs] == ["salt-narrow-n16"] and quick.quantize["epochs"] == 1
