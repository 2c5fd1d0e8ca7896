"""Evaluate a trained run on a data set: predictions, the paper's metrics, saved predictions.

    run dir  -> load_run (model with its fitted scaler, class names, sort key, features)
    data     -> saltjet.data.load -> pipeline.prepare (the same sort / truncate / pad as training)
             -> predict (batched, no grad)  -> probs (N, C), or (N,) P(class 1) for binary runs
             -> saltjet.evaluation.metrics.evaluate_predictions -> report dict (JSON-ready)

Predictions are saved as .npz {probs, labels, multiplicity, class_names} so figures can be
re-made later (`saltjet.evaluation.plots`) without running the model again.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch

from saltjet.data.loading import load
from saltjet.data.pipeline import InputSpec, reader_features
from saltjet.errors import DataError
from saltjet.evaluation.metrics import DEFAULT_MULTIPLICITY_EDGES, evaluate_predictions
from saltjet.training.distributed import resolve_device
from saltjet.training.run import STATE_FILE, SUMMARY_FILE, WEIGHTS_FILE, atomic_write_bytes, load_run, make_dir

DEFAULT_BATCH_SIZE = 1024


def _device(device: str | torch.device) -> torch.device:
    if isinstance(device, torch.device):
        return device
    return resolve_device(device)


def predict(model: torch.nn.Module, x, mask, batch_size: int = DEFAULT_BATCH_SIZE,
            device: str | torch.device = "auto", quiet: bool = True) -> np.ndarray:
    """Class probabilities of a tagger, batched, in eval mode without gradients.

    Args:
        model: a tagger, forward(x (B, n, F), mask (B, n)) -> logits (B, C) or (B, 1).
        x: (N, n, F) physical features (numpy or torch), sorted and padded like the training data.
        mask: (N, n) bool, True = real particle.
        batch_size: jets per forward pass.
        device: "auto" (CUDA when available), "cpu", "cuda" or a torch.device.
        quiet: no progress bar (tqdm, stderr) when True.
    Returns:
        (N, C) float64 softmax probabilities, or (N,) sigmoid P(class 1) for a one-logit model.
    """
    from tqdm import tqdm

    dev = _device(device)
    x = torch.as_tensor(np.asarray(x, dtype=np.float32) if not torch.is_tensor(x) else x, dtype=torch.float32)
    mask = torch.as_tensor(np.asarray(mask, dtype=bool) if not torch.is_tensor(mask) else mask, dtype=torch.bool)
    model = model.to(dev).eval()
    outputs = []
    with torch.inference_mode():
        for start in tqdm(range(0, len(x), batch_size), desc="predict", unit="batch", disable=quiet, leave=False):
            xb = x[start:start + batch_size].to(dev, non_blocking=True)
            mb = mask[start:start + batch_size].to(dev, non_blocking=True)
            logits = model(xb, mb).float()
            probs = torch.sigmoid(logits[:, 0]) if logits.shape[1] == 1 else torch.softmax(logits, dim=1)
            outputs.append(probs.cpu())
    if not outputs:
        return np.zeros((0,), dtype=np.float64)
    return torch.cat(outputs).double().numpy()


def evaluate_run(run_dir: str | Path, data_path, format: str = "auto", max_jets: int | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, device: str | torch.device = "auto",
                 weights_file: str = WEIGHTS_FILE, multiplicity_edges=DEFAULT_MULTIPLICITY_EDGES,
                 quiet: bool = True, on_nonfinite: str = "raise") -> tuple[dict, dict]:
    """Run a saved tagger on a data set and compute every metric.

    Args:
        run_dir: a run directory (config.yaml + weights).
        data_path: file, folder, glob or list of them, as for `saltjet.data.load`.
        format: data format or "auto".
        max_jets: evaluate the first this many jets only.
        on_nonfinite: jets holding NaN/inf values: "raise" (refuse) or "drop" (skip, counted warning).
    Returns:
        report: `evaluate_predictions` output plus run, model, data, sort_by, n_empty_dropped,
            n_truncated. Jets without particles are dropped (counted in n_empty_dropped); the
            multiplicity is each jet's number of particles as read, before truncation to n.
        predictions: {probs (N, C) | (N,), labels (N,), multiplicity (N,), class_names}.
    Raises:
        DataError when the data's classes differ from the run's, or run/data are unreadable.
    """
    dev = _device(device)
    model, info = load_run(run_dir, weights_file=weights_file, device=dev)
    finished = run_finished(run_dir)
    if not finished:
        warnings.warn(f"{run_dir} is an unfinished run (no {SUMMARY_FILE}: stopped with --stop-after, interrupted "
                      f"or still training); evaluating its {weights_file} as it is now")
    data = load(data_path, format=format, max_jets=max_jets,
                features=reader_features(data_path, format, info.feature_names), quiet=quiet,
                on_nonfinite=on_nonfinite)
    report, predictions = evaluate_model(model, info, data, batch_size, dev, multiplicity_edges, quiet)
    report = {"run": str(run_dir), "model": info.model, "data": _describe(data_path), "run_finished": finished, **report}
    return report, predictions


def run_finished(run_dir: str | Path) -> bool:
    """False for a training run that has not finished: it has training state but no summary.json with
    finished = true. A folder written by `saltjet.training.run.save_model` alone (no training state) counts as
    finished."""
    import json

    if not (Path(run_dir) / STATE_FILE).is_file():
        return True
    path = Path(run_dir) / SUMMARY_FILE
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(summary, dict) and summary.get("finished") is True


def evaluate_model(model: torch.nn.Module, info, data, batch_size: int = DEFAULT_BATCH_SIZE,
                   device: str | torch.device = "auto", multiplicity_edges=DEFAULT_MULTIPLICITY_EDGES,
                   quiet: bool = True) -> tuple[dict, dict]:
    """Evaluate a loaded tagger on `ParticleData` prepared exactly like its training data.

    Args:
        model, info: from `saltjet.training.run.load_run`.
        data: ParticleData with physical features in file order (any slot count) and the run's
            classes, or the classes the run's task is made from (relabelled here, as in training).
    Returns:
        report: sort_by, `evaluate_predictions` output, n_empty_dropped, n_truncated.
        predictions: {probs (N, C) | (N,), labels (N,), multiplicity (N,), class_names}.
    Raises:
        DataError when the data's classes differ from the run's.
    """
    spec = InputSpec.from_run(info, model.config.n_particles)
    data = spec.apply_task(data.require_labels("evaluation"))
    if list(data.class_names) != list(info.class_names):
        raise DataError(f"the data's classes {data.class_names} differ from the run's {info.class_names} "
                        "(names and order must match)")
    multiplicity = data.multiplicity[data.mask.any(axis=1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty jets are counted in the report instead
        prepared, stats = spec.prepare(data)
    probs = predict(model, prepared.x, prepared.mask, batch_size, device, quiet=quiet)
    report = {"sort_by": info.sort_by}
    report.update(evaluate_predictions(probs, prepared.y, info.class_names, multiplicity, multiplicity_edges))
    report["n_empty_dropped"] = stats.n_empty
    report["n_truncated"] = stats.n_truncated
    predictions = {"probs": probs, "labels": prepared.y, "multiplicity": multiplicity,
                   "class_names": list(info.class_names)}
    return report, predictions


def _describe(data_path) -> str | list[str]:
    return [str(p) for p in data_path] if isinstance(data_path, (list, tuple)) else str(data_path)


def save_predictions(path: str | Path, predictions: dict) -> Path:
    """Write predictions to an .npz (atomically): probs, labels, multiplicity, class_names (str array)."""
    path = Path(path)
    make_dir(path.parent)
    buf = io.BytesIO()
    arrays = {"probs": np.asarray(predictions["probs"]), "labels": np.asarray(predictions["labels"]),
              "class_names": np.asarray([str(c) for c in predictions["class_names"]])}
    if predictions.get("multiplicity") is not None:
        arrays["multiplicity"] = np.asarray(predictions["multiplicity"])
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())
    return path


def load_predictions(path: str | Path) -> dict:
    """Read a `save_predictions` file (no pickles): {probs, labels, multiplicity or None, class_names}."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such predictions file")
    try:
        with np.load(path, allow_pickle=False) as f:
            return {"probs": f["probs"], "labels": f["labels"],
                    "multiplicity": f["multiplicity"] if "multiplicity" in f.files else None,
                    "class_names": [str(c) for c in f["class_names"]]}
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"{path}: not a saltjet predictions file ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None


def predictions_path_for(report_path: str | Path) -> Path:
    """Where the predictions of report FILE.json go: FILE.predictions.npz next to it."""
    report_path = Path(report_path)
    stem = report_path.name[: -len(report_path.suffix)] if report_path.suffix else report_path.name
    return report_path.with_name(stem + ".predictions.npz")


__all__ = ["evaluate_run", "load_predictions", "predict", "predictions_path_for", "save_predictions"]
