"""`saltjet emulate`: the bit-exact integer model of a quantised run on jets, next to the float run."""

from __future__ import annotations

import argparse

from saltjet.cli import positive_int

HELP = ("run a quantised run's bit-exact fixed-point emulator on jets: accuracy of the float run, the "
        "QAT model and the emulator, and bit-for-bit agreement of the emulator with the QAT model")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, metavar="QRUN", help="quantised run directory written by saltjet quantize")
    p.add_argument("--data", required=True, nargs="+", metavar="PATH", help="data file(s), folder or glob")
    p.add_argument("--split", default="test", choices=["test", "val", "train", "all"],
                   help="which part of the data: the float run's held-out test part (default), as its "
                        "config.yaml cuts these files, or all jets")
    p.add_argument("--jets", type=positive_int, default=None, metavar="N", help="the first N jets of that part")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of lines")


def run(args: argparse.Namespace) -> int:
    from saltjet.training.run import strict_json
    from saltjet.trigger.compare import compare_run

    report = compare_run(args.run, args.data, args.split, args.jets)
    if args.json:
        print(strict_json(report))
        return 0
    def pct(v):
        return "n/a" if v is None else f"{100 * v:.2f} %"

    print(f"{report['jets']:,} jets ({args.split} part of {' '.join(args.data)}), n={report['n_particles']}")
    print(f"accuracy  float {pct(report['float_accuracy'])}   QAT {pct(report['qat_accuracy'])}   "
          f"emulator {pct(report['emulator_accuracy'])}")
    print(f"emulator == QAT model bit for bit: {report['bit_exact_jets']:,} of {report['jets']:,} jets"
          + ("" if report["bit_exact"] else "  (MISMATCH)"))
    if report["float_accuracy"] is not None:
        print(f"quantisation cost: {100 * (report['float_accuracy'] - report['emulator_accuracy']):+.2f} points "
              f"(float − emulator); same class as float on {pct(report['agreement_with_float'])} of jets")
    print(f"EBOPs {report['ebops']:,.0f}; widths {report['min_bits']}..{report['max_bits']} bits "
          f"(mean {report['mean_bits']:.2f})")
    return 0 if report["bit_exact"] else 1
