"""Command-line flags generated from the config dataclasses (`DataConfig`, `TrainConfig`).

Each field becomes one flag, `--kebab-name` (or its name in `FLAG_NAMES`), whose value lands in
the parsed namespace under `section.field` (e.g. `train.warmup_epochs`). Types come from the
annotations: int and float are parsed as such, bool is `--x/--no-x`, str and lists are passed
as text (lists comma-separated, shown as A,B,...) for the dataclass to coerce and check. The
help text is the field's entry under `Attributes:` in the dataclass docstring, so a new field
gets its flag and its help from the one place it is documented. Ranges and choices are checked by the dataclass
only, once. Every flag defaults to None (not given), so a flag left out never overrides
`--config FILE` or `--set`.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import types
import typing

# section.field -> flag, where the flag is not `--kebab-name` (kept names, or a clash between sections)
FLAG_NAMES = {"data.path": "--data", "data.seed": "--data-seed"}
# section.field -> extra argparse keywords (fields that take several paths after one flag)
EXTRA = {"data.path": {"nargs": "+", "metavar": "PATH"}, "data.val_data": {"nargs": "+", "metavar": "PATH"}}

_ENTRY = re.compile(r"^(\w+): ?(.*)$")


def field_help(cls: type) -> dict[str, str]:
    """{field: help} from the `Attributes:` section of `cls`'s docstring (indented `name: text`
    entries, continued on more-indented lines)."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    lines = doc.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Attributes:") + 1
    except StopIteration:
        return {}
    out: dict[str, str] = {}
    indent = None
    name = None
    for line in lines[start:]:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if indent is None:
            indent = depth
        if depth < indent:
            break  # the section ended
        match = _ENTRY.match(line.strip()) if depth == indent else None
        if match:
            name = match.group(1)
            out[name] = match.group(2).strip()
        elif name is not None:
            out[name] += " " + line.strip()
    return out


def flag_name(section: str, name: str) -> str:
    return FLAG_NAMES.get(f"{section}.{name}", "--" + name.replace("_", "-"))


def _base_type(hint):
    """The annotation without `| None`."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else str
    return hint


def _default_text(f: dataclasses.Field) -> str | None:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return None
    if value is None or value == [] or isinstance(value, bool):
        return None
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _metavar(hint, name: str) -> str:
    if typing.get_origin(hint) is list:
        return "A,B,..."  # comma-separated, split by the dataclass
    return {int: "N", float: "X"}.get(hint, name.upper())


def add_flag(group, flag: str, dest: str, hint, text: str, **extra) -> None:
    """One flag of type `hint` (int, float, str, bool or list) into `dest`, default None (not given)."""
    kwargs: dict = {"dest": dest, "default": None, "help": text.replace("%", "%%"), **extra}
    if hint is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    else:
        kwargs.setdefault("type", hint if hint in (int, float) else str)
        kwargs.setdefault("metavar", _metavar(hint, dest.rpartition(".")[2]))
    group.add_argument(flag, **kwargs)


def add_config_flags(group, cls: type, section: str) -> list[str]:
    """Add one flag per field of dataclass `cls` to `group`; returns their destinations."""
    hints = typing.get_type_hints(cls)
    helps = field_help(cls)
    dests = []
    for f in dataclasses.fields(cls):
        dest = f"{section}.{f.name}"
        text = helps.get(f.name, dest).rstrip(".")
        default = _default_text(f)
        if default is not None:
            text += f" (default {default})"
        add_flag(group, flag_name(section, f.name), dest, _base_type(hints[f.name]), text, **EXTRA.get(dest, {}))
        dests.append(dest)
    return dests


def given_options(args: argparse.Namespace, sections=("data", "train", "model_options")) -> dict:
    """The `section.field` values of `args` that the command line set, as nested sections."""
    out: dict = {}
    for dest, value in vars(args).items():
        section, dot, key = dest.partition(".")
        if dot and section in sections and value is not None:
            out.setdefault(section, {})[key] = value
    return out
