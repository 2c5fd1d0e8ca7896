"""`saltjet demo`: the main job. Generate (once) a small Pythia 8 jet set, train SAL-T, Linformer and
the Transformer on a short CPU schedule, evaluate them on held-out jets and print one comparison.

It is the `demo` study (saltjet/experiments/demo.yaml) run through the same code as `saltjet study`.
"""

from __future__ import annotations

import argparse

from saltjet.cli import positive_int

HELP = "generate jets (cached), train SAL-T, Linformer and Transformer briefly, compare them on held-out jets"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jets-per-class", type=positive_int,
                   help="generated jets per class (default: saltjet/experiments/demo.yaml, 4000)")
    p.add_argument("--epochs", type=positive_int, help="maximum epochs per model (default: saltjet/experiments/demo.yaml)")
    p.add_argument("--data", help="train on these files instead of the built-in generated jets")
    p.add_argument("--out", default="runs/demo", help="where runs, report and plots go (default: runs/demo)")
    p.add_argument("--cache-dir", default="data", help="where the generated jets are cached (default: data)")
    p.add_argument("--quick", action="store_true", help="a tiny smoke run (60 jets per class, 1 epoch)")
    p.add_argument("--quiet", action="store_true", help="only print the final table")


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from saltjet.study import run_study
    from saltjet.study.report import findings, task_table

    start = time.perf_counter()
    out = Path(args.out)
    command = " ".join(["saltjet", "demo"] + (["--quick"] if args.quick else [])
                       + ([f"--jets-per-class {args.jets_per_class}"] if args.jets_per_class else [])
                       + ([f"--epochs {args.epochs}"] if args.epochs else []))
    results = run_study("demo", data=args.data, quick=args.quick, out=out, jets_per_class=args.jets_per_class,
                        epochs=args.epochs, cache_dir=args.cache_dir, quiet=args.quiet, command=command)
    for task in results.get("tasks", {}):
        info = results["tasks"][task]
        print(f"\n{task}: {info['n_train']} training jets, {info['n_test']} held-out test jets, "
              f"classes {', '.join(info['class_names'])}")
        print(task_table(results, task))
        for line in findings(results, task):
            print(line)
    print(f"\nreport: {out / 'report.md'}\nplots:  {out / 'figures'}\nruns:   {out / 'runs'}")
    print(f"demo finished in {time.perf_counter() - start:.0f} s")
    return 0
