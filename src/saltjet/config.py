"""Typed options for a training run, read from YAML and overridden from the command line.

A run config file has four sections; every key is optional and unknown keys are an error:

    model: salt                 # registered model name
    model_options:              # keyword options of the model's config (saltjet.models.model_config)
      partitions: 4
    data:                       # DataConfig
      path: data/jets/*.h5
      sort_by: kt
    train:                      # TrainConfig
      epochs: 30
      batch_schedule: paper     # = [128, 256, 512, 1024, 2048]

Precedence: dataclass defaults < `--config FILE` < command-line options (`merge_dicts`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from saltjet.config_parsing import build_dataclass, load_yaml, merge_dicts, parse_assignment, to_int
from saltjet.errors import ConfigError

__all__ = ["DataConfig", "TrainConfig", "RunConfig", "build_dataclass", "load_yaml", "merge_dicts", "parse_assignment"]

PAPER_BATCH_SCHEDULE = [128, 256, 512, 1024, 2048]
LR_SCHEDULES = ("none", "cosine", "step")
DEVICES = ("auto", "cpu", "cuda")
AMP_DTYPES = ("bf16", "fp16")
FORMATS_AUTO = "auto"
MAX_LR = 1.0  # Adam steps of this size already wipe out any learned weights
MAX_SEED = 2**63 - 1


@dataclass
class DataConfig:
    """Where the jets come from and how they become model inputs.

    Attributes:
        path: file, directory or glob (or a list of them) for the training data.
        format: reader name for `saltjet.data.load`, or "auto" (detected from the files).
        val_data: separate validation data; when unset, `val_fraction` of `path` is held out.
        val_fraction: share of the training files held out for validation (stratified by class).
        test_fraction: share held out before the validation split and never used by training
            (`saltjet.data.pipeline.split_data` gives the same test jets back, e.g. for the demo).
        n_particles: particle slots n: jets are sorted, then truncated or zero-padded to n.
        features: input features: a set name (raw, log, hls4ml) or a list of names: pt, eta_rel,
            phi_rel, derived ones (log_pt, log_ptrel, log_e, delta_r) and columns of the data
            (`saltjet.data.features`). None = raw (pt, eta_rel, phi_rel) for jets and every column
            for point clouds. A set name is stored as its list of names.
        task: relabelling of the data's classes before splitting (`saltjet.data.tasks`: 5class,
            top_vs_qcd, quark_vs_gluon), or None for the data's own classes.
        sort_by: "auto" (kt for jets, radius for point clouds), or a key of `sort_particles`
            (kt, pt, deltar, none, random) / `sort_points` (radius, none, random).
        max_jets: read at most this many jets from `path` (and from `val_data`): the way to train
            on a prefix of files that do not fit in memory.
        seed: seed of the train/validation/test split (kept apart from the training seed, so
            that seeds of repeated trials share one split).
        on_nonfinite: jets holding NaN/inf values: "raise" (refuse the file, naming their count)
            or "drop" (skip them, counted in a warning); `saltjet.data.load`'s option.
    """

    path: list[str] = field(default_factory=list)
    format: str = FORMATS_AUTO
    val_data: list[str] = field(default_factory=list)
    val_fraction: float = 0.2
    test_fraction: float = 0.0
    n_particles: int = 150
    features: list[str] | None = None
    task: str | None = None
    sort_by: str = "auto"
    max_jets: int | None = None
    seed: int = 0
    on_nonfinite: str = "raise"

    def __post_init__(self):
        self.path = _as_str_list(self.path, "data.path")
        self.val_data = _as_str_list(self.val_data, "data.val_data")
        if not 0.0 <= self.test_fraction < 1.0:
            raise ConfigError(f"data.test_fraction must be in [0, 1), got {self.test_fraction}")
        if not self.val_data and not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"data.val_fraction must be in (0, 1) without data.val_data, got {self.val_fraction}")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ConfigError("data.val_fraction + data.test_fraction must leave jets for training")
        _check_positive(self, "n_particles")
        _check_seed(self.seed, "data.seed")
        if not math.isfinite(self.val_fraction):
            raise ConfigError(f"data.val_fraction must be a finite number, got {self.val_fraction}")
        if self.max_jets is not None:
            _check_positive(self, "max_jets")
        if self.features is not None:
            from saltjet.data.features import expand_features

            self.features = expand_features(_as_str_list(self.features, "data.features"))
            if not self.features:
                raise ConfigError("data.features must name at least one feature")
        from saltjet.data.tasks import check_task

        check_task(self.task)
        from saltjet.data.readers.screening import NONFINITE_POLICIES

        if self.on_nonfinite not in NONFINITE_POLICIES:
            raise ConfigError(f"data.on_nonfinite must be one of {', '.join(NONFINITE_POLICIES)}, "
                              f"got {self.on_nonfinite!r}")


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping. Defaults follow the SAL-T authors (Adam 1e-3, patience 40).

    Attributes:
        epochs: maximum number of epochs.
        batch_size: global batch size (split over the processes of a torchrun job); used when no
            `batch_schedule` is set.
        batch_schedule: growing batch sizes, one stage every `batch_schedule_every` epochs (the
            last size holds afterwards); "paper" = 128, 256, 512, 1024, 2048; [] = off.
        batch_schedule_every: epochs per stage of `batch_schedule`.
        lr: Adam learning rate, in (0, 1].
        weight_decay: Adam L2 weight decay.
        lr_schedule: "none", "cosine" (to 0 over `epochs`) or "step" (× `lr_gamma` every
            `lr_step_epochs`).
        lr_step_epochs: epochs per step of the "step" schedule.
        lr_gamma: factor of each step of the "step" schedule, in (0, 1].
        warmup_epochs: linear warm-up over the first epochs (epoch k of w runs at lr·(k+1)/w);
            the schedule then runs over the remaining epochs (a run shorter than w only warms up).
        length_groups: compute each batch in this many sub-batches of similar multiplicity and
            accumulate their gradients: the same step as the whole batch, but each sub-batch drops
            its all-padding slots, so short jets cost less (1 = off). Measured in
            `benchmarks/bench_train.py`.
        augment: "none", or "rotate": every training batch shows each jet rotated by a random
            angle about the jet axis and reflected with probability ½ in the (Δη, Δφ) plane
            (`saltjet.training.augment`; raw or log features only).
        patience: stop after this many epochs without a lower validation loss (0 = never); the
            best epoch's weights are restored and saved.
        min_delta: improvement smaller than this does not count.
        seed: seed of weight initialisation, shuffling and dropout.
        device: "auto" (CUDA when available), "cpu" or "cuda".
        amp: mixed precision autocast on CUDA (ignored on CPU).
        amp_dtype: autocast type of `amp`: "bf16" or "fp16".
        num_threads: torch CPU threads (None = torch's default).
        quiet: no progress bars and no per-epoch lines.
    """

    epochs: int = 100
    batch_size: int = 256
    batch_schedule: list[int] = field(default_factory=list)
    batch_schedule_every: int = 5
    lr: float = 1e-3
    weight_decay: float = 0.0
    lr_schedule: str = "none"
    lr_step_epochs: int = 10
    lr_gamma: float = 0.5
    warmup_epochs: int = 0
    length_groups: int = 4
    augment: str = "none"
    patience: int = 40
    min_delta: float = 0.0
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    amp_dtype: str = "bf16"
    num_threads: int | None = None
    quiet: bool = False

    def __post_init__(self):
        if self.batch_schedule == "paper":
            self.batch_schedule = list(PAPER_BATCH_SCHEDULE)
        elif isinstance(self.batch_schedule, str):
            self.batch_schedule = [to_int(s, "train.batch_schedule") for s in self.batch_schedule.split(",") if s.strip()]
        self.batch_schedule = [to_int(b, "train.batch_schedule") for b in (self.batch_schedule or [])]
        if any(b < 1 for b in self.batch_schedule):
            raise ConfigError(f"train.batch_schedule sizes must be ≥ 1, got {self.batch_schedule}")
        for name in ("epochs", "batch_size", "batch_schedule_every", "lr_step_epochs", "length_groups"):
            _check_positive(self, name)
        if self.num_threads is not None:
            _check_positive(self, "num_threads")
        if self.patience < 0:
            raise ConfigError(f"train.patience must be ≥ 0, got {self.patience}")
        _check_seed(self.seed, "train.seed")
        # finite and in range: a NaN or inf here trains garbage (or crashes inside torch) later
        _check_number(self.lr, "train.lr", 0.0, MAX_LR, low_open=True)
        _check_number(self.weight_decay, "train.weight_decay", 0.0, MAX_LR)
        _check_number(self.min_delta, "train.min_delta", 0.0, math.inf)
        _check_number(self.lr_gamma, "train.lr_gamma", 0.0, MAX_LR, low_open=True)
        if self.warmup_epochs < 0:
            raise ConfigError(f"train.warmup_epochs must be ≥ 0, got {self.warmup_epochs}")
        _check_choice(self.lr_schedule, LR_SCHEDULES, "train.lr_schedule")
        _check_choice(self.augment, ("none", "rotate"), "train.augment")
        _check_choice(self.device, DEVICES, "train.device")
        _check_choice(self.amp_dtype, AMP_DTYPES, "train.amp_dtype")

    def batch_size_at(self, epoch: int) -> int:
        """Global batch size of epoch `epoch` (0-based)."""
        if not self.batch_schedule:
            return self.batch_size
        stage = min(epoch // self.batch_schedule_every, len(self.batch_schedule) - 1)
        return self.batch_schedule[stage]

    def lr_at(self, epoch: int) -> float:
        """Learning rate of epoch `epoch` (0-based): a pure function, so resuming needs no scheduler state."""
        import math

        warm = self.warmup_epochs
        if epoch < warm:
            return self.lr * (epoch + 1) / warm
        epoch -= warm
        if self.lr_schedule == "cosine":
            return self.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / max(self.epochs - warm, 1)))
        if self.lr_schedule == "step":
            return self.lr * self.lr_gamma ** (epoch // self.lr_step_epochs)
        return self.lr


@dataclass
class RunConfig:
    """Everything `saltjet.training.loop.train` needs: the model, its data and how to train it.

    Attributes:
        model: registered model name (salt, linformer, transformer).
        model_options: options of the model's typed config, except n_particles, n_features and
            n_classes, which come from the data.
    """

    model: str = "salt"
    model_options: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self):
        if not isinstance(self.model_options, dict):
            raise ConfigError(f"model_options must be a mapping, got {self.model_options!r}")
        from_data = sorted({"n_particles", "n_features", "n_classes", "features"} & set(self.model_options))
        if from_data:
            raise ConfigError(f"model option(s) {', '.join(from_data)} come from the data; set data.n_particles or data.features instead")

    def to_dict(self) -> dict:
        """Plain nested dict (YAML/JSON-safe)."""
        return {"model": self.model, "model_options": _plain(self.model_options),
                "data": dataclasses.asdict(self.data), "train": dataclasses.asdict(self.train)}

    @classmethod
    def from_dict(cls, d: dict | None) -> "RunConfig":
        """Build from a nested dict; unknown sections or keys and wrong types raise `ConfigError`."""
        d = dict(d or {})
        unknown = sorted(set(d) - {"model", "model_options", "data", "train"})
        if unknown:
            raise ConfigError(f"unknown config section(s): {', '.join(unknown)}; known: model, model_options, data, train")
        model = d.get("model", "salt")
        if not isinstance(model, str):
            raise ConfigError(f"model must be a name, got {model!r}")
        return cls(model=model, model_options=dict(d.get("model_options") or {}),
                   data=build_dataclass(DataConfig, d.get("data"), "data"),
                   train=build_dataclass(TrainConfig, d.get("train"), "train"))

    def validate_model(self) -> None:
        """Check model name and options against the registry (ConfigError if wrong)."""
        from saltjet.models import model_config

        try:
            model_config(self.model, **self.model_options)
        except (TypeError, ValueError) as e:  # a model config that does not check its own types
            if isinstance(e, ConfigError):
                raise
            culprit = next((k for k, v in self.model_options.items() if not _model_option_ok(self.model, k, v)), None)
            what = f"model.{culprit} = {self.model_options[culprit]!r}" if culprit else f"model option for {self.model!r}"
            raise ConfigError(f"bad {what}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def _as_str_list(value, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, Path)):
        return [str(value)]
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{name} must be a path or a list of paths, got {value!r}")
    return [str(v) for v in value]


def _check_positive(obj, name: str) -> None:
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive whole number, got {value!r}")


def _model_option_ok(model: str, key: str, value) -> bool:
    from saltjet.models import model_config

    try:
        model_config(model, **{key: value})
    except (TypeError, ValueError):
        return False
    return True


def _check_number(value: float, name: str, low: float, high: float, low_open: bool = False) -> None:
    """A finite float in [low, high] ((low, high] with `low_open`), else a one-line ConfigError."""
    span = f"{'(' if low_open else '['}{low:g}, {high:g}]" if math.isfinite(high) else f"{'>' if low_open else '≥'} {low:g}"
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or value < low or (low_open and value == low) or value > high):
        raise ConfigError(f"{name} must be a finite number {'in ' if math.isfinite(high) else ''}{span}, got {value!r}")


def _check_seed(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise ConfigError(f"{name} must be a whole number in [0, 2^63 - 1], got {value!r}")


def _check_choice(value: str, choices: tuple[str, ...], name: str) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
