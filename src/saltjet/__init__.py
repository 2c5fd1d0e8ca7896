"""saltjet: the Spatially Aware Linear Transformer (SAL-T) for particle jet tagging.

Sub-packages:
    saltjet.models  SAL-T, Linformer and Transformer taggers, built by name (`create_model`).
    saltjet.data    kinematics, particle sorting, readers, generators and the training pipeline.
"""

from saltjet import data, models
from saltjet.errors import SaltjetError

__version__ = "0.1.0"
__all__ = ["SaltjetError", "data", "models", "__version__"]
