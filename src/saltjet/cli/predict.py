"""`saltjet predict`: score jets with a trained run -> one score column per class, no labels needed."""

from __future__ import annotations

import argparse
import sys
import warnings

from saltjet.cli import positive_int, run_folder

HELP = ("score jets with a trained run, labels not needed: one probability column per class plus jet pT, "
        "η, φ, mass, multiplicity and label (-1: none)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, type=run_folder, metavar="RUN",
                   help="run directory written by `saltjet train`, or a shipped model's name (saltjet models --pretrained)")
    p.add_argument("--data", required=True, nargs="+", metavar="PATH", help="data file(s), folder or glob, any format")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="scores file: .h5 (one dataset per column), .npz or .csv")
    p.add_argument("--format", default="auto", help="data format (default: detected from the files)")
    p.add_argument("--max-jets", type=positive_int, default=None, metavar="N", help="score the first N jets only")
    p.add_argument("--drop-nonfinite", action="store_true",
                   help="skip jets holding NaN/inf values, with a count (default: refuse the file)")
    p.add_argument("--batch-size", type=positive_int, default=1024, help="jets per forward pass (default 1024)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="default: cuda when available")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from saltjet.inference import Tagger, score_table, write_scores

    tagger = Tagger.from_run(args.run, device=args.device, batch_size=args.batch_size)
    data_path = args.data[0] if len(args.data) == 1 else args.data
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"saltjet predict: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        data = tagger.load(data_path, format=args.format, max_jets=args.max_jets, quiet=args.quiet,
                           labels="optional", on_nonfinite="drop" if args.drop_nonfinite else "raise")
    table = score_table(tagger, data, quiet=args.quiet)
    attrs = {"run": str(args.run), "data": json.dumps([str(p) for p in args.data]),
             "class_names": json.dumps(tagger.class_names), "features": json.dumps(tagger.features),
             "data_class_names": json.dumps(list(data.class_names))}
    path = write_scores(args.out, table, attrs)
    n_empty = int(np.isnan(table[f"score_{tagger.class_names[0]}"]).sum())
    n_unlabelled = int((table["label"] < 0).sum()) if "label" in table else 0
    print(f"wrote {path}: {len(data):,} jets, columns {', '.join(table)}"
          + (f"; {n_unlabelled:,} without a label in the run's classes (label -1)" if n_unlabelled else "")
          + (f"; {n_empty} jets without particles have NaN scores" if n_empty else ""))
    return 0
