"""Jet generator throughput: jets/s per class on one core (MPI on and off) and the whole set with workers.

    python benchmarks/bench_generate.py [--jets 100] [--workers 2] [--no-pool]

Per class: one chunk of --jets jets generated in this process (Pythia init included, as in a real
run's chunk), timed separately for Pythia+FastJet selection and for building the hls4ml arrays
(16 particle features + substructure). Then a full `generate_jets` run with --workers processes
(includes the worker start-up). Prints numbers only; the machine load is printed too because
shared machines make timings noisy.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jets", type=int, default=100, help="jets per class per measurement (default 100)")
    ap.add_argument("--workers", type=int, default=2, help="workers for the full-run measurement (default 2)")
    ap.add_argument("--no-pool", action="store_true", help="skip the full run with workers")
    args = ap.parse_args()

    from saltjet.data.generate.hls4ml_writer import hls4ml_arrays
    from saltjet.data.generate.jets import GenerateOptions, generate_jets
    from saltjet.data.generate.pythia import RECIPES, generate_class_jets, pythia_seed

    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'class':<6}{'MPI':<5}{'gen jets/s':>11}{'arrays jets/s':>15}{'total jets/s/core':>19}{'events/jet':>12}{'mean mult':>11}")
    totals = {}
    for mpi in (True, False):
        n_all = t_all = 0.0
        for c, recipe in enumerate(RECIPES):
            t0 = time.perf_counter()
            sample = generate_class_jets(c, args.jets, pythia_seed(0, c, 0), mpi=mpi)
            t1 = time.perf_counter()
            hls4ml_arrays(sample, c)
            t2 = time.perf_counter()
            n = len(sample.counts)
            n_all += n
            t_all += t2 - t0
            print(f"{recipe.name:<6}{'on' if mpi else 'off':<5}{n / (t1 - t0):>11.1f}{n / (t2 - t1):>15.1f}"
                  f"{n / (t2 - t0):>19.1f}{sample.n_events / n:>12.2f}{sample.counts.mean():>11.1f}")  # fmt: skip
        totals[mpi] = n_all / t_all
        print(f"{'all':<6}{'on' if mpi else 'off':<5}{'':>11}{'':>15}{totals[mpi]:>19.1f}")

    if not args.no_pool:
        for mpi in (True, False):
            with tempfile.TemporaryDirectory() as tmp:
                opts = GenerateOptions(jets_per_class=args.jets * args.workers, seed=1, mpi=mpi,
                                       chunk_jets=max(1, args.jets // 2))  # fmt: skip
                t0 = time.perf_counter()
                generate_jets(tmp, opts, workers=args.workers, quiet=True)
                wall = time.perf_counter() - t0
            n = 5 * opts.jets_per_class
            print(f"generate_jets, {args.workers} workers, MPI {'on' if mpi else 'off'}: {n} jets in {wall:.1f} s "
                  f"= {n / wall:.1f} jets/s (worker start-up included)")  # fmt: skip
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
