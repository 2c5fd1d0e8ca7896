"""Taggers built by name: `create_model("salt" | "salt_pair" | "linformer" | "transformer" | "transformer_pair" | "part", **config)`.

`part` (weaver-core's ParticleTransformer) imports weaver only when it is built.
"""

from saltjet.models.registry import count_parameters, create_model, list_models, model_config, register_model

# Importing the model modules registers them.
from saltjet.models import linformer, part, salt, salt_pair, transformer, transformer_pair  # noqa: E402,F401  isort: skip
from saltjet.models.linformer import Linformer, LinformerConfig
from saltjet.models.part import ParT, ParTConfig
from saltjet.models.salt import SALT, SALTConfig
from saltjet.models.salt_pair import SALTPair, SALTPairConfig
from saltjet.models.tagger import JetTagger, ModelConfig
from saltjet.models.transformer import Transformer, TransformerConfig
from saltjet.models.transformer_pair import TransformerPair, TransformerPairConfig

__all__ = [
    "JetTagger",
    "Linformer",
    "LinformerConfig",
    "ModelConfig",
    "ParT",
    "ParTConfig",
    "SALT",
    "SALTConfig",
    "SALTPair",
    "SALTPairConfig",
    "Transformer",
    "TransformerConfig",
    "TransformerPair",
    "TransformerPairConfig",
    "count_parameters",
    "create_model",
    "list_models",
    "model_config",
    "register_model",
]
