"""A run's per-epoch training log, in the forms a physicist watches it in.

    RUN_DIR/metrics.jsonl   one strict JSON object per finished epoch (`saltjet.training.run.METRICS_FILE`)
    RUN_DIR/metrics.csv     the same records, one row per epoch, the same columns (a spreadsheet,
                            `pandas.read_csv` or `numpy.genfromtxt` reads it); an empty cell = no value
    RUN_DIR/tensorboard/    TensorBoard event files (`tensorboard --logdir RUN_DIR`), written when the
                            `tensorboard` package is installed (`pip install 'saltjet[tensorboard]'`)

Training calls `log_epoch` after every finished epoch (the CSV is rewritten, the newest record goes to
TensorBoard, so a resumed run appends only its new epochs) and `close` when it stops.
`saltjet plot curves --run RUN_DIR` draws loss, accuracy and AUC per epoch from metrics.jsonl.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from saltjet.errors import DataError
from saltjet.extras import importable
from saltjet.training.run import METRICS_FILE, atomic_write_bytes, read_jsonl

CSV_FILE = "metrics.csv"
TENSORBOARD_DIR = "tensorboard"

# record key -> TensorBoard tag ("group/name": TensorBoard draws each group's curves together)
TENSORBOARD_TAGS = {
    "train_loss": "loss/train", "val_loss": "loss/validation",
    "train_accuracy": "accuracy/train", "val_accuracy": "accuracy/validation",
    "train_auc": "auc/train", "val_auc": "auc/validation",
    "lr": "schedule/learning_rate", "batch_size": "schedule/batch_size",
    "jets_per_s": "speed/jets_per_s", "epoch_seconds": "speed/epoch_seconds",
    "data_time_share": "speed/data_time_share",
}

_writers: dict[Path, object] = {}  # run folder -> open SummaryWriter


def columns(history: list[dict]) -> list[str]:
    """Every key of the records, in the order they first appear."""
    return list(dict.fromkeys(k for record in history for k in record))


def csv_text(history: list[dict]) -> str:
    """The records as CSV: a header row, then one row per epoch; None and NaN/inf as empty cells."""
    buffer = io.StringIO()
    names = columns(history)
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for record in history:
        writer.writerow([_cell(record.get(name)) for name in names])
    return buffer.getvalue()


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_csv(run_dir: str | Path, history: list[dict]) -> Path:
    """RUN_DIR/metrics.csv from the records, atomically (the whole file is rewritten)."""
    path = Path(run_dir) / CSV_FILE
    atomic_write_bytes(path, csv_text(history).encode())
    return path


def tensorboard_available() -> bool:
    return importable("tensorboard")


def log_tensorboard(run_dir: str | Path, record: dict) -> bool:
    """Add one epoch's numbers to RUN_DIR/tensorboard (step = epoch). False when tensorboard is not
    installed: the run is the same, only without event files."""
    if not tensorboard_available():
        return False
    key = Path(run_dir).resolve()
    writer = _writers.get(key)
    if writer is None:
        from torch.utils.tensorboard import SummaryWriter

        writer = _writers[key] = SummaryWriter(log_dir=str(key / TENSORBOARD_DIR))
    step = int(record["epoch"])
    for name, tag in TENSORBOARD_TAGS.items():
        value = record.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            writer.add_scalar(tag, value, step)
    writer.flush()
    return True


def log_epoch(run_dir: str | Path, history: list[dict]) -> None:
    """After an epoch: rewrite metrics.csv and send the newest record to TensorBoard."""
    write_csv(run_dir, history)
    if history:
        log_tensorboard(run_dir, history[-1])


def close(run_dir: str | Path) -> None:
    """Close the run's TensorBoard writer, if one is open."""
    writer = _writers.pop(Path(run_dir).resolve(), None)
    if writer is not None:
        writer.close()


def read_history(run_dir: str | Path) -> list[dict]:
    """The records of RUN_DIR/metrics.jsonl; `DataError` when the run has none."""
    path = Path(run_dir) / METRICS_FILE
    if not Path(run_dir).is_dir():
        raise DataError(f"run directory {run_dir} does not exist")
    try:
        history = read_jsonl(path)
    except (ValueError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not JSON lines ({e})") from None
    if not history:
        raise DataError(f"{path} holds no epochs (a run made by saltjet train, with one finished epoch or more)")
    if not all(isinstance(r, dict) and isinstance(r.get("epoch"), int) for r in history):
        raise DataError(f"{path}: every line must be an object with an integer epoch")
    return history


__all__ = ["CSV_FILE", "TENSORBOARD_DIR", "close", "columns", "csv_text", "log_epoch", "log_tensorboard",
           "read_history", "tensorboard_available", "write_csv"]
