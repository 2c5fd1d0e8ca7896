"""`saltjet evaluate`: a trained run on a data set -> accuracy, AUCs, rejections, multiplicity bins."""

from __future__ import annotations

import argparse
import sys

from saltjet.cli import positive_int, run_folder

HELP = "evaluate a trained run on jets: accuracy, AUC, 1/FPR at TPR 0.8, accuracy vs multiplicity"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, type=run_folder, metavar="RUN",
                   help="run directory written by `saltjet train`, or a shipped model's name (saltjet models --pretrained)")
    p.add_argument("--data", required=True, nargs="+", metavar="PATH", help="data file(s), folder or glob")
    p.add_argument("--format", default="auto", help="data format (default: detected from the files)")
    p.add_argument("--max-jets", type=positive_int, default=None, metavar="N", help="evaluate the first N jets only")
    p.add_argument("--drop-nonfinite", action="store_true",
                   help="skip jets holding NaN/inf values, with a count (default: refuse the file)")
    p.add_argument("--batch-size", type=positive_int, default=1024, help="jets per forward pass (default 1024)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="default: cuda when available")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of a table")
    p.add_argument("--out", metavar="FILE", help="write the JSON report here, and FILE's stem + .predictions.npz")
    p.add_argument("--plots", metavar="DIR", help="write ROC, accuracy-vs-multiplicity and confusion figures here")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import warnings

    from saltjet.evaluation.evaluate import evaluate_run, predictions_path_for, save_predictions
    from saltjet.extras import check_extras
    from saltjet.training.run import make_dir, strict_json, write_json

    check_extras("eval", purpose="saltjet evaluate")  # before the model runs over the data, not after
    if args.plots:
        check_extras("plot", purpose="--plots")
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"saltjet evaluate: warning: {message}", file=sys.stderr)

    data = args.data[0] if len(args.data) == 1 else args.data
    with warnings.catch_warnings():
        warnings.showwarning = show
        report, predictions = evaluate_run(args.run, data, format=args.format, max_jets=args.max_jets,
                                           batch_size=args.batch_size, device=args.device, quiet=args.quiet,
                                           on_nonfinite="drop" if args.drop_nonfinite else "raise")
    notes = []
    if args.out:
        out = Path(args.out)
        make_dir(out.parent)
        write_json(out, report)
        pred_path = save_predictions(predictions_path_for(out), predictions)
        notes.append(f"report: {out}   predictions: {pred_path}")
    if args.plots:
        from saltjet.evaluation.plots import plot_evaluation

        paths = plot_evaluation(report, predictions, args.plots, label=report["model"])
        notes.append(f"plots: {len(paths)} files in {args.plots}")
    if args.json:
        print(strict_json(report))
        for note in notes:  # stdout stays one JSON object
            print(note, file=sys.stderr)
    else:
        print(format_report(report))
        for note in notes:
            print(note)
    return 0


def _num(value, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def _rejection(value) -> str:
    return "inf (no bkg passes)" if value is None else f"{value:.4g}"


def format_report(r: dict) -> str:
    """The report as a readable text table."""
    lines = [
        f"run {r.get('run', '?')} ({r.get('model', '?')}) on {r.get('data', '?')}: {r['n_jets']:,} jets",
        f"accuracy     {100 * r['accuracy']:.2f} %",
        f"AUC (macro)  {_num(r['auc_macro'], '.4f')}",
        "",
        f"{'class':<10} {'jets':>8} {'AUC':>8}  1/FPR @ TPR 0.8",
    ]
    for name, c in r["per_class"].items():
        lines.append(f"{name:<10} {c['n']:>8,} {_num(c['auc'], '.4f'):>8}  {_rejection(c['rejection_at_tpr_0.8'])}")
    mean = r.get("mean_rejection_at_tpr_0.8")
    lines.append(f"{'mean':<10} {'':>8} {'':>8}  {_num(mean, '.4g')}")
    if "rejection_at_eff_0.3" in r:
        signal = r["class_names"][1]
        lines.append(f"1/eps_B ({signal} signal): {_rejection(r['rejection_at_eff_0.3'])} at eps_S 0.3, "
                     f"{_rejection(r['rejection_at_eff_0.5'])} at eps_S 0.5")
    if r.get("multiplicity_bins"):
        lines += ["", f"{'constituents':<14} {'jets':>8} {'accuracy':>9}"]
        bins = [b for b in r["multiplicity_bins"] if not b.get("overflow")]
        for i, b in enumerate(r["multiplicity_bins"]):
            span = (f"> {b['lo']}" if b.get("overflow")
                    else f"[{b['lo']}, {b['hi']}{']' if i == len(bins) - 1 else ')'}")
            acc = "-" if b["accuracy"] is None else f"{100 * b['accuracy']:.2f} %"
            lines.append(f"{span:<14} {b['n']:>8,} {acc:>9}")
    names = r["class_names"]
    width = max(8, *(len(n) + 1 for n in names))
    lines += ["", "confusion matrix (rows: true class, columns: predicted)",
              " " * width + "".join(f"{n:>{width}}" for n in names)]
    for name, row in zip(names, r["confusion_matrix"]):
        lines.append(f"{name:<{width}}" + "".join(f"{v:>{width},}" for v in row))
    if r.get("run_finished") is False:
        lines.append("note: the run is unfinished (no summary.json); these are its weights as they are now")
    if r.get("n_empty_dropped"):
        lines.append(f"note: {r['n_empty_dropped']} jets without particles were left out")
    return "\n".join(lines)
