"""`saltjet models`: list the registered taggers with their parameter counts and a forward-pass check."""

from __future__ import annotations

import argparse

from saltjet.cli import positive_int

HELP = "list the registered models: parameters and output shape of a forward pass on random jets"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n-particles", type=positive_int, default=150, help="particle slots n (default 150)")
    p.add_argument("--n-features", type=positive_int, default=3, help="input features F (default 3)")
    p.add_argument("--n-classes", type=positive_int, default=5, help="classes (default 5; 2 gives one logit)")
    p.add_argument("--batch", type=positive_int, default=4, help="random jets in the forward pass (default 4)")
    p.add_argument("--pretrained", action="store_true",
                   help="list the trained models shipped with saltjet (load with saltjet.load_pretrained(NAME) "
                        "or --run NAME)")


def run(args: argparse.Namespace) -> int:
    if args.pretrained:
        return _list_pretrained()
    import torch

    from saltjet.errors import SaltjetError
    from saltjet.models import count_parameters, create_model, list_models

    torch.manual_seed(0)
    n, f = args.n_particles, args.n_features
    x = torch.randn(args.batch, n, f).abs()
    mask = torch.arange(n).expand(args.batch, n) < torch.randint(1, n + 1, (args.batch, 1))
    width = max(len(name) for name in list_models())
    print(f"{'model':<{width}} {'params':>8}  output for x {tuple(x.shape)}")
    for name in list_models():
        try:
            model = create_model(name, n_particles=n, n_features=f, n_classes=args.n_classes).eval()
        except SaltjetError as e:  # e.g. part without weaver-core: say so and list the others
            print(f"{name:<{width}} {'-':>8}  {e}")
            continue
        with torch.no_grad():
            out = model(x, mask)
        print(f"{name:<{width}} {count_parameters(model):>8,}  {tuple(out.shape)}")
    return 0


def _list_pretrained() -> int:
    """One line per shipped model: name, then the first line of its model card's summary."""
    from saltjet.pretrained import available, summary_line

    names = available()
    if not names:
        print("no trained models are shipped with this installation")
    for name in names:
        print(f"{name:<28} {summary_line(name)}")
    return 0
