"""Figures made from saved evaluation output: a report dict (the JSON of `saltjet evaluate`) and a
predictions dict ({probs, labels, class_names, multiplicity}, see `saltjet.evaluation.evaluate.load_predictions`).

Every figure is written as PNG and PDF with the mplhep CMS style. Figures are built on
`matplotlib.figure.Figure` (Agg canvas), never pyplot, so nothing touches global state or needs a
display. Every jet figure carries its sample label (`sample_label`: the generator, √s, jet algorithm
and pT window of the built-in jets, or the source of the user's data); point-cloud figures carry a
data-set line instead. Class names are shown readable (`class_label`), models by `MODEL_LABELS`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from saltjet.extras import require

# a one-line `MissingExtraError` naming the [plot] extra, not a traceback, when they are missing
require("matplotlib", extra="plot", purpose="plotting")
require("mplhep", extra="plot", purpose="plotting")

import matplotlib  # noqa: E402
import matplotlib.lines  # noqa: E402
import numpy as np  # noqa: E402

from saltjet.evaluation.figure_style import (  # noqa: E402, F401 (re-exported: callers use plots.NAME)
    FORMATS,
    GENERATED_JETS_LABEL,
    MODEL_LABELS,
    SHAPES_LABEL,
    class_label,
    dataset_line,
    figure_label,
    model_label,
    new_figure,
    sample_label,
    save_figure,
    stamp,
    stamp_figure,
    style,
    wrap_label,
)
from saltjet.evaluation.metrics import HLS4ML_TPR, as_class_probs, binary_auc, rejection_at_tpr  # noqa: E402

SIGNAL_EFFICIENCY = HLS4ML_TPR  # the signal efficiency at which legends state 1/εB


def rejection_curve(is_signal: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signal efficiency and background rejection 1/FPR along the ROC curve (points with FPR > 0).

    Returns:
        eff: (M,) TPR; rejection: (M,) 1/FPR.
    """
    roc_curve = require("sklearn.metrics", extra="eval", purpose="the ROC curve").roc_curve
    fpr, tpr, _ = roc_curve(np.asarray(is_signal, dtype=bool), score)
    keep = fpr > 0
    return tpr[keep], 1.0 / fpr[keep]


def versus_text(names: Sequence[str], signal: str) -> str:
    """What the signal and background of a one-vs-rest ROC curve are: "t vs QCD" for a binary task,
    "t vs rest (g, q, W, Z)" for several classes ("vs rest" alone when there are more than five)."""
    others = [class_label(n) for n in names if n != signal]
    if len(others) == 1:
        return f"{class_label(signal)} vs {others[0]}"
    return f"{class_label(signal)} vs rest" + (f" ({', '.join(others)})" if len(others) <= 5 else "")


