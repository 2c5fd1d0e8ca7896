"""`run_study`: train every run of a study (resumable), evaluate it, write results.json + report.md.

Layout of the output folder (default `reports/NAME`, `reports/quick/NAME` with --quick):

    results.json                 every number the report shows (the report is rendered from it)
    report.md                    tables (mean ± std over seeds), command, versions, data, wall time
    notes.md                     optional, written by a person: quoted in report.md when present
    figures/                     PNG + PDF
    runs/TASK/RUN/seedS/         run directories of `saltjet.training.loop.train`, plus
        study_eval.json          the evaluation on the held-out jets (its presence = run done)
        study_predictions.npz    the predictions (for `saltjet plot`)
        reused_from.txt          only in a run copied from a sibling study: where from
    floor/TASK/seedS.json        the physics floor's evaluation

Re-running the same command skips every finished run and floor, resumes unfinished trainings from
their last epoch, and re-renders the report. A training that another study in the same parent folder
already finished (same config, task and data: `run_key`) is copied from there instead of repeated,
so `multiplicity`, `attention` and the reference runs of the ablations reuse `compare`'s models.
`costs.json` keeps each model's params, FLOPs and latency, measured once per study folder.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from saltjet import __version__
from saltjet.config import RunConfig
from saltjet.data.features import CORE, expand_features
from saltjet.errors import ConfigError, TrainingError
from saltjet.evaluation.evaluate import save_predictions
from saltjet.evaluation.floor import FloorConfig, evaluate_floor
from saltjet.extras import check_extras, require
from saltjet.study.curves import run_curve
from saltjet.study.data import load_jets, load_pointclouds
from saltjet.study.evaluation import cached_model_cost, evaluate_on
from saltjet.study.layout import EVAL_FILE, PREDICTIONS_FILE, RESULTS_FILE
from saltjet.study.report import write_report
from saltjet.study.reuse import (check_same_split, copy_floor, copy_run, find_reusable, floor_key, reused_from,
                                 run_key)
from saltjet.study.scaling import run_scaling
from saltjet.study.spec import StudySpec, load_study
from saltjet.study.splits import DEFAULT_DATA, SPLIT_KEYS, TaskData, TaskSplit, applicable_tasks
from saltjet.training.loop import train
from saltjet.training.run import read_info, write_json

METRIC_KEYS = ("accuracy", "auc_macro", "mean_rejection_at_tpr_0.8", "rejection_at_eff_0.3", "rejection_at_eff_0.5")
DEFAULT_TRAIN = {"device": "auto"}


def versions() -> dict:
    """Versions of the software that produced a result."""
    sklearn = require("sklearn", extra="train")
    return {"saltjet": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "scikit-learn": sklearn.__version__, "python": platform.python_version(),
            "platform": platform.platform(terse=True)}


def resolve_spec(name: str, quick: bool = False, seeds: int | None = None, jets_per_class: int | None = None,
                 epochs: int | None = None, tasks: list[str] | None = None) -> StudySpec:
    """The study spec with --quick and the command-line overrides applied (`tasks`: a subset of the
    study's tasks, in the study's order; `ConfigError` for a task the study does not have)."""
    spec = load_study(name)
    if tasks:
        unknown = [t for t in tasks if t not in spec.tasks]
        if unknown:
            raise ConfigError(f"study {spec.name} has no task {', '.join(unknown)}; its tasks are {', '.join(spec.tasks)}")
        spec.tasks = [t for t in spec.tasks if t in tasks]
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
    write_json(path, obj, indent=1)


def feature_names_of(spec: StudySpec) -> list[str]:
    """Every input feature name any run of the study uses (the study reads the physical columns
    they need once; each run's pipeline builds its own features)."""
    names = list(CORE)
    for r in spec.runs:
        data = {**spec.data, **r.data}
        names += expand_features(data.get("feature_set") or data.get("features")) or []
    return list(dict.fromkeys(names))


def run_config(spec: StudySpec, run, seed: int, test_fraction: float, data_source: list[str], quiet: bool,
               task: str | None = None):
    """The `saltjet.config.RunConfig` of one (run, seed) on `task`."""
    shared = sorted(set(run.data) & set(SPLIT_KEYS))
    if shared:
        raise ConfigError(f"run {run.name}: {', '.join(shared)} must be set in the study's data, which its runs share")
    data = {**DEFAULT_DATA, **spec.data, **run.data, "test_fraction": test_fraction, "path": data_source,
            "task": task}
    name = data.pop("feature_set", None)
    if name:
        data["features"] = name
    train = {**DEFAULT_TRAIN, **spec.train, **run.train, "seed": seed, "quiet": quiet}
    return RunConfig.from_dict({"model": run.model, "model_options": dict(run.model_options), "data": data,
                                "train": train})


def run_study(name: str, data: str | None = None, seeds: int | None = None, quick: bool = False,
              out: str | Path | None = None, jets_per_class: int | None = None, epochs: int | None = None,
              format: str = "auto", cache_dir: str | Path = "data", quiet: bool = False, command: str | None = None,
              log: Callable[[str], None] | None = None, jobs: int = 1, tasks: list[str] | None = None) -> dict:
    """Run study `name` (saltjet/experiments/NAME.yaml) and write its report.

    Args:
        name: study name (or path to a study YAML).
        data: data files for jets / a ModelNet10 root for point clouds; None = built-in generated set.
        seeds, jets_per_class, epochs, tasks: override the study file (after --quick).
        quick: the study's `quick` settings (tiny data, 1 epoch, 1 seed) for smoke tests.
        out: output folder (default reports/NAME, or reports/quick/NAME with quick).
        format: data format for `data` ("auto" sniffs).
        cache_dir: where generated data sets are cached.
        quiet: no progress output.
        jobs: trainings run at once, each in its own process with an equal share of the CPU threads.
        command: the command line to quote in the report (default: sys.argv).
    Returns:
        the results dict (also written to OUT/results.json).
    """
    say = (lambda s: None) if quiet else (log or (lambda s: print(s, file=sys.stderr)))
    spec = resolve_spec(name, quick, seeds, jets_per_class, epochs, tasks)
    check_extras("train", "eval", "plot", *(["trigger"] if spec.kind == "trigger" else []),
                 purpose=f"the {spec.name} study")  # before hours of work, not after
    out = Path(out) if out is not None else Path("reports") / ("quick" if quick else "") / spec.name
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    results = {
        "study": spec.name, "title": spec.title, "claim": spec.claim, "kind": spec.kind, "quick": quick,
        "command": command or " ".join(["saltjet"] + sys.argv[1:]), "versions": versions(),
        "settings": {"seeds": spec.seeds, "jets_per_class": spec.jets_per_class, "tasks": list(spec.tasks),
                     "train": {**DEFAULT_TRAIN, **spec.train}, "data": {**DEFAULT_DATA, **spec.data},
                     "columns": list(spec.columns), "figures": list(spec.figures), "spec_file": spec.source},
        "runs": [], "floor": [], "bench": [], "trigger": [], "notes": [], "figures": [],
    }
    if spec.kind == "bench":
        results["bench"] = run_scaling(spec, say)
    else:
        _train_and_evaluate(spec, results, data, format, Path(cache_dir), out, quiet, say, jobs)
    if spec.kind == "trigger":
        from saltjet.study.trigger import run_trigger

        results["trigger"] = run_trigger(spec, results, out, [results["data"]["path"]], say)
    results["wall_seconds"] = time.perf_counter() - t_start
    results["train_wall_seconds_total"] = sum(r.get("train_wall_s") or 0.0 for r in results["runs"])
    from saltjet.study.figures import make_figures  # needs the [plot] extra, checked above

    results["figures"] = [str(p.relative_to(out)) for p in make_figures(spec, results, out)]
    _write_json(out / RESULTS_FILE, results)
    write_report(out)
    say(f"study {spec.name}: report written to {out / 'report.md'}")
    return results


@dataclasses.dataclass
class _Job:
    """One (task, run, seed) training of a study."""

    index: int
    task: str
    run: object
    seed: int
    run_dir: Path
    config: object
    key: str
    sizes: tuple[int, int, int]  # training, validation and test jets of its task


_TASK_DATA: "TaskData | None" = None  # this process's study data (set by the runner or `_init_worker`)


def _load_study_data(spec: StudySpec, data_path, fmt: str, cache_dir: Path, quiet: bool):
    if spec.kind == "pointcloud":
        n_points = int(spec.data.get("n_particles", 1024))
        return load_pointclouds(data_path, spec.jets_per_class, n_points, cache_dir, quiet)
    return load_jets(data_path, spec.jets_per_class, feature_names_of(spec), cache_dir, fmt, quiet)


def _init_worker(spec: StudySpec, data_path, fmt: str, cache_dir: Path, threads: int) -> None:
    """Start of a `--jobs` worker process: its thread share and its own copy of the study data."""
    global _TASK_DATA
    torch.set_num_threads(threads)
    _TASK_DATA = TaskData(_load_study_data(spec, data_path, fmt, cache_dir, quiet=True), spec)


def _train_one(job: _Job) -> dict:
    """Train and evaluate one job; write its study_eval.json. Returns the record."""
    task = _TASK_DATA.get(job.task)
    summary = train(job.config, job.run_dir, resume=True, splits=task.splits)
    if not summary.get("finished", True):
        raise ConfigError(f"training of {job.run_dir} did not finish")
    report, predictions = evaluate_on(job.run_dir, task.test)
    save_predictions(job.run_dir / PREDICTIONS_FILE, predictions)
    record = {"summary": summary, "report": report, "run_key": job.key}
    _write_json(job.run_dir / EVAL_FILE, record)
    return record


def _train_pending(pending: list[_Job], jobs: int, total: int, say, worker_args: tuple) -> None:
    """Train the pending jobs: in this process (jobs=1), or in `jobs` worker processes, each with
    an equal share of the CPU threads. These small models scale poorly over threads, so several
    processes can help on many-core machines; on 2 cores `benchmarks/bench_study_jobs.py` measured
    only 1.06x.

    Workers are spawned, not forked (a fork after PyTorch has run OpenMP threads can hang), and
    each loads the study data itself (`worker_args` = spec, data path, format, cache folder)."""
    if jobs <= 1 or len(pending) <= 1:
        for job in pending:
            say(f"[{job.index}/{total}] {job.task} {job.run.name} seed {job.seed}: training")
            _train_one(job)
        return
    threads = max(1, (os.cpu_count() or 1) // jobs)
    for job in pending:
        job.config.train.num_threads = threads
        job.config.train.quiet = True
    say(f"training {len(pending)} runs in {jobs} processes of {threads} thread(s) each")
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker,
                                                initargs=(*worker_args, threads)) as executor:
        futures = {executor.submit(_train_one, job): job for job in pending}
        for job, record in _completed(futures, jobs):
            acc = record["report"].get("accuracy")
            say(f"[{job.index}/{total}] {job.task} {job.run.name} seed {job.seed}: done, accuracy {acc:.4f}, "
                f"{record['summary'].get('wall_seconds', 0):.0f} s")


def _completed(futures: dict, jobs: int):
    """(job, result) of each future as it finishes; `TrainingError` in one line when a worker
    process died (the pool then breaks: concurrent.futures' BrokenProcessPool)."""
    for future in concurrent.futures.as_completed(futures):
        try:
            yield futures[future], future.result()
        except concurrent.futures.process.BrokenProcessPool:
            raise TrainingError(
                f"a training process died (killed by the system; out of memory is the usual cause: each of the "
                f"{jobs} --jobs processes holds its own copy of the study data); finished runs are kept, rerun "
                f"with fewer --jobs"
            ) from None


def _train_and_evaluate(spec, results, data_path, fmt, cache_dir, out, quiet, say, jobs: int = 1) -> None:
    """Load the study's jets, plan every (task, run, seed), train what is neither done nor reusable,
    collect each run's record and fit the physics floors; everything lands in `results`."""
    global _TASK_DATA

    say(f"study {spec.name}: loading data")
    study_data = _load_study_data(spec, data_path, fmt, cache_dir, quiet)
    results["data"] = study_data.description
    tasks = applicable_tasks(spec, study_data.pool.class_names, results["notes"])
    task_data = _TASK_DATA = TaskData(study_data, spec)
    all_jobs = _plan(spec, tasks, task_data, study_data.description, out, quiet, results)
    pending = [job for job in all_jobs if not _done_or_reused(job, out, len(all_jobs), say)]
    _train_pending(pending, jobs, len(all_jobs), say, (spec, data_path, fmt, cache_dir))
    results["runs"] += [_run_row(job, out, spec.is_quick) for job in all_jobs]
    _note_reuse(results)
    if spec.floor:
        for task in tasks:
            for seed in range(spec.seeds):
                row = _floor(spec, task, seed, task_data.get(task), study_data.description, out, say)
                if row is not None:
                    results["floor"].append(row)


def _plan(spec, tasks, task_data, data_description: dict, out: Path, quiet: bool, results: dict) -> list[_Job]:
    """Every (task, run, seed) of the study as a `_Job`, with its run folder, config and `run_key`;
    records each task's split sizes in `results` and saves the attention figures' jet."""
    source = [data_description["path"]]
    jobs: list[_Job] = []
    for task in tasks:
        split = task_data.get(task)
        test = split.test
        if task == tasks[0] and ({"attention", "partitions"} & set(spec.figures)):
            from saltjet.study.figures import save_attention_jet  # needs the [plot] extra

            save_attention_jet(out, test)
        results.setdefault("tasks", {})[task] = {"class_names": list(test.class_names),
                                                 "n_train": len(split.splits.train), "n_test": len(test),
                                                 "n_pool": split.n_pool}
        for run in spec.runs:
            for seed in range(spec.seeds):
                config = run_config(spec, run, seed, split.test_fraction, source, quiet,
                                    task if spec.kind == "jets" else None)
                jobs.append(_Job(len(jobs) + 1, task, run, seed, out / "runs" / task / run.name / f"seed{seed}",
                                 config, run_key(config, task, data_description),
                                 (len(split.splits.train), len(split.splits.val), len(test))))
    return jobs


def _done_or_reused(job: _Job, out: Path, total: int, say) -> bool:
    """True when `job` needs no training: its folder holds a finished evaluation (re-keyed when an
    older `run_key` named it), or a sibling study finished the same training (copied here)."""
    prefix = f"[{job.index}/{total}] {job.task} {job.run.name} seed {job.seed}"
    eval_file = job.run_dir / EVAL_FILE
    if eval_file.is_file():
        say(f"{prefix}: done, skipped")
        record = json.loads(eval_file.read_text())
        if record.get("run_key") != job.key:  # keyed by an older `run_key`: re-key for reuse,
            check_same_split(job.run_dir, job.sizes, record)  # unless it was trained on other jets
            _write_json(eval_file, {**record, "run_key": job.key})
        return True
    source_dir = find_reusable(out, job.key)
    if source_dir is None:
        return False
    where = copy_run(source_dir, job.run_dir, out.resolve().parent)
    say(f"{prefix}: same training as {where}, reused")
    return True


def _run_row(job: _Job, out: Path, quick: bool) -> dict:
    """The results.json row of one finished job: its metrics, cost, timing and provenance."""
    record = json.loads((job.run_dir / EVAL_FILE).read_text())
    report, summary = record["report"], record["summary"]
    return {
        "task": job.task, "run": job.run.name, "label": job.run.label, "model": job.run.model, "seed": job.seed,
        "model_options": job.run.model_options, "data_options": job.run.data,
        "metrics": {k: report.get(k) for k in METRIC_KEYS if k in report},
        "per_class": report.get("per_class", {}), "multiplicity_bins": report.get("multiplicity_bins", []),
        **cached_model_cost(out, read_info(job.run_dir), quick), "epochs_run": summary.get("epochs_run"),
        "best_epoch": summary.get("best_epoch"), "train_wall_s": summary.get("wall_seconds"),
        "n_train": summary.get("n_train"), "run_dir": str(job.run_dir.relative_to(out)),
        "reused_from": reused_from(job.run_dir), "curve": run_curve(job.run_dir),
    }


def _note_reuse(results: dict) -> None:
    """A report note naming the studies whose trainings this one copied."""
    reused = [r for r in results["runs"] if r["reused_from"]]
    if reused:
        sources = sorted({r["reused_from"].split("/")[0] for r in reused})
        results["notes"].append(f"{len(reused)} of {len(results['runs'])} trainings are the same trainings (config, "
                                f"task and data) as in the {', '.join(sources)} study, copied from there")


def _floor(spec, task: str, seed: int, split: TaskSplit, data_description: dict, out: Path, say) -> dict | None:
    """The physics floor of one (task, seed): read when done, copied when a sibling study fitted the
    same one, else fitted on the task's training jets. Its results.json row; None for point clouds."""
    train_split, test = split.splits.train, split.test
    if test.kind != "jets":
        return None
    path = out / "floor" / task / f"seed{seed}.json"
    split_settings = {k: v for k, v in {**DEFAULT_DATA, **spec.data}.items() if k in DEFAULT_DATA}
    key = floor_key(task, seed, split_settings, data_description)
    source = None if path.is_file() else find_reusable(out, key, f"floor/{task}/seed{seed}.json", "floor_key")
    if source is not None:
        where = copy_floor(source, path, out.resolve().parent)
        say(f"{task}: physics floor, seed {seed}: same fit as {where}, reused")
    report = json.loads(path.read_text()) if path.is_file() else None
    if report is not None and report.get("floor_key", key) != key:  # fitted on other jets: fit again
        say(f"{task}: physics floor, seed {seed}: {path} was fitted on other data or settings, fitting again")
        report = None
    if report is not None:
        if "floor_key" not in report:  # written before floors carried their key
            _write_json(path, {**report, "floor_key": key})
    else:
        say(f"{task}: physics floor (boosted trees on jet observables), seed {seed}")
        report, predictions = evaluate_floor(train_split, test, FloorConfig(seed=seed))
        report["floor_key"] = key
        _write_json(path, report)
        save_predictions(path.with_suffix(".predictions.npz"), predictions)
    return {"task": task, "seed": seed, "label": "physics floor (BDT)",
            "metrics": {k: report.get(k) for k in METRIC_KEYS if k in report},
            "multiplicity_bins": report.get("multiplicity_bins", []),
            "observables": report.get("observables"), "n_trees": report.get("n_trees"),
            "train_wall_s": report.get("train_s")}
