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

HELP = "train SAL-T, Linformer or Transformer on jet files; writes weights, config and metrics to --out"

# argparse dest -> (config section, key)
_DATA = {"data": "path", "val_data": "val_data", "format": "format", "sort_by": "sort_by", "n_particles": "n_particles",
         "max_jets": "max_jets", "val_fraction": "val_fraction", "features": "features",
         "task": "task", "on_nonfinite": "on_nonfinite"}
_TRAIN = {"epochs": "epochs", "batch_size": "batch_size", "batch_schedule": "batch_schedule",
          "batch_schedule_every": "batch_schedule_every", "lr": "lr",
          "lr_schedule": "lr_schedule", "weight_decay": "weight_decay", "seed": "seed", "device": "device",
          "patience": "patience", "amp": "amp", "num_threads": "num_threads", "quiet": "quiet"}
_MODEL = {"partitions": "partitions", "conv_mode": "conv_mode", "proj_dim": "proj_dim", "d_model": "d_model",
          "n_heads": "n_heads", "d_ff": "d_ff", "n_layers": "n_layers", "norm": "norm", "pooling": "pooling",
          "dropout": "dropout"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("run")
    g.add_argument("--data", nargs="+", metavar="PATH", help="training files, folders or globs")
    g.add_argument("--model", help="salt, linformer or transformer (default salt)")
    g.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory to write")
    g.add_argument("--config", metavar="FILE", help="YAML with sections model, model_options, data, train")
    g.add_argument("--resume", action="store_true", help="continue the run in --out from its last finished epoch")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any option, e.g. train.lr_schedule=cosine, data.seed=3, model.conv_heights=[1,3] (repeatable)")
    g.add_argument("--stop-after", type=positive_int, metavar="N",
                   help="end this call after N epochs (resume later with --resume)")
    d = p.add_argument_group("data")
    d.add_argument("--val-data", nargs="+", metavar="PATH", help="validation files (default: a split of --data)")
    d.add_argument("--val-fraction", type=float, help="share of --data held out for validation (default 0.2)")
    d.add_argument("--format", help="data format (default auto)")
    d.add_argument("--sort-by", help="particle order: auto (kt; radius for point clouds), kt, pt, deltar, none, random")
    d.add_argument("--n-particles", type=positive_int, metavar="N", help="particle slots (default 150)")
    d.add_argument("--max-jets", type=positive_int, metavar="N", help="read at most N jets")
    d.add_argument("--features", help="input features: a set (raw, log, hls4ml) or comma-separated names, derived ones "
                   "included (log_pt, log_ptrel, log_e, delta_r); default raw = pt,eta_rel,phi_rel")
    d.add_argument("--task", help="relabel the classes first: 5class, top_vs_qcd or quark_vs_gluon (default: as in the data)")
    d.add_argument("--drop-nonfinite", dest="on_nonfinite", action="store_const", const="drop",
                   help="skip jets holding NaN/inf values, with a count (data.on_nonfinite; default: refuse the file)")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=positive_int, help="maximum epochs (default 100)")
    t.add_argument("--batch-size", type=positive_int, metavar="B", help="global batch size (default 256)")
    t.add_argument("--batch-schedule", metavar="SIZES", help='growing batch sizes "128,256,..." or "paper"')
    t.add_argument("--batch-schedule-every", type=positive_int, metavar="E", help="epochs per batch-size stage (default 5)")
    t.add_argument("--lr", type=float, help="Adam learning rate (default 1e-3)")
    t.add_argument("--lr-schedule", help="none, cosine or step (default none)")
    t.add_argument("--weight-decay", type=float, help="Adam weight decay (default 0)")
    t.add_argument("--patience", type=int, help="early-stopping patience in epochs, 0 = off (default 40)")
    t.add_argument("--seed", type=int, help="training seed (default 0)")
    t.add_argument("--device", choices=["auto", "cpu", "cuda"], help="default auto")
    t.add_argument("--amp", action="store_const", const=True, help="mixed precision on CUDA")
    t.add_argument("--num-threads", type=positive_int, metavar="T", help="torch CPU threads")
    t.add_argument("--quiet", action="store_const", const=True, help="no progress bars or per-epoch lines")
    m = p.add_argument_group("model (options a model does not have are an error)")
    m.add_argument("--partitions", type=positive_int, help="SAL-T partitions p (default 4)")
    m.add_argument("--conv-mode", help="SAL-T logit convolution: shared, depthwise or none")
    m.add_argument("--proj-dim", type=positive_int, help="Linformer projected length k (default 4)")
    m.add_argument("--d-model", type=positive_int, help="embedding width (default 16)")
    m.add_argument("--n-heads", type=positive_int, help="attention heads (default 4)")
    m.add_argument("--d-ff", type=positive_int, help="feed-forward width (default 16)")
    m.add_argument("--n-layers", type=positive_int, help="encoder blocks (default 1)")
    m.add_argument("--norm", help="dyt or layernorm")
    m.add_argument("--pooling", help="max or mean")
    m.add_argument("--dropout", type=float, help="dropout rate (default 0)")


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
    cli: dict = {}
    if args.model is not None:
        cli["model"] = args.model
    for section, table in (("data", _DATA), ("train", _TRAIN), ("model_options", _MODEL)):
        values = {key: getattr(args, dest) for dest, key in table.items() if getattr(args, dest) is not None}
        if values:
            cli[section] = values
    config = RunConfig.from_dict(merge_dicts(merged, cli))
    given_train = given.get("train") if isinstance(given.get("train"), dict) else {}
    if config.train.batch_schedule and (args.batch_size is not None or "batch_size" in given_train):
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
