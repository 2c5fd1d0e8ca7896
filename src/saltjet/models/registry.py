"""Model registry: build any tagger by name with a typed config (timm-style)."""

from __future__ import annotations

from dataclasses import fields
from typing import Callable

from torch import nn

from saltjet.errors import ConfigError

_MODELS: dict[str, tuple[type[nn.Module], type]] = {}


def register_model(name: str, config_cls: type) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: make `cls` buildable as `create_model(name, **config)`."""

    def wrap(cls: type[nn.Module]) -> type[nn.Module]:
        if name in _MODELS:
            raise ValueError(f"model {name!r} registered twice")
        _MODELS[name] = (cls, config_cls)
        cls.model_name = name
        return cls

    return wrap


def list_models() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_MODELS)


def _lookup(name: str) -> tuple[type[nn.Module], type]:
    if name not in _MODELS:
        raise ConfigError(f"unknown model {name!r}; choose from {', '.join(list_models())}")
    return _MODELS[name]


def model_config(name: str, **overrides):
    """The typed config of model `name` with `overrides` applied; unknown keys are an error."""
    _, config_cls = _lookup(name)
    known = {f.name for f in fields(config_cls)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown option(s) for model {name!r}: {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return config_cls(**overrides)


def create_model(name: str, config=None, **overrides) -> nn.Module:
    """Build model `name` from a config object, or from keyword options on top of the defaults.

    >>> create_model("salt", n_particles=200, n_classes=2)
    """
    cls, config_cls = _lookup(name)
    if config is None:
        config = model_config(name, **overrides)
    elif overrides:
        raise ConfigError("pass either a config object or keyword options, not both")
    elif not isinstance(config, config_cls):
        raise ConfigError(f"model {name!r} takes a {config_cls.__name__}, got {type(config).__name__}")
    return cls(config)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (fitted normalisation buffers are not parameters)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
