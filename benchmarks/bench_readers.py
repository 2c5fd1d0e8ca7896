"""Reader and preprocessing throughput: hls4ml reading, then kT sort + normalisation, in jets/s.

Writes a generated file in the hls4ml layout (jetConstituentList (N, 150, 16) float32, jets (N, 59),
the two name arrays) to a temporary folder, times `saltjet.data.load` on it, then times the
preprocessing the pipeline applies per jet: `sort_particles(by="kt")` + `apply_permutation` and an
InputScaler-like (x − center) / scale on real particles. The goal of issue 3 is ≥ 1M jets/s for
sort + normalise. Alternatives to `sort_particles` are timed on the same jets and checked to give
the same order.

    python benchmarks/bench_readers.py [--jets 50000] [--repeat 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import torch

from saltjet.data import apply_permutation, fit_robust_scaling, load, sort_particles
from saltjet.data.hls4ml_layout import JET_FEATURES, PARTICLE_FEATURE_NAMES_AS_PUBLISHED, PARTICLE_FEATURES
from saltjet.data.kinematics import delta_r


def write_fixture(path: Path, n_jets: int, seed: int = 0, chunk: int = 10_000) -> None:
    """hls4ml-layout file with ~q/g-like multiplicities (mean ~60, some > 150 clipped)."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        cons = f.create_dataset("jetConstituentList", (n_jets, 150, 16), dtype=np.float32)
        jets = f.create_dataset("jets", (n_jets, len(JET_FEATURES)), dtype=np.float32)
        f["jetFeatureNames"] = np.array([n.encode() for n in JET_FEATURES])
        f["particleFeatureNames"] = np.array([n.encode() for n in PARTICLE_FEATURE_NAMES_AS_PUBLISHED])
        for start in range(0, n_jets, chunk):
            c = min(chunk, n_jets - start)
            mult = np.clip(rng.poisson(60, c), 1, 150)
            real = np.arange(150)[None, :] < mult[:, None]
            block = rng.normal(0, 0.2, (c, 150, 16)).astype(np.float32)
            block[..., PARTICLE_FEATURES.index("j1_pt")] = -np.sort(-rng.exponential(15, (c, 150)), axis=1) + 0.1
            cons[start:start + c] = block * real[..., None]
            lab = np.zeros((c, len(JET_FEATURES)), dtype=np.float32)
            lab[np.arange(c), len(JET_FEATURES) - 6 + rng.integers(0, 5, c)] = 1
            jets[start:start + c] = lab


def best_rate(fn, n_jets: int, repeat: int) -> float:
    """Jets per second of the fastest of `repeat` calls."""
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n_jets / best


# ------------------------------------------------------------------------------------------------
# sort variants: each returns perm (N, n) with real particles by kT descending, padding last


def sort_saltjet(x, mask):
    return sort_particles(x[..., 0], x[..., 1], x[..., 2], mask, by="kt")


def _kt_key32(x, mask):
    """float32 key: -kT at real particles, +inf at padding (so an ascending sort puts padding last)."""
    key = x[..., 0] * np.hypot(x[..., 1], x[..., 2])  # Δφ already wrapped by the readers
    return np.where(mask, -key, np.float32(np.inf))


def sort_numpy32_stable(x, mask):
    return np.argsort(_kt_key32(x, mask), axis=1, kind="stable")


def sort_numpy32_quick(x, mask):
    return np.argsort(_kt_key32(x, mask), axis=1)


def sort_torch32_stable(x, mask):
    key = torch.from_numpy(_kt_key32(x, mask))
    return torch.sort(key, dim=1, stable=True).indices.numpy()


def sort_torch32_all(x, mask):
    """key, sort and gather all in torch (float32)."""
    xt, mt = torch.from_numpy(x), torch.from_numpy(mask)
    key = xt[..., 0] * torch.hypot(xt[..., 1], xt[..., 2])
    key = torch.where(mt, -key, torch.tensor(float("inf")))
    return torch.sort(key, dim=1, stable=True).indices.numpy()


def sort_bucketed32(x, mask, chunk: int = 4096):
    """float32 stable argsort on only the occupied prefix: jets grouped by their last real slot,
    each group sorted at its own width (padding beyond it keeps identity order)."""
    n = mask.shape[1]
    last = n - np.argmax(mask[:, ::-1], axis=1)  # one past the last real slot
    order = np.argsort(last, kind="stable")
    key = _kt_key32(x, mask)
    perm = np.broadcast_to(np.arange(n), mask.shape).copy()
    for s in range(0, len(order), chunk):
        rows = order[s:s + chunk]
        w = int(last[rows].max())
        perm[rows, :w] = np.argsort(key[rows, :w], axis=1, kind="stable")
    return perm


def threaded(fn, threads: int, chunk: int = 8192):
    def run(x, mask):
        out = np.empty(mask.shape, dtype=np.int64)

        def part(s):
            out[s:s + chunk] = fn(x[s:s + chunk], mask[s:s + chunk])

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(part, range(0, len(x), chunk)))
        return out

    return run


