"""Learning curves against training budget: the compute-matched view of a study.

A study row (`results.json`, `runner._run_row`) carries its run's learning curve, `curve`:
{"val_accuracy": [...], "epoch_seconds": [...]}, one entry per finished epoch, read from the run's
metrics.jsonl when the study collects it. From those and the row's cost this module derives two
budget axes per epoch:

- training time: the cumulative `epoch_seconds` (the training part of each epoch, measured on the
  machine and under the load of that run: compare runs of one invocation only);
- training FLOPs: epochs × training jets × 3 × forward FLOPs per jet (`flops`, the analytic count at
  all n slots; the backward pass taken as twice the forward, the usual estimate). Machine-independent.

`budget_table` states, per model, the validation accuracy reached within the budget of the cheapest
model's whole run (time, then FLOPs): what a user with a fixed budget would get.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

TRAIN_FLOPS_PER_FORWARD = 3.0  # forward + backward ≈ 3 × forward


def curve_of(history: list[dict]) -> dict:
    """The `curve` entry of a study row from a run's metrics.jsonl records."""
    return {"val_accuracy": [float(r.get("val_accuracy", float("nan"))) for r in history],
            "epoch_seconds": [float(r.get("epoch_seconds", float("nan"))) for r in history]}


def run_curve(run_dir: str | Path) -> dict | None:
    """The `curve` of a finished run folder; None when it has no metrics.jsonl (an older study)."""
    from saltjet.training.run import METRICS_FILE, read_jsonl

    path = Path(run_dir) / METRICS_FILE
    return curve_of(read_jsonl(path)) if path.is_file() else None


def budget_axes(row: dict) -> dict | None:
    """Per epoch of one study row: validation accuracy, cumulative training seconds and training
    FLOPs (see the module notes). None when the row has no curve."""
    curve = row.get("curve")
    if not curve or not curve.get("val_accuracy"):
        return None
    acc = np.asarray(curve["val_accuracy"], dtype=float)
    seconds = np.cumsum(np.asarray(curve["epoch_seconds"], dtype=float))
    epochs = np.arange(1, len(acc) + 1)
    flops = epochs * float(row.get("n_train") or 0) * TRAIN_FLOPS_PER_FORWARD * float(row.get("flops") or 0)
    return {"epoch": epochs, "val_accuracy": acc, "seconds": seconds, "flops": flops}


def _rows_by_model(results: dict, task: str) -> dict[str, list[dict]]:
    by_model: dict[str, list[dict]] = {}
    for r in results.get("runs", []):
        axes = budget_axes(r) if r["task"] == task else None
        if axes is not None:
            by_model.setdefault(r.get("label") or r["model"], []).append(axes)
    return by_model


def _seed_mean(values: list[float]) -> float:
    """Mean over seeds, ignoring NaN (a seed with no epoch inside the budget); NaN when all are."""
    return float("nan") if np.all(np.isnan(values)) else float(np.nanmean(values))


def best_within(axes: dict, key: str, budget: float) -> float:
    """Best validation accuracy among the epochs finished within `budget` on axis `key`
    ("seconds" or "flops"); NaN when not even the first epoch fits."""
    inside = axes[key] <= budget * (1 + 1e-9)
    return float(np.max(axes["val_accuracy"][inside])) if inside.any() else float("nan")


def budget_table(results: dict, task: str) -> str:
    """Markdown: per model, validation accuracy [%] (mean over seeds) at the end of its run and within
    the smallest total training time and training FLOPs among the models. Empty when no curves."""
    by_model = _rows_by_model(results, task)
    if len(by_model) < 2:
        return ""
    budgets = {key: min(float(np.mean([a[key][-1] for a in runs])) for runs in by_model.values())
               for key in ("seconds", "flops")}
    lines = [f"| model | epochs | training time [s] | training FLOPs | val. accuracy at end [%] | "
             f"within {budgets['seconds']:.0f} s [%] | within {budgets['flops']:.3g} FLOPs [%] |",
             "|---|---|---|---|---|---|---|"]
    for label, runs in by_model.items():
        end = _seed_mean([float(np.max(a["val_accuracy"])) for a in runs])
        at_time = _seed_mean([best_within(a, "seconds", budgets["seconds"]) for a in runs])
        at_flops = _seed_mean([best_within(a, "flops", budgets["flops"]) for a in runs])
        epochs = "/".join(str(len(a["epoch"])) for a in runs)
        lines.append(f"| {label} | {epochs} | {np.mean([a['seconds'][-1] for a in runs]):.0f} | "
                     f"{np.mean([a['flops'][-1] for a in runs]):.3g} | {100 * end:.2f} | "
                     f"{_pct(at_time)} | {_pct(at_flops)} |")
    return "\n".join(lines)


def _pct(value: float) -> str:
    return "—" if np.isnan(value) else f"{100 * value:.2f}"


def learning_curve_figures(results: dict, out: Path) -> list[Path]:
    """Per task: validation accuracy against epoch, training time and training FLOPs, one line per
    run (seeds share a colour), the physics floor's test accuracy as a dashed reference."""
    from saltjet.evaluation import plots  # matplotlib only when figures are drawn

    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    paths: list[Path] = []
    for task in results.get("tasks", {}):
        by_model = _rows_by_model(results, task)
        if not by_model:
            continue
        floors = [f["metrics"]["accuracy"] for f in results.get("floor", []) if f["task"] == task]
        with plots.style():
            fig = Figure(figsize=(21, 7), layout="constrained")
            axes = fig.subplots(1, 3, sharey=True)
            for i, (label, runs) in enumerate(by_model.items()):
                colour = f"C{i}"
                for j, a in enumerate(runs):
                    name = plots.model_label(label) if j == 0 else None
                    axes[0].plot(a["epoch"], 100 * a["val_accuracy"], color=colour, label=name)
                    axes[1].plot(a["seconds"] / 60, 100 * a["val_accuracy"], color=colour)
                    axes[2].plot(a["flops"], 100 * a["val_accuracy"], color=colour)
            if floors:
                for ax in axes:
                    ax.axhline(100 * float(np.mean(floors)), color="0.3", ls="--", lw=1.5,
                               label="physics floor (BDT), test" if ax is axes[0] else None)
            axes[0].set_xlabel("Epoch")
            axes[1].set_xlabel("Training time [min]")
            axes[2].set_xlabel("Training FLOPs (3 × forward)")
            axes[2].set_xscale("log")
            axes[2].xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks overlap
            lo, hi = axes[2].get_xlim()  # so keep a labelled power of ten in view
            axes[2].set_xlim(min(lo, 10.0 ** np.floor(np.log10(hi))), hi)
            axes[0].set_ylabel("Validation accuracy [%]")
            low = min(float(np.min(100 * a["val_accuracy"][min(4, len(a["epoch"]) - 1):]))
                      for runs in by_model.values() for a in runs)
            axes[0].set_ylim(bottom=low - 1)
            # one legend below the panels: inside one, it hid the curves of the first epochs
            handles, labels = axes[0].get_legend_handles_labels()
            fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 5), fontsize="small",
                       frameon=False)
            fig.suptitle(f"{task}: learning curves against training budget", fontsize="medium")
            plots.stamp(axes[1], results.get("data"), loc="lower right")
            paths += plots.save_figure(fig, out / "figures" / f"curves_{task}")
    return paths
