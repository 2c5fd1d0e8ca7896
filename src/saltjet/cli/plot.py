"""`saltjet plot KIND --run RUN_DIR ...`: figures from existing runs or study folders, no training."""

from __future__ import annotations

import argparse

HELP = "figures from existing runs: curves, roc, multiplicity, attention, partitions, scaling (PNG + PDF)"
KINDS = ("curves", "roc", "multiplicity", "attention", "partitions", "scaling")
MODEL_LABELS = {"salt": "SAL-T", "linformer": "Linformer", "transformer": "Transformer"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=KINDS, help="which figure")
    p.add_argument("--run", action="append", default=[], metavar="RUN_DIR",
                   help="run directory (repeatable); curves reads its metrics.jsonl (any `saltjet train` run), "
                        "roc/multiplicity read its study_predictions.npz, "
                        "attention loads its model; scaling/partitions: a study folder with results.json / attention_jet.npz")
    p.add_argument("--label", action="append", default=[], help="legend label per --run (default: folder names)")
    p.add_argument("--jet", help="attention/partitions: an .npz with x (n, F), mask (n,), feature_names "
                                 "(default: attention_jet.npz of the study folder above the run)")
    p.add_argument("--partitions", type=int, default=4, help="partitions: p (default 4)")
    p.add_argument("--slots", type=int, default=150, help="partitions: particle slots n (default 150)")
    p.add_argument("--out", default=None,
                   help="output folder (default: curves go into each run folder, the other figures into figures/)")


def _jet(args, first_run):
    from pathlib import Path

    import numpy as np

    from saltjet.errors import DataError

    path = Path(args.jet) if args.jet else next((p / "attention_jet.npz" for p in Path(first_run).resolve().parents
                                                 if (p / "attention_jet.npz").is_file()), None)
    if path is None or not path.is_file():
        raise DataError("no jet to draw: pass --jet FILE.npz (x, mask, feature_names)")
    with np.load(path, allow_pickle=False) as f:
        return f["x"], f["mask"], [str(n) for n in f["feature_names"]]


def _curves(run_dir, label: str, stem):
    """Loss / accuracy / AUC per epoch of one training run (its metrics.jsonl)."""
    from saltjet.evaluation import plots
    from saltjet.errors import SaltjetError
    from saltjet.training.run import read_info
    from saltjet.training.log import read_history

    history = read_history(run_dir)
    title, auc_label = label, "AUC"
    try:
        info = read_info(run_dir)
        names = list(info.class_names or [])
        title = f"{label}: {MODEL_LABELS.get(info.model, info.model)}, {len(names)} classes ({', '.join(names)})"
        if len(names) > 2:
            auc_label = "AUC (macro, one-vs-rest)"
    except (SaltjetError, OSError):  # metrics without a readable config.yaml: plot them all the same
        pass
    return plots.plot_training_curves(history, stem, title=title, auc_label=auc_label)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from saltjet.evaluation import plots
    from saltjet.errors import ConfigError, DataError
    from saltjet.evaluation.evaluate import load_predictions
    from saltjet.study import figures
    from saltjet.study.layout import EVAL_FILE, PREDICTIONS_FILE

    if not args.run:
        raise ConfigError("pass at least one --run")
    runs = [Path(r) for r in args.run]
    labels = args.label + [r.name if r.name and not r.name.startswith("seed") else r.parent.name for r in runs[len(args.label):]]
    out = Path(args.out or "figures")
    if args.kind == "curves":
        paths = []
        for lbl, r in zip(labels, runs):
            stem = (Path(args.out) / f"training_curves_{lbl}") if args.out else r / "training_curves"
            paths += _curves(r, lbl, stem)
    elif args.kind == "roc":
        preds = {lbl: load_predictions(r / PREDICTIONS_FILE) for lbl, r in zip(labels, runs)}
        names = next(iter(preds.values()))["class_names"]
        paths = []
        for c in ([names[1]] if len(names) == 2 else names):
            paths += plots.plot_roc_comparison(preds, c, out / f"roc_{c}")
    elif args.kind == "multiplicity":
        reports = {}
        for lbl, r in zip(labels, runs):
            if not (r / EVAL_FILE).is_file():
                raise DataError(f"{r} has no {EVAL_FILE} (a run made by saltjet study)")
            reports[lbl] = json.loads((r / EVAL_FILE).read_text())["report"]
        paths = plots.plot_accuracy_vs_multiplicity(reports, out / "multiplicity")
    elif args.kind == "attention":
        x, mask, names = _jet(args, runs[0])
        paths = figures.attention_figures(dict(zip(labels, runs)), x, mask, names, out)
    elif args.kind == "partitions":
        x, mask, _ = _jet(args, runs[0])
        paths = figures.partition_figure(x[:, 0], x[:, 1], x[:, 2], mask.astype(bool), args.slots, args.partitions,
                                         out / "partitions")
    else:
        results = runs[0] / "results.json"
        if not results.is_file():
            raise DataError(f"{runs[0]} holds no results.json of a scaling study")
        paths = figures.scaling_figure(json.loads(results.read_text()).get("bench", []), out / "scaling")
    for p in paths:
        print(p)
    return 0
