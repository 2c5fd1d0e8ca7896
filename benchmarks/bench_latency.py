"""Low-latency inference (issue 15): SAL-T vs Linformer vs the Transformer, side by side in one run.

Usage: python benchmarks/bench_latency.py [--n 150,1024] [--batch 1,16,1024] [--backend torch,onnxruntime]
                                          [--repeats 200] [--threads 1] [--ort-options]

For each (n, batch, backend) the three models' calls are INTERLEAVED (salt, linformer, transformer,
salt, ...) after a warm-up, so drifting load on a shared machine hits every model alike. Prints the
median latency per call and per jet, and SAL-T's ratio to the Transformer and to Linformer, plus
the ONNX node counts (as exported, and after ONNX Runtime's graph optimisation).
--ort-options: also times SAL-T and the Transformer under each ONNX Runtime session-option set
(optimisation level, memory arena, memory pattern, execution mode), interleaved, batch 1.
--skeleton: in the torch backend, also times the skeleton every tagger shares (the Transformer with
its attention replaced by the identity: scaler, embedding, norms, FFN, pooling, head, input checks)
and prints its share of the Transformer's time: no attention, however fast, takes SAL-T below it.
Issue 15 targets: batch 1, n=150: SAL-T <= 0.6x the Transformer in both backends and no slower than
Linformer; batch 1, n=1024: <= 0.1x; ONNX Runtime batch 1, n=150 <= 100 us.
Random untrained models on random kT-sorted jets (timing does not depend on the weights).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from saltjet.cost.bench import interleaved
from saltjet.cost.export import export_onnx, onnx_session
from saltjet.data.toy import random_jets
from saltjet.models import create_model

MODELS = ("salt", "linformer", "transformer")


class NoAttention(torch.nn.Module):
    """An attention slot that costs nothing: h (B, n, d) -> h."""

    def forward(self, h: torch.Tensor, mask: torch.Tensor, bias=None) -> torch.Tensor:
        return h


def skeleton(n: int) -> torch.nn.Module:
    """The Transformer tagger without attention: the layers SAL-T shares with it."""
    model = create_model("transformer", n_particles=n).eval()
    for block in model.blocks:
        block.attn = NoAttention()
    return model



def node_counts(path: Path, threads: int) -> tuple[int, int]:
    """(nodes in the file, nodes after ONNX Runtime's ORT_ENABLE_ALL optimisation)."""
    import onnx
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    opts.optimized_model_filepath = str(path.with_suffix(".opt.onnx"))
    ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return len(onnx.load(str(path)).graph.node), len(onnx.load(opts.optimized_model_filepath).graph.node)


def ort_option_sets():
    import onnxruntime as ort

    level = ort.GraphOptimizationLevel
    return {
        "disable all": {"graph_optimization_level": level.ORT_DISABLE_ALL},
        "basic": {"graph_optimization_level": level.ORT_ENABLE_BASIC},
        "extended": {"graph_optimization_level": level.ORT_ENABLE_EXTENDED},
        "all (saltjet)": {"graph_optimization_level": level.ORT_ENABLE_ALL},
        "all, no arena": {"graph_optimization_level": level.ORT_ENABLE_ALL, "enable_cpu_mem_arena": False},
        "all, no mem pattern": {"graph_optimization_level": level.ORT_ENABLE_ALL, "enable_mem_pattern": False},
        "all, parallel": {"graph_optimization_level": level.ORT_ENABLE_ALL, "execution_mode": ort.ExecutionMode.ORT_PARALLEL},
    }


def option_session(path: Path, threads: int, settings: dict):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads, opts.log_severity_level = threads, 1, 3
    for key, value in settings.items():
        setattr(opts, key, value)
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", default="150,1024")
    p.add_argument("--batch", default="1,16,1024")
    p.add_argument("--backend", default="torch,onnxruntime")
    p.add_argument("--repeats", type=int, default=200, help="timed rounds at batch 1 (fewer for large batches)")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--ort-options", action="store_true")
    p.add_argument("--skeleton", action="store_true", help="also time the shared skeleton without attention (torch)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ns, batches = [int(v) for v in args.n.split(",")], [int(v) for v in args.batch.split(",")]
    backends = args.backend.split(",")
    print(f"threads {args.threads}, torch {torch.__version__}; median of interleaved calls")
    with tempfile.TemporaryDirectory() as tmp:
        for n in ns:
            models, paths = {}, {}
            for name in MODELS:  # built outside inference mode: inference-mode weights are never cached
                torch.manual_seed(0)
                models[name] = create_model(name, n_particles=n).eval()
                if "onnxruntime" in backends:
                    paths[name] = export_onnx(models[name], Path(tmp) / f"{name}_{n}.onnx")
            base = skeleton(n) if args.skeleton else None
            if paths:
                counts = {name: node_counts(paths[name], args.threads) for name in MODELS}
                print(f"n={n} ONNX nodes (file / after ORT optimisation): "
                      + ", ".join(f"{m} {a}/{b}" for m, (a, b) in counts.items()))
            for batch in batches:
                x, mask = random_jets(batch, n, seed=0)
                repeats = max(5, args.repeats * 16 // max(16, batch))
                for backend in backends:
                    if backend == "torch":
                        calls = {m: (lambda f: lambda: f(x, mask))(models[m]) for m in MODELS}
                        if base is not None:
                            calls["skeleton"] = lambda: base(x, mask)
                    else:
                        feeds = {"x": x.numpy(), "mask": mask.numpy()}
                        sessions = {m: onnx_session(paths[m], args.threads) for m in MODELS}
                        calls = {m: (lambda s: lambda: s.run(["logits"], feeds))(sessions[m]) for m in MODELS}
                    with torch.inference_mode():
                        t = interleaved(calls, repeats, args.warmup)
                    row = ", ".join(f"{m} {t[m] * 1e3:.3f} ms ({t[m] * 1e6 / batch:.1f} µs/jet)" for m in MODELS)
                    print(f"n={n} batch={batch} {backend}: {row}; SAL-T/Transformer {t['salt'] / t['transformer']:.3f}, "
                          f"SAL-T/Linformer {t['salt'] / t['linformer']:.3f}", flush=True)
                    if "skeleton" in t:
                        print(f"n={n} batch={batch} {backend}: shared skeleton without attention "
                              f"{t['skeleton'] * 1e6 / batch:.1f} µs/jet = {t['skeleton'] / t['transformer']:.3f} of the "
                              f"Transformer; SAL-T's attention {(t['salt'] - t['skeleton']) / (t['transformer'] - t['skeleton']):.2f}x "
                              "the Transformer's", flush=True)
            if args.ort_options and paths:
                x, mask = random_jets(1, n, seed=0)
                feeds = {"x": x.numpy(), "mask": mask.numpy()}
                calls = {}
                for label, settings in ort_option_sets().items():
                    for m in ("salt", "transformer"):
                        session = option_session(paths[m], args.threads, settings)
                        calls[label, m] = (lambda s: lambda: s.run(["logits"], feeds))(session)
                t = interleaved(calls, args.repeats, args.warmup)
                for label in ort_option_sets():
                    print(f"n={n} batch=1 ORT {label}: SAL-T {t[label, 'salt'] * 1e6:.1f} µs, "
                          f"Transformer {t[label, 'transformer'] * 1e6:.1f} µs")


if __name__ == "__main__":
    main()
