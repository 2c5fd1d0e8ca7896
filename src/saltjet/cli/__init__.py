"""The `saltjet` command: one sub-command per module in this package.

Each command module defines `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`.
Errors users can cause (`SaltjetError`, and an `OSError` on a path they gave) print one line and exit 2;
Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from saltjet.errors import SaltjetError

# name -> module under saltjet.cli; the order is the order in `saltjet --help`.
COMMANDS = {
    "demo": "saltjet.cli.demo",
    "models": "saltjet.cli.models",
    "train": "saltjet.cli.train",
    "generate": "saltjet.cli.generate",
    "inspect": "saltjet.cli.inspect",
    "evaluate": "saltjet.cli.evaluate",
    "predict": "saltjet.cli.predict",
    "study": "saltjet.cli.study",
    "plot": "saltjet.cli.plot",
    "export": "saltjet.cli.export",
    "bench": "saltjet.cli.bench",
    "quantize": "saltjet.cli.quantize",
    "emulate": "saltjet.cli.emulate",
    "firmware": "saltjet.cli.firmware",
}


def int_at_least(text: str, low: int) -> int:
    """argparse helper: text as an integer ≥ low, or an ArgumentTypeError naming the bound."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected a number ≥ {low}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1."""
    return int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: an integer ≥ 0."""
    return int_at_least(text, 0)


def run_folder(text: str) -> str:
    """argparse type of --run: a run folder, or the name of a shipped model (`saltjet.pretrained`)."""
    from saltjet.pretrained import resolve_run

    return str(resolve_run(text))


def build_parser() -> argparse.ArgumentParser:
    from saltjet import __version__

    parser = argparse.ArgumentParser(
        prog="saltjet",
        description="SAL-T, the Spatially Aware Linear Transformer, for particle jet tagging.",
    )
    parser.add_argument("--version", action="version", version=f"saltjet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except SaltjetError as e:
        print(f"saltjet {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"saltjet {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # a path the user gave that cannot be read or written (permissions, full disk, ...)
        where = f": {e.filename}" if getattr(e, "filename", None) else ""
        print(f"saltjet {args.command}: error: {e.strerror or e}{where}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
