"""Quantisation-aware fine-tuning of a float SAL-T run into a quantised run (QRUN), and its data.

    float run + files -> the run's own split (task, train/val/test fractions, seed from config.yaml)
                      -> the run's pipeline (sort, pad to n, features): x (N, n, F), mask, y
    QSALT.from_float  -> calibrate integer bits on training jets (ranges over real entries)
                      -> fractional bits set so each tensor starts at `init_bits` wide
    fine-tune         -> loss = cross-entropy + ebops_weight · EBOPs; Adam on weights and bits
                         (integer bits re-fitted each epoch from the ranges seen in training)
    QRUN              -> quant_spec.json, quant_weights.npz (`QuantSpec`), qat.jsonl (per epoch)
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from saltjet.config import DataConfig, RunConfig
from saltjet.data.pipeline import InputSpec, load_particles, split_for_run
from saltjet.errors import ConfigError, DataError
from saltjet.models import model_config
from saltjet.training.run import load_run, make_dir, write_jsonl
from saltjet.trigger.qsalt import QSALT, check_exact
from saltjet.trigger.spec import QuantSpec

QAT_LOG = "qat.jsonl"


@dataclass
class QATOptions:
    """Fine-tuning options (every one is a `saltjet quantize` flag).

    Attributes:
        epochs: passes over the training jets. jets: training jets used (None: the whole train split).
        val_jets: validation jets scored after each epoch. batch_size: jets per step.
        lr: Adam learning rate of the weights. lr_bits: of the fractional bits.
        ebops_weight: weight of the EBOPs penalty in the loss. init_bits: starting width of every tensor.
        calib_jets: training jets used to calibrate the integer bits. seed: shuffling.
        rounding: of activations, "TRN" (truncate: cheapest in hardware) or "RND" (round to nearest).
        settle_epochs: last epochs that train weights only, with the types frozen.
        max_loss: accuracy points below the float run that the chosen epoch may lose (see fine_tune).
    """

    epochs: int = 3
    jets: int | None = 20000
    val_jets: int = 4000
    batch_size: int = 256
    lr: float = 3e-4
    lr_bits: float = 0.02
    ebops_weight: float = 1e-8
    init_bits: int = 10
    calib_jets: int = 2000
    seed: int = 0
    rounding: str = "TRN"
    settle_epochs: int = 1
    max_loss: float = 1.0

    def __post_init__(self):
        for name in ("lr", "lr_bits"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 < value <= 1):
                raise ConfigError(f"--{name.replace('_', '-')} must be in (0, 1], got {value}")
        if not (math.isfinite(self.ebops_weight) and self.ebops_weight >= 0):
            raise ConfigError(f"--ebops-weight must be a finite number ≥ 0, got {self.ebops_weight}")
        if not 2 <= self.init_bits <= 16:
            raise ConfigError(f"--init-bits must be in 2..16, got {self.init_bits}")
        if self.rounding not in ("TRN", "RND"):
            raise ConfigError(f"--rounding must be TRN or RND, got {self.rounding!r}")
        if self.settle_epochs < 0 or not (math.isfinite(self.max_loss) and self.max_loss >= 0):
            raise ConfigError("--settle-epochs and --max-loss must be ≥ 0")
        if self.epochs < 0:
            raise ConfigError(f"--epochs must be ≥ 0, got {self.epochs}")


@dataclass
class Split:
    """One prepared part: x (N, n, F) float32 features, mask (N, n) bool, y (N,) int64."""

    x: torch.Tensor
    mask: torch.Tensor
    y: torch.Tensor

    def head(self, count: int | None) -> "Split":
        return self if count is None else Split(self.x[:count], self.mask[:count], self.y[:count])


def run_splits(info, n_particles: int, paths, quiet: bool = True) -> dict[str, Split]:
    """The run's train / val / test parts of `paths`, prepared as in training (relabel, sort, pad,
    features). `info`: RunInfo (config.yaml) of the float run."""
    spec_in = InputSpec.from_run(info, n_particles)
    rc = info.extra.get("run_config")
    data_cfg = RunConfig.from_dict(rc).data if rc else DataConfig(task=spec_in.task)
    data = load_particles(list(paths), data_cfg.format, None, spec_in.features, quiet, data_cfg.on_nonfinite)
    if data.kind != "jets":
        raise DataError("saltjet quantize and emulate take jets")
    parts = split_for_run(data_cfg, data)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # truncation to n is what training did too
        for name in ("train", "val", "test"):
            part = getattr(parts, name)
            if list(part.class_names) != list(info.class_names):
                raise DataError(f"the data's classes {part.class_names} differ from the run's {info.class_names}")
            if len(part) == 0:
                out[name] = Split(torch.zeros(0, n_particles, len(spec_in.features)), torch.zeros(0, n_particles, dtype=torch.bool),
                                  torch.zeros(0, dtype=torch.int64))
                continue
            prepared, _ = spec_in.prepare(part)
            out[name] = Split(torch.from_numpy(np.ascontiguousarray(prepared.x, dtype=np.float32)),
                              torch.from_numpy(np.ascontiguousarray(prepared.mask)),
                              torch.from_numpy(np.asarray(prepared.y, dtype=np.int64)))
    return out


def predictions(logits: torch.Tensor | np.ndarray) -> np.ndarray:
    """(N, out) logits -> (N,) predicted class (one logit: class 1 where > 0)."""
    logits = np.asarray(logits)
    return (logits[:, 0] > 0).astype(np.int64) if logits.shape[1] == 1 else logits.argmax(axis=1)


@torch.no_grad()
def logits_of(model: torch.nn.Module, split: Split, batch: int = 512) -> np.ndarray:
    """Logits of a float or QAT model (its current mode) over a split, (N, out) float64."""
    out = [model(split.x[i:i + batch], split.mask[i:i + batch]).double() for i in range(0, len(split.y), batch)]
    return torch.cat(out).numpy() if out else np.zeros((0, 1))


def accuracy(logits, y) -> float:
    return float((predictions(logits) == np.asarray(y)).mean()) if len(y) else float("nan")


@torch.no_grad()
def calibrate(qm: QSALT, split: Split, init_bits: int) -> None:
    """Integer bits of every tensor from its range over real entries of `split` (float pass-through),
    then fractional bits so that each tensor is `init_bits` wide."""
    qm.eval()
    qm.set_mode(True)
    for q in qm.quants.values():
        q.reset_seen()
    logits_of(qm, split)
    for q in qm.quants.values():
        q.set_range_from_seen()
        k = torch.tensor([float(s) for s in q.signed], dtype=torch.float64)
        i = torch.tensor([float(v) for v in q.integer], dtype=torch.float64)
        f = init_bits - k - i
        q.f.copy_(f if q.channels else f[0])
    qm.set_mode(False)


def loss_of(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if logits.shape[1] == 1:
        return torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], y.to(logits.dtype))
    return torch.nn.functional.cross_entropy(logits, y)


def fine_tune(qm: QSALT, train: Split, val: Split, opts: QATOptions, log=print,
              float_accuracy: float | None = None) -> tuple[QSALT, list[dict]]:
    """QAT epochs (see the module docstring). The last `settle_epochs` train the weights with the types
    frozen (no penalty, no range re-fit). Returns (the chosen epoch's model in eval mode, one record
    per epoch, epoch 0 = after calibration): the fewest EBOPs among epochs within `max_loss` points of
    `float_accuracy` on the validation jets, else the most accurate epoch."""
    bits = [q.f for q in qm.quants.values()]
    weights = [p for p in qm.weights.parameters()]
    optim = torch.optim.Adam([{"params": weights, "lr": opts.lr}, {"params": bits, "lr": opts.lr_bits}])
    gen = torch.Generator().manual_seed(opts.seed)
    records = [epoch_record(qm, val, 0, float("nan"), 0.0)]
    snapshots = [copy.deepcopy(qm)]
    log(format_record(records[-1]))
    for epoch in range(1, opts.epochs + 1):
        start, settle = time.time(), epoch > opts.epochs - opts.settle_epochs
        optim.param_groups[1]["lr"] = 0.0 if settle else opts.lr_bits
        qm.train()
        for q in qm.quants.values():
            q.reset_seen()
        order = torch.randperm(len(train.y), generator=gen)
        total, seen = 0.0, 0
        for i in range(0, len(order), opts.batch_size):
            idx = order[i:i + opts.batch_size]
            loss = loss_of(qm(train.x[idx], train.mask[idx]), train.y[idx])
            full = loss if settle else loss + opts.ebops_weight * qm.ebops()
            optim.zero_grad(set_to_none=True)
            full.backward()
            optim.step()
            total, seen = total + float(loss.detach()) * len(idx), seen + len(idx)
        if not math.isfinite(total):
            raise DataError("quantisation-aware training diverged (non-finite loss); lower --lr or --ebops-weight")
        if not settle:
            with torch.no_grad():
                for q in qm.quants.values():
                    q.set_range_from_seen()
        records.append(epoch_record(qm, val, epoch, total / max(seen, 1), time.time() - start))
        records[-1]["bits_frozen"] = settle
        snapshots.append(copy.deepcopy(qm))
        log(format_record(records[-1]))
    eligible = [] if float_accuracy is None else [r for r in records
                                                  if float_accuracy - r["val_accuracy"] <= opts.max_loss / 100]
    if float_accuracy is None:
        chosen = records[-1]
    elif eligible:
        chosen = min(eligible, key=lambda r: r["ebops"])
    else:
        chosen = max(records, key=lambda r: (r["val_accuracy"], -r["epoch"]))
    for r in records:
        r["chosen"] = r is chosen
    return snapshots[chosen["epoch"]].eval(), records


def epoch_record(qm: QSALT, val: Split, epoch: int, loss: float, seconds: float) -> dict:
    qm.eval()
    with torch.no_grad():
        ebops = float(qm.ebops())
    return {"epoch": epoch, "train_loss": loss, "val_accuracy": accuracy(logits_of(qm, val), val.y),
            "ebops": ebops, "mean_bits": qm.mean_bits(), "seconds": seconds}


def format_record(r: dict) -> str:
    loss = "   -  " if not math.isfinite(r["train_loss"]) else f"{r['train_loss']:.4f}"
    return (f"epoch {r['epoch']:>2}  train loss {loss}  val acc {100 * r['val_accuracy']:.2f} %  "
            f"EBOPs {r['ebops']:,.0f}  mean bits {r['mean_bits']:.2f}  ({r['seconds']:.0f} s)")


def quantize_run(run_dir: str | Path, paths, out: str | Path, opts: QATOptions, log=print) -> tuple[QuantSpec, dict]:
    """Fine-tune the float SAL-T of `run_dir` on `paths` and write the quantised run to `out`.
    Returns (spec, summary: float and QAT validation accuracy, EBOPs, bits)."""
    torch.manual_seed(opts.seed)
    model, info = load_run(run_dir)
    qm = QSALT.from_float(model, opts.init_bits, opts.rounding)
    splits = run_splits(info, model.config.n_particles, paths)
    train, val = splits["train"].head(opts.jets), splits["val"].head(opts.val_jets)
    if len(train.y) == 0 or len(val.y) == 0:
        raise DataError("no training or validation jets in the run's split of this data")
    float_acc = accuracy(logits_of(model, val), val.y)
    log(f"float run {run_dir}: val acc {100 * float_acc:.2f} % on {len(val.y):,} jets; fine-tuning on {len(train.y):,} jets")
    make_dir(out)  # fail before the work when the folder cannot be written
    calibrate(qm, train.head(opts.calib_jets), opts.init_bits)
    qm, records = fine_tune(qm, train, val, opts, log, float_acc)
    chosen = next(r for r in records if r["chosen"])
    summary = {"float_val_accuracy": float_acc, "qat_val_accuracy": chosen["val_accuracy"], "epoch": chosen["epoch"],
               "ebops": chosen["ebops"], "mean_bits": chosen["mean_bits"], "val_jets": len(val.y),
               "train_jets": len(train.y)}
    source = {"float_run": str(Path(run_dir).resolve()), "run_info": info.to_dict(), "data": [str(p) for p in paths],
              "options": asdict(opts), "summary": summary}
    spec = qm.to_spec(info.class_names, info.feature_names, info.sort_by, source)
    check_exact(spec)
    spec.save(out)
    write_jsonl(Path(out) / QAT_LOG, records)
    return spec, summary


def qsalt_from_spec(spec: QuantSpec) -> QSALT:
    """The QAT model (eval mode) of a quantised run: weights and types as the spec holds them, so it
    gives the emulator's logits bit for bit."""
    config = model_config("salt", **spec.config)
    params = {k: torch.from_numpy(np.array(v, dtype=np.float64)) for k, v in spec.weights.items()}
    for name, fn in spec.luts.items():
        if fn.kind == "dyt":
            layer, norm = name.split("_")[0], name.rsplit("_", 1)[1][1]
            params[f"{layer}_dyt{norm}_alpha"] = torch.tensor(fn.alpha, dtype=torch.float64)
            params[f"{layer}_dyt{norm}_beta"] = torch.tensor(fn.beta, dtype=torch.float64)
    qm = QSALT(config, params)
    with torch.no_grad():
        for name, q in qm.quants.items():
            types = spec.type_of(name)
            types = types if isinstance(types, list) else [types]
            q.signed, q.integer = [t.signed for t in types], [t.integer for t in types]
            q.rounding, q.overflow = types[0].rounding, types[0].overflow
            f = torch.tensor([float(t.fraction) for t in types], dtype=torch.float64)
            q.f.copy_(f if q.channels else f[0])
    return qm.eval()
