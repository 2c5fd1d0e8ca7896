"""Figures made from saved evaluation output: a report dict (the JSON of `saltjet evaluate`) and a
predictions dict ({probs, labels, class_names, multiplicity}, see `saltjet.evaluation.evaluate.load_predictions`).

Every figure is written as PNG and PDF with the mplhep CMS style. Figures are built on
`matplotlib.figure.Figure` (Agg canvas), never pyplot, so nothing touches global state or needs a
display.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from saltjet.extras import require

# a one-line `MissingExtraError` naming the [plot] extra, not a traceback, when they are missing
require("matplotlib", extra="plot", purpose="plotting")
require("mplhep", extra="plot", purpose="plotting")

import matplotlib  # noqa: E402
import mplhep  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from saltjet.evaluation.metrics import HLS4ML_TPR, as_class_probs  # noqa: E402

FORMATS = ("png", "pdf")


def _style():
    return matplotlib.style.context(mplhep.style.CMS)


def _new_figure(figsize=(8, 7)) -> Figure:
    return Figure(figsize=figsize, layout="constrained")


def save_figure(fig: Figure, stem: str | Path) -> list[Path]:
    """Write `stem`.png and `stem`.pdf (parent folders created). Returns the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in FORMATS:
        path = stem.with_name(f"{stem.name}.{ext}")
        fig.savefig(path, dpi=150 if ext == "png" else None)
        paths.append(path)
    return paths


