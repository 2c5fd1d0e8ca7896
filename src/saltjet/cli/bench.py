"""`saltjet bench`: parameters, FLOPs, latency, throughput and memory of the taggers vs n."""

from __future__ import annotations

import argparse

from saltjet.cli import positive_int

HELP = "measure FLOPs, latency, throughput and memory of the models vs particle count, side by side"


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected numbers ≥ 1, got {text!r}")
    return values


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", type=_names, default=("salt", "linformer", "transformer"), help="default salt,linformer,transformer")
    p.add_argument("--n", type=_ints, default=(16, 32, 64, 150, 300, 600, 1024), help="particle counts (default 16,...,1024)")
    p.add_argument("--batch", type=_ints, default=(1, 1024), help="batch sizes (default 1,1024)")
    p.add_argument("--backend", type=_names, default=("torch",),
                   help="torch (eager), compiled (TorchInductor, fixed shapes; needs g++ on the CPU) and/or onnxruntime "
                        "(default torch)")
    p.add_argument("--threads", type=positive_int, default=None, help="intra-op threads for torch and ORT (default: torch's)")
    p.add_argument("--repeats", type=positive_int, default=20, help="timed calls per case (default 20)")
    p.add_argument("--warmup", type=positive_int, default=3, help="untimed calls first (default 3)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="auto = cuda when present")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory pass")
    p.add_argument("--quick", action="store_true", help="n=16,150 batch=1,64, 3 repeats, GEMM 512: a smoke run")
    p.add_argument("--json", action="store_true", help="print the records as a JSON list instead of a table")
    p.add_argument("--out", metavar="DIR", help="write bench.json, bench.md and bench_scaling.png here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import sys

    from saltjet.cost.bench import BenchOptions, run_bench
    from saltjet.cost.bench_report import markdown_table, write_outputs
    from saltjet.extras import check_extras

    # before minutes of timing, not after: the extras the chosen backends and outputs need
    if "onnxruntime" in args.backend:
        check_extras("export", purpose="--backend onnxruntime")
    if "compiled" in args.backend:
        from saltjet.compiled import check_compiler
        from saltjet.training.distributed import resolve_device

        check_compiler(resolve_device(args.device).type)
    if args.out:
        check_extras("plot", purpose="--out (bench_scaling.png)")
    options = BenchOptions(models=args.models, n_particles=args.n, batch_sizes=args.batch, backends=args.backend,
                           threads=args.threads, repeats=args.repeats, warmup=args.warmup, device=args.device,
                           memory=not args.no_memory)
    if args.quick:
        explicit = {a for a in ("n", "batch") if getattr(args, a) != add_defaults()[a]}
        options.n_particles = args.n if "n" in explicit else (16, 150)
        options.batch_sizes = args.batch if "batch" in explicit else (1, 64)
        options.repeats, options.warmup, options.gemm_size = min(args.repeats, 3), 1, 512
    records, context = run_bench(options, progress=not (args.quiet or args.json))
    for line in context.get("skipped", []):
        print(f"saltjet bench: skipped {line}", file=sys.stderr)
    rows = [r.to_dict() for r in records]
    if args.out:
        for path in write_outputs(rows, context, args.out):
            print(f"wrote {path}", flush=True) if not args.json else None
    if args.json:
        from saltjet.training.run import strict_json

        print(strict_json(rows, indent=1))
    else:
        print(markdown_table(rows, context))
    return 0


def add_defaults() -> dict:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return {"n": parser.get_default("n"), "batch": parser.get_default("batch")}
