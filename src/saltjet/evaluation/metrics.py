"""The paper's evaluation metrics as pure functions on numpy arrays.

Conventions:
    probs: (N, C) class probabilities, or (N,) P(class 1) for a binary task (one sigmoid output).
    labels: (N,) int class index into `class_names`.
    One-vs-rest: class c is "signal", every other class "background", and the score is p_c.
    Background rejection = 1 / FPR at a fixed signal efficiency (TPR), read off the ROC curve with
    linear interpolation between its corners. hls4ml convention: TPR 0.8 for each class; top-tagging
    convention (binary tasks, signal = class 1): 1/εB at εS = 0.3 and 0.5.

The functions return `inf` for a rejection when no background passes (FPR = 0) and `nan` for an AUC
that is undefined (a class with no signal or no background jets). `evaluate_predictions` turns both
into JSON `null`: an infinite rejection means "larger than the number of background jets", which the
data cannot measure, so no finite number is invented for it.
"""

from __future__ import annotations

import math

import numpy as np

from saltjet.errors import InputError
from saltjet.extras import require

HLS4ML_TPR = 0.8
TOP_TAGGING_EFFS = (0.3, 0.5)
# Constituent-multiplicity bin edges for accuracy vs multiplicity (the paper's Fig. 3, left).
DEFAULT_MULTIPLICITY_EDGES = (0, 20, 30, 40, 50, 60, 70, 80, 100, 150)


def _sklearn_metrics():
    """sklearn.metrics, imported on first use: scoring jets (`saltjet predict`) does not need it."""
    return require("sklearn.metrics", extra="eval", purpose="computing the metrics")


