"""ONNX export of a tagger, with the fitted normalisation inside, and ONNX Runtime inference.

The graph takes PHYSICAL features and returns logits:

    inputs   x      (B, n, F) float32  per-particle features, in the run's `feature_names` order
             mask   (B, n)    bool     True = real particle
    output   logits (B, out)  float32  out = 1 (sigmoid) for binary tasks, else one per class (softmax)

B is a dynamic axis; n is fixed for SAL-T and Linformer (their weights are tied to slot positions).
The InputScaler buffers (fitted robust centre and scale) are constants in the graph.

The particle sort stays OUTSIDE the graph: the caller orders each jet's particles by the run's sort
key (metadata `sort_key`, "kt" = pT·ΔR descending for SAL-T), padding last, with the tiny numpy
functions the package itself uses:

    perm = saltjet.data.sorting.sort_particles(pt, eta_rel, phi_rel, mask, by="kt")
    x, mask = apply_permutation(x, perm), apply_permutation(mask, perm)

Exporter: the TorchScript-based `torch.onnx.export(..., dynamo=False)`. On torch 2.13 both it and
the dynamo exporter (torch.export + onnxscript) produce graphs that match PyTorch to ~1e-7; the
TorchScript one takes ~0.5 s instead of ~10–20 s, prints nothing, and needs no onnxscript, so it is
the default; `exporter="dynamo"` selects the other (the choice for future torch versions that drop
the TorchScript exporter). Data-dependent input checks are skipped while tracing (`is_tracing`).

Inputs the graph has no answer for. Padded slots (mask False) may hold anything, NaN and ±inf
included: the graph selects them away and the logits are exactly those of zero padding. A jet
with no real particle, or with NaN/inf in a feature of a real particle, gets a row of NaN logits
(the graph cannot raise), and the other jets of the batch are unaffected. PyTorch and
`onnx_predict` refuse the same jets with a one-line `InputError`, so within saltjet both paths
behave alike; users of the bare graph test `isnan` (metadata `no_answer` says so).

Export refuses, with one line and before writing anything, a model or run that would give an
inconsistent file (`check_exportable`): weights holding NaN or inf, class names that do not match
the model's classes, feature names that do not match its inputs, an unknown sort key. After the
trace, the graph's input/output shapes are checked against the metadata, and ONNX Runtime must
reproduce PyTorch on a sample batch (`PARITY_ATOL`), else nothing is written.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from saltjet import __version__
from saltjet.data.pointcloud_sorting import POINT_SORT_KEYS
from saltjet.data.sorting import SORT_KEYS
from saltjet.data.toy import random_jets
from saltjet.errors import ConfigError, DataError, InputError
from saltjet.extras import require
from saltjet.models.inputs import physical_model
from saltjet.models.layers import output_size
from saltjet.training.run import RunInfo, atomic_write_bytes, load_run

DEFAULT_OPSET = 18
PARITY_ATOL = 1e-4  # |ONNX Runtime − PyTorch| allowed on the export's sample batch (measured: ~1e-7)


@dataclass
class ExportOptions:
    """opset: ONNX opset version; exporter: "torchscript" (default) or "dynamo"."""

    opset: int = DEFAULT_OPSET
    exporter: str = "torchscript"
    with_sort: bool = False  # `export_run`: the run's particle sort inside the graph too


def _metadata(model: torch.nn.Module, info: RunInfo | None) -> dict[str, str]:
    c = model.config
    meta = {
        "model": getattr(model, "model_name", type(model).__name__),
        "n_particles": str(c.n_particles),
        "n_features": str(c.n_features),
        "saltjet_version": __version__,
        "inputs": "x (B, n, F) float32 physical features; mask (B, n) bool, True = real particle",
        "output": "logits (B, out): sigmoid for one output, softmax otherwise",
        "sorting": "caller sorts particles by sort_key, padding last (saltjet.data.sorting.sort_particles)",
        "padding": "values in padded slots (mask False) are ignored, NaN and inf included",
        "no_answer": "a jet with no real particle, or with NaN/inf in a real particle's features, gets a row of NaN",
        "n_classes": str(c.n_classes),
        "model_config": json.dumps(c.to_dict()),
    }
    if info is not None:
        meta.update(class_names=json.dumps(info.class_names), feature_names=json.dumps(info.feature_names),
                    sort_key=info.sort_by)
    inputs = getattr(model, "input_names", None)  # a PhysicalInputTagger (`export_run`)
    if inputs is not None:
        meta["input_features"] = json.dumps(inputs)
        meta["inputs"] = (f"x (B, n, {len(inputs)}) float32 physical columns {', '.join(inputs)} (pT in GeV, "
                          "eta and phi relative to the jet axis, e = energy in GeV); mask (B, n) bool, True = real "
                          "particle; the features in feature_names are computed inside the graph")
        if model.sort_by is not None:
            meta["sorting"] = f"inside the graph (by {model.sort_by}, padding last): particles may come in any order"
    return meta


def check_exportable(model: torch.nn.Module, info: RunInfo | None = None) -> None:
    """`DataError` (one line) when `model` and its run's `info` would give an inconsistent ONNX file.

    Refused: weights or fitted buffers holding NaN or inf (a diverged run); `info` naming another
    model, a number of class names other than the model's `n_classes`, a number of feature names
    other than its `n_features`, or a sort key that `saltjet.data` does not know.
    """
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise DataError(f"cannot export: weight {name} holds {bad} NaN/inf value(s) (a diverged run?)")
    if info is None:
        return
    c = model.config
    model_name = getattr(model, "model_name", type(model).__name__)
    if info.model != model_name:
        raise DataError(f"cannot export: the run says model {info.model!r} but the model is {model_name!r}")
    classes = info.class_names
    if not isinstance(classes, list) or not all(isinstance(n, str) and n for n in classes) or len(set(classes)) != len(classes):
        raise DataError(f"cannot export: class_names must be distinct non-empty names, got {classes!r}")
    if len(classes) != c.n_classes:
        raise DataError(f"cannot export: {len(classes)} class_names {classes} but the model has n_classes={c.n_classes} "
                        f"({output_size(c.n_classes)} logit(s))")
    features = info.feature_names
    if not isinstance(features, list) or not all(isinstance(n, str) and n for n in features):
        raise DataError(f"cannot export: feature_names must be a list of names, got {features!r}")
    if len(features) != c.n_features:
        raise DataError(f"cannot export: {len(features)} feature_names but the model takes n_features={c.n_features}")
    keys = tuple(dict.fromkeys(SORT_KEYS + POINT_SORT_KEYS))
    if info.sort_by not in keys:
        raise DataError(f"cannot export: unknown sort key {info.sort_by!r}; known: {', '.join(keys)}")


def _check_graph(proto, model: torch.nn.Module, meta: dict[str, str]) -> None:
    """`DataError` unless the graph's static shapes match the metadata and ONNX Runtime reproduces
    PyTorch on a sample batch (random jets plus garbage padding); nothing is written otherwise."""
    ort = require("onnxruntime", extra="export", purpose="checking the exported graph")

    def dims(value_info) -> list:
        return [d.dim_value or d.dim_param for d in value_info.type.tensor_type.shape.dim]

    x_dims, out_dims = dims(proto.graph.input[0]), dims(proto.graph.output[0])
    n_out = output_size(int(meta["n_classes"]))
    if "class_names" in meta and len(json.loads(meta["class_names"])) != int(meta["n_classes"]):
        raise DataError("cannot export: metadata class_names do not match n_classes")
    n_inputs = len(json.loads(meta["input_features"])) if "input_features" in meta else int(meta["n_features"])
    expected = {"x": [x_dims[1:], [int(meta["n_particles"]), n_inputs]], "logits": [out_dims[1:], [n_out]]}
    for name, (got, want) in expected.items():
        if any(isinstance(g, int) and g and g != w for g, w in zip(got, want)) or len(got) != len(want):
            raise DataError(f"cannot export: graph {name} has shape {got}, the metadata say {want}")
    x, mask = _sample_jets(model, 8, seed=1)
    x = x.masked_fill(~mask.unsqueeze(-1), float("nan"))  # padding is ignored, whatever it holds
    with torch.no_grad():
        expected_logits = model(x, mask).numpy()
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(["logits"], {"x": x.numpy(), "mask": mask.numpy()})[0]
    gap = float(np.max(np.abs(got - expected_logits))) if got.shape == expected_logits.shape else float("inf")
    if not gap <= PARITY_ATOL:  # NaN fails too
        raise DataError(f"cannot export: ONNX Runtime differs from PyTorch by {gap:.3g} on a sample batch "
                        f"(allowed {PARITY_ATOL:g}); nothing written")


def export_onnx(model: torch.nn.Module, path: str | Path, info: RunInfo | None = None,
                options: ExportOptions | None = None) -> Path:
    """Write `model` (a tagger in eval mode, on any device) as ONNX to `path`, atomically.

    info: the run's `RunInfo`; its class names, feature names and sort key go into metadata_props.
    Raises `DataError` (nothing written) for an inconsistent model or run (`check_exportable`), or
    a graph whose shapes or outputs do not match the model (`_check_graph`). In the graph, a jet
    with no real particle or with NaN/inf in a real particle gives a NaN row (module notes).
    """
    onnx = require("onnx", extra="export", purpose="ONNX export")

    options = options or ExportOptions()
    if options.exporter not in ("torchscript", "dynamo"):
        raise ConfigError(f"unknown exporter {options.exporter!r}; choose torchscript or dynamo")
    if not 7 <= options.opset <= 23:
        raise ConfigError(f"opset must be between 7 and 23, got {options.opset}")
    model = model.to("cpu").eval()
    check_exportable(model, info)
    x, mask = _sample_jets(model, 2, seed=0)
    with torch.no_grad():
        model(x, mask)  # builds the cached weight folds, so the trace takes them as constants
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # deprecation and tracer notes from torch.onnx
        if options.exporter == "torchscript":
            buffer = io.BytesIO()
            torch.onnx.export(
                model, (x, mask), buffer, input_names=["x", "mask"], output_names=["logits"],
                opset_version=options.opset, dynamo=False,
                dynamic_axes={"x": {0: "batch"}, "mask": {0: "batch"}, "logits": {0: "batch"}},
            )
            proto = onnx.load_from_string(buffer.getvalue())
        else:
            require("onnxscript", extra="export", purpose="the dynamo exporter")
            batch = torch.export.Dim("batch")
            program = torch.onnx.export(
                model, (x, mask), input_names=["x", "mask"], output_names=["logits"],
                opset_version=options.opset, dynamo=True, verbose=False,
                dynamic_shapes={"x": {0: batch}, "mask": {0: batch}},
            )
            proto = program.model_proto
    meta = _metadata(model, info)
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    _check_graph(proto, model, meta)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, proto.SerializeToString())
    return path


def export_run(run_dir: str | Path, onnx_path: str | Path, options: ExportOptions | None = None) -> Path:
    """Load a run directory (`saltjet.training.run.load_run`) and export its model to `onnx_path`."""
    model, info = load_run(run_dir)
    model = physical_model(model, info, with_sort=bool(options and options.with_sort))
    return export_onnx(model, onnx_path, info, options)


def _sample_jets(model: torch.nn.Module, batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs to trace and check `model` with: physical jets for a `PhysicalInputTagger`
    (`example_inputs`), else `saltjet.data.toy.random_jets` with the model's n_features."""
    if hasattr(model, "example_inputs"):
        return model.example_inputs(batch, seed)
    return random_jets(batch, model.config.n_particles, model.config.n_features, seed=seed)