def _fmt_rejection(values: list[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "∞" if values and all(v == math.inf for v in values) else "n/a"
    return _fmt_mean_std(finite, "{:.0f}" if np.mean(finite) >= 100 else "{:.1f}")


def _fmt_mean_std(values: list[float], fmt: str) -> str:
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(float(np.mean(values)))} ± {fmt.format(float(np.std(values, ddof=1)))}"


def _roc_entry(ax, label: str, seeds: Sequence[tuple[np.ndarray, np.ndarray]], colour, eff_grid: np.ndarray):
    """Draw one run (one or several seeds) on a rejection axis; returns its legend text.

    One seed: its curve. Several: the mean of log(1/εB) over seeds on a common εS grid, and a band
    of ± one standard deviation of it."""
    aucs = [binary_auc(sig, score) for sig, score in seeds]
    rejs = [rejection_at_tpr(sig, score, SIGNAL_EFFICIENCY) for sig, score in seeds]
    if len(seeds) == 1:
        eff, rej = rejection_curve(*seeds[0])
        ax.plot(eff, rej, color=colour)
    else:
        curves = []
        for sig, score in seeds:
            eff, rej = rejection_curve(sig, score)
            # rejection falls with efficiency; interpolate log(1/εB) on the grid (NaN outside the curve)
            order = np.argsort(eff, kind="stable")
            curves.append(np.interp(eff_grid, eff[order], np.log(rej[order]), left=np.nan, right=np.nan))
        curves = np.array(curves)
        ok = np.isfinite(curves).all(axis=0)
        # mean and spread of log(1/εB): a band that stays positive on the log axis
        mean, std = curves[:, ok].mean(axis=0), curves[:, ok].std(axis=0, ddof=1)
        ax.plot(eff_grid[ok], np.exp(mean), color=colour)
        ax.fill_between(eff_grid[ok], np.exp(mean - std), np.exp(mean + std), color=colour, alpha=0.25, linewidth=0)
    n = f" (mean ± std of {len(seeds)} seeds)" if len(seeds) > 1 else ""
    sep = "\n" if n or len(label) > 16 else ": "
    return f"{label}{n}{sep}AUC {_fmt_mean_std([a for a in aucs if math.isfinite(a)] or [math.nan], '{:.3f}')}, " \
           f"$1/\\varepsilon_B$ = {_fmt_rejection(rejs)}"


def plot_roc_comparison(runs: Mapping[str, Mapping | Sequence[Mapping]], class_name: str, stem: str | Path,
                        data=None) -> list[Path]:
    """Rejection vs efficiency of one class (vs the other classes) for several runs.

    Args:
        runs: run label -> predictions dict, or a list of them (seeds: drawn as mean ± std band);
            every run must have `class_name`.
        class_name: the signal class.
        stem: output path without extension.
        data: the data description for the sample label (see `sample_label`).
    Each legend entry states the AUC and 1/εB at εS = SIGNAL_EFFICIENCY (mean ± std over seeds).
    """
    names = []
    with style():
        fig = new_figure(figsize=(10, 9))
        ax = fig.add_subplot()
        grid = np.linspace(0.005, 1.0, 400)
        handles = []
        for i, (run_label, preds) in enumerate(runs.items()):
            preds = [preds] if isinstance(preds, Mapping) else list(preds)
            seeds = []
            for pred in preds:
                names = list(pred["class_names"])
                c = names.index(class_name)
                p = as_class_probs(pred["probs"], len(names))
                y = np.asarray(pred["labels"])
                keep = y >= 0  # jets without a label (saltjet predict: -1) are not in the curve
                seeds.append((y[keep] == c, p[keep, c]))
            colour = f"C{i}"
            text = _roc_entry(ax, model_label(run_label), seeds, colour, grid)
            handles.append(matplotlib.lines.Line2D([], [], color=colour, label=text))
        _rejection_axes(ax, versus_text(names, class_name) if names else class_label(class_name), handles, data)
        return save_figure(fig, stem)


def plot_roc_curves(predictions: Mapping, stem: str | Path, label: str | None = None, data=None) -> list[Path]:
    """One-vs-rest rejection vs efficiency of every class of one run (binary: the signal class only).

    Args:
        predictions: {probs (N, C) or (N,), labels (N,), class_names}.
        stem: output path without extension.
        label: the run's name (e.g. the model), in the title.
        data: the data description for the sample label (see `sample_label`).
    """
    names = list(predictions["class_names"])
    p = as_class_probs(predictions["probs"], len(names))
    y = np.asarray(predictions["labels"])
    keep = y >= 0
    p, y = p[keep], y[keep]
    classes = [1] if len(names) == 2 else range(len(names))
    with style():
        fig = new_figure(figsize=(10, 9))
        ax = fig.add_subplot()
        handles = []
        for i, c in enumerate(classes):
            if (y == c).all() or not (y == c).any():
                continue
            text = _roc_entry(ax, versus_text(names, names[c]) if len(names) == 2 else class_label(names[c]),
                              [(y == c, p[:, c])], f"C{i}", np.array([]))
            handles.append(matplotlib.lines.Line2D([], [], color=f"C{i}", label=text))
        title = (model_label(label) + ": " if label else "") + ("each class vs the rest" if len(names) > 2 else
                                                                 versus_text(names, names[1]))
        _rejection_axes(ax, title, handles, data)
        return save_figure(fig, stem)


def _rejection_axes(ax, title: str | None, handles: list, data=None) -> None:
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_xlabel(r"Signal efficiency $\varepsilon_S$")
    ax.set_ylabel(r"Background rejection $1/\varepsilon_B$")
    ax.axvline(SIGNAL_EFFICIENCY, color="grey", linestyle=":", linewidth=1)
    lo, hi = ax.get_ylim()
    ax.set_ylim(max(lo, 0.8), hi * 10 ** (0.25 * len(handles) + 1))  # room above the curves for the legend
    if title:
        ax.set_title(title, fontsize="medium", loc="left")
    ax.legend(handles=handles, title=rf"$1/\varepsilon_B$ at $\varepsilon_S$ = {SIGNAL_EFFICIENCY:g}",
              fontsize="x-small", title_fontsize="x-small", loc="upper right", frameon=False)
    stamp(ax, data, loc="lower left")


def wilson_interval(k: np.ndarray, n: np.ndarray, z: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Binomial (Wilson score) interval of k successes in n trials, `z` standard deviations (1: 68 %).

    Returns:
        lo, hi: (M,) bounds of the success fraction; nan where n = 0.
    """
    k, n = np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def plot_accuracy_vs_multiplicity(reports: Mapping[str, Mapping], stem: str | Path, data=None,
                                  note: str | None = None) -> list[Path]:
    """Accuracy per constituent-multiplicity bin (the paper's Fig. 3, left) for several runs, with
    binomial (Wilson, 68 %) error bars from the jets in each bin, and a lower panel with the jet count
    per bin. An overflow bin (jets above the last edge) is drawn one bin width past it, labelled "> edge".

    Args:
        reports: run label -> report dict with `multiplicity_bins` [{lo, hi, n, accuracy, overflow?}];
            n is the number of jets in the bin (for seed means: the jets of one seed).
        data: the data description for the sample label (see `sample_label`).
        note: a line under the legend (e.g. "mean of 3 seeds").
    """
    with style():
        fig = new_figure(figsize=(9, 9.5))
        ax, ax_n = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1.2))
        counts_drawn = False
        overflow_at = x_range = None
        for i, (run_label, report) in enumerate(reports.items()):
            bins = [b for b in report["multiplicity_bins"] if b["accuracy"] is not None]
            if not bins:
                continue
            lo = np.array([float(b["lo"]) for b in bins])
            hi = np.array([float(b["hi"]) for b in bins])
            regular = [not b.get("overflow") for b in bins]
            width = (hi - lo)[regular][-1] if any(regular) else 20.0
            for j, b in enumerate(bins):
                if b.get("overflow"):  # drawn as a bin of the last regular width past the last edge
                    hi[j] = lo[j] + width
                    overflow_at = (lo[j], hi[j])
            centre, half = (lo + hi) / 2, (hi - lo) / 2
            acc = np.array([b["accuracy"] for b in bins])
            n = np.array([float(b["n"]) for b in bins])
            lo_err, hi_err = wilson_interval(acc * n, n)
            yerr = np.array([np.clip(acc - lo_err, 0, None), np.clip(hi_err - acc, 0, None)])
            colour = f"C{i}"
            ax.errorbar(centre + (i - (len(reports) - 1) / 2) * 0.012 * (hi.max() - lo.min()), acc, xerr=half,
                        yerr=yerr, marker="o", markersize=5, linestyle="-", linewidth=1.5, capsize=2,
                        color=colour, label=model_label(run_label))
            if not counts_drawn:
                ax_n.bar(lo, n, width=hi - lo, align="edge", color="0.75", edgecolor="0.4", linewidth=0.8)
                for x, k in zip(centre, n):
                    ax_n.text(x, k, f" {int(k)}", ha="center", va="bottom", fontsize="xx-small", rotation=90)
                counts_drawn = True
            x_range = (min(lo.min(), x_range[0]), max(hi.max(), x_range[1])) if x_range else (lo.min(), hi.max())
        ax.set_ylabel("Accuracy")
        ax.legend(fontsize="small", loc="best", frameon=False)
        lo_y, hi_y = ax.get_ylim()
        ax.set_ylim(lo_y, hi_y + 0.15 * (hi_y - lo_y))  # room for the legend
        label = figure_label(data)
        if label:
            ax.set_title(wrap_label(label), fontsize="x-small", loc="left")
        ax.set_title("error bars: binomial 68 %" + (f"\n{note}" if note else ""), fontsize="x-small", loc="right")
        ax_n.set_ylabel("Jets")
        ax_n.set_ylim(0, ax_n.get_ylim()[1] * 1.6)  # room for the counts
        ax_n.set_xlabel("Number of constituents")
        if x_range is not None:
            ax_n.set_xlim(x_range[0] - 0.02 * (x_range[1] - x_range[0]), x_range[1] + 0.02 * (x_range[1] - x_range[0]))
        if overflow_at is not None:
            centre = (overflow_at[0] + overflow_at[1]) / 2
            ticks = [t for t in ax_n.get_xticks()
                     if x_range[0] <= t < overflow_at[0] - 0.25 * (overflow_at[1] - overflow_at[0])]
            ax_n.set_xticks(ticks + [centre], [f"{t:g}" for t in ticks] + [f"> {overflow_at[0]:g}"])
            for a in (ax, ax_n):
                a.axvline(overflow_at[0], color="grey", linestyle=":", linewidth=1)
        return save_figure(fig, stem)


def plot_confusion_matrix(report: Mapping, stem: str | Path, normalize: bool = True, title: str | None = None) -> list[Path]:
    """Confusion matrix of a report (rows true class, columns predicted), row-normalised by default."""
    names = [class_label(n) for n in report["class_names"]]
    cm = np.asarray(report["confusion_matrix"], dtype=np.float64)
    if normalize:
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    with style():
        fig = new_figure(figsize=(8, 7))
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
        stamp_figure(fig, report.get("data"), model_label(title) if title else None)
        return save_figure(fig, stem)


def plot_evaluation(report: Mapping, predictions: Mapping, out_dir: str | Path, label: str = "model") -> list[Path]:
    """The figures of one evaluation: ROC curves, accuracy vs multiplicity, confusion matrix."""
    out_dir = Path(out_dir)
    data = report.get("data")
    paths = plot_roc_curves(predictions, out_dir / "roc", label=label, data=data)
    if report.get("multiplicity_bins"):
        paths += plot_accuracy_vs_multiplicity({label: report}, out_dir / "accuracy_vs_multiplicity", data=data)
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
    with style():
        fig = new_figure(figsize=(20, 6.5))
        axes = fig.subplots(1, 3)
        for ax, (key, ylabel) in zip(axes, panels):
            drawn = False
            for prefix, name, line, colour in (("train", "Training", "-", "C0"), ("val", "Validation", "--", "C1")):
                values = series(f"{prefix}_{key}")
                if np.isfinite(values).any():  # the same colour for a split in every panel
                    ax.plot(epochs, values, linestyle=line, marker="o", markersize=4, color=colour, label=name)
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
