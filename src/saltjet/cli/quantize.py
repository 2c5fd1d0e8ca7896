"""`saltjet quantize`: quantisation-aware fine-tuning of a float SAL-T run -> a quantised run (QRUN)."""

from __future__ import annotations

import argparse
import sys

from saltjet.cli import non_negative_int, positive_int, run_folder

HELP = ("quantisation-aware fine-tuning of a SAL-T run: learned fixed-point bit widths under an EBOPs "
        "penalty; writes a quantised run (every tensor's type, integer weights) for saltjet emulate")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, type=run_folder, metavar="RUN",
                   help="float SAL-T run directory, or a shipped model's name (e.g. salt-5class)")
    p.add_argument("--data", required=True, nargs="+", metavar="PATH",
                   help="data file(s), folder or glob; cut into train/val/test as the run's config.yaml says")
    p.add_argument("--out", required=True, metavar="QRUN", help="quantised run directory to write")
    p.add_argument("--epochs", type=non_negative_int, default=3, help="fine-tuning epochs (default 3; 0: calibrate only)")
    p.add_argument("--jets", type=positive_int, default=20000, metavar="N",
                   help="training jets per epoch, the first N of the run's train split (default 20000)")
    p.add_argument("--val-jets", type=positive_int, default=4000, metavar="N",
                   help="validation jets scored after each epoch (default 4000)")
    p.add_argument("--ebops-weight", type=_number, default=1e-8, metavar="X",
                   help="weight of the EBOPs resource penalty in the loss (default 1e-8)")
    p.add_argument("--init-bits", type=positive_int, default=10, metavar="W",
                   help="starting width of every tensor, 2..16 (default 10)")
    p.add_argument("--lr", type=_number, default=3e-4, help="Adam learning rate of the weights (default 3e-4)")
    p.add_argument("--lr-bits", type=_number, default=0.02, help="Adam learning rate of the bit widths (default 0.02)")
    p.add_argument("--batch-size", type=positive_int, default=256, help="jets per step (default 256)")
    p.add_argument("--calib-jets", type=positive_int, default=2000, metavar="N",
                   help="training jets that calibrate the integer bits (default 2000)")
    p.add_argument("--rounding", default="TRN", choices=["TRN", "RND"],
                   help="rounding of activations: TRN truncates (no adder in hardware, default), RND rounds to nearest")
    p.add_argument("--settle-epochs", type=non_negative_int, default=1,
                   help="last epochs that train the weights with the bit widths frozen (default 1)")
    p.add_argument("--max-loss", type=_number, default=1.0, metavar="POINTS",
                   help="keep the epoch with the fewest EBOPs within this many accuracy points of the float "
                        "run on the validation jets (default 1.0; else the most accurate epoch)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="shuffling seed (default 0)")
    p.add_argument("--num-threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)")


def run(args: argparse.Namespace) -> int:
    import torch

    from saltjet.trigger.qat import QATOptions, quantize_run

    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    opts = QATOptions(epochs=args.epochs, jets=args.jets, val_jets=args.val_jets, batch_size=args.batch_size,
                      lr=args.lr, lr_bits=args.lr_bits, ebops_weight=args.ebops_weight, init_bits=args.init_bits,
                      calib_jets=args.calib_jets, seed=args.seed, rounding=args.rounding,
                      settle_epochs=args.settle_epochs, max_loss=args.max_loss)
    spec, summary = quantize_run(args.run, args.data, args.out, opts, log=lambda s: print(s, flush=True))
    widths = [w for v in spec.bits().values() for w in (v if isinstance(v, list) else [v])]
    print(f"quantised run written to {args.out} (epoch {summary['epoch']}): val accuracy float {100 * summary['float_val_accuracy']:.2f} %, "
          f"QAT {100 * summary['qat_val_accuracy']:.2f} %; EBOPs {summary['ebops']:,.0f}; "
          f"widths {min(widths)}..{max(widths)} bits (mean {sum(widths) / len(widths):.2f})")
    print(f"next: saltjet emulate --run {args.out} --data {' '.join(args.data)}", file=sys.stderr)
    return 0
