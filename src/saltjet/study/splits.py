"""A study's data cut per task: every training of a task shares one train / validation / test
split (made once by `saltjet.data.pipeline.split_for_run`), its evaluations share the test jets,
and the physics floor is fitted on the same training jets.
"""

from __future__ import annotations

import dataclasses

from saltjet.config import DataConfig, build_dataclass
from saltjet.data.pipeline import split_for_run
from saltjet.data.tasks import TASKS
from saltjet.errors import ConfigError
from saltjet.study.spec import StudySpec

DEFAULT_DATA = {"val_fraction": 0.2, "test_fraction": 0.2, "seed": 0}
SPLIT_KEYS = ("val_fraction", "test_fraction", "seed", "task")  # one split per task, shared by the runs


@dataclasses.dataclass
class TaskSplit:
    """One task's jets, cut once (`saltjet.data.pipeline.split_for_run`): `splits` go to every
    training of the task, `test` to its evaluations and `splits.train` to the physics floor."""

    splits: object  # saltjet.data.pipeline.RunSplits
    test: object  # ParticleData: the held-out part, or the point clouds' fixed test files
    test_fraction: float

    @property
    def n_pool(self) -> int:
        return len(self.splits.train) + len(self.splits.val) + len(self.splits.test)


class TaskData:
    """Per-task splits of the study's jets, relabelled by the run pipeline, built once and cached."""

    def __init__(self, study_data, spec: StudySpec):
        self.study_data, self.spec, self._cache = study_data, spec, {}

    def get(self, task: str) -> TaskSplit:
        if task not in self._cache:
            fixed_test = self.study_data.test
            split = {k: v for k, v in {**DEFAULT_DATA, **self.spec.data}.items() if k in SPLIT_KEYS}
            test_fraction = split["test_fraction"] if fixed_test is None else 0.0
            kind_task = task if self.study_data.pool.kind == "jets" else None
            cfg = build_dataclass(DataConfig, {**split, "test_fraction": test_fraction, "task": kind_task}, "data")
            splits = split_for_run(cfg, self.study_data.pool)
            self._cache[task] = TaskSplit(splits, splits.test if fixed_test is None else fixed_test, test_fraction)
        return self._cache[task]


def applicable_tasks(spec: StudySpec, class_names: list[str], notes: list[str]) -> list[str]:
    """The study's tasks that the data's classes allow (a note in `notes` for each one skipped);
    `ConfigError` when none does."""
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
