"""`saltjet generate`: make the built-in data set (Pythia 8 jets in the hls4ml layout, or shapes)."""

from __future__ import annotations

import argparse
import importlib.util

from saltjet.cli import positive_int

HELP = "generate the built-in data: g/q/W/Z/t jets with Pythia 8 + FastJet (hls4ml layout) or 3D shapes"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--jets-per-class", type=positive_int, required=True,
                   help="jets per class (for --dataset shapes: training meshes per class)")  # fmt: skip
    p.add_argument("--classes", default=None, metavar="C,C",
                   help="only these jet classes, comma-separated from g,q,W,Z,t (default all); the jets are "
                        "those the full run makes for them, so add them with another --seed (e.g. --classes t --seed 1 adds top "
                        "jets for top vs QCD to a seed-0 set)")  # fmt: skip
    p.add_argument("--dataset", choices=["jets", "shapes"], default="jets", help="what to make (default jets)")
    p.add_argument("--seed", type=int, default=0, help="random seed ≥ 0 (default 0); same seed, same files")
    p.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--shard", default="0/1", metavar="I/K",
                   help="make shard I of K (0 ≤ I < K; default 0/1): the K shards together are the full set")  # fmt: skip
    p.add_argument("--no-mpi", action="store_true", help="switch multiparton interactions off (~3x faster)")
    p.add_argument("--jets-per-file", type=positive_int, default=10_000, help="jets per HDF5 file (default 10000)")
    p.add_argument("--full-substructure", action="store_true",
                   help="also compute the slow three-point correlators C2, D2, M2, N2")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def run(args: argparse.Namespace) -> int:
    from saltjet.errors import ConfigError

    if args.seed < 0:
        raise ConfigError(f"--seed must be ≥ 0, got {args.seed}")
    if args.dataset == "shapes":
        if args.classes is not None:
            raise ConfigError("--classes is for --dataset jets")
        if importlib.util.find_spec("saltjet.data.generate.shapes") is None:
            raise ConfigError("the shapes generator is not available in this installation")
        from saltjet.data.generate.shapes import generate_shapes

        out = generate_shapes(args.out, per_class_train=args.jets_per_class,
                              per_class_test=max(1, args.jets_per_class // 4), seed=args.seed, quiet=args.quiet)  # fmt: skip
        if not args.quiet:
            print(f"shapes written to {out}")
        return 0

    from saltjet.data.generate.jets import GenerateOptions, generate_jets, parse_shard

    shard, n_shards = parse_shard(args.shard)
    opts = GenerateOptions(
        jets_per_class=args.jets_per_class,
        seed=args.seed,
        mpi=not args.no_mpi,
        jets_per_file=args.jets_per_file,
        shard=shard,
        n_shards=n_shards,
        full_substructure=args.full_substructure,
        classes=None if args.classes is None else tuple(c.strip() for c in args.classes.split(",")),
    )
    opts.validate()
    paths = generate_jets(args.out, opts, workers=args.workers, quiet=args.quiet)
    if not args.quiet:
        for path in paths:
            print(path)
    return 0