def rejection_curve(is_signal: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signal efficiency and background rejection 1/FPR along the ROC curve (points with FPR > 0).

    Returns:
        eff: (M,) TPR; rejection: (M,) 1/FPR.
    """
    roc_curve = require("sklearn.metrics", extra="eval", purpose="the ROC curve").roc_curve
    fpr, tpr, _ = roc_curve(np.asarray(is_signal, dtype=bool), score)
    keep = fpr > 0
    return tpr[keep], 1.0 / fpr[keep]


def plot_roc_curves(predictions: Mapping, stem: str | Path, label: str | None = None) -> list[Path]:
    """One-vs-rest rejection vs efficiency of every class of one run (binary: the signal class only).

    Args:
        predictions: {probs (N, C) or (N,), labels (N,), class_names}.
        stem: output path without extension.
        label: legend title (e.g. the model name).
    """
    names = list(predictions["class_names"])
    p = as_class_probs(predictions["probs"], len(names))
    y = np.asarray(predictions["labels"])
    classes = [1] if len(names) == 2 else range(len(names))
    with _style():
        fig = _new_figure()
        ax = fig.add_subplot()
        for c in classes:
            if (y == c).all() or not (y == c).any():
                continue
            eff, rej = rejection_curve(y == c, p[:, c])
            ax.plot(eff, rej, label=f"{names[c]} vs rest")
        _rejection_axes(ax, label)
        return save_figure(fig, stem)


def plot_roc_comparison(runs: Mapping[str, Mapping], class_name: str, stem: str | Path) -> list[Path]:
    """Rejection vs efficiency of one class (vs the rest) for several runs.

    Args:
        runs: run label -> predictions dict; every run must have `class_name`.
    """
    with _style():
        fig = _new_figure()
        ax = fig.add_subplot()
        for run_label, pred in runs.items():
            names = list(pred["class_names"])
            c = names.index(class_name)
            p = as_class_probs(pred["probs"], len(names))
            y = np.asarray(pred["labels"])
            eff, rej = rejection_curve(y == c, p[:, c])
            ax.plot(eff, rej, label=run_label)
        _rejection_axes(ax, f"{class_name} vs rest")
        return save_figure(fig, stem)


def _rejection_axes(ax, legend_title: str | None) -> None:
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_xlabel("Signal efficiency (TPR)")
    ax.set_ylabel("Background rejection 1/FPR")
    ax.axvline(HLS4ML_TPR, color="grey", linestyle=":", linewidth=1)
    ax.legend(title=legend_title, fontsize="small", loc="upper right")


def plot_accuracy_vs_multiplicity(reports: Mapping[str, Mapping], stem: str | Path) -> list[Path]:
    """Accuracy per constituent-multiplicity bin (the paper's Fig. 3, left) for several runs.

    Args:
        reports: run label -> report dict with `multiplicity_bins` [{lo, hi, n, accuracy}].
    """
    with _style():
        fig = _new_figure()
        ax = fig.add_subplot()
        for run_label, report in reports.items():
            bins = [b for b in report["multiplicity_bins"] if b["accuracy"] is not None]
            if not bins:
                continue
            centre = np.array([(b["lo"] + b["hi"]) / 2 for b in bins])
            half = np.array([(b["hi"] - b["lo"]) / 2 for b in bins])
            acc = np.array([b["accuracy"] for b in bins])
            ax.errorbar(centre, acc, xerr=half, marker="o", linestyle="-", label=run_label)
        ax.set_xlabel("Number of constituents")
        ax.set_ylabel("Accuracy")
        ax.legend(fontsize="small")
        return save_figure(fig, stem)


def plot_confusion_matrix(report: Mapping, stem: str | Path, normalize: bool = True, title: str | None = None) -> list[Path]:
    """Confusion matrix of a report (rows true class, columns predicted), row-normalised by default."""
    names = list(report["class_names"])
    cm = np.asarray(report["confusion_matrix"], dtype=np.float64)
    if normalize:
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    with _style():
        fig = _new_figure(figsize=(8, 7))
        ax = fig.add_subplot()
        im = ax.imshow(cm, cmap="Blues", vmin=0, vmax=1 if normalize else None)
        fig.colorbar(im, ax=ax, label="fraction of true class" if normalize else "jets")
        ticks = np.arange(len(names))
        ax.set_xticks(ticks, names)
        ax.set_yticks(ticks, names)
        ax.minorticks_off()
        ax.set_xlabel("Predicted class")
        ax.set_ylabel("True class")
        for i in range(len(names)):
            for j in range(len(names)):
                text = f"{cm[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
                ax.text(j, i, text, ha="center", va="center", fontsize="small",
                        color="white" if cm[i, j] > 0.6 * cm.max() else "black")
        if title:
            ax.set_title(title, fontsize="medium")
        return save_figure(fig, stem)


def plot_evaluation(report: Mapping, predictions: Mapping, out_dir: str | Path, label: str = "model") -> list[Path]:
    """The figures of one evaluation: ROC curves, accuracy vs multiplicity, confusion matrix."""
    out_dir = Path(out_dir)
    paths = plot_roc_curves(predictions, out_dir / "roc", label=label)
    if report.get("multiplicity_bins"):
        paths += plot_accuracy_vs_multiplicity({label: report}, out_dir / "accuracy_vs_multiplicity")
    paths += plot_confusion_matrix(report, out_dir / "confusion_matrix", title=label)
    return paths


def plot_training_curves(history: list[Mapping], stem: str | Path, title: str | None = None,
                         auc_label: str = "AUC") -> list[Path]:
    """Loss, accuracy and AUC per epoch of one training run (the records of its metrics.jsonl),
    training and validation side by side; the best epoch (lowest validation loss) is marked.

    Args:
        history: [{epoch, train_loss, val_loss, train_accuracy, val_accuracy, val_auc, best, ...}];
            a missing or null value leaves a gap. Training AUC is drawn only if the records hold it.
        stem: output path without extension.
        title: figure title (e.g. the model and run name).
        auc_label: y-axis label of the AUC panel (e.g. "AUC (macro, one-vs-rest)").
    """

    def series(key: str) -> np.ndarray:
        return np.array([np.nan if r.get(key) is None else float(r[key]) for r in history])

    epochs = np.array([int(r["epoch"]) for r in history])
    best = [int(r["epoch"]) for r in history if r.get("best")]
    panels = [("loss", "Loss (cross-entropy)"), ("accuracy", "Accuracy"), ("auc", auc_label)]
    with _style():
        fig = _new_figure(figsize=(20, 6.5))
        axes = fig.subplots(1, 3)
        for ax, (key, ylabel) in zip(axes, panels):
            drawn = False
            for prefix, name, style, colour in (("train", "Training", "-", "C0"), ("val", "Validation", "--", "C1")):
                values = series(f"{prefix}_{key}")
                if np.isfinite(values).any():  # the same colour for a split in every panel
                    ax.plot(epochs, values, linestyle=style, marker="o", markersize=4, color=colour, label=name)
                    drawn = True
            if best:
                ax.axvline(best[-1], color="grey", linestyle=":", linewidth=1.5, label=f"best epoch ({best[-1]})")
            if not drawn:
                ax.text(0.5, 0.5, "not recorded", transform=ax.transAxes, ha="center", va="center", color="grey")
            ax.set_xlabel("Epoch")
            ax.set_ylabel(ylabel)
            ax.set_xlim(0.5, max(epochs.max(), 1) + 0.5)
            ax.xaxis.get_major_locator().set_params(integer=True)
            if drawn or best:
                ax.legend(fontsize="small", loc="best")
        if title:
            fig.suptitle(title, fontsize="medium")
        return save_figure(fig, stem)
