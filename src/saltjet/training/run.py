"""A run directory: everything needed to use a trained tagger, loadable without unpickling code.

    RUN_DIR/
      config.yaml          model name + model config, data settings (sort key, features, classes)
      model.safetensors    best weights, including the fitted InputScaler buffers
      last.safetensors     weights at the end of the last finished epoch (training helpers add more)
      metrics.jsonl        one JSON line per epoch (written by training)

`save_model` / `load_run` are the only functions that know this layout's model part.
"""

from __future__ import annotations

import json
import math
import os
from contextlib import contextmanager
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
            info = cls(model=d.pop("model"), model_config=d.pop("model_config"), class_names=d.pop("class_names"),
                       sort_by=d.pop("sort_by", "kt"), feature_names=d.pop("feature_names", ["pt", "eta_rel", "phi_rel"]),
                       extra=d)
        except KeyError as e:
            raise DataError(f"{CONFIG_FILE} lacks the key {e.args[0]!r}") from None
        info._check_types()
        return info

    def _check_types(self) -> None:
        """One-line DataError for a config.yaml whose keys have the wrong type (an edited file)."""
        def names(v):
            return isinstance(v, list) and all(isinstance(s, str) for s in v)

        for key, ok, want in (("model", isinstance(self.model, str), "a model name"),
                              ("model_config", isinstance(self.model_config, dict)
                               and all(isinstance(k, str) for k in self.model_config), "a mapping of model options"),
                              ("class_names", names(self.class_names) and len(self.class_names) >= 2,
                               "a list of at least two class names"),
                              ("sort_by", isinstance(self.sort_by, str), "a sort key name"),
                              ("feature_names", names(self.feature_names) and len(self.feature_names) >= 1,
                               "a list of feature names")):
            if not ok:
                raise DataError(f"{CONFIG_FILE}: {key} must be {want}, got {getattr(self, key)!r}")


@contextmanager
def _writing(path: Path, tmp: Path):
    """Turn a failed write (full disk, read-only folder, safetensors' own errors) into one DataError line,
    leaving no temporary file behind."""
    try:
        yield
    except SaltjetError:
        raise
    except Exception as e:  # OSError, safetensors' SafetensorError, ...
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        reason = e.strerror if isinstance(e, OSError) and e.strerror else (str(e).splitlines()[0] if str(e) else type(e).__name__)
        raise DataError(f"cannot write {path}: {reason}") from None


def make_dir(path: str | Path) -> Path:
    """Create a folder (and its parents) for output; DataError with one line when that is impossible."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the folder {path}: {e.strerror or e}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise DataError(f"cannot write into the folder {path}: permission denied")
    return path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write then rename, so a crash never leaves a half-written file behind."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with _writing(path, tmp):
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def save_weights(model: torch.nn.Module, path: Path) -> None:
    """State dict (parameters and buffers) to safetensors, atomically."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    with _writing(path, tmp):
        save_file(state, str(tmp))
        os.replace(tmp, path)


def save_info(run_dir: str | Path, info: RunInfo) -> Path:
    """Write RUN_DIR/config.yaml alone (created if needed): what the run holds, before it has weights."""
    run_dir = make_dir(run_dir)
    atomic_write_bytes(run_dir / CONFIG_FILE, yaml.safe_dump(info.to_dict(), sort_keys=False).encode())
    return run_dir


def save_model(run_dir: str | Path, model: torch.nn.Module, info: RunInfo, weights_file: str = WEIGHTS_FILE) -> Path:
    """Write config.yaml and the weights into `run_dir` (created if needed)."""
    run_dir = save_info(run_dir, info)
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
        unfinished = not (Path(run_dir) / SUMMARY_FILE).is_file()
        raise DataError(f"{run_dir} has no weights file {weights_file}"
                        + (" (its training has not finished an epoch that improved)" if unfinished else ""))
    try:
        config = model_config(info.model, **info.model_config)
    except (TypeError, ValueError) as e:  # ConfigError is a ValueError
        raise DataError(f"{CONFIG_FILE} in {run_dir}: bad model_config: {str(e).splitlines()[0]}") from None
    check_weight_shapes(info.model, config, weights)  # before any real memory is allocated
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


