"""Each study's --quick path end to end on tiny fixture data, resumption, and report regeneration.

Training studies take 20-100 s each on this shared 2-core machine, so they are marked slow; the
report-regeneration, parsing, scaling and error tests are fast. Jet studies read a small hls4ml-layout file written here (random jets, balanced labels) through
`--data`, so no Pythia run is needed; the built-in generated path is covered by a slow test.
"""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest

from published_layouts import write_hls4ml
from saltjet.cli import main
from saltjet.study import load_study, write_report
from saltjet.study.spec import list_studies

JET_STUDIES = ["compare", "compare_part", "sorting", "partitions", "multiplicity", "attention", "features"]
ALL_STUDIES = JET_STUDIES + ["scaling", "pointcloud", "trigger"]


@pytest.fixture(scope="module")
def jets_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("jets") / "jetImage_0_150p_0_250.h5"
    write_hls4ml(path, n_jets=250, seed=5, max_mult=40, labels=np.arange(250) % 5)
    return path


@pytest.fixture(scope="module")
def compare_out(jets_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    assert main(["study", "compare", "--quick", "--quiet", "--data", str(jets_file), "--out", str(out)]) == 0
    return out


def test_every_study_file_parses():
    assert set(list_studies()) == set(ALL_STUDIES) | {"demo"}  # a new study file is listed here
    for name in list_studies():
        spec = load_study(name)
        quick = spec.quick_version()
        assert quick.seeds == 1 and quick.is_quick
        assert spec.kind == "bench" or quick.train["epochs"] <= 2


@pytest.mark.slow
def test_compare_quick_writes_report(compare_out):
    results = json.loads((compare_out / "results.json").read_text())
    assert {r["task"] for r in results["runs"]} == {"5class", "top_vs_qcd", "quark_vs_gluon"}
    assert {r["model"] for r in results["runs"]} == {"salt", "linformer", "transformer"}
    assert len(results["floor"]) == 3
    report = (compare_out / "report.md").read_text()
    assert "saltjet study compare" in report and "--quick" in report
    assert "physics floor" in report and "torch" in report
    assert (compare_out / "figures" / "roc_top_vs_qcd_t.png").is_file()


def _results(accs: dict[str, list[float]], floor: list[float]) -> dict:
    runs = [{"task": "5class", "run": name, "label": name, "model": name, "seed": s,
             "metrics": {"accuracy": a, "auc_macro": 0.9}, "params": 100, "flops": 1e5, "latency_ms": 1e-3,
             "multiplicity_bins": [], "epochs_run": 1}
            for name, values in accs.items() for s, a in enumerate(values)]
    return {"study": "compare", "title": "t", "claim": "", "quick": False, "command": "saltjet study compare",
            "versions": {"torch": "x"}, "settings": {"seeds": 2, "columns": ["accuracy", "auc_macro", "params"],
                                                     "train": {"epochs": 1}, "data": {}, "figures": []},
            "tasks": {"5class": {"class_names": list("gqWZt"), "n_train": 10, "n_test": 5, "n_pool": 20}},
            "runs": runs, "floor": [{"task": "5class", "seed": s, "label": "physics floor (BDT)",
                                     "metrics": {"accuracy": a}} for s, a in enumerate(floor)],
            "bench": [], "notes": [], "figures": [], "wall_seconds": 1.0}


def test_report_tables_come_from_results(tmp_path):
    results = _results({"salt": [0.60, 0.62], "linformer": [0.50, 0.52]}, [0.55, 0.55])
    (tmp_path / "results.json").write_text(json.dumps(results))
    report = write_report(tmp_path).read_text()
    salt = next(l for l in report.splitlines() if l.startswith("| salt |"))
    assert "61.00 ± 1.41" in salt and "above" in salt
    assert "**below**" in next(l for l in report.splitlines() if l.startswith("| linformer |"))
    assert "Not clearly above the physics floor (55.00 %) on 5class: linformer." in report
    assert "Every tagger beats" not in report and "One seed" not in report
    # change a number in results.json: the table and the findings follow
    results["runs"][0]["metrics"]["accuracy"] = 0.98765
    (tmp_path / "results.json").write_text(json.dumps(results))
    report = write_report(tmp_path).read_text()
    salt = next(l for l in report.splitlines() if l.startswith("| salt |"))
    assert "80.38 ± 26.00" in salt
    assert re.search(r"Highest accuracy on 5class: salt \(80\.38 %\)", report)
    # a tagger whose mean is above the floor by less than the combined spread is not called above
    results["runs"][0]["metrics"]["accuracy"], results["runs"][1]["metrics"]["accuracy"] = 0.54, 0.58
    results["floor"][1]["metrics"]["accuracy"] = 0.56
    (tmp_path / "results.json").write_text(json.dumps(results))
    report = write_report(tmp_path).read_text()
    assert next(l for l in report.splitlines() if l.startswith("| salt |")).endswith("| within 1σ |")
    assert "No run is clearly above the physics floor (55.50 %) on 5class; within 1σ of it: salt." in report
    # with one seed there is no spread: the verdict says so
    one = _results({"salt": [0.60]}, [0.55])
    (tmp_path / "results.json").write_text(json.dumps(one))
    row = next(l for l in write_report(tmp_path).read_text().splitlines() if l.startswith("| salt |"))
    assert row.endswith("| above (1 seed: no spread) |")
    (tmp_path / "results.json").write_text(json.dumps(results))
    (tmp_path / "notes.md").write_text("SAL-T trails here because the data are small.")
    assert "SAL-T trails here" in write_report(tmp_path).read_text()


@pytest.mark.slow
def test_rerun_skips_finished_runs(jets_file, compare_out, capsys):
    stamp = {p: p.stat().st_mtime_ns for p in compare_out.glob("runs/*/*/seed0/study_eval.json")}
    assert main(["study", "compare", "--quick", "--data", str(jets_file), "--out", str(compare_out)]) == 0
    err = capsys.readouterr().err
    assert err.count("done, skipped") == 9
    assert stamp == {p: p.stat().st_mtime_ns for p in compare_out.glob("runs/*/*/seed0/study_eval.json")}


@pytest.mark.slow
def test_finished_runs_on_other_jets_are_refused_not_reused(jets_file, compare_out, tmp_path, capsys):
    """The same --data glob matching more files (e.g. new shards) must not reuse the finished runs:
    their models were trained on another split than the study's new test jets."""
    import shutil

    out = tmp_path / "compare"
    shutil.copytree(compare_out, out)
    more = tmp_path / "jets"
    more.mkdir()
    shutil.copy(jets_file, more / jets_file.name)
    write_hls4ml(more / "jetImage_1_150p_0_250.h5", n_jets=250, seed=6, max_mult=40, labels=np.arange(250) % 5)
    before = {p: p.read_bytes() for p in out.glob("runs/*/*/seed0/study_eval.json")}
    assert main(["study", "compare", "--quick", "--quiet", "--data", str(more / "*.h5"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "was trained and tested on other jets" in err and len(err.splitlines()) == 1
    assert before == {p: p.read_bytes() for p in out.glob("runs/*/*/seed0/study_eval.json")}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sorting", "partitions", "multiplicity", "attention", "features", "compare_part"])
def test_jet_study_quick(name, jets_file, tmp_path):
    out = tmp_path / name
    assert main(["study", name, "--quick", "--quiet", "--data", str(jets_file), "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    spec = load_study(name)
    assert {r["run"] for r in results["runs"]} == {r.name for r in spec.runs}
    assert (out / "report.md").is_file()
    if name == "attention":
        figs = {p.name for p in (out / "figures").glob("*.png")}
        assert {"attention_SAL-T.png", "attention_Linformer.png", "attention_Transformer.png", "partitions.png"} <= figs
    if name == "multiplicity":
        assert "per constituent multiplicity" in (out / "report.md").read_text()
    if name == "features":
        widths = {r["run"]: r["params"] for r in results["runs"]}
        assert widths["raw"] < widths["log"] < widths["hls4ml"]  # the embedding grows with the inputs


def test_scaling_quick(tmp_path):
    assert main(["study", "scaling", "--quick", "--quiet", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    records = results["bench"]
    assert {r["model"] for r in records} == {"salt", "linformer", "transformer"}
    assert all(r["flops"] > 0 for r in records)
    assert (tmp_path / "figures" / "scaling.png").is_file()


@pytest.mark.slow
def test_pointcloud_quick(tmp_path):
    out = tmp_path / "out"
    assert main(["study", "pointcloud", "--quick", "--quiet", "--cache-dir", str(tmp_path / "cache"),
                 "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["data"]["kind"] == "pointcloud" and len(results["runs"]) == 3
    assert results["floor"] == []


def test_bad_study_name_is_one_line_error(capsys):
    assert main(["study", "no_such_study", "--quick"]) == 2
    err = capsys.readouterr().err
    assert "unknown study" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_compare_quick_on_generated_jets(tmp_path):
    """The default path: Pythia jets generated (and cached) by the study itself."""
    out = tmp_path / "out"
    assert main(["study", "compare", "--quick", "--quiet", "--cache-dir", str(tmp_path / "data"),
                 "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["data"]["generated"] and "no detector simulation" in results["data"]["source"]


def test_plot_cli_roc_and_errors(tmp_path, capsys):
    from saltjet.evaluation.evaluate import save_predictions

    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        run = tmp_path / name / "seed0"
        y = rng.integers(0, 2, 200)
        save_predictions(run / "study_predictions.npz", {"probs": np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1),
                                                         "labels": y, "class_names": ["QCD", "t"]})
    args = ["plot", "roc", "--run", str(tmp_path / "a" / "seed0"), "--run", str(tmp_path / "b" / "seed0"),
            "--out", str(tmp_path / "figs")]
    assert main(args) == 0
    assert (tmp_path / "figs" / "roc_t.png").is_file() and (tmp_path / "figs" / "roc_t.pdf").is_file()
    assert main(["plot", "scaling", "--run", str(tmp_path)]) == 2
    assert "results.json" in capsys.readouterr().err


def test_run_key_names_the_training_not_its_speed_settings():
    from saltjet.study.runner import run_config, run_key

    spec = load_study("compare")
    data = {"kind": "jets", "path": "data/x", "n_jets": 10, "class_counts": {"g": 5}, "n_slots": 150}
    base = run_config(spec, spec.runs[0], 0, 0.2, ["data/x"], quiet=False)
    key = run_key(base, "5class", data)
    same = run_config(spec, spec.runs[0], 0, 0.2, ["data/x"], quiet=True)
    same.train.num_threads = 1
    assert run_key(same, "5class", data) == key
    assert run_key(base, "top_vs_qcd", data) != key
    assert run_key(run_config(spec, spec.runs[0], 1, 0.2, ["data/x"], quiet=False), "5class", data) != key
    assert run_key(run_config(spec, spec.runs[1], 0, 0.2, ["data/x"], quiet=False), "5class", data) != key
    assert run_key(base, "5class", {**data, "n_jets": 11}) != key
    # naming a default is the same training: partitions' "p4" and sorting's "kt" are compare's SAL-T
    for study, run in (("partitions", "p4"), ("sorting", "kt")):
        other = load_study(study)
        named = next(r for r in other.runs if r.name == run)
        other.data = spec.data
        assert run_key(run_config(other, named, 0, 0.2, ["data/x"], quiet=False), "5class", data) == key
    longer = run_config(spec, spec.runs[0], 0, 0.2, ["data/x"], quiet=False)
    longer.train.epochs += 1
    assert run_key(longer, "5class", data) != key


@pytest.mark.slow
def test_identical_trainings_are_reused_across_studies(jets_file, tmp_path, capsys):
    reports = tmp_path / "reports"
    common = ["--quick", "--data", str(jets_file)]
    assert main(["study", "compare", *common, "--out", str(reports / "compare")]) == 0
    capsys.readouterr()
    assert main(["study", "features", *common, "--out", str(reports / "features")]) == 0
    err = capsys.readouterr().err
    # compare trains SAL-T on the log-scaled inputs: features' "log" run is that training, reused;
    # its "raw" and "hls4ml" runs have other inputs and are trained
    assert err.count("reused") == 2 and "compare/runs/5class/salt/seed0, reused" in err
    # the physics floor on the same task, split and data is one fit too
    assert "same fit as compare/floor/5class/seed0.json, reused" in err
    floor = json.loads((reports / "features/floor/5class/seed0.json").read_text())
    assert floor == json.loads((reports / "compare/floor/5class/seed0.json").read_text())
    ref = json.loads((reports / "compare/runs/5class/salt/seed0/study_eval.json").read_text())
    log = json.loads((reports / "features/runs/5class/log/seed0/study_eval.json").read_text())
    raw = json.loads((reports / "features/runs/5class/raw/seed0/study_eval.json").read_text())
    assert log == ref and raw["run_key"] != ref["run_key"]
    assert (reports / "features/runs/5class/log/seed0/model.safetensors").is_file()
    # a floor written before floors carried their key gets it on the next invocation
    del floor["floor_key"]
    (reports / "compare/floor/5class/seed0.json").write_text(json.dumps(floor))
    assert main(["study", "compare", *common, "--quiet", "--out", str(reports / "compare")]) == 0
    assert "floor_key" in json.loads((reports / "compare/floor/5class/seed0.json").read_text())
    results = json.loads((reports / "features/results.json").read_text())
    assert [r["reused_from"] for r in results["runs"] if r["reused_from"]] == ["compare/runs/5class/salt/seed0"]
    assert "1 of 3 trainings are the same trainings" in (reports / "features/report.md").read_text()


@pytest.mark.slow
def test_parallel_jobs_train_every_run(jets_file, tmp_path, capsys):
    out = tmp_path / "multiplicity"
    assert main(["study", "multiplicity", "--quick", "--jobs", "2", "--data", str(jets_file), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "in 2 processes" in err and err.count("done, accuracy") == 3
    results = json.loads((out / "results.json").read_text())
    assert {r["model"] for r in results["runs"]} == {"salt", "linformer", "transformer"}
    assert all(0.0 <= r["metrics"]["accuracy"] <= 1.0 for r in results["runs"])
    assert "--jobs 2" in results["command"]


@pytest.mark.slow
def test_costs_are_measured_once_per_study_folder(jets_file, compare_out, monkeypatch):
    import saltjet.study.evaluation as evaluation

    # three models, each with a 5-class and a one-logit binary head
    assert len(json.loads((compare_out / "costs.json").read_text())) == 6

    def fail(*args, **kwargs):
        raise AssertionError("latency measured again")

    monkeypatch.setattr(evaluation, "model_cost", fail)
    assert main(["study", "compare", "--quick", "--quiet", "--data", str(jets_file), "--out", str(compare_out)]) == 0


def test_cached_costs_keep_the_latency_and_recount_params_and_flops(tmp_path):
    """A FLOP count cached before the counting changed is replaced on the next render; the
    measured latency stays."""
    import torch

    from saltjet.models import model_config
    from saltjet.study.evaluation import cached_model_cost, model_counts
    from saltjet.training.run import RunInfo

    config = model_config("salt", n_features=6, n_particles=32)
    info = RunInfo(model="salt", model_config=dataclasses.asdict(config), class_names=list("gqWZt"),
                   sort_by="kt", feature_names=["f"] * 6)
    key = json.dumps([info.model, info.model_config, False, torch.get_num_threads()], sort_keys=True)
    stale = {"params": 1, "flops": 2.0, "latency_ms": 0.123, "latency_batch": 256, "threads": 1}
    (tmp_path / "costs.json").write_text(json.dumps({key: stale}))
    cost = cached_model_cost(tmp_path, info, quick=False)
    assert cost["latency_ms"] == 0.123 and cost == {**stale, **model_counts("salt", info.model_config)}
    assert cost["flops"] > 1e4 and json.loads((tmp_path / "costs.json").read_text())[key] == cost


@pytest.mark.slow
def test_study_files_ship_in_the_wheel(tmp_path):
    """A wheel install (not the editable one) finds every study file."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "wheel"), str(root)],
                   check=True, cwd=tmp_path)
    wheel = next((tmp_path / "wheel").glob("saltjet-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", str(tmp_path / "site"), str(wheel)], check=True)
    code = "import saltjet.study.spec as s; print(s.__file__); print(sorted(s.list_studies()))"
    done = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(tmp_path / "site")},
                          capture_output=True, text=True, check=True, cwd=tmp_path)
    where, names = done.stdout.splitlines()
    assert where.startswith(str(tmp_path / "site"))
    assert set(ALL_STUDIES + ["demo"]) <= set(eval(names))


def test_quoted_command_keeps_a_data_glob_one_argument():
    import argparse
    import shlex

    from saltjet.cli.study import canonical_command

    args = argparse.Namespace(name="compare", data="/d/jetImage_[012]_150p_*.h5", format="auto", seeds=1, out="r/c",
                              jets_per_class=None, epochs=20, cache_dir="data", tasks=["top_vs_qcd"], jobs=2, quick=False)
    line = canonical_command(args)
    assert shlex.split(line) == ["saltjet", "study", "compare", "--data", "/d/jetImage_[012]_150p_*.h5", "--seeds", "1",
                                 "--out", "r/c", "--epochs", "20", "--tasks", "top_vs_qcd", "--jobs", "2"]
    assert "'/d/jetImage_[012]_150p_*.h5'" in line


def test_a_dead_training_process_is_one_line_error():
    import concurrent.futures
    import multiprocessing
    import os

    from saltjet.errors import TrainingError
    from saltjet.study.runner import _completed

    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as executor:
        futures = {executor.submit(os._exit, 9): "job"}  # the worker dies as under the OOM killer
        with pytest.raises(TrainingError, match="training process died.*fewer --jobs"):
            list(_completed(futures, 2))

