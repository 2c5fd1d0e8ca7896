"""Write `saltjet bench` results: bench.json, bench.md (markdown table) and log-log plots."""

from __future__ import annotations

import json
from pathlib import Path

from saltjet.training.run import atomic_write_bytes

COLUMNS = [
    ("model", "model", "{}"), ("n_particles", "n", "{}"), ("batch_size", "batch", "{}"), ("backend", "backend", "{}"),
    ("n_run", "n run", "{}"),
    ("params", "params", "{:,}"), ("flops", "FLOPs/jet", "{:,}"), ("latency_ms", "latency ms", "{:.3f}"),
    ("latency_iqr_ms", "IQR ms", "{:.3f}"), ("latency_per_jet_us", "µs/jet", "{:.3f}"),
    ("jets_per_s", "jets/s", "{:,.0f}"), ("peak_mem_mb", "peak MB", "{:.2f}"),
    ("fraction_of_gemm", "of GEMM peak", "{:.1%}"), ("ratio_to_transformer", "× Transformer", "{:.3f}"),
]


def markdown_table(records: list[dict], context: dict) -> str:
    """Markdown: a context line, then one row per record."""
    head = (f"device {context['device']}, {context['threads']} threads, torch {context['torch']}, "
            f"median of {context['repeats']} after {context['warmup']} warm-up calls; "
            f"fp32 GEMM {context['gemm_size']}² = {context['gemm_gflops_per_s']:.1f} GFLOP/s (the FLOP limit: "
            f"'of GEMM peak' = FLOPs of the n run slots per second / this); "
            f"n run: slots the call executes (eager PyTorch drops slots that are padding in every jet)\n\n")
    lines = ["| " + " | ".join(c[1] for c in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in records:
        cells = ["–" if r.get(key) is None else fmt.format(r[key]) for key, _, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    skipped = "".join(f"\nskipped: {line}" for line in context.get("skipped", []))
    return head + "\n".join(lines) + "\n" + (skipped + "\n" if skipped else "")


def plot_scaling(records: list[dict], path: Path) -> None:
    """FLOPs per jet vs n and latency per jet vs n, log-log: one line per model (colour), batch size
    (line style) and backend (marker), with one legend entry per colour, style and marker."""
    from saltjet.extras import require

    matplotlib = require("matplotlib", extra="plot", purpose="the scaling figure")
    mplhep = require("mplhep", extra="plot", purpose="the scaling figure")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    def model_label(model: str) -> str:  # as saltjet.evaluation.plots.MODEL_LABELS (a layer above cost)
        return {"salt": "SAL-T", "linformer": "Linformer", "transformer": "Transformer"}.get(model, model)

    plt.style.use(mplhep.style.CMS)
    fig, (ax_f, ax_t) = plt.subplots(1, 2, figsize=(18, 7))
    # colour = model, line style = batch size, marker = backend
    batches = sorted({r["batch_size"] for r in records})
    styles = ["-", "--", ":", "-."]
    markers = {"torch": "o", "compiled": "^", "onnxruntime": "s"}
    from matplotlib.lines import Line2D

    models = sorted({r["model"] for r in records})
    ns = sorted({r["n_particles"] for r in records})
    backends = [b for b in markers if any(r["backend"] == b for r in records)]
    backends += sorted({r["backend"] for r in records} - set(backends))
    for i, model in enumerate(models):
        colour = f"C{i}"
        rows = sorted({(r["n_particles"], r["flops"]) for r in records if r["model"] == model})
        ax_f.plot([n for n, _ in rows], [f for _, f in rows], marker="o", color=colour, label=model_label(model))
        for batch, backend in sorted({(r["batch_size"], r["backend"]) for r in records if r["model"] == model}):
            sel = sorted((r["n_particles"], r["latency_per_jet_us"]) for r in records
                         if r["model"] == model and r["batch_size"] == batch and r["backend"] == backend)
            ax_t.plot([n for n, _ in sel], [t for _, t in sel], color=colour, marker=markers.get(backend, "x"),
                      linestyle=styles[batches.index(batch) % len(styles)])
    for ax, label in ((ax_f, "FLOPs per jet"), (ax_t, "latency per jet [µs]")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("particles per jet n")
        ax.set_ylabel(label)
        ax.set_xticks(ns, [str(n) for n in ns])  # the measured n, not crowded minor labels
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax_f.legend(fontsize=12)
    # one legend entry per model (colour), batch size (line style) and backend (marker), not per line
    grey = "0.35"
    handles = [Line2D([], [], color=f"C{i}", label=model_label(m)) for i, m in enumerate(models)]
    handles += [Line2D([], [], color=grey, linestyle=styles[i % len(styles)], label=f"batch {b}")
                for i, b in enumerate(batches)]
    handles += [Line2D([], [], color=grey, linestyle="none", marker=markers.get(b, "x"), label=b) for b in backends]
    ax_t.legend(handles=handles, fontsize=11, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_outputs(records: list[dict], context: dict, out_dir: str | Path) -> list[Path]:
    """bench.json ({"context", "records"}), bench.md and bench_scaling.png in out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "bench.json", json.dumps({"context": context, "records": records}, indent=1).encode())
    atomic_write_bytes(out / "bench.md", markdown_table(records, context).encode())
    plot_scaling(records, out / "bench_scaling.png")
    return [out / "bench.json", out / "bench.md", out / "bench_scaling.png"]
