"""`saltjet plot KIND --run RUN ...`: figures from existing runs or study folders, no training."""

from __future__ import annotations

import argparse

HELP = "figures from existing runs: curves, roc, multiplicity, attention, partitions, scaling, study (PNG + PDF)"
KINDS = ("curves", "roc", "multiplicity", "attention", "partitions", "scaling", "study")
MODEL_LABELS = {"salt": "SAL-T", "linformer": "Linformer", "transformer": "Transformer"}
SCORE_SUFFIXES = (".h5", ".hdf5", ".npz", ".csv")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=KINDS, help="which figure (study: every figure of a study folder whose inputs exist)")
    p.add_argument("--run", action="append", default=[], metavar="RUN",
                   help="repeatable. curves: a `saltjet train` run folder (its metrics.jsonl); "
                        "roc/multiplicity: anything scored: a study run folder (study_predictions.npz), a "
                        "`saltjet evaluate --out FILE.json` report (or its FILE.predictions.npz, or a folder "
                        "holding one), or a `saltjet predict --out` scores file (.h5/.npz/.csv with a label "
                        "column); attention: a run folder (loads its model); scaling/partitions/study: a study "
                        "folder with results.json / attention_jet.npz")
    p.add_argument("--label", action="append", default=[], help="legend label per --run (default: folder names)")
    p.add_argument("--jet", help="attention/partitions: an .npz with x (n, F), mask (n,), feature_names "
                                 "(default: attention_jet.npz of the study folder above the run)")
    p.add_argument("--partitions", type=int, default=4, help="partitions: p (default 4)")
    p.add_argument("--slots", type=int, default=150, help="partitions: particle slots n (default 150)")
    p.add_argument("--data", help="the data the runs were scored on, for the sample label (default: read from the "
                                  "evaluate report or the study's results.json)")
    p.add_argument("--out", default=None,
                   help="output folder (default: curves go into each run folder, the other figures into figures/; "
                        "study figures always go into the study's figures/)")


def _jet(args, first_run):
    from pathlib import Path

    import numpy as np

    from saltjet.errors import DataError

    path = Path(args.jet) if args.jet else next((p / "attention_jet.npz" for p in Path(first_run).resolve().parents
                                                 if (p / "attention_jet.npz").is_file()), None)
    if path is None or not path.is_file():
        raise DataError("no jet to draw: pass --jet FILE.npz (x, mask, feature_names)")
    with np.load(path, allow_pickle=False) as f:
        return f["x"], f["mask"], [str(n) for n in f["feature_names"]], (str(f["label"]) if "label" in f.files else None)


def _study_data(path):
    """The data description of the study folder above `path` (its results.json), or None."""
    import json
    from pathlib import Path

    for parent in [Path(path).resolve()] + list(Path(path).resolve().parents):
        if (parent / "results.json").is_file():
            try:
                return json.loads((parent / "results.json").read_text()).get("data")
            except (OSError, ValueError):
                return None
    return None


def _read_scores(path):
    """A `saltjet predict` scores file -> predictions {probs, labels, class_names, multiplicity}."""
    import json

    import numpy as np

    from saltjet.errors import DataError

    suffix = path.suffix.lower()
    attrs = {}
    try:
        if suffix in (".h5", ".hdf5"):
            import h5py

            with h5py.File(path, "r") as f:
                table = {k: f[k][()] for k in f.keys()}
                attrs = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in f.attrs.items()}
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                table = {k: f[k] for k in f.files if not k.startswith("attr_")}
                attrs = {k[5:]: str(f[k]) for k in f.files if k.startswith("attr_")}
        else:
            with open(path) as fh:
                header = fh.readline().strip().split(",")
            rows = np.atleast_2d(np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2))
            table = {name: rows[:, i] for i, name in enumerate(header)}
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"{path}: not a saltjet scores file ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    names = json.loads(attrs["class_names"]) if "class_names" in attrs else \
        [k[len("score_"):] for k in table if k.startswith("score_")]
    if not names or any(f"score_{n}" not in table for n in names):
        raise DataError(f"{path}: no score_<class> columns (a file written by saltjet predict)")
    if "label" not in table or not (np.asarray(table["label"]) >= 0).any():
        raise DataError(f"{path}: no labelled jets (label column), so there is nothing to draw a ROC curve of")
    probs = np.column_stack([np.asarray(table[f"score_{n}"], dtype=np.float64) for n in names])
    labels = np.asarray(table["label"]).astype(np.int64)
    keep = (labels >= 0) & np.isfinite(probs).all(axis=1)  # unlabelled jets and jets without particles out
    mult = np.asarray(table["multiplicity"])[keep].astype(np.int64) if "multiplicity" in table else None
    data = json.loads(attrs["data"]) if "data" in attrs else None
    return {"probs": probs[keep], "labels": labels[keep], "class_names": names, "multiplicity": mult}, data


