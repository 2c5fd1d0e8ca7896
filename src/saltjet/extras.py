"""Optional dependencies, imported on use: a missing one is a one-line `MissingExtraError` that names
the extra to install (`pip install 'saltjet[export]'`), never a traceback.

The core install (torch, numpy, safetensors, pyyaml, h5py, tqdm) loads and runs a trained model.
The extras, declared in pyproject.toml, add the rest:

    gen      pythia8mc, fastjet, awkward, vector   `saltjet generate`, the demo's built-in jets
    train    scikit-learn                          validation AUC during training, the physics floor
    eval     scikit-learn                          `saltjet evaluate`'s metrics
    plot     matplotlib, mplhep                    `saltjet plot`, evaluation and study figures
    formats  uproot, awkward, pandas, tables, trimesh   JetClass ROOT, ModelNet meshes, the shapes set
    export   onnx, onnxruntime, onnxscript         `saltjet export`, `bench --backend onnxruntime`
    trigger  da4ml                                 `saltjet firmware` (FPGA code, its C simulation)
    all      every extra above, plus pytest
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from saltjet.errors import MissingExtraError

# top-level module -> the name pip installs it under
PIP_NAMES = {"sklearn": "scikit-learn", "pythia8mc": "pythia8mc", "fastjet": "fastjet", "awkward": "awkward",
             "vector": "vector", "matplotlib": "matplotlib", "mplhep": "mplhep", "uproot": "uproot",
             "pandas": "pandas", "tables": "tables", "trimesh": "trimesh", "onnx": "onnx",
             "onnxruntime": "onnxruntime", "onnxscript": "onnxscript", "tensorboard": "tensorboard",
             "da4ml": "da4ml", "weaver": "weaver-core"}

# extra -> the modules it provides (what `check_extras` looks for)
EXTRAS = {
    "gen": ("pythia8mc", "fastjet", "awkward", "vector"),
    "train": ("sklearn",),
    "eval": ("sklearn",),
    "plot": ("matplotlib", "mplhep"),
    "formats": ("uproot", "awkward", "pandas", "tables", "trimesh"),
    "export": ("onnx", "onnxruntime", "onnxscript"),
    "trigger": ("da4ml",),
    "part": ("weaver",),
}


def install_hint(*extras: str) -> str:
    """`pip install 'saltjet[a,b]'`."""
    return f"pip install 'saltjet[{','.join(dict.fromkeys(extras))}]'"


def require(module: str, extra: str, purpose: str | None = None) -> ModuleType:
    """Import `module` (e.g. "onnx", "sklearn.metrics") and return it; `MissingExtraError` naming
    `extra` when it (or a package it needs) cannot be imported.

    purpose: what needs it, for the message ("ONNX export"); default: the module's pip name.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        package = PIP_NAMES.get(top, top)
        if (e.name or top).split(".")[0] == top:
            what = f"{purpose} needs {package}, which is not installed" if purpose else f"{package} is not installed"
        else:  # the package is there but one of its own dependencies is not
            what = f"{package} cannot be imported ({e})"
        raise MissingExtraError(f"{what}; install it with: {install_hint(extra)}", extra=extra) from None


def check_extras(*extras: str, purpose: str | None = None) -> None:
    """`MissingExtraError` naming every extra in `extras` whose modules are not all importable.
    Cheap (`find_spec`, nothing imported): for commands that would otherwise fail late, after
    minutes of work (the demo generates and trains before it plots)."""
    missing_extras, missing_modules = [], []
    for extra in extras:
        gone = [m for m in EXTRAS[extra] if not importable(m)]
        if gone:
            missing_extras.append(extra)
            missing_modules += [PIP_NAMES.get(m, m) for m in gone if PIP_NAMES.get(m, m) not in missing_modules]
    if missing_extras:
        what = f"{purpose} needs" if purpose else "missing optional packages:"
        raise MissingExtraError(f"{what} {', '.join(missing_modules)}; install with: {install_hint(*missing_extras)}",
                                extra=",".join(missing_extras))


def importable(module: str) -> bool:
    import sys

    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


__all__ = ["EXTRAS", "PIP_NAMES", "check_extras", "importable", "install_hint", "require"]
