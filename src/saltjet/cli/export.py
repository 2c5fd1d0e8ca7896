"""`saltjet export`: a trained run as ONNX (normalisation inside, metadata for users without saltjet)."""

from __future__ import annotations

import argparse

from saltjet.cli import positive_int

HELP = "export a run's model to ONNX: physical features in, logits out, dynamic batch, metadata inside"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="run directory (config.yaml + model.safetensors)")
    p.add_argument("--onnx", required=True, metavar="FILE", help="output .onnx file")
    p.add_argument("--opset", type=positive_int, default=None, help="ONNX opset (default 18)")
    p.add_argument("--exporter", choices=["torchscript", "dynamo"], default="torchscript",
                   help="torch.onnx exporter (default torchscript: fast and quiet; dynamo: torch.export + onnxscript)")


def run(args: argparse.Namespace) -> int:
    from saltjet.export import DEFAULT_OPSET, ExportOptions, export_run, read_metadata

    path = export_run(args.run, args.onnx, ExportOptions(opset=args.opset or DEFAULT_OPSET, exporter=args.exporter))
    meta = read_metadata(path)
    print(f"wrote {path}: model {meta['model']}, n={meta['n_particles']}, sort particles by "
          f"{meta.get('sort_key', 'kt')} (padding last) before calling it")
    return 0
