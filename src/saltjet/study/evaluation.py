"""Scoring a study's trained runs on its held-out jets, and their cost (params, FLOPs, latency).

`evaluate_on` runs `saltjet.evaluation.evaluate.evaluate_model` (the same path as `saltjet evaluate`) on jets
already in memory: a study's test jets are the held-out part that `split_for_run` cut once, not a
file that `evaluate_run` could read (the run's own pipeline builds their features).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from saltjet.cost.bench import time_forward
from saltjet.cost.flops import analytic_flops
from saltjet.data.particles import ParticleData
from saltjet.data.toy import random_jets
from saltjet.evaluation.evaluate import evaluate_model
from saltjet.models import count_parameters, create_model, model_config as make_config
from saltjet.study.layout import COSTS_FILE
from saltjet.training.run import load_run, write_json


def evaluate_on(run_dir: str | Path, test: ParticleData, device: str = "auto") -> tuple[dict, dict]:
    """Evaluate the run in `run_dir` on `test` (physical jets in file order, any slot count).

    Returns:
        report: `saltjet.evaluation.metrics.evaluate_predictions` dict plus run, model, sort_by, n_empty_dropped,
            n_truncated.
        predictions: {probs, labels, multiplicity, class_names} (the layout of `saltjet.evaluation.plots`).
    """
    model, info = load_run(run_dir)  # on the CPU; `predict` moves it to `device`
    report, predictions = evaluate_model(model, info, test, device=device)
    return {"run": str(run_dir), "model": info.model, **report}, predictions


def model_cost(model_name: str, model_config: dict, batch: int = 256, repeats: int = 10) -> dict:
    """Parameters, FLOPs per jet and CPU latency per jet of a model config (random weights).

    FLOPs per jet from `saltjet.cost.flops.analytic_flops`; latency from `saltjet.cost.bench.time_forward` on
    `saltjet.data.toy.random_jets` (median of `repeats` calls at the current thread count).
    """
    config = make_config(model_name, **model_config)
    model = create_model(model_name, config).eval()
    x, mask = random_jets(batch, config.n_particles, config.n_features, seed=0)
    with torch.inference_mode():
        timing = time_forward(model, x, mask, repeats=repeats, warmup=2)
    return {**model_counts(model), "latency_ms": 1e3 * timing.median_s / batch, "latency_batch": batch,
            "threads": torch.get_num_threads()}


def model_counts(model_or_name, model_config: dict | None = None) -> dict:
    """Parameters and analytic FLOPs per jet of a model (or of a model name and config): counted,
    not measured, so cheap enough to recompute whenever a report is rendered."""
    model = model_or_name
    if isinstance(model_or_name, str):
        model = create_model(model_or_name, make_config(model_or_name, **(model_config or {})))
    return {"params": count_parameters(model), "flops": float(analytic_flops(model).total)}


def cached_model_cost(out: Path, info, quick: bool) -> dict:
    """`model_cost` of a run's model (`info`: its `saltjet.training.run` info), its latency measured once
    per study folder `out` and kept in OUT/costs.json, so re-rendering a report does not re-time every
    model; parameters and FLOPs are recounted each time (a changed count, e.g. after the attention's
    FLOP accounting changed, must not hide behind the cache). `quick` uses a tiny batch (smoke tests)."""
    path = Path(out) / COSTS_FILE
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):
        cache = {}
    key = json.dumps([info.model, info.model_config, quick, torch.get_num_threads()], sort_keys=True)
    if key not in cache:
        cache[key] = (model_cost(info.model, info.model_config, batch=16, repeats=2) if quick
                      else model_cost(info.model, info.model_config))
        write_json(path, cache, indent=1)
        return cache[key]
    counts = model_counts(info.model, info.model_config)  # the latency is kept; counts follow the code
    if any(cache[key].get(k) != v for k, v in counts.items()):
        cache[key].update(counts)
        write_json(path, cache, indent=1)
    return cache[key]


def mean_bins(reports: list[dict]) -> list[dict]:
    """Multiplicity bins averaged over several reports (same edges): [{lo, hi, n, accuracy}]."""
    if not reports or not reports[0].get("multiplicity_bins"):
        return []
    out = []
    for i, b in enumerate(reports[0]["multiplicity_bins"]):
        accs = [r["multiplicity_bins"][i]["accuracy"] for r in reports if r["multiplicity_bins"][i]["accuracy"] is not None]
        out.append({"lo": b["lo"], "hi": b["hi"], "n": int(sum(r["multiplicity_bins"][i]["n"] for r in reports)),
                    "accuracy": float(np.mean(accs)) if accs else None})
    return out
