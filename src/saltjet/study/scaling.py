"""The `scaling` study: FLOPs and latency against the number of particles n (the paper's Fig. 3 right).

Each record is `saltjet.study.evaluation.model_cost` of one (model, n): parameters, the analytic FLOP
count (`saltjet.cost.flops.analytic_flops`) and the latency of `saltjet.cost.bench.time_forward` on
`saltjet.data.toy.random_jets`, with the study's per-model options (`bench.model_options`). Each
model's latency is divided by the Transformer's at the same n, measured in the same call.
"""

from __future__ import annotations

from typing import Callable

from saltjet.study.evaluation import model_cost

DEFAULT_MODELS = ("salt", "linformer", "transformer")
DEFAULT_N = (16, 32, 64, 150, 300, 600, 1024)


def run_scaling(spec, say: Callable[[str], None] = print) -> list[dict]:
    """Bench records for the study's `bench` settings: models, n (list), batch, repeats."""
    cfg = spec.bench
    models = list(cfg.get("models", DEFAULT_MODELS))
    ns = [int(n) for n in cfg.get("n", DEFAULT_N)]
    batch = int(cfg.get("batch", 256))
    repeats = int(cfg.get("repeats", 10))
    say(f"scaling: {', '.join(models)} at n = {', '.join(map(str, ns))}, batch {batch}")
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
