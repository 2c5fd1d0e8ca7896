"""`saltjet study NAME`: run one of the paper's studies (saltjet/experiments/NAME.yaml) and write its report."""

from __future__ import annotations

import argparse
import shlex

from saltjet.cli import positive_int

HELP = ("run a study of the paper (compare, sorting, partitions, multiplicity, scaling, attention, pointcloud, "
        "features), SAL-T next to weaver's ParT (compare_part) or the trigger path (trigger: quantise, emulate, "
        "firmware estimate)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="study name (a file saltjet/experiments/NAME.yaml) or a path to a study YAML")
    p.add_argument("--data", help="data files/glob (jets) or ModelNet10 root (pointcloud); default: built-in generated set")
    p.add_argument("--format", default="auto", help="format of --data (default: auto)")
    p.add_argument("--seeds", type=positive_int, help="training seeds per run (overrides the study file)")
    p.add_argument("--quick", action="store_true", help="tiny data, 1 epoch, 1 seed: a smoke test in minutes")
    p.add_argument("--out", help="output folder (default reports/NAME; reports/quick/NAME with --quick)")
    p.add_argument("--jets-per-class", type=positive_int, help="size of the generated data set per class")
    p.add_argument("--epochs", type=positive_int, help="maximum epochs per training (overrides the study file)")
    p.add_argument("--cache-dir", default="data", help="where generated data sets are cached (default: data)")
    p.add_argument("--report-only", action="store_true", help="re-render report.md from OUT/results.json, train nothing")
    p.add_argument("--jobs", type=positive_int, default=1,
                   help="trainings run at once, each a process with an equal share of the CPU threads (default: 1)")
    p.add_argument("--tasks", type=lambda text: [t for t in text.split(",") if t], metavar="T1,T2",
                   help="run only these of the study's tasks (comma-separated; default: all of them)")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def canonical_command(args: argparse.Namespace) -> str:
    """The command line that reproduces this invocation (from the parsed options), shell-quoted (a
    --data glob stays one argument when the line is pasted into a shell)."""
    parts = ["saltjet", "study", args.name]
    for flag in ("data", "format", "seeds", "out", "jets_per_class", "epochs", "cache_dir"):
        value = getattr(args, flag)
        if value is not None and not (flag == "format" and value == "auto") and not (flag == "cache_dir" and value == "data"):
            parts += [f"--{flag.replace('_', '-')}", str(value)]
    if getattr(args, "tasks", None):
        parts += ["--tasks", ",".join(args.tasks)]
    if getattr(args, "jobs", 1) > 1:
        parts += ["--jobs", str(args.jobs)]
    return shlex.join(parts + (["--quick"] if args.quick else []))


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from saltjet.study import run_study, write_report
    from saltjet.study.runner import resolve_spec

    if args.report_only:
        spec = resolve_spec(args.name, args.quick)
        out = Path(args.out) if args.out else Path("reports") / ("quick" if args.quick else "") / spec.name
        print(write_report(out))
        return 0
    command = canonical_command(args)
    results = run_study(args.name, data=args.data, seeds=args.seeds, quick=args.quick, out=args.out,
                        jets_per_class=args.jets_per_class, epochs=args.epochs, format=args.format,
                        cache_dir=args.cache_dir, quiet=args.quiet, command=command, jobs=args.jobs,
                        tasks=args.tasks)
    out = Path(args.out) if args.out else Path("reports") / ("quick" if args.quick else "") / results["study"]
    print(out / "report.md")
    return 0
