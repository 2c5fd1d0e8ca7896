"""From `ParticleData` to training batches: sort, truncate/pad, split, fit the normaliser, batch.

    files -> saltjet.data.load (the physical columns the features need: `reader_features`)
    ParticleData (physical, file order)
      -> task relabelling (`DataConfig.task`, saltjet.data.tasks.relabel), before any split
      -> drop jets with no particles (counted warning)
      -> sort (kT by default; radius for point clouds), padding last
      -> truncate / zero-pad to n slots, build the input features from the physical columns
         (`saltjet.data.features.build_features`: raw, log, hls4ml or a list of names)
      -> train / validation (/ test) split, stratified by class, seeded
      -> robust scaling fitted on the TRAIN set's real particles -> model.scaler (not applied here:
         the model scales inside forward, so saved runs and ONNX exports take physical features)
      -> JetTensors: contiguous (N, n, F) / (N, n) / (N,) tensors, prepared once per split
      -> batches drawn by index with a seeded permutation per epoch (`saltjet.data.batches`),
         sharded into disjoint slices per process under torchrun.

Everything is vectorised numpy/torch on whole arrays: no per-jet Python and no per-item
Dataset.__getitem__ (which costs more than a SAL-T step on 10^5-10^6 tiny jets).

A run folder alone says how to rebuild its inputs (`InputSpec.from_run`): train, evaluate,
predict, export, the demo and the studies all go through `prepare` with it.

Memory: the prepared training set lives in memory (CPU, or GPU when it fits): n·F·4 + n bytes
per jet, e.g. 1.9 kB at n=150, F=3, so 10^6 jets take 1.9 GB. Readers load the files first; for
data that does not fit, `DataConfig.max_jets` reads a prefix of the files.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from saltjet.data.features import CORE, build_features, input_columns, physical_inputs, reader_extras
from saltjet.data.normalization import fit_robust_scaling
from saltjet.data.particles import ParticleData
from saltjet.data.sorting import SORT_KEYS, sort_particles
from saltjet.data.tasks import infer_task, relabel
from saltjet.errors import ConfigError, DataError

POINT_SORT_DEFAULT = "radius"


@dataclass
class JetTensors:
    """One prepared split as contiguous tensors.

    Attributes:
        x: (N, n, F) float32 physical features, sorted, padding last (zeros).
        mask: (N, n) bool, True = real particle.
        y: (N,) int64 labels.
    """

    x: torch.Tensor
    mask: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    @property
    def lengths(self) -> torch.Tensor:
        """(N,) int64 real particles per jet."""
        return self.mask.sum(dim=1)

    @classmethod
    def from_data(cls, data: ParticleData) -> "JetTensors":
        return cls(torch.from_numpy(np.ascontiguousarray(data.x, dtype=np.float32)),
                   torch.from_numpy(np.ascontiguousarray(data.mask)),
                   torch.from_numpy(np.ascontiguousarray(data.y, dtype=np.int64)))

    def to(self, device: torch.device | str, pin: bool = False) -> "JetTensors":
        """Copy to `device` (pinned host memory first when `pin`, for fast non-blocking copies)."""
        tensors = [self.x, self.mask, self.y]
        if pin:
            tensors = [t.pin_memory() for t in tensors]
        return JetTensors(*(t.to(device) for t in tensors))

    def batch(self, index: torch.Tensor, device: torch.device | str | None = None):
        """(x (B, n, F), mask (B, n), y (B,)) of the jets at `index` (B,), moved to `device`."""
        out = (self.x[index], self.mask[index], self.y[index])
        if device is not None and out[0].device != torch.device(device):
            out = tuple(t.to(device, non_blocking=True) for t in out)
        return out


@dataclass
class PrepareStats:
    """What `prepare` did: jets in, jets dropped for having no particles, jets truncated."""

    n_in: int = 0
    n_empty: int = 0
    n_truncated: int = 0


@dataclass
class PreparedSplits:
    """Output of `build_splits`: the tensors and everything a run directory records about them."""

    train: JetTensors
    val: JetTensors
    center: np.ndarray  # (F,)
    scale: np.ndarray  # (F,)
    class_names: list[str]
    feature_names: list[str]
    sort_by: str
    kind: str
    stats: dict = field(default_factory=dict)

    @property
    def n_particles(self) -> int:
        return self.train.x.shape[1]

    @property
    def n_features(self) -> int:
        return self.train.x.shape[2]


def resolve_sort_key(kind: str, sort_by: str) -> str:
    """"auto" -> "kt" for jets, "radius" for point clouds; checks the key fits the data kind."""
    if kind == "pointcloud":
        from saltjet.data.pointcloud_sorting import POINT_SORT_KEYS

        key = POINT_SORT_DEFAULT if sort_by == "auto" else sort_by
        if key not in POINT_SORT_KEYS:
            raise ConfigError(f"sort key {key!r} does not apply to point clouds; choose from auto, {', '.join(POINT_SORT_KEYS)}")
        return key
    key = "kt" if sort_by == "auto" else sort_by
    if key not in SORT_KEYS:
        raise ConfigError(f"unknown sort key {key!r} for jets; choose from auto, {', '.join(SORT_KEYS)}")
    return key


def resolve_features(data: ParticleData, features: list[str] | None) -> list[str]:
    """The input feature names of a run on `data` (None: pt, eta_rel, phi_rel for jets, every
    column for point clouds)."""
    if features is not None:
        return list(features)
    return list(data.feature_names) if data.kind == "pointcloud" else list(CORE)


def sort_permutation(data: ParticleData, sort_by: str, seed: int = 0) -> np.ndarray:
    """(N, n) per-jet permutation, padding last, by the physical key `sort_by` (already resolved)."""
    if data.kind == "pointcloud":
        from saltjet.data.pointcloud_sorting import sort_points

        return sort_points(data.x[..., :3], data.mask, by=sort_by, rng=seed)
    if data.x.shape[2] < 3:
        raise DataError(f"jets need pT, Δη, Δφ columns to be sorted; the data has {data.x.shape[2]} feature(s)")
    i_pt, i_eta, i_phi = input_columns(data, CORE)
    return sort_particles(data.x[..., i_pt], data.x[..., i_eta], data.x[..., i_phi], data.mask, by=sort_by, rng=seed)


def prepare(data: ParticleData, n_particles: int, sort_by: str = "auto", features: list[str] | None = None,
            seed: int = 0) -> tuple[ParticleData, PrepareStats]:
    """Drop empty jets, sort, truncate/pad to `n_particles` and build the input features.

    Args:
        data: physical particles in file order, x (N, m, F_all).
        n_particles: output slots n (sorted jets keep their first n particles).
        sort_by: "auto" or a sort key (see `resolve_sort_key`).
        features: feature names to build (None: see `resolve_features`); derived ones are computed
            from the n kept particles, so the ONNX graph (which sees those n) computes the same.
        seed: seed of the "random" sort key.
    Returns:
        (ParticleData with x (N', n, F), mask (N', n) padding last, y (N',)), PrepareStats.
    """
    key = resolve_sort_key(data.kind, sort_by)
    names = resolve_features(data, features)
    inputs = physical_inputs(names, data.kind)
    columns = input_columns(data, inputs)
    stats = PrepareStats(n_in=len(data))
    nonempty = data.mask.any(axis=1)
    stats.n_empty = int((~nonempty).sum())
    if stats.n_empty:
        warnings.warn(f"dropped {stats.n_empty} of {len(data)} jets with no particles", stacklevel=2)
        data = data.subset(nonempty)
    if len(data) == 0:
        raise DataError("no jets with particles left to train on")
    stats.n_truncated = int((data.mask.sum(axis=1) > n_particles).sum())
    if stats.n_truncated:
        warnings.warn(f"truncated {stats.n_truncated} of {len(data)} jets to their first {n_particles} "
                      f"particles in {key} order", stacklevel=2)
    perm = sort_permutation(data, key, seed)[:, :n_particles]
    x = _gather_rows(data.x[..., columns], perm)
    mask = np.take_along_axis(data.mask, perm, axis=1)
    if x.shape[1] < n_particles:
        pad = n_particles - x.shape[1]
        x = np.pad(x, ((0, 0), (0, pad), (0, 0)))
        mask = np.pad(mask, ((0, 0), (0, pad)))
    x = build_features(x, mask, inputs, names)  # padded slots hold zeros, whatever the file had there
    out = ParticleData(x, mask, data.y, data.class_names, names, data.kind, data.source)
    return out, stats


@dataclass
class InputSpec:
    """How a run turns physical particles into model inputs; rebuilt from a run folder alone.

    Attributes:
        n_particles: slots n. features: the F input feature names. sort_by: resolved sort key.
        task: relabelling task (None: the data's own classes). kind: "jets" or "pointcloud".
        class_names: the run's classes, in logit order.
    """

    n_particles: int
    features: list[str]
    sort_by: str
    task: str | None = None
    kind: str = "jets"
    class_names: list[str] = field(default_factory=list)

    @property
    def inputs(self) -> list[str]:
        """The physical columns the features are built from (the ONNX graph's input columns)."""
        return physical_inputs(self.features, self.kind)

    @classmethod
    def from_run(cls, info, n_particles: int) -> "InputSpec":
        """From a `saltjet.training.run.RunInfo` (config.yaml). Folders written before the task was recorded
        get the task whose classes they have (e.g. QCD, t -> top_vs_qcd)."""
        data = (info.extra.get("run_config") or {}).get("data") or {}
        task = data.get("task") if "task" in data else infer_task(info.class_names)
        return cls(int(n_particles), list(info.feature_names), info.sort_by, task,
                   info.extra.get("data_kind", "jets"), list(info.class_names))

    def apply_task(self, data: ParticleData, seed: int = 0) -> ParticleData:
        """`data` relabelled to the run's task (unchanged when it already has the run's classes)."""
        if data.kind != "jets" or list(data.class_names) == self.class_names:
            return data
        return relabel(data, self.task, seed=seed)

    def prepare(self, data: ParticleData, seed: int = 0) -> tuple[ParticleData, PrepareStats]:
        """`prepare` with this run's slots, sort key and features (no relabelling)."""
        return prepare(data, self.n_particles, self.sort_by, self.features, seed)


def _gather_rows(x: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """x (N, m, F), perm (N, n) -> (N, n, F) with out[i, j] = x[i, perm[i, j]] (torch.gather: multi-threaded)."""
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    index = torch.from_numpy(perm).unsqueeze(-1).expand(-1, -1, x.shape[2])
    return torch.gather(xt, 1, index).numpy()


def split_indices(y: np.ndarray, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """Seeded split of jets into len(fractions)+1 disjoint parts, stratified by class.

    Args:
        y: (N,) labels. fractions: shares of the held-out parts (the first part gets the rest).
    Returns:
        [rest, part_1, ...]: sorted int64 index arrays. Within each class the held-out counts are
        rounded, so every part keeps the class proportions.
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(len(idx))]
        bounds = np.round(np.cumsum(fractions) * len(idx)).astype(int)
        start = 0
        for k, stop in enumerate(bounds, start=1):
            parts[k].append(idx[start:stop])
            start = stop
        parts[0].append(idx[start:])
    return [np.sort(np.concatenate(p)) if p else np.zeros(0, np.int64) for p in parts]


def split_data(data: ParticleData, val_fraction: float, test_fraction: float = 0.0,
               seed: int = 0) -> tuple[ParticleData, ParticleData, ParticleData]:
    """(train, val, test) of `data`; the test part is cut first, so it does not depend on val_fraction.

    The same (data, test_fraction, seed) always gives the same test jets.
    """
    rest, test = split_indices(data.y, (test_fraction,), seed)
    rest_data = data.subset(rest)
    train, val = split_indices(rest_data.y, (val_fraction,), seed + 1)
    return rest_data.subset(train), rest_data.subset(val), data.subset(test)


def reader_features(paths, format: str, features: list[str] | None) -> list[str] | None:
    """The extra columns to ask the reader of `paths` for, so that `features` can be built."""
    if not features or all(f in CORE for f in features):
        return None
    from saltjet.data.loading import resolve
    from saltjet.data.readers import get_reader

    fmt, _ = resolve(paths, format)
    reader = get_reader(fmt)
    if not hasattr(reader, "EXTRA_FEATURES"):  # e.g. point clouds: their columns are all there is
        return None
    return reader_extras(features, list(reader.EXTRA_FEATURES)) or None


def load_particles(paths: list[str], format: str = "auto", max_jets: int | None = None,
                   features: list[str] | None = None, quiet: bool = False,
                   on_nonfinite: str = "raise") -> ParticleData:
    """Read `paths` with `saltjet.data.load`: at most `max_jets` jets, all particle slots of the
    files (the pipeline sorts before it truncates), the physical columns `features` need, labels
    required, and jets with NaN/inf values refused or dropped (`on_nonfinite`)."""
    from saltjet.data.loading import load

    if not paths:
        raise ConfigError("no training data given (data.path / --data)")
    source = paths[0] if len(paths) == 1 else paths
    return load(source, format=format, max_jets=max_jets, features=reader_features(source, format, features),
                quiet=quiet, on_nonfinite=on_nonfinite)


@dataclass
class RunSplits:
    """The physical (unprepared) jets of a run's train / validation / test parts, task applied."""

    train: ParticleData
    val: ParticleData
    test: ParticleData


def split_for_run(cfg, data: ParticleData, val_data: ParticleData | None = None) -> RunSplits:
    """Relabel to `cfg.task` and cut train / validation / test: the one place that cuts them.

    Args:
        cfg: saltjet.config.DataConfig (task, val_fraction, test_fraction, seed).
        data: loaded jets. val_data: separate validation jets (then `data` gives train and test).
    """
    data.require_labels("training")  # before relabelling, which would leave unlabelled jets out
    if val_data is not None:
        val_data.require_labels("validation")
    if data.kind == "jets":
        data = relabel(data, cfg.task, seed=cfg.seed)
        if val_data is not None:
            val_data = relabel(val_data, cfg.task, seed=cfg.seed)
    if len(data) == 0:
        raise DataError("the training data holds no jets")
    if val_data is not None:
        if list(val_data.class_names) != list(data.class_names):
            raise DataError(f"validation classes {val_data.class_names} differ from training classes {data.class_names}")
        train, _, test = split_data(data, 0.0, cfg.test_fraction, cfg.seed)
        return RunSplits(train, val_data, test)
    return RunSplits(*split_data(data, cfg.val_fraction, cfg.test_fraction, cfg.seed))


def build_splits(cfg, data: ParticleData | None = None, val_data: ParticleData | None = None,
                 quiet: bool = False, splits: RunSplits | None = None) -> PreparedSplits:
    """Load (unless given), relabel, split and prepare the data of a `DataConfig`; fit the
    normaliser on train.

    Args:
        cfg: saltjet.config.DataConfig.
        data: already loaded training data (skips reading `cfg.path`).
        val_data: already loaded validation data (skips `cfg.val_data` and the validation split).
        splits: the parts already cut by `split_for_run(cfg, ...)` (skips loading and cutting).
    """
    if splits is None:
        if data is None:
            data = load_particles(cfg.path, cfg.format, cfg.max_jets, cfg.features, quiet, cfg.on_nonfinite)
        if val_data is None and cfg.val_data:
            val_data = load_particles(cfg.val_data, cfg.format, cfg.max_jets, cfg.features, quiet, cfg.on_nonfinite)
        splits = split_for_run(cfg, data, val_data)
    train, val = splits.train, splits.val
    key = resolve_sort_key(train.kind, cfg.sort_by)
    train_p, train_stats = prepare(train, cfg.n_particles, key, cfg.features, cfg.seed)
    val_p, val_stats = prepare(val, cfg.n_particles, key, cfg.features, cfg.seed + 1)
    if len(val_p) == 0:
        raise DataError("the validation split is empty; use more jets or a larger data.val_fraction")
    center, scale = fit_robust_scaling(train_p.x, train_p.mask, seed=cfg.seed)
    stats = {"n_train": len(train_p), "n_val": len(val_p), "n_empty_dropped": train_stats.n_empty + val_stats.n_empty,
             "n_truncated": train_stats.n_truncated + val_stats.n_truncated,
             "train_class_counts": np.bincount(train_p.y, minlength=len(train.class_names)).tolist()}
    return PreparedSplits(JetTensors.from_data(train_p), JetTensors.from_data(val_p), center, scale,
                          list(train.class_names), train_p.feature_names, key, train.kind, stats)
