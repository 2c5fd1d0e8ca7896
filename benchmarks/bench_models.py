"""SAL-T vs SDPA Transformer (and Linformer) latency ratios, measured side by side in one run.

Usage: python benchmarks/bench_models.py [--n 128,150,1024] [--batch 1024] [--repeats 7] [--compile]

Prints median latency per batch (ms) per model and n, and each model's ratio to the Transformer at
the same n, batch and thread count. Random untrained models on random kT-sorted jets (timing does not
depend on the weights). Issue #5 targets (2-core CPU, batch 1024): SAL-T/Transformer ≤ 0.4 at
n=150, ≤ 0.1 at n=1024; SAL-T time growth n=128→1024 ≤ 10×.
"""

from __future__ import annotations

import argparse

import torch

from saltjet.bench import random_jets, time_forward
from saltjet.models import create_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", default="128,150,1024")
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--models", default="salt,linformer,transformer")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--compile", action="store_true", help="also time torch.compile'd models")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    names = args.models.split(",")
    ns = [int(v) for v in args.n.split(",")]
    median: dict[tuple[str, int], float] = {}
    print(f"batch {args.batch}, threads {torch.get_num_threads()}, repeats {args.repeats}, torch {torch.__version__}")
    print(f"{'model':<14}" + "".join(f"{f'n={n} ms':>14}{'ratio':>8}" for n in ns))
    # the Transformer first, so every later row can show its ratio to it
    order = sorted(names, key=lambda m: m != "transformer")
    for name in order + ([f"{m}+compile" for m in order] if args.compile else []):
        row = f"{name:<14}"
        for n in ns:
            torch.manual_seed(0)
            model = create_model(name.split("+")[0], n_particles=n).eval()
            if name.endswith("+compile"):
                model = torch.compile(model, dynamic=False)
            x, mask = random_jets(args.batch, n, seed=0)
            t = time_forward(model, x, mask, repeats=args.repeats, warmup=args.warmup)
            median[name, n] = t.median_s
            ref = median.get(("transformer" + ("+compile" if name.endswith("+compile") else ""), n))
            ratio = f"{t.median_s / ref:.3f}" if ref else "-"
            row += f"{t.median_s * 1e3:>14.1f}{ratio:>8}"
        print(row, flush=True)
    for name in names:
        if name != "transformer" and ("transformer", ns[0]) in median:
            ratios = ", ".join(f"n={n}: {median[name, n] / median['transformer', n]:.3f}" for n in ns)
            print(f"{name}/transformer: {ratios}")
    if len(ns) > 1 and "salt" in names:
        print(f"salt growth n={ns[0]}→{ns[-1]}: {median['salt', ns[-1]] / median['salt', ns[0]]:.2f}×")


if __name__ == "__main__":
    main()
