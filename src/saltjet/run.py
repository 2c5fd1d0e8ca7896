"""A run directory: everything needed to use a trained tagger, loadable without unpickling code.

    RUN_DIR/
      config.yaml          model name + model config, data settings (sort key, features, classes)
      model.safetensors    best weights, including the fitted InputScaler buffers
      last.safetensors     weights at the end of the last finished epoch (training helpers add more)
      metrics.jsonl        one JSON line per epoch (written by training)

`save_model` / `load_run` are the only functions that know this layout's model part.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file, save_file

from saltjet.errors import DataError, SaltjetError
from saltjet.models import create_model, model_config

CONFIG_FILE = "config.yaml"
WEIGHTS_FILE = "model.safetensors"


@dataclass
class RunInfo:
    """What a run directory says about its model and data.

    Attributes:
        model: registered model name.
        model_config: keyword options for `create_model`.
        class_names: class names in logit order.
        sort_by: particle sort key the model was trained with ("kt", ...).
        feature_names: names of the F input features, in order.
        extra: everything else in config.yaml (training options, data paths, versions).
    """

    model: str
    model_config: dict
    class_names: list[str]
    sort_by: str = "kt"
    feature_names: list[str] = field(default_factory=lambda: ["pt", "eta_rel", "phi_rel"])
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"model": self.model, "model_config": self.model_config, "class_names": self.class_names,
                "sort_by": self.sort_by, "feature_names": self.feature_names, **self.extra}

    @classmethod
    def from_dict(cls, d: dict) -> "RunInfo":
        d = dict(d)
        try:
            return cls(model=d.pop("model"), model_config=d.pop("model_config"), class_names=d.pop("class_names"),
                       sort_by=d.pop("sort_by", "kt"), feature_names=d.pop("feature_names", ["pt", "eta_rel", "phi_rel"]),
                       extra=d)
        except KeyError as e:
            raise DataError(f"{CONFIG_FILE} lacks the key {e.args[0]!r}") from None


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write then rename, so a crash never leaves a half-written file behind."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_weights(model: torch.nn.Module, path: Path) -> None:
    """State dict (parameters and buffers) to safetensors, atomically."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp))
    os.replace(tmp, path)


def save_model(run_dir: str | Path, model: torch.nn.Module, info: RunInfo, weights_file: str = WEIGHTS_FILE) -> Path:
    """Write config.yaml and the weights into `run_dir` (created if needed)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(run_dir / CONFIG_FILE, yaml.safe_dump(info.to_dict(), sort_keys=False).encode())
    save_weights(model, run_dir / weights_file)
    return run_dir


def read_info(run_dir: str | Path) -> RunInfo:
    """Parse RUN_DIR/config.yaml; `SaltjetError` with one line if it is missing or malformed."""
    path = Path(run_dir) / CONFIG_FILE
    if not Path(run_dir).is_dir():
        raise DataError(f"run directory {run_dir} does not exist")
    if not path.is_file():
        raise DataError(f"{run_dir} is not a saltjet run directory (no {CONFIG_FILE})")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise DataError(f"{path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path} does not hold a mapping")
    return RunInfo.from_dict(raw)


def load_run(run_dir: str | Path, weights_file: str = WEIGHTS_FILE, device: str | torch.device = "cpu"):
    """Rebuild the model of a run with its weights. Returns (model in eval mode, RunInfo)."""
    info = read_info(run_dir)
    weights = Path(run_dir) / weights_file
    if not weights.is_file():
        raise DataError(f"{run_dir} has no weights file {weights_file}")
    config = model_config(info.model, **info.model_config)
    model = create_model(info.model, config)
    try:
        state = load_file(str(weights), device=str(device))
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise DataError(f"cannot read {weights}: {e}") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise SaltjetError(f"{weights} does not match the model in {CONFIG_FILE}: {str(e).splitlines()[0]}") from None
    return model.to(device).eval(), info
