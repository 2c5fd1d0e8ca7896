"""Training: `train(run_config, out_dir)` fits a registered tagger and writes a run directory.

Loss: cross-entropy over the logits (binary cross-entropy on the single logit of 2-class data).
Optimiser: Adam; the learning rate and batch size of each epoch are pure functions of the epoch
(`TrainConfig.lr_at`, `batch_size_at`), and the shuffling and dropout streams are reseeded at each
epoch from (seed, epoch). A checkpoint therefore needs only weights, optimizer state and counters:
resuming from the end of epoch k gives the same weights as a run that was never interrupted (on
CPU; CUDA kernels may differ in the last bits). Killing a run mid-epoch loses at most that epoch.

Under `torchrun --nproc_per_node=K` the same function trains with DistributedDataParallel: every
process takes a disjoint slice of each epoch's permutation, losses and validation predictions are
combined over processes, and rank 0 alone logs and writes files.
"""

from __future__ import annotations

import math
import platform
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from saltjet.training import distributed, run
from saltjet.training import log as training_log
from saltjet.config import RunConfig
from saltjet.data.particles import ParticleData
from saltjet.data.batches import epoch_seed, eval_shard
from saltjet.data.pipeline import JetTensors, PreparedSplits, RunSplits, build_splits
from saltjet.errors import ConfigError, DataError, TrainingError
from saltjet.models import count_parameters, create_model, model_config
from saltjet.training.augment import augment_columns
from saltjet.training.epoch import train_epoch
from saltjet.training.objective import loss_fn, macro_auc, predictions, probabilities

EVAL_BATCH = 1024
# Options that may change between an interrupted run and its resumption.
RESUMABLE_CHANGES = {"epochs", "patience", "quiet", "device", "num_threads", "amp", "amp_dtype", "length_groups"}


@dataclass
class EarlyStopping:
    """Validation-loss bookkeeping: best value, its epoch and epochs since it improved."""

    patience: int
    min_delta: float = 0.0
    best_loss: float = math.inf
    best_epoch: int = -1
    bad_epochs: int = 0

    def update(self, loss: float, epoch: int) -> bool:
        """Record epoch `epoch`'s loss; True when it is the new best."""
        if loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.bad_epochs = loss, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.bad_epochs >= self.patience


@dataclass
class TrainState:
    """What a checkpoint's JSON part holds besides the tensors."""

    next_epoch: int = 0
    history: list[dict] = field(default_factory=list)

    @property
    def wall_offset(self) -> float:
        """Training seconds spent before this call (sessions before a resume)."""
        return self.history[-1]["wall_seconds"] if self.history else 0.0


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def train(config: RunConfig, out_dir: str | Path, resume: bool = False, *, data: ParticleData | None = None,
          val_data: ParticleData | None = None, stop_after: int | None = None,
          log: Callable[[str], None] | None = None, splits: RunSplits | None = None) -> dict:
    """Train `config.model` on `config.data` and write the run directory `out_dir`.

    Args:
        config: the resolved RunConfig.
        out_dir: run directory (created; must not hold another run unless `resume`).
        resume: continue the run in `out_dir` from its last finished epoch (a fresh start if it has
            none). Only options in RESUMABLE_CHANGES may differ from the stored config.
        data / val_data: already loaded ParticleData instead of reading `config.data.path` / `val_data`.
        splits: the parts `saltjet.data.pipeline.split_for_run(config.data, data)` already cut (e.g.
            by a study that also needs the test part), instead of loading and cutting here.
        stop_after: end this call after that many epochs (the run stays resumable), e.g. for
            batch slots shorter than the whole training.
        log: receives the per-epoch lines (default: print to stdout; nothing when quiet).
    Returns:
        summary dict (also written to RUN_DIR/summary.json): best epoch and its validation loss,
        accuracy and AUC, epochs run, whether it stopped early, jets/s, parameters, paths.
    """
    config.validate_model()
    from saltjet.extras import check_extras

    check_extras("train", purpose="training (the validation AUC)")  # before the first epoch, not after it
    ctx = distributed.setup(config.train.device)
    threads = torch.get_num_threads()
    try:
        if config.train.num_threads:
            torch.set_num_threads(config.train.num_threads)
        return _train(config, Path(out_dir), resume, ctx, data, val_data, stop_after, log, splits)
    finally:
        training_log.close(out_dir)
        torch.set_num_threads(threads)
        distributed.cleanup(ctx)


