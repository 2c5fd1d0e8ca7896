"""Sharing finished work between studies: a training (or a physics-floor fit) that a sibling study
under the same reports folder already made with the same config, task and data is copied, not
repeated.

`run_key` and `floor_key` name a result by what determines it (defaults spelled out, settings that
only change speed or output left out); finished runs store their key in study_eval.json, floors in
their JSON. `find_reusable` looks for an original (never a copy) with a given key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

from saltjet.data.features import CORE
from saltjet.errors import ConfigError
from saltjet.data.pipeline import resolve_sort_key
from saltjet.evaluation.floor import FloorConfig
from saltjet.models import model_config as make_model_config
from saltjet.study.layout import EVAL_FILE, REUSED_FILE
from saltjet.training.run import json_safe


def _digest(obj) -> str:
    """A short, stable hash of a JSON-able object (numpy scalars and paths allowed)."""
    blob = json.dumps(json_safe(obj), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _data_identity(data_description: dict) -> dict:
    """What names a study's data set: where it came from, its size and its slots."""
    return {k: data_description.get(k) for k in ("path", "n_jets", "class_counts", "n_slots")}


def run_key(config, task: str, data_description: dict) -> str:
    """Identity of one training: its config (minus settings that only change speed or output), the
    task and the data. Two studies with the same key would train the same model; the second reuses."""
    d = config.to_dict()
    for k in ("quiet", "num_threads", "device"):
        d["train"].pop(k, None)
    # defaults spelled out, so that naming a default (sort_by: kt, partitions: 4) is the same training
    kind = data_description.get("kind", "jets")
    d["data"].pop("task", None)  # keyed as `task` below (keys from before the task was a data field hold)
    if d["data"].get("on_nonfinite") == "raise":  # the default: keys from before the option hold
        d["data"].pop("on_nonfinite")
    if d["train"].get("augment") == "none":  # likewise
        d["train"].pop("augment")
    if d["data"].get("features") is None and kind == "jets":
        d["data"]["features"] = list(CORE)
    d["data"]["sort_by"] = resolve_sort_key(kind, d["data"]["sort_by"])
    d["model_options"] = dataclasses.asdict(make_model_config(d["model"], **d["model_options"]))
    return _digest({"run": d, "task": task, "data": _data_identity(data_description)})


def find_reusable(out: Path, key: str, pattern: str = f"runs/*/*/seed*/{EVAL_FILE}",
                  field: str = "run_key") -> Path | None:
    """A finished result with this key in a sibling study folder: the JSON file matching
    `out.parent/*/PATTERN` whose `field` equals `key` (its parent folder for runs), else None."""
    here = out.resolve()
    for path in sorted(here.parent.glob(f"*/{pattern}")):
        if here in path.parents or (path.parent / REUSED_FILE).is_file():  # originals only, not copies
            continue
        try:
            if json.loads(path.read_text()).get(field) == key:
                return path.parent if field == "run_key" else path
        except (OSError, ValueError):
            continue
    return None


def check_same_split(run_dir: Path, sizes: tuple[int, int, int], record: dict) -> None:
    """`ConfigError` when the finished run in `run_dir` (its study_eval.json `record`) was trained,
    validated or tested on other numbers of jets than `sizes` (training, validation, test): its data
    changed (e.g. a glob that now matches more files), and reusing it would put models trained on one
    split next to test jets drawn from another. A finished run keyed by an older `run_key` with the
    same sizes is the same training."""
    summary, report = record.get("summary", {}), record.get("report", {})
    found = (summary.get("n_train"), summary.get("n_val"), report.get("n_jets"))
    if None not in found and tuple(found) != tuple(sizes):
        raise ConfigError(f"{run_dir} was trained and tested on other jets ({found[0]:,} training, {found[2]:,} test; "
                          f"this study has {sizes[0]:,} and {sizes[2]:,}): use another --out or remove it")


def floor_key(task: str, seed: int, split: dict, data_description: dict) -> str:
    """Identity of one physics-floor fit: task, data, split and the trees' settings."""
    return _digest({"task": task, "split": split, "data": _data_identity(data_description),
                    "floor": dataclasses.asdict(FloorConfig(seed=seed))})


def reused_from(run_dir: Path) -> str | None:
    """The sibling study run that `run_dir` was copied from, or None for a run trained here."""
    path = run_dir / REUSED_FILE
    return path.read_text().strip() if path.is_file() else None


def copy_run(source_dir: Path, run_dir: Path, reports: Path) -> str:
    """Copy the finished run `source_dir` to `run_dir`, marked with where it came from (relative
    to the reports folder `reports`, which is returned)."""
    where = str(source_dir.relative_to(reports))
    if run_dir.exists():
        shutil.rmtree(run_dir)
    shutil.copytree(source_dir, run_dir)
    (run_dir / REUSED_FILE).write_text(where + "\n")
    return where


def copy_floor(source: Path, path: Path, reports: Path) -> str:
    """Copy the floor fit `source` (its JSON and predictions) to `path`; returns `source` relative
    to the reports folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for src in (source, source.with_suffix(".predictions.npz")):
        shutil.copyfile(src, path.parent / src.name.replace(source.stem, path.stem))
    return str(source.relative_to(reports))
