"""Training throughput (jets/s) per model at n=150, and the share of a step spent fetching data.

    python benchmarks/bench_train.py [--jets 6000] [--batch-size 256] [--epochs 2] [--threads 2]

Trains each model through `saltjet.train.train` (the real loop: index batches from in-memory
tensors, forward, loss, backward, Adam) on toy jets with 150 slots, and reports the last epoch's
jets/s (training only) and its data-fetch share (batch gather + device copy as a share of the
epoch's training time; goal < 10%). Also times the pipeline's one-off preparation (kT sort +
truncate/pad) in jets/s. Numbers only; the machine load is printed because shared machines are noisy.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jets", type=int, default=6000, help="toy jets (80%% train, default 6000)")
    ap.add_argument("--n", type=int, default=150, help="particle slots (default 150)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=2, help="the last epoch is reported (default 2)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default torch's)")
    ap.add_argument("--models", default="salt,linformer,transformer")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    import torch

    from saltjet.config import RunConfig
    from saltjet.data.pipeline import prepare
    from saltjet.data.toy import toy_jets
    from saltjet.train import train

    data = toy_jets(args.jets, n_classes=5, n_slots=args.n, seed=0)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; torch {torch.__version__}, "
          f"{args.threads or torch.get_num_threads()} threads; {args.jets} toy jets, n={args.n}, "
          f"batch {args.batch_size}, device {args.device}")

    big = toy_jets(50_000, n_classes=5, n_slots=args.n, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        prepare(big, args.n, "kt")
        dt = time.perf_counter() - t0
    print(f"pipeline prepare (kT sort + truncate/pad), 50,000 jets: {50_000 / dt:,.0f} jets/s")

    print(f"{'model':<12} {'train jets/s':>12} {'data share':>11} {'epoch s':>8}")
    for name in args.models.split(","):
        config = RunConfig.from_dict({
            "model": name, "data": {"n_particles": args.n, "val_fraction": 0.2},
            "train": {"epochs": args.epochs, "batch_size": args.batch_size, "quiet": True, "patience": 0,
                      "num_threads": args.threads, "device": args.device}})
        with tempfile.TemporaryDirectory() as out:
            train(config, os.path.join(out, "run"), data=data)
            from saltjet.run import METRICS_FILE, read_jsonl

            last = read_jsonl(os.path.join(out, "run", METRICS_FILE))[-1]
        train_s = int(args.jets * 0.8) / last["jets_per_s"]
        print(f"{name:<12} {last['jets_per_s']:>12,.0f} {100 * last['data_time_share']:>10.2f}% {train_s:>8.2f}")


if __name__ == "__main__":
    main()
