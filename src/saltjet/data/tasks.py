"""Classification tasks made from the five hls4ml jet classes (g, q, W, Z, t) by relabelling.

    5class          g, q, W, Z, t unchanged
    top_vs_qcd      QCD (q + g) vs t: the top-tagging proxy; W and Z jets are dropped
    quark_vs_gluon  g vs q: the quark/gluon proxy; W, Z and t jets are dropped

Binary tasks list the background first and the signal second, so that class 1 is the signal
(the convention of `saltjet.metrics`: rejection at εS = 0.3 is for class 1). With `balance=True`
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


def relabel(data: ParticleData, task: str, balance: bool = True, seed: int = 0) -> ParticleData:
    """The jets of `data` that take part in `task`, with the task's labels.

    Args:
        data: jets with class names including the task's source classes (e.g. g, q, W, Z, t).
        task: a key of `TASKS`.
        balance: cut each new class to the smallest class size (seeded; file order kept).
        seed: seed of that choice.
    Returns:
        ParticleData with y (N',) into the task's class names.
    """
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    groups = TASKS[task]
    if groups is None:
        return data
    names = list(data.class_names)
    missing = sorted({c for _, sources in groups for c in sources} - set(names))
    if missing:
        raise DataError(f"task {task} needs the class(es) {', '.join(missing)}; the data has {', '.join(names)}")
    new_y = np.full(len(data), -1, dtype=np.int64)
    for label, (_, sources) in enumerate(groups):
        new_y[np.isin(data.y, [names.index(c) for c in sources])] = label
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
