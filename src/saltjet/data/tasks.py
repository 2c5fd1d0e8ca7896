"""Classification tasks made from the five hls4ml jet classes (g, q, W, Z, t) by relabelling.

    5class          g, q, W, Z, t unchanged
    top_vs_qcd      QCD (q + g) vs t: the top-tagging proxy; W and Z jets are dropped
    quark_vs_gluon  g vs q: the quark/gluon proxy; W, Z and t jets are dropped

Binary tasks list the background first and the signal second, so that class 1 is the signal
(the convention of `saltjet.evaluation.metrics`: rejection at εS = 0.3 is for class 1). A run records its
task (`DataConfig.task`); the pipeline relabels with `relabel` before splitting. With `balance=True`
(the default) every new class is cut to the size of the smallest by a seeded random choice, so
QCD is not twice as common as top.
"""

from __future__ import annotations

import numpy as np

from saltjet.data.particles import ParticleData
from saltjet.errors import ConfigError, DataError

# task -> [(new class name, [source class names])], background first for binary tasks.
TASKS: dict[str, list[tuple[str, list[str]]] | None] = {
    "5class": None,
    "top_vs_qcd": [("QCD", ["q", "g"]), ("t", ["t"])],
    "quark_vs_gluon": [("g", ["g"]), ("q", ["q"])],
}


def task_class_names(task: str | None, class_names: list[str]) -> list[str]:
    """The class names of `task` (None or "5class": `class_names` unchanged)."""
    check_task(task)
    groups = TASKS.get(task) if task else None
    return list(class_names) if groups is None else [name for name, _ in groups]


def check_task(task: str | None) -> None:
    """`ConfigError` unless `task` is None or a key of `TASKS`."""
    if task is not None and task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")


def infer_task(class_names: list[str]) -> str | None:
    """The task whose classes are `class_names` (for run folders written before the task was
    recorded), or None when no relabelling task produces them."""
    for task, groups in TASKS.items():
        if groups is not None and [name for name, _ in groups] == list(class_names):
            return task
    return None


def task_labels(data: ParticleData, task: str | None) -> np.ndarray:
    """(N,) int64 label of every jet in `task`'s classes, -1 for jets outside the task. Nothing is
    dropped, so the labels line up with the file (e.g. for `saltjet predict`)."""
    check_task(task)
    groups = TASKS.get(task) if task else None
    names = list(data.class_names)
    if groups is None or names == [name for name, _ in groups]:
        return np.asarray(data.y, dtype=np.int64).copy()
    missing = sorted({c for _, sources in groups for c in sources} - set(names))
    if missing:
        raise DataError(f"task {task} needs the class(es) {', '.join(missing)}; the data has {', '.join(names)}")
    new_y = np.full(len(data), -1, dtype=np.int64)
    for label, (_, sources) in enumerate(groups):
        new_y[np.isin(data.y, [names.index(c) for c in sources])] = label
    return new_y


def relabel(data: ParticleData, task: str | None, balance: bool = True, seed: int = 0) -> ParticleData:
    """The jets of `data` that take part in `task`, with the task's labels.

    Args:
        data: jets with class names including the task's source classes (e.g. g, q, W, Z, t). Data
            whose classes already are the task's (e.g. QCD, t for top_vs_qcd) is returned unchanged.
        task: a key of `TASKS`, or None (the data's own classes).
        balance: cut each new class to the smallest class size (seeded; file order kept).
        seed: seed of that choice.
    Returns:
        ParticleData with y (N',) into the task's class names.
    """
    check_task(task)
    groups = TASKS.get(task) if task else None
    if groups is None or list(data.class_names) == [name for name, _ in groups]:
        return data
    new_y = task_labels(data, task)
    keep = new_y >= 0
    if balance:
        counts = np.bincount(new_y[keep], minlength=len(groups))
        if counts.min() == 0:
            raise DataError(f"task {task}: no jets of class {groups[int(counts.argmin())][0]}")
        rng = np.random.default_rng(seed)
        keep = np.zeros(len(data), dtype=bool)
        for label in range(len(groups)):
            idx = np.flatnonzero(new_y == label)
            keep[np.sort(rng.choice(idx, counts.min(), replace=False))] = True
    out = data.subset(keep)
    out.y = new_y[keep]
    out.class_names = [name for name, _ in groups]
    return out
