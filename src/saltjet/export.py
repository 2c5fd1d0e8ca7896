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
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from saltjet.errors import ConfigError, DataError, InputError
from saltjet.run import RunInfo, atomic_write_bytes

DEFAULT_OPSET = 18


@dataclass
class ExportOptions:
    """opset: ONNX opset version; exporter: "torchscript" (default) or "dynamo"."""

    opset: int = DEFAULT_OPSET
    exporter: str = "torchscript"


def _metadata(model: torch.nn.Module, info: RunInfo | None) -> dict[str, str]:
    from saltjet import __version__

    c = model.config
    meta = {
        "model": getattr(model, "model_name", type(model).__name__),
        "n_particles": str(c.n_particles),
        "n_features": str(c.n_features),
        "saltjet_version": __version__,
        "inputs": "x (B, n, F) float32 physical features; mask (B, n) bool, True = real particle",
        "output": "logits (B, out): sigmoid for one output, softmax otherwise",
        "sorting": "caller sorts particles by sort_key, padding last (saltjet.data.sorting.sort_particles)",
        "model_config": json.dumps(c.to_dict()),
    }
    if info is not None:
        meta.update(class_names=json.dumps(info.class_names), feature_names=json.dumps(info.feature_names),
                    sort_key=info.sort_by)
    return meta


def export_onnx(model: torch.nn.Module, path: str | Path, info: RunInfo | None = None,
                options: ExportOptions | None = None) -> Path:
    """Write `model` (a tagger in eval mode, on any device) as ONNX to `path`, atomically.

    info: the run's `RunInfo`; its class names, feature names and sort key go into metadata_props.
    """
    import onnx

    options = options or ExportOptions()
    if options.exporter not in ("torchscript", "dynamo"):
        raise ConfigError(f"unknown exporter {options.exporter!r}; choose torchscript or dynamo")
    if not 7 <= options.opset <= 23:
        raise ConfigError(f"opset must be between 7 and 23, got {options.opset}")
    model = model.to("cpu").eval()
    c = model.config
    from saltjet.bench import random_jets

    x, mask = random_jets(2, c.n_particles, c.n_features, seed=0)
    with warnings.catch_warnings():
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
            batch = torch.export.Dim("batch")
            program = torch.onnx.export(
                model, (x, mask), input_names=["x", "mask"], output_names=["logits"],
                opset_version=options.opset, dynamo=True, verbose=False,
                dynamic_shapes={"x": {0: batch}, "mask": {0: batch}},
            )
            proto = program.model_proto
    for key, value in _metadata(model, info).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, proto.SerializeToString())
    return path


def export_run(run_dir: str | Path, onnx_path: str | Path, options: ExportOptions | None = None) -> Path:
    """Load a run directory (`saltjet.run.load_run`) and export its model to `onnx_path`."""
    from saltjet.run import load_run

    model, info = load_run(run_dir)
    return export_onnx(model, onnx_path, info, options)


def read_metadata(path: str | Path) -> dict[str, str]:
    """metadata_props of an ONNX file as a dict."""
    import onnx

    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


def onnx_session(path: str | Path, threads: int | None = None, device: str = "cpu"):
    """An ONNX Runtime session; `threads` fixes intra-op threads; device "cuda" uses the CUDA provider
    when onnxruntime has it."""
    import onnxruntime as ort

    if not Path(path).is_file():
        raise DataError(f"ONNX file {path} does not exist")
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    return ort.InferenceSession(str(path), opts, providers=providers)


def onnx_predict(session_or_path, x, mask) -> np.ndarray:
    """Logits from an exported tagger. x: (B, n, F) float32, mask: (B, n) bool (arrays or tensors),
    particles already sorted. Returns (B, out) float32."""
    session = session_or_path if hasattr(session_or_path, "run") else onnx_session(session_or_path)
    x = np.ascontiguousarray(x.numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float32)
    mask = np.ascontiguousarray(mask.numpy() if isinstance(mask, torch.Tensor) else mask, dtype=bool)
    if x.ndim != 3 or mask.shape != x.shape[:2]:
        raise InputError(f"x must be (B, n, F) and mask (B, n); got {x.shape} and {mask.shape}")
    return session.run(["logits"], {"x": x, "mask": mask})[0]
