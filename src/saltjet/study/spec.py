"""Study definitions: `saltjet/experiments/NAME.yaml` parsed into typed specs.

A study file (every key but `name` and `runs` optional):

    name: compare
    title: SAL-T vs Linformer vs Transformer
    claim: >                    # the paper's claim this study tests, quoted in the report
      SAL-T beats Linformer and matches the Transformer.
    kind: jets                  # jets | pointcloud | bench (no training) | trigger (jets, then each
                                #   run quantised, emulated and traced to firmware: saltjet.study.trigger)
    tasks: [5class, top_vs_qcd] # saltjet.data.tasks.TASKS (jets only)
    seeds: 3                    # training seeds per run
    jets_per_class: 20000       # size of the built-in generated data set
    floor: true                 # show the physics floor (BDT on jet observables) in jet tables
    data: {n_particles: 150}    # DataConfig defaults for every run
    train: {epochs: 20}         # TrainConfig defaults for every run
    runs:                       # one entry per table row
      - name: salt              # row id (unique)
        label: SAL-T            # row label in tables and legends
        model: salt
        model_options: {conv_mode: none}
        data: {sort_by: pt}     # DataConfig overrides; `feature_set: log` picks saltjet.data.features
        train: {}
    columns: [accuracy, auc_macro, mean_rejection_at_tpr_0.8, params, flops, latency_ms]
    figures: [roc, multiplicity]
    bench: {models: [salt], n: [16, 64], batch: 256}   # kind: bench
    quantize: {epochs: 6}       # kind: trigger, saltjet.trigger.qat.QATOptions fields
    firmware: {clock_mhz: 200}  # kind: trigger, clock of the latency estimate
    quick: {jets_per_class: 150, epochs: 1, seeds: 1}  # what --quick changes (also `runs`: names kept,
                                #   `quantize`: fields overridden)

Unknown keys are an error (`ConfigError`, one line), so typos do not silently change a study.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from saltjet.errors import ConfigError

KINDS = ("jets", "pointcloud", "bench", "trigger")
FIGURES = ("roc", "multiplicity", "curves", "scaling", "attention", "partitions", "trigger")
DEFAULT_COLUMNS = ["accuracy", "auc_macro", "mean_rejection_at_tpr_0.8"]
QUICK_DEFAULTS = {"jets_per_class": 150, "epochs": 1, "seeds": 1}


def experiments_dir() -> Path:
    """The package's `saltjet/experiments/` folder (src/saltjet/experiments, installed with the package as
    package data, so wheel and editable installs both find the study files)."""
    return Path(__file__).resolve().parents[1] / "experiments"


@dataclass
class RunSpec:
    """One row of a study: a model with option overrides (trained once per task and seed)."""

    name: str
    model: str
    label: str = ""
    model_options: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)

    def __post_init__(self):
        self.label = self.label or self.name


@dataclass
class StudySpec:
    """A parsed `saltjet/experiments/NAME.yaml` (see the module docstring for the keys)."""

    name: str
    runs: list[RunSpec]
    title: str = ""
    claim: str = ""
    kind: str = "jets"
    tasks: list[str] = field(default_factory=lambda: ["5class"])
    seeds: int = 1
    jets_per_class: int = 20_000
    floor: bool = True
    data: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    columns: list[str] = field(default_factory=lambda: list(DEFAULT_COLUMNS))
    figures: list[str] = field(default_factory=list)
    bench: dict = field(default_factory=dict)
    quantize: dict = field(default_factory=dict)
    firmware: dict = field(default_factory=dict)
    quick: dict = field(default_factory=lambda: dict(QUICK_DEFAULTS))
    source: str = ""
    is_quick: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"study {self.name}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        bad = [f for f in self.figures if f not in FIGURES]
        if bad:
            raise ConfigError(f"study {self.name}: unknown figure(s) {', '.join(bad)}; choose from {', '.join(FIGURES)}")
        names = [r.name for r in self.runs]
        if len(set(names)) != len(names):
            raise ConfigError(f"study {self.name}: run names must be unique, got {names}")
        if self.kind != "bench" and not self.runs:
            raise ConfigError(f"study {self.name}: no runs defined")
        if (self.quantize or self.firmware) and self.kind != "trigger":
            raise ConfigError(f"study {self.name}: quantize and firmware settings belong to a kind: trigger study")
        if self.kind == "trigger":
            from saltjet.study.trigger import check_settings

            check_settings(self)
        if self.kind == "pointcloud":
            self.floor = False  # jet observables do not apply
            self.tasks = ["all"]
        if int(self.seeds) < 1:
            raise ConfigError(f"study {self.name}: seeds must be ≥ 1")
        from saltjet.data.tasks import TASKS

        unknown = [t for t in self.tasks if t not in TASKS and self.kind in ("jets", "trigger")]
        if unknown:
            raise ConfigError(f"study {self.name}: unknown task(s) {', '.join(unknown)}; choose from {', '.join(TASKS)}")

    def quick_version(self) -> "StudySpec":
        """The spec as `--quick` runs it: `quick` overrides applied (sizes, epochs, seeds, bench)."""
        q = {**QUICK_DEFAULTS, **self.quick}
        train = {**self.train, "epochs": int(q.pop("epochs")), "patience": 0}
        data = {**self.data, **q.pop("data", {})}
        keep = q.pop("runs", None)
        runs = [r for r in self.runs if keep is None or r.name in keep]
        return StudySpec(
            name=self.name, runs=runs, title=self.title, claim=self.claim, kind=self.kind,
            tasks=q.pop("tasks", self.tasks), seeds=int(q.pop("seeds")), jets_per_class=int(q.pop("jets_per_class")),
            floor=self.floor, data=data, train=train, columns=self.columns, figures=self.figures,
            bench={**self.bench, **q.pop("bench", {})}, quantize={**self.quantize, **q.pop("quantize", {})},
            firmware=self.firmware, quick=self.quick, source=self.source, is_quick=True,
        )


def _run_spec(raw, study: str) -> RunSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"study {study}: each run must be a mapping, got {raw!r}")
    known = {"name", "label", "model", "model_options", "data", "train"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"study {study}: unknown run key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if "name" not in raw or "model" not in raw:
        raise ConfigError(f"study {study}: every run needs a name and a model")
    return RunSpec(**{k: (dict(v or {}) if k in ("model_options", "data", "train") else str(v)) for k, v in raw.items()})


def parse_study(raw: dict, source: str = "") -> StudySpec:
    """Build a `StudySpec` from a parsed YAML mapping."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source or 'study file'} must hold a mapping")
    known = set(StudySpec.__dataclass_fields__) - {"source", "is_quick"}
    unknown = sorted(set(raw) - known)
    name = str(raw.get("name") or Path(source).stem)
    if unknown:
        raise ConfigError(f"study {name}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    values = dict(raw)
    values["name"] = name
    values["runs"] = [_run_spec(r, name) for r in raw.get("runs") or []]
    for key in ("data", "train", "bench", "quantize", "firmware", "quick"):
        if key in values and not isinstance(values[key] or {}, dict):
            raise ConfigError(f"study {name}: {key} must be a mapping")
        values[key] = dict(values.get(key) or {}) if key in values else StudySpec.__dataclass_fields__[key].default_factory()
    return StudySpec(**values, source=source)


def list_studies(directory: Path | None = None) -> list[str]:
    """Names of the study files in `saltjet/experiments/`."""
    directory = directory or experiments_dir()
    return sorted(p.stem for p in directory.glob("*.yaml"))


def load_study(name_or_path: str, directory: Path | None = None) -> StudySpec:
    """Read `saltjet/experiments/NAME.yaml` (or a path to a study file)."""
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.is_file()):
        directory = directory or experiments_dir()
        path = directory / f"{name_or_path}.yaml"
        if not path.is_file():
            known = ", ".join(list_studies(directory)) or "none"
            raise ConfigError(f"unknown study {name_or_path!r}; known studies: {known}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {str(e).splitlines()[0]}") from None
    return parse_study(raw, str(path))
