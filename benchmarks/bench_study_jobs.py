"""Wall time of one study's trainings in one process vs `--jobs N` worker processes.

Runs `saltjet study multiplicity` (SAL-T, Linformer, Transformer on 5 classes) twice on the same
cached generated jets, into two scratch folders, once with `--jobs 1` (one process, all threads) and
once with `--jobs N` (N processes with an equal thread share), and prints both times and their ratio.

    python benchmarks/bench_study_jobs.py [--jets-per-class 3000] [--epochs 2] [--seeds 2] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(jobs: int, args, scratch: Path) -> tuple[float, dict]:
    out = scratch / f"jobs{jobs}" / "multiplicity"  # separate parents: no reuse between the two
    cmd = [sys.executable, "-m", "saltjet", "study", "multiplicity", "--quiet", "--jets-per-class", str(args.jets_per_class),
           "--epochs", str(args.epochs), "--seeds", str(args.seeds), "--jobs", str(jobs), "--out", str(out),
           "--cache-dir", args.cache_dir]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    results = json.loads((out / "results.json").read_text())
    return wall, {f"{r['run']}/{r['seed']}": r["metrics"]["accuracy"] for r in results["runs"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jets-per-class", type=int, default=3000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--cache-dir", default="data")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        serial, acc1 = run(1, args, scratch)
        parallel, accn = run(args.jobs, args, scratch)
    print(f"multiplicity study, {args.jets_per_class} jets/class, {args.epochs} epochs, {args.seeds} seeds "
          f"({len(acc1)} trainings)")
    print(f"  --jobs 1:  {serial:7.1f} s")
    print(f"  --jobs {args.jobs}:  {parallel:7.1f} s")
    print(f"  speed-up: {serial / parallel:.2f}x")
    diff = max(abs(acc1[k] - accn[k]) for k in acc1)
    print(f"  largest accuracy difference between the two (thread count changes float sums): {diff:.4f}")


if __name__ == "__main__":
    main()