def _train(config, out, resume, ctx, data, val_data, stop_after, log, run_splits=None) -> dict:
    tc = config.train
    quiet = tc.quiet or not ctx.is_main
    say = (lambda s: None) if quiet else (log or print)
    state_path = out / run.STATE_FILE
    stored = _check_out_dir(out, config, resume)
    distributed.barrier(ctx)  # every process has looked at `out` before rank 0 writes into it
    seed_everything(tc.seed)
    t_start = time.perf_counter()
    splits = build_splits(config.data, data, val_data, quiet=quiet, splits=run_splits)
    _check_classes(splits, say)
    from_data = {"n_particles": splits.n_particles, "n_features": splits.n_features,
                 "n_classes": len(splits.class_names)}
    if hasattr(model_config(config.model), "features"):  # part reads its inputs by name (4-vectors)
        from_data["features"] = list(splits.feature_names)
    model_cfg = model_config(config.model, **from_data, **config.model_options)
    torch.manual_seed(tc.seed)
    model = create_model(config.model, model_cfg)
    model.scaler.set(splits.center, splits.scale)
    model.to(ctx.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    stopper = EarlyStopping(tc.patience, tc.min_delta)
    state, best_weights = TrainState(), _cpu_state(model)
    if stored is not None:
        state, best_weights = _restore(stored, model, optimizer, stopper)
        say(f"resuming {out} after epoch {state.next_epoch}")
    info = _run_info(config, model, splits, ctx)
    if ctx.is_main and stored is None:
        # a fresh run directory says what it holds from the start; weights come with the first improvement
        run.save_info(out, info)
    net = model
    if ctx.distributed:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None, broadcast_buffers=False)
    train_set, val_set = _place(splits.train, ctx.device), _place(splits.val, ctx.device)
    augment = augment_columns(splits.feature_names, tc.augment)  # before any epoch: a bad choice fails fast
    autocast = _autocast(tc, ctx.device)
    scaler = torch.amp.GradScaler("cuda") if autocast is not nullcontext and tc.amp_dtype == "fp16" else None
    say(f"training {config.model} ({count_parameters(model):,} parameters) on {splits.stats['n_train']:,} jets, "
        f"validating on {splits.stats['n_val']:,}; {len(splits.class_names)} classes, n={splits.n_particles}, "
        f"sort {splits.sort_by}, device {ctx.device}" + (f" × {ctx.world_size} processes" if ctx.distributed else ""))

    epochs_this_call = 0
    epoch = state.next_epoch
    wall_offset = state.wall_offset
    while epoch < tc.epochs and not stopper.should_stop and (stop_after is None or epochs_this_call < stop_after):
        lr, batch_size = tc.lr_at(epoch), tc.batch_size_at(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        torch.manual_seed(epoch_seed(tc.seed, epoch) + ctx.rank)  # dropout stream of this epoch
        t0 = time.perf_counter()
        tr = train_epoch(net, optimizer, scaler, autocast, train_set, batch_size, tc.seed, epoch, ctx, quiet,
                         f"epoch {epoch + 1}/{tc.epochs}", tc.length_groups, augment)
        val = _validate(model, val_set, autocast, ctx)
        _check_finite(tr.loss, val["val_loss"], epoch, lr, out, state.next_epoch)
        improved = stopper.update(val["val_loss"], epoch)
        if improved:
            best_weights = _cpu_state(model)
        record = {"epoch": epoch + 1, "train_loss": tr.loss, "train_accuracy": tr.accuracy, **val, "lr": lr,
                  "batch_size": batch_size, "jets_per_s": tr.jets / tr.seconds if tr.seconds else None,
                  "data_time_share": tr.data_seconds / tr.seconds if tr.seconds else None,
                  "epoch_seconds": time.perf_counter() - t0, "wall_seconds": wall_offset + time.perf_counter() - t_start,
                  "best": improved}
        state.history.append(record)
        state.next_epoch = epoch + 1
        if ctx.is_main:
            _save_epoch(out, model, optimizer, best_weights, stopper, state, config, improved, info)
        auc = "n/a" if val["val_auc"] is None else f"{val['val_auc']:.4f}"
        say(f"epoch {epoch + 1:>3}/{tc.epochs}  train loss {tr.loss:.4f} acc {tr.accuracy:.4f}  "
            f"val loss {val['val_loss']:.4f} acc {val['val_accuracy']:.4f} auc {auc}  lr {lr:.2e}  "
            f"batch {batch_size}  {record['jets_per_s']:,.0f} jets/s" + ("  *" if improved else ""))
        epoch += 1
        epochs_this_call += 1

    finished = epoch >= tc.epochs or stopper.should_stop
    if finished and stopper.best_epoch < 0:
        raise TrainingError(f"no epoch lowered the validation loss below inf by more than train.min_delta = "
                            f"{tc.min_delta:g}, so there is no best model to save in {out}")
    ranks_agree = _ranks_agree(model, ctx)
    summary = _summary(out, config, model, splits, stopper, state, finished, ranks_agree, ctx)
    if ctx.is_main and finished:
        model.load_state_dict(best_weights)
        run.save_model(out, model, info)
        run.write_jsonl(out / run.METRICS_FILE, state.history)
        training_log.write_csv(out, state.history)
        run.write_json(out / run.SUMMARY_FILE, summary)
        say(f"best epoch {stopper.best_epoch + 1}: val loss {stopper.best_loss:.4f}"
            + (" (stopped early)" if stopper.should_stop and epoch < tc.epochs else "") + f"; run written to {out}")
    elif ctx.is_main:
        say(f"stopped after epoch {epoch}; continue with --resume (state in {state_path})")
    distributed.barrier(ctx)
    return summary


@torch.no_grad()
def predict_logits(model, data: JetTensors, index: torch.Tensor, device, autocast=nullcontext,
                   batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """Logits (len(index), out) on CPU float32 for the jets at `index`, in eval mode.

    Jets run in multiplicity order, so each batch drops its all-padding slots (the model trims
    them); the logits come back in the order of `index`.
    """
    model.eval()
    by_length = torch.argsort(data.lengths[index.to(data.lengths.device)].cpu(), stable=True)
    out = []
    for chunk in torch.split(index[by_length], batch_size):
        x, mask, _ = data.batch(chunk, device)
        with autocast():
            out.append(model(x, mask).float().cpu())
    if not out:
        return torch.zeros(0, 1)
    logits = torch.cat(out)
    return logits[torch.argsort(by_length)]


def _validate(model, data: JetTensors, autocast, ctx) -> dict:
    index = eval_shard(len(data), ctx.rank, ctx.world_size)
    logits = predict_logits(model, data, index, ctx.device, autocast).numpy()
    y = data.y[index].cpu().numpy()
    logits, y = distributed.all_gather_arrays(ctx, logits, y)
    t_logits, t_y = torch.from_numpy(logits), torch.from_numpy(y)
    return {"val_loss": float(loss_fn(t_logits, t_y)),
            "val_accuracy": float((predictions(t_logits) == t_y).double().mean()),
            "val_auc": macro_auc(probabilities(logits), y)}


def _check_classes(splits: PreparedSplits, say) -> None:
    """DataError for training data of one class; a warning naming the classes without training jets."""
    counts = np.bincount(splits.train.y.cpu().numpy(), minlength=len(splits.class_names))
    present = int((counts > 0).sum())
    if present < 2:
        only = splits.class_names[int(counts.argmax())] if counts.sum() else "none"
        raise DataError(f"the training data hold jets of {present} class ({only}) only: a tagger needs at least two")
    absent = [name for name, k in zip(splits.class_names, counts) if k == 0]
    if absent:
        import warnings

        warnings.warn(f"{len(absent)} of {len(splits.class_names)} classes have no training jets: {', '.join(absent)}")


def _check_finite(train_loss: float, val_loss: float, epoch: int, lr: float, out: Path, last_good: int) -> None:
    """TrainingError when a loss of this epoch is NaN or infinite: the weights are garbage from here on."""
    if math.isfinite(train_loss) and math.isfinite(val_loss):
        return
    which = "training" if not math.isfinite(train_loss) else "validation"
    value = train_loss if which == "training" else val_loss
    kept = f"; {out} keeps epoch {last_good}" if last_good else ""
    raise TrainingError(f"training diverged in epoch {epoch + 1}: the {which} loss is {value} at lr {lr:g} "
                        f"(try a lower train.lr){kept}")


def _check_out_dir(out: Path, config: RunConfig, resume: bool):
    """None for a fresh run; the stored checkpoint (tensors, meta) when resuming one."""
    state_path = out / run.STATE_FILE
    has_run = state_path.exists() or (out / run.CONFIG_FILE).exists()
    if not resume and has_run:
        raise ConfigError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    run.make_dir(out)  # a missing or read-only parent fails here, before any data is read
    if not resume or not state_path.exists():
        return None
    tensors, meta = run.load_checkpoint(state_path)
    if not isinstance(meta.get("config"), dict):
        raise DataError(f"{state_path} has no stored config (damaged or edited); start a new run")
    before, now = meta.get("config", {}), config.to_dict()
    diffs = _config_differences(before, now)
    if diffs:
        raise ConfigError(f"cannot resume {out}: it was trained with different {', '.join(diffs)}")
    return tensors, meta


def _config_differences(before: dict, now: dict, prefix: str = "") -> list[str]:
    diffs = []
    for key in sorted(set(before) | set(now)):
        a, b = before.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict) and key != "model_options":
            diffs += _config_differences(a, b, f"{prefix}{key}.")
        elif a != b and key not in RESUMABLE_CHANGES:
            diffs.append(prefix + key)
    return diffs


def _restore(stored, model, optimizer, stopper: EarlyStopping):
    try:
        return _restore_state(stored, model, optimizer, stopper)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as e:
        detail = f"missing {e.args[0]!r}" if isinstance(e, KeyError) else (str(e).splitlines()[0] if str(e) else type(e).__name__)
        raise DataError(f"the checkpoint {run.STATE_FILE} is damaged or was edited ({detail}); "
                        "start a new run or restore the file") from None


def _restore_state(stored, model, optimizer, stopper: EarlyStopping):
    tensors, meta = stored
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    optimizer.load_state_dict(run.unflatten_optimizer_state(tensors, meta["optimizer"]))
    best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
    for name in ("best_loss", "best_epoch", "bad_epochs"):
        setattr(stopper, name, meta["early_stopping"][name])
    stopper.best_loss = math.inf if stopper.best_loss is None else stopper.best_loss
    return TrainState(meta["next_epoch"], meta["history"]), best


def _save_epoch(out, model, optimizer, best_weights, stopper, state, config, improved, info) -> None:
    """Write order: best weights, last weights, then the state file (the commit), then metrics."""
    if improved:
        run.save_model(out, model, info)
    run.save_weights(model, out / run.LAST_WEIGHTS_FILE)
    opt_tensors, opt_meta = run.flatten_optimizer_state(optimizer.state_dict())
    tensors = {**{f"model.{k}": v for k, v in _cpu_state(model).items()},
               **{f"best.{k}": v for k, v in best_weights.items()}, **opt_tensors}
    meta = {"next_epoch": state.next_epoch, "history": state.history, "optimizer": opt_meta,
            "early_stopping": {"best_loss": None if math.isinf(stopper.best_loss) else stopper.best_loss,
                               "best_epoch": stopper.best_epoch, "bad_epochs": stopper.bad_epochs},
            "config": config.to_dict()}
    run.save_checkpoint(out / run.STATE_FILE, tensors, meta)
    run.write_jsonl(out / run.METRICS_FILE, state.history)
    training_log.log_epoch(out, state.history)  # metrics.csv, and TensorBoard when installed


def _run_info(config: RunConfig, model, splits: PreparedSplits, ctx) -> run.RunInfo:
    import saltjet

    extra = {"run_config": config.to_dict(), "data_kind": splits.kind, "data_stats": splits.stats,
             "normalisation": {"center": splits.center.tolist(), "scale": splits.scale.tolist()},
             "world_size": ctx.world_size,
             "versions": {"saltjet": saltjet.__version__, "torch": str(torch.__version__), "numpy": str(np.__version__),
                          "python": platform.python_version()}}
    return run.RunInfo(config.model, model.config.to_dict(), splits.class_names, splits.sort_by,
                       splits.feature_names, extra)


def _summary(out, config, model, splits, stopper, state, finished, ranks_agree, ctx) -> dict:
    best = next((r for r in state.history if r["epoch"] == stopper.best_epoch + 1), {})
    rates = [r["jets_per_s"] for r in state.history if r.get("jets_per_s")]
    shares = [r["data_time_share"] for r in state.history if r.get("data_time_share") is not None]
    return {"run_dir": str(out), "model": config.model, "parameters": count_parameters(model),
            "class_names": splits.class_names, "epochs_run": state.next_epoch, "finished": finished,
            "stopped_early": stopper.should_stop and state.next_epoch < config.train.epochs,
            "best_epoch": stopper.best_epoch + 1, "best_val_loss": best.get("val_loss"),
            "val_accuracy": best.get("val_accuracy"), "val_auc": best.get("val_auc"),
            "jets_per_s": float(np.mean(rates)) if rates else None,
            "data_time_share": float(np.mean(shares)) if shares else None,
            "wall_seconds": state.history[-1]["wall_seconds"] if state.history else 0.0,
            "n_train": splits.stats["n_train"], "n_val": splits.stats["n_val"],
            "world_size": ctx.world_size, "ranks_agree": ranks_agree}


def _ranks_agree(model, ctx) -> bool:
    """True when every process holds the same weights (always for a single process)."""
    if not ctx.distributed:
        return True
    total = torch.stack([p.detach().double().sum() for p in model.parameters()]).cpu().numpy()
    (gathered,) = distributed.all_gather_arrays(ctx, total[None, :])
    return bool(np.all(gathered == gathered[0]))


def _cpu_state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _place(tensors: JetTensors, device: torch.device) -> JetTensors:
    """Keep the data on CPU, or move it to the GPU once when it takes under a quarter of free memory."""
    if device.type != "cuda":
        return tensors
    size = sum(t.element_size() * t.numel() for t in (tensors.x, tensors.mask, tensors.y))
    free, _ = torch.cuda.mem_get_info(device)
    return tensors.to(device) if size < free // 4 else tensors.to("cpu", pin=True)


def _autocast(tc, device: torch.device) -> Callable:
    """A factory of autocast contexts: mixed precision on CUDA when `amp`, else a no-op."""
    if not tc.amp or device.type != "cuda":
        return nullcontext
    dtype = torch.bfloat16 if tc.amp_dtype == "bf16" else torch.float16
    return lambda: torch.autocast("cuda", dtype=dtype)