def normalise(x, mask, center, scale):
    """InputScaler-like: (x − center) / scale at real particles, 0 at padding. x: (N, n, F)."""
    out = (x - center) / scale
    out *= mask[..., None]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jets", type=int, default=50_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "jetImage_bench_150p.h5"
        t0 = time.perf_counter()
        write_fixture(path, args.jets)
        print(f"fixture: {args.jets:,} jets, {path.stat().st_size / 1e6:.0f} MB written in {time.perf_counter() - t0:.1f} s")
        rate = best_rate(lambda: load(path, quiet=True), args.jets, args.repeat)
        print(f"read hls4ml (load, 3 features):            {rate:>12,.0f} jets/s")
        rate = best_rate(lambda: load(path, quiet=True, features="all"), args.jets, args.repeat)
        print(f"read hls4ml (load, all 16 features):       {rate:>12,.0f} jets/s")
        data = load(path, quiet=True)
    x, mask = data.x, data.mask
    n = len(x)
    center, scale = fit_robust_scaling(x, mask)
    print(f"preprocessing on {n:,} jets x {x.shape[1]} slots, mean multiplicity {mask.sum(1).mean():.1f}, "
          f"{args.threads} threads")
    reference = sort_saltjet(x, mask)
    variants = {
        "sort_particles (numpy float64 stable)": sort_saltjet,
        "numpy float32 stable": sort_numpy32_stable,
        "numpy float32 quicksort": sort_numpy32_quick,
        "torch float32 stable": sort_torch32_stable,
        "torch float32 stable, key in torch": sort_torch32_all,
        f"numpy float32 stable, {args.threads} threads": threaded(sort_numpy32_stable, args.threads),
        "numpy float32 stable, occupied prefix only": sort_bucketed32,
        f"numpy float32 prefix only, {args.threads} threads": threaded(sort_bucketed32, args.threads),
    }
    for name, fn in variants.items():
        perm = fn(x, mask)
        real = mask.sum(1, keepdims=True) > np.arange(mask.shape[1])
        same = (np.where(real, perm, -1) == np.where(real, reference, -1)).all(axis=1).mean()
        rate = best_rate(lambda: fn(x, mask), n, args.repeat)
        print(f"sort {name:<40} {rate:>12,.0f} jets/s   jets in sort_particles' order: {same:.4%}")
    perm = reference
    rate = best_rate(lambda: apply_permutation(x, perm), n, args.repeat)
    print(f"apply_permutation (take_along_axis)            {rate:>12,.0f} jets/s")
    sorted_x, sorted_mask = apply_permutation(x, perm), apply_permutation(mask, perm)
    rate = best_rate(lambda: normalise(sorted_x, sorted_mask, center, scale), n, args.repeat)
    print(f"normalise (numpy)                              {rate:>12,.0f} jets/s")

    def pipeline(sort_fn):
        def run():
            pm = sort_fn(x, mask)
            xs, ms = apply_permutation(x, pm), apply_permutation(mask, pm)
            return normalise(xs, ms, center, scale)
        return run

    def pipeline_torch():
        xt, mt = torch.from_numpy(x), torch.from_numpy(mask)
        key = torch.where(mt, -(xt[..., 0] * torch.hypot(xt[..., 1], xt[..., 2])), torch.tensor(float("inf")))
        pm = torch.sort(key, dim=1, stable=True).indices
        xs = torch.gather(xt, 1, pm[..., None].expand_as(xt))
        ms = torch.gather(mt, 1, pm)
        return ((xs - torch.from_numpy(center)) / torch.from_numpy(scale)) * ms[..., None]

    # What an epoch costs when the (deterministic) sort is done once at dataset build time and the
    # normalisation lives in the model's InputScaler: gathering shuffled batches of sorted jets.
    rng = np.random.default_rng(0)

    def epoch_batches(batch: int = 512):
        index = rng.permutation(n)
        for s in range(0, n, batch):
            rows = index[s:s + batch]
            torch.from_numpy(sorted_x[rows]), torch.from_numpy(sorted_mask[rows])

    rate = best_rate(epoch_batches, n, args.repeat)
    print(f"epoch of shuffled batches from pre-sorted arrays {rate:>12,.0f} jets/s")

    for name, fn in [("sort_particles + apply + normalise", pipeline(sort_saltjet)),
                     ("numpy32 stable + apply + normalise", pipeline(sort_numpy32_stable)),
                     (f"numpy32 stable {args.threads} thr + apply + normalise",
                      pipeline(threaded(sort_numpy32_stable, args.threads))),
                     (f"numpy32 prefix {args.threads} thr + apply + normalise",
                      pipeline(threaded(sort_bucketed32, args.threads))),
                     ("all torch float32 (sort, gather, normalise)", pipeline_torch)]:
        rate = best_rate(fn, n, args.repeat)
        print(f"TOTAL {name:<42} {rate:>12,.0f} jets/s  (goal 1,000,000)")


if __name__ == "__main__":
    main()
