"""`saltjet inspect PATH`: what a data file (or glob, or folder) holds, in any supported format."""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from saltjet.cli import positive_int
from saltjet.data.readers import READERS

HELP = "summarise a data set: format, jets, classes, multiplicities and feature ranges"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH", help="a file, folder or quoted glob, e.g. 'data/jetImage_*.h5'")
    p.add_argument("--format", default="auto", choices=["auto", *READERS],
                   help="data format (default: detected from the file contents)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--max-jets", type=positive_int, default=None, help="read at most N jets (default: all)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--drop-nonfinite", action="store_true",
                   help="skip jets holding NaN/inf values, with a count (default: refuse the file)")


def format_summary(s: dict) -> str:
    """The human-readable form of `saltjet.data.summary.summarize`'s dict."""
    unit = "clouds" if s["kind"] == "pointcloud" else "jets"
    lines = [
        f"format             {s['format']}",
        f"{unit:<19}{s['n_jets']:,}",
        f"slots per {unit[:-1]:<9}{s['n_slots']}",
        f"max particles      {s['max_particles']}",
        f"mean multiplicity  {s['mean_multiplicity']:.2f}",
        "classes",
    ]
    total = max(s["n_jets"], 1)
    lines += [f"  {name:<16} {count:>10,}  ({100 * count / total:.1f}%)" for name, count in s["class_counts"].items()]
    lines.append(f"features (over real particles){'':<4}{'min':>12} {'median':>12} {'max':>12}")
    for name, r in s["feature_ranges"].items():
        lines.append(f"  {name:<32}{r['min']:>12.5g} {r['median']:>12.5g} {r['max']:>12.5g}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from saltjet.data import load
    from saltjet.data.summary import summarize

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"saltjet inspect: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        data = load(args.path, format=args.format, max_jets=args.max_jets, quiet=args.quiet or args.json,
                    on_nonfinite="drop" if args.drop_nonfinite else "raise")
    summary = summarize(data)
    print(json.dumps(summary) if args.json else format_summary(summary))
    return 0
