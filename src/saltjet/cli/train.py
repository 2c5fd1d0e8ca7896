"""`saltjet train`: fit a tagger on jet files and write a run directory.

Precedence of options: built-in defaults < `--config FILE` < the options on the command line.
With `--resume`, the run directory's stored config is the starting point, so
`saltjet train --out RUN --resume` alone continues an interrupted run.
Runs unchanged under `torchrun --nproc_per_node=K` (DistributedDataParallel).
"""

from __future__ import annotations

import argparse
import os
import sys

from saltjet.cli import positive_int
from saltjet.cli.config_flags import add_config_flags, add_flag, given_options
from saltjet.config import DataConfig, TrainConfig

HELP = "train SAL-T, Linformer or Transformer on jet files; writes weights, config and metrics to --out"

# model options: (flag, type, help); each lands in model_options.NAME, checked by the model's config
_MODEL = [("--partitions", int, "SAL-T partitions p (default 4)"),
          ("--conv-mode", str, "SAL-T logit convolution: shared, depthwise or none"),
          ("--proj-dim", int, "Linformer projected length k (default 4)"),
          ("--d-model", int, "embedding width (default 16)"),
          ("--n-heads", int, "attention heads (default 4)"),
          ("--d-ff", int, "feed-forward width (default 16)"),
          ("--n-layers", int, "encoder blocks (default 1)"),
          ("--norm", str, "dyt or layernorm"),
          ("--pooling", str, "max or mean"),
          ("--dropout", float, "dropout rate (default 0)")]


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("run")
    g.add_argument("--model", help="salt, linformer or transformer (default salt)")
    g.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory to write")
    g.add_argument("--config", metavar="FILE", help="YAML with sections model, model_options, data, train")
    g.add_argument("--resume", action="store_true", help="continue the run in --out from its last finished epoch")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any option, e.g. train.lr_schedule=cosine, data.seed=3, model.conv_heights=[1,3] (repeatable)")
    g.add_argument("--stop-after", type=positive_int, metavar="N",
                   help="end this call after N epochs (resume later with --resume)")
    d = p.add_argument_group("data (DataConfig; a flag left out keeps the --config value)")
    add_config_flags(d, DataConfig, "data")
    d.add_argument("--drop-nonfinite", dest="data.on_nonfinite", action="store_const", const="drop",
                   help="= --on-nonfinite drop")
    t = p.add_argument_group("training (TrainConfig)")
    add_config_flags(t, TrainConfig, "train")
    m = p.add_argument_group("model (options a model does not have are an error)")
    for flag, kind, text in _MODEL:
        add_flag(m, flag, "model_options." + flag[2:].replace("-", "_"), kind, text)


def resolve_config(args: argparse.Namespace):
    """RunConfig from (stored run config when resuming) < --config < --set < explicit options."""
    from pathlib import Path

    from saltjet.config import RunConfig, load_yaml, merge_dicts, parse_assignment
    from saltjet.training.run import CONFIG_FILE, read_info

    merged: dict = {}
    if args.resume and (Path(args.out) / CONFIG_FILE).is_file():
        merged = dict(read_info(args.out).extra.get("run_config") or {})
    given: dict = {}  # what this command line (with --config) sets, without the stored run config
    if args.config:
        given = merge_dicts(given, load_yaml(args.config))
    for text in args.set:
        given = merge_dicts(given, parse_assignment(text))
    merged = merge_dicts(merged, given)
    cli = given_options(args)
    if args.model is not None:
        cli["model"] = args.model
    config = RunConfig.from_dict(merge_dicts(merged, cli))
    given_train = given.get("train") if isinstance(given.get("train"), dict) else {}
    if config.train.batch_schedule and ("batch_size" in cli.get("train", {}) or "batch_size" in given_train):
        import warnings

        warnings.warn(f"the batch size {config.train.batch_size} is ignored: the batch schedule "
                      f"{config.train.batch_schedule} sets every epoch's batch size (drop one of the two)")
    # absolute paths (globs stay globs), so a resumed run finds its data from any directory
    config.data.path = [os.path.abspath(p) for p in config.data.path]
    config.data.val_data = [os.path.abspath(p) for p in config.data.val_data]
    return config


def run(args: argparse.Namespace) -> int:
    import warnings

    from saltjet.training.loop import train

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"saltjet train: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        config = resolve_config(args)
        train(config, args.out, resume=args.resume, stop_after=args.stop_after)
    return 0
