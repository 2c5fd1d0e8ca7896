"""Trained taggers shipped with the package, loaded by name.

    tagger = saltjet.load_pretrained("salt-5class")      # a saltjet.Tagger
    saltjet evaluate --run salt-5class --data FILES      # every --run option takes a name too

Each model is a folder `pretrained/<name>/` with what `saltjet train` wrote for the run
(`config.yaml`, `model.safetensors`, `metrics.csv`, `summary.json`; a few KB) and `MODEL_CARD.md`:
the data, the command and schedule, held-out metrics and cost. `available()` lists them.
"""

from __future__ import annotations

from pathlib import Path

from saltjet.errors import ConfigError

PRETRAINED_DIR = Path(__file__).resolve().parent
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "MODEL_CARD.md"
SUMMARY_PREFIX = "Summary:"


def available() -> list[str]:
    """Names of the shipped models (folders holding weights), sorted."""
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / WEIGHTS_FILE).is_file())


def path(name: str) -> Path:
    """The run folder of the shipped model `name`; `ConfigError` naming the choices otherwise."""
    names = available()
    if name not in names:
        choices = ", ".join(names) if names else "none are installed"
        raise ConfigError(f"no shipped model named {name!r}; choose from {choices}")
    return PRETRAINED_DIR / name


def resolve_run(run: str | Path) -> Path:
    """A run folder: `run` itself when it exists, else the shipped model of that name.

    A name that is neither gives the one-line error of `path` (an existing folder always wins, so a
    local run called like a shipped model is never shadowed).
    """
    candidate = Path(run)
    if candidate.exists() or candidate.name != str(run) or str(run) not in available():
        return candidate
    return path(str(run))


def summary_line(name: str) -> str:
    """The line of `name`'s MODEL_CARD.md that starts with "Summary:" (without the prefix), or ""."""
    card = path(name) / CARD_FILE
    if card.is_file():
        for line in card.read_text(encoding="utf-8").splitlines():
            if line.startswith(SUMMARY_PREFIX):
                return line[len(SUMMARY_PREFIX):].strip()
    return ""


def load_pretrained(name: str, device: str = "auto"):
    """The shipped model `name` as a `saltjet.Tagger` (see `available()`)."""
    from saltjet.inference import Tagger

    return Tagger.from_run(path(name), device=device)
