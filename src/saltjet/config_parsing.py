"""Reading run options: YAML config files, `--set section.key=value` assignments, and typed
dataclasses built from plain values (every failure a one-line `ConfigError`).

`saltjet.config` holds the option dataclasses themselves and re-exports these functions.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path

import yaml

from saltjet.errors import ConfigError


def load_yaml(path: str | Path) -> dict:
    """Read a config file into a dict; `ConfigError` if missing, unreadable or not a mapping."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of sections (model, model_options, data, train)")
    return raw


def merge_dicts(base: dict, override: dict) -> dict:
    """Recursive merge: values of `override` win; nested mappings merge key by key."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_dicts(out[key], value)
        else:
            out[key] = value
    return out


def parse_assignment(text: str) -> dict:
    """"section.key=value" (value parsed as YAML) -> {"section": {"key": value}}.

    Sections: data, train, model (= model_options). "model=NAME" sets the model name.
    """
    if "=" not in text:
        raise ConfigError(f"--set expects KEY=VALUE, got {text!r}")
    key, _, raw = text.partition("=")
    key = key.strip()
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    if key == "model":
        return {"model": value}
    section, _, name = key.partition(".")
    section = {"model": "model_options", "model_options": "model_options"}.get(section, section)
    if section not in ("data", "train", "model_options") or not name:
        raise ConfigError(f"--set key {key!r} must be data.NAME, train.NAME or model.NAME")
    return {section: {name.replace("-", "_"): value}}


def build_dataclass(cls: type, values: dict | None, section: str):
    """Instantiate dataclass `cls` from `values`, coercing types; unknown keys raise `ConfigError`."""
    values = dict(values or {})
    if not isinstance(values, dict):
        raise ConfigError(f"section {section!r} must be a mapping")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown {section} option(s): {', '.join(unknown)}; known: {', '.join(known)}")
    kwargs = {k: _coerce(v, hints[k], f"{section}.{k}") for k, v in values.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"bad {section} options: {e}") from None


def _coerce(value, hint, name: str):
    """Convert a YAML/CLI value to the annotated type (int, float, bool, str, list, Optional)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        return _coerce(value, args[0], name)
    if origin is list:
        if isinstance(value, str):
            if name == "train.batch_schedule":
                return value  # "paper" or "128,256": TrainConfig parses it
            value = [v for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            value = [value]
        (item,) = typing.get_args(hint) or (str,)
        return [_coerce(v, item, name) for v in value]
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{name} must be a mapping, got {value!r}")
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    if hint is int:
        return to_int(value, name)
    if hint is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if hint is str:
        if isinstance(value, (dict, list)) or value is None:
            raise ConfigError(f"{name} must be a string, got {value!r}")
        return str(value)
    return value


def to_int(value, name: str) -> int:
    """`value` as an int when it is a whole number (3, 3.0, "3"), else a one-line `ConfigError`."""
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if not f.is_integer():
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    return int(f)
