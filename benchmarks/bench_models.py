"""SAL-T vs SDPA Transformer (and Linformer) latency ratios, measured side by side in one run.

Usage: python benchmarks/bench_models.py [--n 128,150,1024] [--batch 1024] [--repeats 7] [--compile]

For each n the models' calls are INTERLEAVED (salt, linformer, transformer, salt, ...) after a
warm-up, so drifting load on a shared machine hits every model alike; prints the median latency per
batch (ms) and each model's ratio to the Transformer at the same n, batch and thread count. Random
untrained models on random kT-sorted jets (timing does not depend on the weights). Issue #5 targets
(2-core CPU, batch 1024): SAL-T/Transformer ≤ 0.4 at n=150, ≤ 0.1 at n=1024; SAL-T time growth
n=128→1024 ≤ 10×.
"""

from __future__ import annotations

import argparse

import torch

from saltjet.cost.bench import interleaved
from saltjet.data.toy import random_jets
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
    variants = names + ([f"{m}+compile" for m in names] if args.compile else [])
    ns = [int(v) for v in args.n.split(",")]
    median: dict[tuple[str, int], float] = {}
    print(f"batch {args.batch}, threads {torch.get_num_threads()}, repeats {args.repeats}, torch {torch.__version__}")
    for n in ns:
        x, mask = random_jets(args.batch, n, seed=0)
        calls = {}
        for name in variants:
            torch.manual_seed(0)
            model = create_model(name.split("+")[0], n_particles=n).eval()
            if name.endswith("+compile"):
                model = torch.compile(model, dynamic=False)
            calls[name] = (lambda m: lambda: m(x, mask))(model)
        with torch.inference_mode():
            for name, t in interleaved(calls, args.repeats, args.warmup).items():
                median[name, n] = t
        row = ", ".join(f"{name} {median[name, n] * 1e3:.1f} ms" for name in variants)
        print(f"n={n}: {row}", flush=True)
    for name in variants:
        ref = "transformer+compile" if name.endswith("+compile") else "transformer"
        if name != ref and ("transformer", ns[0]) in median and (ref, ns[0]) in median:
            ratios = ", ".join(f"n={n}: {median[name, n] / median[ref, n]:.3f}" for n in ns)
            print(f"{name}/{ref}: {ratios}")
    if len(ns) > 1 and "salt" in names:
        print(f"salt growth n={ns[0]}→{ns[-1]}: {median['salt', ns[-1]] / median['salt', ns[0]]:.2f}×")


if __name__ == "__main__":
    main()
