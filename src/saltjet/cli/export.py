"""`saltjet export`: a trained run as ONNX (normalisation inside, metadata for users without saltjet)."""

from __future__ import annotations

import argparse

from saltjet.cli import positive_int, run_folder

HELP = ("export a run's model to ONNX: physical particles in (derived features computed inside), logits out, "
        "dynamic batch, metadata inside")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, type=run_folder, metavar="RUN",
                   help="run directory (config.yaml + model.safetensors), or a shipped model's name (saltjet models --pretrained)")
    p.add_argument("--onnx", required=True, metavar="FILE", help="output .onnx file")
    p.add_argument("--opset", type=positive_int, default=None, help="ONNX opset (default 18)")
    p.add_argument("--exporter", choices=["torchscript", "dynamo"], default="torchscript",
                   help="torch.onnx exporter (default torchscript: fast and quiet; dynamo: torch.export + onnxscript)")
    p.add_argument("--with-sort", action="store_true",
                   help="put the run's particle sort (kT by default) inside the graph, so particles may come in any order")


def run(args: argparse.Namespace) -> int:
    from saltjet.cost.export import DEFAULT_OPSET, ExportOptions, export_run, read_metadata

    import json

    options = ExportOptions(opset=args.opset or DEFAULT_OPSET, exporter=args.exporter, with_sort=args.with_sort)
    path = export_run(args.run, args.onnx, options)
    meta = read_metadata(path)
    inputs = json.loads(meta.get("input_features", meta.get("feature_names", "[]")))
    order = ("particles in any order (sorted inside)" if args.with_sort else
             f"particles sorted by {meta.get('sort_key', 'kt')} (padding last)")
    print(f"wrote {path}: model {meta['model']}, n={meta['n_particles']}; inputs x (B, {meta['n_particles']}, "
          f"{len(inputs)}) = {', '.join(inputs)} and mask (B, {meta['n_particles']}), {order}")
    return 0