def weight_shapes(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape from a safetensors header, without reading any tensor data."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise DataError(f"cannot read {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def check_weight_shapes(model: str, config, weights: str | Path) -> None:
    """DataError unless the safetensors file holds exactly the tensors (names, shapes) of `model` built
    from `config`. The model is built on the `meta` device: shapes only, no memory, whatever its size."""
    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in create_model(model, config).state_dict().items()}
    except (TypeError, ValueError, RuntimeError) as e:
        raise DataError(f"{CONFIG_FILE}: cannot build model {model!r}: {str(e).splitlines()[0]}") from None
    found = weight_shapes(weights)
    missing, unexpected = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    wrong = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
    if missing or unexpected or wrong:
        if wrong:
            k = wrong[0]
            detail = f"{k} is {list(found[k])} in the weights but {list(expected[k])} in {CONFIG_FILE}"
        else:
            detail = (f"{len(missing)} tensor(s) missing (e.g. {missing[0]})" if missing
                      else f"{len(unexpected)} unexpected tensor(s) (e.g. {unexpected[0]})")
        raise DataError(f"{weights} does not match the model in {CONFIG_FILE}: {detail}")


# --- training checkpoints (written by saltjet.training.loop) -------------------------------------------
#   RUN_DIR/last.safetensors         weights after the last finished epoch (loadable by load_run)
#   RUN_DIR/train_state.safetensors  everything needed to resume, committed by one rename:
#                                    tensors "model.*" (last weights), "best.*" (best weights),
#                                    "optim.<param>.<name>" (optimizer state) and JSON metadata
#                                    (epoch, early stopping, metrics so far, config) — no pickle.
#   RUN_DIR/metrics.jsonl            one JSON line per finished epoch
#   RUN_DIR/summary.json             the result of the finished run

LAST_WEIGHTS_FILE = "last.safetensors"
STATE_FILE = "train_state.safetensors"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
_STATE_KEY = "saltjet_state"


def save_checkpoint(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Tensors to safetensors with `meta` (JSON-able) in its header, atomically (write then rename)."""
    path = Path(path)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    tmp = path.with_name(path.name + ".tmp")
    with _writing(path, tmp):
        save_file(state, str(tmp), metadata={_STATE_KEY: strict_json(meta)})
        os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Inverse of `save_checkpoint`: (tensors on CPU, meta)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise DataError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get(_STATE_KEY, "{}"))
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise DataError(f"cannot read checkpoint {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if not isinstance(meta, dict):
        raise DataError(f"checkpoint {path} has damaged metadata")
    return tensors, meta


def flatten_optimizer_state(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """torch optimizer state_dict -> (tensors "optim.<param>.<name>", JSON-able rest)."""
    tensors, scalars = {}, {}
    for pid, per_param in state_dict["state"].items():
        for name, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{pid}.{name}"] = value
            else:
                scalars.setdefault(str(pid), {})[name] = value
    groups = [{k: list(v) if isinstance(v, tuple) else v for k, v in g.items()} for g in state_dict["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def unflatten_optimizer_state(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    """Inverse of `flatten_optimizer_state` (tuples such as Adam's betas come back as tuples)."""
    state: dict = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    for pid, values in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(values)
    groups = [{k: tuple(v) if k == "betas" else v for k, v in g.items()} for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def json_safe(obj):
    """`obj` with every non-finite float (NaN, ±inf) replaced by None, numpy scalars and arrays made plain, paths as strings,
    so that strict JSON (no NaN/Infinity tokens) can hold it."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):  # numpy / torch scalars and arrays
        return json_safe(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def strict_json(obj, indent: int | None = None) -> str:
    """Standard JSON text of `obj`: non-finite numbers become null (never the NaN/Infinity tokens)."""
    return json.dumps(json_safe(obj), indent=indent, allow_nan=False)


def write_json(path: str | Path, obj, indent: int = 2) -> None:
    """Strict JSON file (see `strict_json`), atomically; its folder is made when missing. Every JSON file
    saltjet writes goes through here."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (strict_json(obj, indent=indent) + "\n").encode())


def write_jsonl(path: str | Path, records: list[dict]) -> None:
    """One strict JSON object per line, atomically (the whole file is rewritten)."""
    atomic_write_bytes(Path(path), "".join(strict_json(r) + "\n" for r in records).encode())


def read_jsonl(path: str | Path) -> list[dict]:
    """Records of a JSON-lines file ([] when it does not exist)."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
