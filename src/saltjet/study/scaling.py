"""The `scaling` study: FLOPs and latency against the number of particles n (the paper's Fig. 3 right).

Uses `saltjet.cost.bench.run_bench` when the bench library offers it (records with model, n_particles,
batch_size, params, flops, latency_ms, jets_per_s, ...). Otherwise the records are built from the
bench library's pieces (`random_jets`, `time_forward`) and the FLOP count of
`saltjet.study.evaluation.model_cost`. Each model's latency is divided by the Transformer's at the
same n, measured in the same call.
"""

from __future__ import annotations

import inspect
from typing import Callable

DEFAULT_MODELS = ("salt", "linformer", "transformer")
DEFAULT_N = (16, 32, 64, 150, 300, 600, 1024)


def _via_run_bench(models, ns, batch, repeats):
    from saltjet.cost import bench

    run_bench = getattr(bench, "run_bench", None)
    if run_bench is None:
        return None
    params = inspect.signature(run_bench).parameters
    kwargs = {}
    for names, value in ((("models",), list(models)), (("n_values", "ns", "n", "n_particles"), list(ns)),
                         (("batch_sizes", "batches", "batch"), [batch]), (("repeats",), repeats),
                         (("quiet",), True)):
        name = next((n for n in names if n in params), None)
        if name is not None:
            kwargs[name] = value
    try:
        records = run_bench(**kwargs)
    except TypeError:
        return None
    return [r if isinstance(r, dict) else vars(r) for r in records]


def run_scaling(spec, say: Callable[[str], None] = print) -> list[dict]:
    """Bench records for the study's `bench` settings: models, n (list), batch, repeats."""
    from saltjet.study.evaluation import model_cost

    cfg = spec.bench
    models = list(cfg.get("models", DEFAULT_MODELS))
    ns = [int(n) for n in cfg.get("n", DEFAULT_N)]
    batch = int(cfg.get("batch", 256))
    repeats = int(cfg.get("repeats", 10))
    say(f"scaling: {', '.join(models)} at n = {', '.join(map(str, ns))}, batch {batch}")
    records = _via_run_bench(models, ns, batch, repeats)
    if records is None:
        records = []
        for n in ns:
            for model in models:
                options = {"n_particles": n, **cfg.get("model_options", {}).get(model, {})}
                cost = model_cost(model, options, batch=batch, repeats=repeats)
                records.append({"model": model, "n_particles": n, "batch_size": batch, "backend": "torch",
                                "params": cost["params"], "flops": cost["flops"],
                                "latency_ms": cost["latency_ms"] * batch, "jets_per_s": batch / (cost["latency_ms"] * batch / 1e3),
                                "threads": cost["threads"]})
    base = {(r["n_particles"], r.get("batch_size")): r["latency_ms"] for r in records if r["model"] == "transformer"}
    for r in records:
        ref = base.get((r["n_particles"], r.get("batch_size")))
        r.setdefault("ratio_to_transformer", r["latency_ms"] / ref if ref else None)
    return records
