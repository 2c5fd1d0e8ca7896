"""Training throughput (jets/s) per model: the plain loop next to the optimised one, in one run.

    python benchmarks/bench_train.py [--data 'data/jets_*/*.h5'] [--jets 20000] [--batch-size 512]
                                     [--epochs 2] [--rounds 2] [--threads 2]

Trains each model through `saltjet.training.loop.train` (the real loop: index batches from in-memory
tensors, forward, loss, backward, Adam) and reports the best epoch's training jets/s over
`--rounds` interleaved rounds of

    baseline    each random batch in one pass (padded to its longest jet: nearly always ~n slots)
    optimised   each random batch in `--groups` sub-batches of similar multiplicity with gradients
                accumulated (`train.length_groups`): the same optimiser step, but every sub-batch
                drops the slots that are padding in all its jets (`saltjet.models.layers.trim_padding`)

and their ratio. Interleaving the two in one run keeps the ratio fair on a busy machine. The FLOP
bound is the jets/s that forward + backward (3× the analytic forward FLOPs at the data's mean
multiplicity) would reach at the fp32 GEMM rate measured in the same run.

Real jets (`--data`, e.g. from `saltjet generate`) give the honest gain: toy jets have fewer
particles per jet than Pythia jets. The machine load is printed because shared machines are noisy.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="jets to train on (any saltjet format); default toy jets")
    ap.add_argument("--jets", type=int, default=20000, help="jets to use (80%% train, default 20000)")
    ap.add_argument("--n", type=int, default=150, help="particle slots (default 150)")
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--epochs", type=int, default=2, help="epochs per training (default 2)")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the best is reported (default 2)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default torch's)")
    ap.add_argument("--groups", type=int, default=4, help="sub-batches of the optimised loop (default 4)")
    ap.add_argument("--models", default="salt,linformer,transformer")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    import numpy as np
    import torch

    from saltjet.cost.bench import gemm_flops_per_s
    from saltjet.config import RunConfig
    from saltjet.data.toy import toy_jets
    from saltjet.cost.flops import analytic_flops
    from saltjet.training.run import METRICS_FILE, read_jsonl
    from saltjet.training.loop import train

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.data:
        from saltjet.data import load

        data = load(args.data, max_jets=args.jets)
    else:
        data = toy_jets(args.jets, n_classes=5, n_slots=args.n, seed=0)
    mult = np.minimum(data.mask.sum(axis=1), args.n)
    gemm = gemm_flops_per_s(device=args.device)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {len(data):,} {data.source or 'toy'} jets (mean multiplicity "
          f"{mult.mean():.1f}), n={args.n}, batch {args.batch_size}, device {args.device}; "
          f"fp32 GEMM {gemm / 1e9:.0f} GFLOP/s")

    def jets_per_s(name: str, groups: int) -> float:
        config = RunConfig.from_dict({
            "model": name, "data": {"n_particles": args.n, "val_fraction": 0.2},
            "train": {"epochs": args.epochs, "batch_size": args.batch_size, "quiet": True, "patience": 0,
                      "num_threads": args.threads, "device": args.device, "length_groups": groups}})
        with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            train(config, os.path.join(out, "run"), data=data)
            return max(r["jets_per_s"] for r in read_jsonl(os.path.join(out, "run", METRICS_FILE)))

    print(f"{'model':<12} {'baseline jets/s':>15} {'optimised jets/s':>16} {'speed-up':>9} {'FLOP bound jets/s':>18}")
    for name in args.models.split(","):
        best = {1: 0.0, args.groups: 0.0}
        for _ in range(args.rounds):
            for groups in best:
                best[groups] = max(best[groups], jets_per_s(name, groups))
        flops = 3 * analytic_flops(name, n_particles=max(int(round(mult.mean())), 1)).total
        print(f"{name:<12} {best[1]:>15,.0f} {best[args.groups]:>16,.0f} {best[args.groups] / best[1]:>8.2f}x "
              f"{gemm / flops:>18,.0f}")


if __name__ == "__main__":
    main()