def _scored(path):
    """Whatever `evaluate`, `predict` or a study scored at `path` ->
    (predictions, report dict or None, data description or None)."""
    import json
    from pathlib import Path

    from saltjet.errors import DataError
    from saltjet.evaluation.evaluate import load_predictions, predictions_path_for
    from saltjet.study.layout import EVAL_FILE, PREDICTIONS_FILE

    path = Path(path)
    if path.is_dir():
        if (path / PREDICTIONS_FILE).is_file() or (path / EVAL_FILE).is_file():  # a study run
            report = json.loads((path / EVAL_FILE).read_text())["report"] if (path / EVAL_FILE).is_file() else None
            pred = load_predictions(path / PREDICTIONS_FILE) if (path / PREDICTIONS_FILE).is_file() else None
            return pred, report, _study_data(path)
        found = sorted(path.glob("*.predictions.npz"))
        if len(found) != 1:
            raise DataError(f"{path}: no {PREDICTIONS_FILE} (a study run) and "
                            + ("no" if not found else "several") + " *.predictions.npz of `saltjet evaluate --out`; "
                            "pass the report or predictions file itself")
        path = found[0]
    if not path.is_file():
        raise DataError(f"{path}: no such run, report or scores file")
    if path.name.endswith(".predictions.npz"):
        report_path = path.with_name(path.name[: -len(".predictions.npz")] + ".json")
        report = json.loads(report_path.read_text()) if report_path.is_file() else None
        return load_predictions(path), report, (report or {}).get("data")
    if path.suffix.lower() == ".json":
        try:
            report = json.loads(path.read_text())
        except ValueError:
            raise DataError(f"{path}: not a JSON report of saltjet evaluate") from None
        report = report.get("report", report)  # a study run's study_eval.json holds it under "report"
        return load_predictions(predictions_path_for(path)), report, report.get("data")
    if path.suffix.lower() in SCORE_SUFFIXES:
        predictions, data = _read_scores(path)
        return predictions, None, data
    raise DataError(f"{path}: not a run folder, an evaluate report (.json / .predictions.npz) or a scores file")


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


def _default_label(path) -> str:
    from pathlib import Path

    path = Path(path)
    if path.is_file():
        stem = path.name[: -len(".predictions.npz")] if path.name.endswith(".predictions.npz") else path.stem
        return stem
    return path.name if path.name and not path.name.startswith("seed") else path.parent.name


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from saltjet.evaluation import plots
    from saltjet.errors import ConfigError, DataError
    from saltjet.evaluation.metrics import evaluate_predictions
    from saltjet.study import figures

    if not args.run:
        raise ConfigError("pass at least one --run")
    runs = [Path(r) for r in args.run]
    labels = args.label + [_default_label(r) for r in runs[len(args.label):]]
    out = Path(args.out or "figures")
    if args.kind == "curves":
        paths = []
        for lbl, r in zip(labels, runs):
            stem = (Path(args.out) / f"training_curves_{lbl}") if args.out else r / "training_curves"
            paths += _curves(r, lbl, stem)
    elif args.kind in ("roc", "multiplicity"):
        scored = {lbl: _scored(r) for lbl, r in zip(labels, runs)}
        data = args.data or next((d for _, _, d in scored.values() if d), None)
        if args.kind == "roc":
            preds = {lbl: p for lbl, (p, _, _) in scored.items()}
            missing = [lbl for lbl, p in preds.items() if p is None]
            if missing:
                raise DataError(f"no predictions for {', '.join(missing)} (a study run without study_predictions.npz)")
            names = next(iter(preds.values()))["class_names"]
            paths = []
            for c in ([names[1]] if len(names) == 2 else names):
                missing = [lbl for lbl, p in preds.items() if c not in p["class_names"]]
                if missing:
                    raise DataError(f"class {c} is not among the classes of {', '.join(missing)}")
                paths += plots.plot_roc_comparison(preds, c, out / f"roc_{c}", data=data)
        else:
            reports = {}
            for lbl, (pred, report, _) in scored.items():
                if report is None or not report.get("multiplicity_bins"):
                    if pred is None or pred.get("multiplicity") is None:
                        raise DataError(f"{lbl}: no multiplicity in its report or predictions")
                    report = evaluate_predictions(pred["probs"], pred["labels"], pred["class_names"], pred["multiplicity"])
                reports[lbl] = report
            paths = plots.plot_accuracy_vs_multiplicity(reports, out / "multiplicity", data=data)
    elif args.kind == "attention":
        x, mask, names, jet_class = _jet(args, runs[0])
        paths = figures.attention_figures(dict(zip(labels, runs)), x, mask, names, out,
                                          data=args.data or _study_data(runs[0]), jet_class=jet_class)
    elif args.kind == "partitions":
        x, mask, _, _ = _jet(args, runs[0])
        paths = figures.partition_figure(x[:, 0], x[:, 1], x[:, 2], mask.astype(bool), args.slots, args.partitions,
                                         out / "partitions", data=args.data or _study_data(runs[0]))
    elif args.kind == "study":
        paths = []
        for r in runs:
            drawn, skipped = figures.redraw_study_figures(r)
            paths += drawn
            for line in skipped:
                print(f"saltjet plot: {r}: {line}", file=sys.stderr)
    else:
        results = runs[0] / "results.json"
        if not results.is_file():
            raise DataError(f"{runs[0]} holds no results.json of a scaling study")
        paths = figures.scaling_figure(json.loads(results.read_text()).get("bench", []), out / "scaling")
    for p in paths:
        print(p)
    return 0