def read_metadata(path: str | Path) -> dict[str, str]:
    """metadata_props of an ONNX file as a dict."""
    onnx = require("onnx", extra="export", purpose="reading ONNX metadata")

    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


def onnx_session(path: str | Path, threads: int | None = None, device: str = "cpu"):
    """An ONNX Runtime session; `threads` fixes intra-op threads; device "cuda" uses the CUDA provider
    when onnxruntime has it.

    Options, chosen by measurement (interleaved, batch 1, n=150, 1 intra-op thread, 2-core machine
    under load): every graph optimisation level from basic up, with or without the memory arena
    and memory patterns, sequential or parallel execution, gave SAL-T 279-303 µs and the
    Transformer 1.07-1.13 ms, within the noise (benchmarks/bench_latency.py --ort-options re-measures
    them, "disable all" included); so the session asks for ORT_ENABLE_ALL (constant folding of weight-only subgraphs, MatMul+Add fusion) with
    sequential execution (the graph is one chain; parallel execution adds scheduling).
    """
    ort = require("onnxruntime", extra="export", purpose="ONNX Runtime inference")

    if not Path(path).is_file():
        raise DataError(f"ONNX file {path} does not exist")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    return ort.InferenceSession(str(path), opts, providers=providers)


def onnx_predict(session_or_path, x, mask) -> np.ndarray:
    """Logits from an exported tagger. x: (B, n, F) floats (cast to float32), mask: (B, n) bool
    (arrays or tensors), particles already sorted. Returns (B, out) float32.

    Like the PyTorch model, refuses with `InputError` jets with no real particle and jets with
    NaN/inf in a real particle (the bare graph returns NaN rows for them); padded slots may hold
    anything.
    """
    session = session_or_path if hasattr(session_or_path, "run") else onnx_session(session_or_path)
    x = np.ascontiguousarray(x.numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float32)
    mask = np.ascontiguousarray(mask.numpy() if isinstance(mask, torch.Tensor) else mask, dtype=bool)
    if x.ndim != 3 or mask.shape != x.shape[:2]:
        raise InputError(f"x must be (B, n, F) and mask (B, n); got {x.shape} and {mask.shape}")
    empty = int((~mask.any(axis=1)).sum())
    if empty:
        raise InputError(f"{empty} of {len(mask)} jets have no real particles; drop them first")
    bad = int((~np.isfinite(x).all(axis=-1) & mask).any(axis=1).sum())
    if bad:
        raise InputError(f"{bad} of {len(mask)} jets have NaN or inf features in real particles (mask True)")
    return session.run(["logits"], {"x": x, "mask": mask})[0]
