"""Taggers built by name: `create_model("salt" | "linformer" | "transformer", **config)`."""

from saltjet.models.registry import count_parameters, create_model, list_models, model_config, register_model

# Importing the model modules registers them.
from saltjet.models import linformer, salt, transformer  # noqa: E402,F401  isort: skip
from saltjet.models.linformer import Linformer, LinformerConfig
from saltjet.models.salt import SALT, SALTConfig
from saltjet.models.tagger import JetTagger, ModelConfig
from saltjet.models.transformer import Transformer, TransformerConfig

__all__ = [
    "JetTagger",
    "Linformer",
    "LinformerConfig",
    "ModelConfig",
    "SALT",
    "SALTConfig",
    "Transformer",
    "TransformerConfig",
    "count_parameters",
    "create_model",
    "list_models",
    "model_config",
    "register_model",
]