def as_class_probs(probs: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """(N,) binary P(class 1) -> (N, 2) [1 − p, p]; (N, C) passes through. Checks finiteness."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim == 1:
        p = np.stack([1.0 - p, p], axis=1)
    if p.ndim != 2:
        raise InputError(f"probabilities must be (N,) or (N, C), got shape {np.shape(probs)}")
    if n_classes is not None and p.shape[1] != n_classes:
        raise InputError(f"probabilities have {p.shape[1]} columns for {n_classes} classes")
    if not np.isfinite(p).all():
        raise InputError("probabilities contain NaN or inf")
    return p


def _check_labels(labels: np.ndarray, n: int, n_classes: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.shape != (n,):
        raise InputError(f"labels must be ({n},), got shape {y.shape}")
    if n == 0:
        raise InputError("no jets to evaluate")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= n_classes:
        raise InputError(f"labels must be integers in 0..{n_classes - 1}")
    return y.astype(np.int64)


def predicted_class(probs: np.ndarray) -> np.ndarray:
    """(N,) argmax class; for binary (N,) input, 1 where p > 0.5 (a tie goes to class 0)."""
    return as_class_probs(probs).argmax(axis=1)


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of jets whose argmax class equals the label."""
    p = as_class_probs(probs)
    y = _check_labels(labels, len(p), p.shape[1])
    return float((p.argmax(axis=1) == y).mean())


def binary_auc(is_signal: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC of `score` separating is_signal (N,) bool; nan if one side is empty."""
    is_signal = np.asarray(is_signal, dtype=bool)
    if is_signal.all() or not is_signal.any():
        return math.nan
    return float(_sklearn_metrics().roc_auc_score(is_signal, score))


def fpr_at_tpr(is_signal: np.ndarray, score: np.ndarray, tpr_target: float) -> float:
    """Background efficiency at signal efficiency `tpr_target`, interpolated on the ROC curve.

    The ROC curve (FPR, TPR) from `sklearn.metrics.roc_curve` is read as straight lines between its
    points. If the curve runs flat at exactly TPR = tpr_target, the smallest FPR on that stretch is
    taken (the best cut reaching the target). nan if one side is empty.
    """
    if not 0.0 < tpr_target <= 1.0:
        raise InputError(f"signal efficiency must be in (0, 1], got {tpr_target}")
    is_signal = np.asarray(is_signal, dtype=bool)
    if is_signal.all() or not is_signal.any():
        return math.nan
    fpr, tpr, _ = _sklearn_metrics().roc_curve(is_signal, score)
    i = int(np.searchsorted(tpr, tpr_target, side="left"))  # first point with TPR ≥ target
    if tpr[i] == tpr_target or i == 0:
        return float(fpr[i])
    t0, t1, f0, f1 = tpr[i - 1], tpr[i], fpr[i - 1], fpr[i]
    return float(f0 + (tpr_target - t0) * (f1 - f0) / (t1 - t0))


def rejection_at_tpr(is_signal: np.ndarray, score: np.ndarray, tpr_target: float) -> float:
    """1 / FPR at signal efficiency `tpr_target`; inf when FPR = 0, nan if undefined."""
    fpr = fpr_at_tpr(is_signal, score, tpr_target)
    if math.isnan(fpr):
        return math.nan
    return math.inf if fpr == 0.0 else 1.0 / fpr


def per_class_auc(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(C,) one-vs-rest AUC of each class (score p_c); nan for a class absent or alone in `labels`."""
    p = as_class_probs(probs)
    y = _check_labels(labels, len(p), p.shape[1])
    return np.array([binary_auc(y == c, p[:, c]) for c in range(p.shape[1])])


def per_class_rejection(probs: np.ndarray, labels: np.ndarray, tpr_target: float = HLS4ML_TPR) -> np.ndarray:
    """(C,) one-vs-rest 1/FPR at TPR `tpr_target` (the hls4ml convention); inf where FPR = 0."""
    p = as_class_probs(probs)
    y = _check_labels(labels, len(p), p.shape[1])
    return np.array([rejection_at_tpr(y == c, p[:, c], tpr_target) for c in range(p.shape[1])])


def accuracy_in_bins(
    probs: np.ndarray, labels: np.ndarray, values: np.ndarray, edges=DEFAULT_MULTIPLICITY_EDGES
) -> list[dict]:
    """Accuracy of jets grouped by `values` (e.g. constituent multiplicity).

    Bins are [lo, hi) except the last, [lo, hi] (numpy.histogram's rule). Jets above the last edge
    get an overflow bin {lo: last edge, hi: their largest value, n, accuracy, overflow: True}, added
    only when there are such jets (so no jet is silently dropped); jets below the first edge are left
    out. Returns one {lo, hi, n, accuracy} per bin, accuracy None for an empty bin.
    """
    p = as_class_probs(probs)
    y = _check_labels(labels, len(p), p.shape[1])
    values = np.asarray(values)
    edges = np.asarray(edges, dtype=np.float64)
    if values.shape != y.shape:
        raise InputError(f"multiplicity must be ({len(y)},), got shape {values.shape}")
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise InputError("multiplicity bin edges must be at least two increasing numbers")
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    n, _ = np.histogram(values, bins=edges)
    n_correct, _ = np.histogram(values, bins=edges, weights=correct)
    out = []
    for lo, hi, k, kc in zip(edges[:-1], edges[1:], n, n_correct):
        out.append({"lo": _number(lo), "hi": _number(hi), "n": int(k), "accuracy": float(kc / k) if k else None})
    above = values > edges[-1]
    if above.any():
        out.append({"lo": _number(edges[-1]), "hi": _number(values[above].max()), "n": int(above.sum()),
                    "accuracy": float(correct[above].mean()), "overflow": True})
    return out


def confusion_matrix(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(C, C) int counts: rows = true class, columns = predicted class."""
    p = as_class_probs(probs)
    y = _check_labels(labels, len(p), p.shape[1])
    return _sklearn_metrics().confusion_matrix(y, p.argmax(axis=1), labels=np.arange(p.shape[1]))


def _number(v: float) -> int | float:
    return int(v) if float(v).is_integer() else float(v)


def _json_float(v: float) -> float | None:
    """inf / nan -> None (JSON null); see the module docstring."""
    return float(v) if math.isfinite(v) else None


def _mean_or_none(values: np.ndarray) -> float | None:
    """Mean when every value is finite, else None (one unmeasurable class makes the mean unmeasurable)."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()) if len(values) and np.isfinite(values).all() else None


def evaluate_predictions(
    probs: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    multiplicity: np.ndarray | None = None,
    multiplicity_edges=DEFAULT_MULTIPLICITY_EDGES,
) -> dict:
    """Every metric of the paper in one JSON-ready dict.

    Args:
        probs: (N, C) probabilities, or (N,) P(class_names[1]) for a binary task.
        labels: (N,) int index into `class_names`.
        class_names: C names in probability-column order.
        multiplicity: (N,) constituents per jet, for `multiplicity_bins` (empty list when None).
    Returns:
        {n_jets, class_names, accuracy, auc_macro, per_class: {name: {n, auc, rejection_at_tpr_0.8}},
         mean_rejection_at_tpr_0.8, multiplicity_bins: [{lo, hi, n, accuracy}], confusion_matrix
         (rows true, columns predicted)} and, for two classes, rejection_at_eff_0.3 / _0.5 with
        signal = class_names[1]. Infinite rejections and undefined AUCs are None (JSON null);
        auc_macro is the mean over the classes whose AUC is defined (None if none is).
    """
    class_names = [str(c) for c in class_names]
    p = as_class_probs(probs, len(class_names))
    y = _check_labels(labels, len(p), len(class_names))
    aucs = per_class_auc(p, y)
    rejections = per_class_rejection(p, y, HLS4ML_TPR)
    counts = np.bincount(y, minlength=len(class_names))
    tag = f"{HLS4ML_TPR:g}"
    report = {
        "n_jets": int(len(y)),
        "class_names": class_names,
        "accuracy": accuracy(p, y),
        "auc_macro": float(np.nanmean(aucs)) if np.isfinite(aucs).any() else None,
        "per_class": {
            name: {"n": int(counts[c]), "auc": _json_float(aucs[c]), f"rejection_at_tpr_{tag}": _json_float(rejections[c])}
            for c, name in enumerate(class_names)
        },
        f"mean_rejection_at_tpr_{tag}": _mean_or_none(rejections),
    }
    if len(class_names) == 2:
        for eff in TOP_TAGGING_EFFS:
            report[f"rejection_at_eff_{eff:g}"] = _json_float(rejection_at_tpr(y == 1, p[:, 1], eff))
    report["multiplicity_bins"] = (
        accuracy_in_bins(p, y, multiplicity, multiplicity_edges) if multiplicity is not None else []
    )
    report["confusion_matrix"] = confusion_matrix(p, y).tolist()
    return report
