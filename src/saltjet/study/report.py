"""report.md rendered from results.json only: change a number there and the tables change.

`write_report(out_dir)` reads OUT/results.json (and OUT/notes.md, a person's reading of the
outcome, when present) and writes OUT/report.md. Tables show mean ± std (sample std, ddof=1) over
seeds; a single seed shows the value alone.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from saltjet.errors import DataError
from saltjet.study.curves import budget_table

TITLES = {
    "accuracy": "accuracy [%]",
    "auc_macro": "AUC (macro)",
    "mean_rejection_at_tpr_0.8": "mean 1/FPR @ TPR 0.8",
    "rejection_at_eff_0.3": "1/εB @ εS 0.3",
    "rejection_at_eff_0.5": "1/εB @ εS 0.5",
    "params": "params",
    "flops": "FLOPs / jet",
    "latency_ms": "latency / jet [µs]",
}
COST_COLUMNS = ("params", "flops", "latency_ms")
BINARY_ONLY = ("rejection_at_eff_0.3", "rejection_at_eff_0.5")


def _stats(values) -> tuple[float, float, int] | None:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return None
    return float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0, len(vals)


def _fmt(column: str, stats) -> str:
    if stats is None:
        return "—"
    mean, std, n = stats
    if column == "accuracy":
        mean, std, digits = 100 * mean, 100 * std, 2
    elif column == "auc_macro":
        digits = 4
    elif column in ("params", "flops"):
        return f"{mean:,.0f}"
    elif column == "latency_ms":  # measured once per model config (costs.json), not per seed
        return f"{1e3 * mean:.2f}"
    else:
        digits = 1
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if n > 1 else f"{mean:.{digits}f}"


def _value(row: dict, column: str):
    return row[column] if column in COST_COLUMNS else row.get("metrics", {}).get(column)


def task_columns(results: dict, task: str) -> list[str]:
    """Columns of a task's table: the study's, with the binary-only rejections for 2-class tasks."""
    columns = list(results["settings"]["columns"])
    binary = len(results.get("tasks", {}).get(task, {}).get("class_names", [])) == 2
    if binary and "rejection_at_eff_0.3" not in columns:
        columns.insert(columns.index("auc_macro") + 1 if "auc_macro" in columns else len(columns), "rejection_at_eff_0.3")
    return [c for c in columns if binary or c not in BINARY_ONLY]


def rows_of(results: dict, task: str) -> list[tuple[str, str, list[dict]]]:
    """(run name, label, seed rows) of a task, in study order; the floor last as run name "floor"."""
    out: dict[str, tuple[str, list[dict]]] = {}
    for r in results["runs"]:
        if r["task"] == task:
            out.setdefault(r["run"], (r["label"], []))[1].append(r)
    floor = [r for r in results.get("floor", []) if r["task"] == task]
    if floor:
        out["floor"] = (floor[0]["label"], floor)
    return [(name, label, rows) for name, (label, rows) in out.items()]


ABOVE, BELOW, WITHIN = "above", "**below**", "within 1σ"


def versus_floor(acc, floor) -> str:
    """A tagger's accuracy against the floor's, both (mean, std, n) over seeds: above, below, or
    within 1σ when the means differ by less than the two spreads combined (std added in quadrature)."""
    sigma = float(np.hypot(acc[1], floor[1]))
    diff = acc[0] - floor[0]
    if diff > sigma:
        return ABOVE
    return BELOW if diff < -sigma else WITHIN


def task_table(results: dict, task: str) -> str:
    """The markdown table of one task: a row per run (mean ± std over seeds) and the floor."""
    columns = task_columns(results, task)
    rows = rows_of(results, task)
    floor = next((rows for name, _, rows in rows if name == "floor"), None)
    floor_acc = _stats(r["metrics"].get("accuracy") for r in floor) if floor else None
    head = ["run", "seeds"] + [TITLES.get(c, c) for c in columns] + (["vs floor"] if floor_acc else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, label, seed_rows in rows:
        cells = [label, str(len(seed_rows))]
        for c in columns:
            if name == "floor" and c in COST_COLUMNS:
                cells.append("—")
            else:
                cells.append(_fmt(c, _stats(_value(r, c) for r in seed_rows)))
        if floor_acc:
            acc = _stats(r["metrics"].get("accuracy") for r in seed_rows)
            verdict = "" if name == "floor" else ("—" if acc is None else versus_floor(acc, floor_acc))
            if verdict and acc is not None and min(acc[2], floor_acc[2]) < 2:
                verdict += " (1 seed: no spread)"
            cells.append(verdict)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def findings(results: dict, task: str) -> list[str]:
    """Plain statements read off the numbers: best run, runs not beating the floor."""
    rows = [(name, label, _stats(r["metrics"].get("accuracy") for r in seed_rows))
            for name, label, seed_rows in rows_of(results, task)]
    models = [(n, lbl, s) for n, lbl, s in rows if n != "floor" and s is not None]
    floor = next((s for n, _, s in rows if n == "floor"), None)
    out = []
    if models:
        best = max(models, key=lambda t: t[2][0])
        out.append(f"Highest accuracy on {task}: {best[1]} ({100 * best[2][0]:.2f} %).")
    if floor is not None:
        not_above = [(lbl, v) for lbl, v in ((lbl, versus_floor(s, floor)) for _, lbl, s in models) if v != ABOVE]
        if not_above and len(not_above) == len(models):
            within = [lbl for lbl, v in not_above if v == WITHIN]
            out.append(f"No run is clearly above the physics floor ({100 * floor[0]:.2f} %) on {task}"
                       + (f"; within 1σ of it: {'; '.join(within)}" if within else "")
                       + ". None is recommended on this data.")
        elif not_above:
            listed = [lbl + (" (within 1σ)" if v == WITHIN else "") for lbl, v in not_above]
            out.append(f"Not clearly above the physics floor ({100 * floor[0]:.2f} %) on {task}: {'; '.join(listed)}. "
                       "These are not recommended on this data.")
        else:
            out.append(f"Every tagger beats the physics floor ({100 * floor[0]:.2f} %) on {task}.")
        if any(st[2] < 2 for _, _, st in models) or floor[2] < 2:
            out.append("One seed per run: these comparisons with the floor have no spread to weigh them by.")
    return out


def multiplicity_table(results: dict, task: str) -> str:
    """Accuracy [%] per constituent-multiplicity bin, mean over seeds, one row per run."""
    rows = rows_of(results, task)
    first = next((r for _, _, seed_rows in rows for r in seed_rows if r.get("multiplicity_bins")), None)
    if first is None:
        return ""
    bins = first["multiplicity_bins"]
    head = ["run"] + [f"{b['lo']}–{b['hi']}" for b in bins]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    counts = ["jets"] + [str(b["n"]) for b in bins]
    lines.append("| " + " | ".join(counts) + " |")
    for _, label, seed_rows in rows:
        cells = [label]
        for i in range(len(bins)):
            s = _stats(r["multiplicity_bins"][i]["accuracy"] for r in seed_rows if len(r.get("multiplicity_bins", [])) > i)
            cells.append(_fmt("accuracy", s))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bench_table(records: list[dict]) -> str:
    """Markdown table of bench records (model, n, FLOPs, latency, ratio to the Transformer)."""
    if not records:
        return ""
    keys = ["model", "n_particles", "batch_size", "params", "flops", "latency_ms", "jets_per_s", "ratio_to_transformer"]
    keys = [k for k in keys if any(k in r for r in records)]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in records:
        cells = []
        for k in keys:
            v = r.get(k)
            cells.append("—" if v is None else (f"{v:,.0f}" if k in ("flops", "params", "jets_per_s")
                                                else f"{v:.4g}" if isinstance(v, float) else str(v)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _data_section(results: dict) -> list[str]:
    d = results.get("data")
    if not d:
        return []
    s = results["settings"]
    lines = ["## Data", "", f"- Source: {d['source']}", f"- Files: `{d['path']}` ({d.get('format', '')})",
             f"- Jets read: {d['n_jets']:,}; per class: " + ", ".join(f"{k} {v:,}" for k, v in d["class_counts"].items()),
             f"- Particle slots: {d['n_slots']}"
             + (f"; mean multiplicity {d['mean_multiplicity']:.1f}" if "mean_multiplicity" in d else "")]
    for task, t in results.get("tasks", {}).items():
        lines.append(f"- Task {task}: classes {', '.join(t['class_names'])}; {t['n_train']:,} training jets, "
                     f"{t['n_test']:,} held-out test jets (never seen in training or early stopping)")
    tr = s["train"]
    epochs = sorted({r.get("epochs_run") for r in results["runs"] if r.get("epochs_run") is not None})
    lines.append(f"- Training: up to {tr.get('epochs', '?')} epochs (ran {', '.join(map(str, epochs)) or '?'}), "
                 f"seeds {s['seeds']}, options {json.dumps(tr, sort_keys=True)}")
    return lines + [""]


def render_report(results: dict, notes: str | None = None) -> str:
    """The whole report.md as a string, from a results dict (see runner.run_study)."""
    r = results
    title = r.get("title") or r["study"]
    lines = [f"# Study `{r['study']}`: {title}", ""]
    if r.get("quick"):
        lines += ["> **Quick smoke-test run** (tiny data, few epochs): the numbers say nothing about the "
                  "models; run without `--quick` for the study.", ""]
    if r.get("claim"):
        lines += ["**Paper's claim tested:** " + " ".join(str(r["claim"]).split()), ""]
    lines += ["## How this was made", "", "```", r["command"], "```", "",
              "Versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()), "",
              f"Wall time of this invocation: {r.get('wall_seconds', 0.0):.0f} s; training time summed over runs: "
              f"{r.get('train_wall_seconds_total', 0.0):.0f} s.", ""]
    lines += _data_section(r)
    tasks = list(r.get("tasks", {}))
    if tasks:
        lines += ["## Results on held-out jets", ""]
    for task in tasks:
        lines += [f"### Task `{task}`", "", task_table(r, task), ""]
        lines += [f"- {f}" for f in findings(r, task)] + [""]
        if "curves" in r["settings"].get("figures", []):
            table = budget_table(r, task)
            if table:
                lines += ["Validation accuracy against training budget (the compute-matched view; training FLOPs = "
                          "epochs × training jets × 3 × forward FLOPs per jet; times are each run's own training "
                          "seconds, under whatever load its machine had):", "", table, ""]
        if "multiplicity" in r["settings"].get("figures", []):
            table = multiplicity_table(r, task)
            if table:
                lines += ["Accuracy [%] per constituent multiplicity:", "", table, ""]
    if r.get("trigger"):
        from saltjet.study.trigger import trigger_findings, trigger_table

        lines += ["## Fixed point and firmware (quantised on the training jets, scored on the test jets)", "",
                  trigger_table(r["trigger"]), ""] + [f"- {f}" for f in trigger_findings(r["trigger"])] + [""]
    if r.get("bench"):
        lines += ["## Cost measurements", "", bench_table(r["bench"]), ""]
    if r.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in r["notes"]] + [""]
    if r.get("figures"):
        pngs = [f for f in r["figures"] if f.endswith(".png")]
        lines += ["## Figures", ""] + [f"![{Path(f).stem}]({f})" for f in pngs] + [""]
    if notes:
        lines += ["## Reading of the outcome", "", notes.strip(), ""]
    lines += ["Columns: accuracy = argmax class; AUC = one-vs-rest macro average; 1/FPR @ TPR 0.8 = "
              "background rejection per class at 80 % signal efficiency, averaged over classes (hls4ml "
              "convention); 1/εB @ εS = rejection at fixed signal efficiency for binary tasks (top-tagging "
              "convention); latency per jet = CPU forward pass at batch 256 on this machine; the physics floor is "
              "scikit-learn gradient-boosted trees on jet observables (saltjet.evaluation.floor).", ""]
    return "\n".join(lines)


def write_report(out_dir: str | Path) -> Path:
    """Render OUT/report.md from OUT/results.json (and OUT/notes.md if present)."""
    out_dir = Path(out_dir)
    path = out_dir / "results.json"
    if not path.is_file():
        raise DataError(f"{out_dir} holds no results.json; run the study first")
    try:
        results = json.loads(path.read_text())
    except ValueError as e:
        raise DataError(f"{path} is not valid JSON: {e}") from None
    notes_path = out_dir / "notes.md"
    notes = notes_path.read_text() if notes_path.is_file() else None
    report = out_dir / "report.md"
    report.write_text(render_report(results, notes))
    return report
