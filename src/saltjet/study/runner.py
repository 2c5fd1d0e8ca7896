"""`run_study`: train every run of a study (resumable), evaluate it, write results.json + report.md.

Layout of the output folder (default `reports/NAME`, `reports/quick/NAME` with --quick):

    results.json                 every number the report shows (the report is rendered from it)
    report.md                    tables (mean ± std over seeds), command, versions, data, wall time
    notes.md                     optional, written by a person: quoted in report.md when present
    figures/                     PNG + PDF
    runs/TASK/RUN/seedS/         run directories of `saltjet.train.train`, plus
        study_eval.json          the evaluation on the held-out jets (its presence = run done)
        study_predictions.npz    the predictions (for `saltjet plot`)
    floor/TASK/seedS.json        the physics floor's evaluation

Re-running the same command skips every finished run and floor, resumes unfinished trainings from
their last epoch, and re-renders the report.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from saltjet.errors import ConfigError
from saltjet.study.spec import StudySpec, load_study

EVAL_FILE = "study_eval.json"
PREDICTIONS_FILE = "study_predictions.npz"
METRIC_KEYS = ("accuracy", "auc_macro", "mean_rejection_at_tpr_0.8", "rejection_at_eff_0.3", "rejection_at_eff_0.5")
DEFAULT_DATA = {"val_fraction": 0.2, "test_fraction": 0.2, "seed": 0}
DEFAULT_TRAIN = {"device": "auto"}


def versions() -> dict:
    """Versions of the software that produced a result."""
    import sklearn
    import torch

    import saltjet

    return {"saltjet": saltjet.__version__, "torch": torch.__version__, "numpy": np.__version__,
            "scikit-learn": sklearn.__version__, "python": platform.python_version(),
            "platform": platform.platform(terse=True)}


def resolve_spec(name: str, quick: bool = False, seeds: int | None = None, jets_per_class: int | None = None,
                 epochs: int | None = None) -> StudySpec:
    """The study spec with --quick and the command-line overrides applied."""
    spec = load_study(name)
    if quick:
        spec = spec.quick_version()
    if seeds is not None:
        spec.seeds = int(seeds)
    if jets_per_class is not None:
        spec.jets_per_class = int(jets_per_class)
    if epochs is not None:
        spec.train = {**spec.train, "epochs": int(epochs)}
    return spec


def _write_json(path: Path, obj) -> None:
    from saltjet.run import atomic_write_bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(obj, indent=1, default=_json_default) + "\n").encode())


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def feature_names_of(spec: StudySpec) -> list[str]:
    """Every input feature name any run of the study uses (for the reader and derived columns)."""
    from saltjet.data.features import CORE, feature_set

    names = list(CORE)
    for r in spec.runs:
        data = {**spec.data, **r.data}
        if data.get("feature_set"):
            names += feature_set(data["feature_set"])
        names += list(data.get("features") or [])
    return list(dict.fromkeys(names))


def run_config(spec: StudySpec, run, seed: int, test_fraction: float, data_source: list[str], quiet: bool):
    """The `saltjet.config.RunConfig` of one (run, seed)."""
    from saltjet.config import RunConfig
    from saltjet.data.features import feature_set

    data = {**DEFAULT_DATA, **spec.data, **run.data, "test_fraction": test_fraction, "path": data_source}
    name = data.pop("feature_set", None)
    if name:
        data["features"] = feature_set(name)
    train = {**DEFAULT_TRAIN, **spec.train, **run.train, "seed": seed, "quiet": quiet}
    return RunConfig.from_dict({"model": run.model, "model_options": dict(run.model_options), "data": data,
                                "train": train})


class _TaskData:
    """Per-task pool and test jets, relabelled and with derived features, built once and cached."""

    def __init__(self, study_data, spec: StudySpec):
        self.study_data, self.spec, self._cache = study_data, spec, {}
        self.features = feature_names_of(spec)

    def get(self, task: str):
        if task not in self._cache:
            from saltjet.data.features import add_features
            from saltjet.data.pipeline import split_data
            from saltjet.data.tasks import relabel

            pool, test = self.study_data.pool, self.study_data.test
            if pool.kind == "jets":
                pool = add_features(relabel(pool, task), self.features)
            split = {**DEFAULT_DATA, **self.spec.data}
            if test is None:
                train, _, test = split_data(pool, split["val_fraction"], split["test_fraction"], split["seed"])
                test_fraction = split["test_fraction"]
            else:
                train, _, _ = split_data(pool, split["val_fraction"], 0.0, split["seed"])
                test_fraction = 0.0
            self._cache[task] = (pool, train, test, test_fraction)
        return self._cache[task]


def _applicable_tasks(spec: StudySpec, class_names: list[str], notes: list[str]) -> list[str]:
    from saltjet.data.tasks import TASKS

    if spec.kind != "jets":
        return list(spec.tasks)
    tasks = []
    for task in spec.tasks:
        groups = TASKS[task]
        needed = {c for _, sources in groups for c in sources} if groups else set()
        if needed <= set(class_names):
            tasks.append(task)
        else:
            notes.append(f"task {task} skipped: the data has classes {', '.join(class_names)}")
    if not tasks:
        raise ConfigError(f"none of the study's tasks ({', '.join(spec.tasks)}) fits the data's classes {class_names}")
    return tasks


def run_study(name: str, data: str | None = None, seeds: int | None = None, quick: bool = False,
              out: str | Path | None = None, jets_per_class: int | None = None, epochs: int | None = None,
              format: str = "auto", cache_dir: str | Path = "data", quiet: bool = False, command: str | None = None,
              log: Callable[[str], None] | None = None) -> dict:
    """Run study `name` (experiments/NAME.yaml) and write its report.

    Args:
        name: study name (or path to a study YAML).
        data: data files for jets / a ModelNet10 root for point clouds; None = built-in generated set.
        seeds, jets_per_class, epochs: override the study file (after --quick).
        quick: the study's `quick` settings (tiny data, 1 epoch, 1 seed) for smoke tests.
        out: output folder (default reports/NAME, or reports/quick/NAME with quick).
        format: data format for `data` ("auto" sniffs).
        cache_dir: where generated data sets are cached.
        quiet: no progress output.
        command: the command line to quote in the report (default: sys.argv).
    Returns:
        the results dict (also written to OUT/results.json).
    """
    say = (lambda s: None) if quiet else (log or (lambda s: print(s, file=sys.stderr)))
    spec = resolve_spec(name, quick, seeds, jets_per_class, epochs)
    out = Path(out) if out is not None else Path("reports") / ("quick" if quick else "") / spec.name
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    results = {
        "study": spec.name, "title": spec.title, "claim": spec.claim, "kind": spec.kind, "quick": quick,
        "command": command or " ".join(["saltjet"] + sys.argv[1:]), "versions": versions(),
        "settings": {"seeds": spec.seeds, "jets_per_class": spec.jets_per_class, "tasks": list(spec.tasks),
                     "train": {**DEFAULT_TRAIN, **spec.train}, "data": {**DEFAULT_DATA, **spec.data},
                     "columns": list(spec.columns), "figures": list(spec.figures), "spec_file": spec.source},
        "runs": [], "floor": [], "bench": [], "notes": [], "figures": [],
    }
    if spec.kind == "bench":
        from saltjet.study.scaling import run_scaling

        results["bench"] = run_scaling(spec, say)
    else:
        _train_and_evaluate(spec, results, data, format, Path(cache_dir), out, quiet, say)
    results["wall_seconds"] = time.perf_counter() - t_start
    results["train_wall_seconds_total"] = sum(r.get("train_wall_s") or 0.0 for r in results["runs"])
    from saltjet.study.figures import make_figures
    from saltjet.study.report import write_report

    results["figures"] = [str(p.relative_to(out)) for p in make_figures(spec, results, out)]
    _write_json(out / "results.json", results)
    write_report(out)
    say(f"study {spec.name}: report written to {out / 'report.md'}")
    return results


def _train_and_evaluate(spec, results, data_path, fmt, cache_dir, out, quiet, say) -> None:
    from saltjet.evaluate import save_predictions
    from saltjet.floor import FloorConfig, evaluate_floor
    from saltjet.study.data import load_jets, load_pointclouds
    from saltjet.study.evaluation import model_cost
    from saltjet.train import train

    say(f"study {spec.name}: loading data")
    if spec.kind == "pointcloud":
        n_points = int(spec.data.get("n_particles", 1024))
        study_data = load_pointclouds(data_path, spec.jets_per_class, n_points, cache_dir, quiet)
    else:
        study_data = load_jets(data_path, spec.jets_per_class, feature_names_of(spec), cache_dir, fmt, quiet)
    results["data"] = study_data.description
    source = [study_data.description["path"]]
    tasks = _applicable_tasks(spec, study_data.pool.class_names, results["notes"])
    task_data = _TaskData(study_data, spec)
    costs: dict[str, dict] = {}
    total = len(tasks) * len(spec.runs) * spec.seeds
    done = 0
    for task in tasks:
        pool, train_split, test, test_fraction = task_data.get(task)
        if task == tasks[0] and ({"attention", "partitions"} & set(spec.figures)):
            from saltjet.study.figures import save_attention_jet

            save_attention_jet(out, test)
        results.setdefault("tasks", {})[task] = {"class_names": list(pool.class_names), "n_train": len(train_split),
                                                 "n_test": len(test), "n_pool": len(pool)}
        for run in spec.runs:
            for seed in range(spec.seeds):
                done += 1
                run_dir = out / "runs" / task / run.name / f"seed{seed}"
                eval_path = run_dir / EVAL_FILE
                if eval_path.is_file():
                    record = json.loads(eval_path.read_text())
                    say(f"[{done}/{total}] {task} {run.name} seed {seed}: done, skipped")
                else:
                    say(f"[{done}/{total}] {task} {run.name} seed {seed}: training")
                    config = run_config(spec, run, seed, test_fraction, source, quiet)
                    summary = train(config, run_dir, resume=True, data=pool)
                    if not summary.get("finished", True):
                        raise ConfigError(f"training of {run_dir} did not finish")
                    from saltjet.study.evaluation import evaluate_on

                    report, predictions = evaluate_on(run_dir, test)
                    save_predictions(run_dir / PREDICTIONS_FILE, predictions)
                    record = {"summary": summary, "report": report}
                    _write_json(eval_path, record)
                report, summary = record["report"], record["summary"]
                from saltjet.run import read_info

                info = read_info(run_dir)
                key = json.dumps([info.model, info.model_config], sort_keys=True)
                if key not in costs:
                    costs[key] = (model_cost(info.model, info.model_config, batch=16, repeats=2) if spec.is_quick
                                  else model_cost(info.model, info.model_config))
                results["runs"].append({
                    "task": task, "run": run.name, "label": run.label, "model": run.model, "seed": seed,
                    "model_options": run.model_options, "data_options": run.data,
                    "metrics": {k: report.get(k) for k in METRIC_KEYS if k in report},
                    "per_class": report.get("per_class", {}), "multiplicity_bins": report.get("multiplicity_bins", []),
                    **costs[key], "epochs_run": summary.get("epochs_run"), "best_epoch": summary.get("best_epoch"),
                    "train_wall_s": summary.get("wall_seconds"), "n_train": summary.get("n_train"),
                    "run_dir": str(run_dir.relative_to(out)),
                })
        if spec.floor and pool.kind == "jets":
            for seed in range(spec.seeds):
                path = out / "floor" / task / f"seed{seed}.json"
                if path.is_file():
                    report = json.loads(path.read_text())
                else:
                    say(f"{task}: physics floor (boosted trees on jet observables), seed {seed}")
                    report, predictions = evaluate_floor(train_split, test, FloorConfig(seed=seed))
                    _write_json(path, report)
                    save_predictions(path.with_suffix(".predictions.npz"), predictions)
                results["floor"].append({"task": task, "seed": seed, "label": "physics floor (BDT)",
                                         "metrics": {k: report.get(k) for k in METRIC_KEYS if k in report},
                                         "multiplicity_bins": report.get("multiplicity_bins", []),
                                         "observables": report.get("observables"), "n_trees": report.get("n_trees"),
                                         "train_wall_s": report.get("train_s")})
