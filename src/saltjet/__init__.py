"""saltjet: the Spatially Aware Linear Transformer (SAL-T) for particle jet tagging.

Sub-packages:
    saltjet.models  SAL-T, Linformer and Transformer taggers, built by name (`create_model`).
    saltjet.data    kinematics, particle sorting, readers, generators and the training pipeline.
    saltjet.Tagger  a trained run that scores jets: `Tagger.from_run(path).predict(jets)`.
    saltjet.load_pretrained(name)  a shipped model as a Tagger (`saltjet.pretrained.available()`).

`saltjet.models`, `saltjet.data` and `saltjet.Tagger` are imported on first use, so that light processes (e.g. the
Pythia generator's workers) do not pay for importing torch.
"""

import importlib

from saltjet.errors import SaltjetError

__version__ = "0.1.0"
__all__ = ["SaltjetError", "Tagger", "data", "load_pretrained", "models", "__version__"]


def __getattr__(name: str):
    if name in ("data", "models"):
        return importlib.import_module(f"saltjet.{name}")
    if name == "Tagger":
        return importlib.import_module("saltjet.inference").Tagger
    if name == "load_pretrained":
        return importlib.import_module("saltjet.pretrained").load_pretrained
    raise AttributeError(f"module 'saltjet' has no attribute {name!r}")
