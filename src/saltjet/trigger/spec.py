"""`QuantSpec`: a quantised SAL-T as data (config, integer weights, every tensor's fixed-point type).

A quantised run folder (QRUN) holds:

    QRUN/
      quant_spec.json     config, class/feature names, sort key, every FixedType, lookup functions
      quant_weights.npz   integer weight codes (int64; value = code * 2**-f of the weight's type)
      qat.jsonl           one line per fine-tuning epoch (written by `saltjet.trigger.qat`)

Loading never unpickles (`np.load(..., allow_pickle=False)`), and every code is checked to lie in its
type's range, so a spec loaded from disk is the one the emulator and the firmware run.

Names: weights and activations share one namespace of types (`QuantSpec.types`), e.g. "embed_w",
"h0", "l0_s" (see `saltjet.trigger.emulator` for the graph and the shape of every tensor). The input
"in" has one type per feature (a list); everything else one type per tensor.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from saltjet.errors import DataError, SaltjetError
from saltjet.trigger.fixed import FixedType
from saltjet.training.run import atomic_write_bytes, make_dir, write_json

SPEC_FILE = "quant_spec.json"
WEIGHTS_FILE = "quant_weights.npz"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class LookupFn:
    """An elementwise function a lookup table holds: "exp" (of min(x, 0): its input is a logit minus its
    row's max, and the table's unused positive half must stay finite), "recip" (1 / max(x, 1/2)) or "dyt"
    (tanh(alpha·x + beta), DyT with its two scalars folded in). Works on numpy arrays and torch
    tensors (same formula; tables are always filled from the numpy branch)."""

    kind: str
    alpha: float = 1.0
    beta: float = 0.0

    def __call__(self, x):
        if type(x).__module__.startswith("torch"):
            import torch

            if self.kind == "exp":
                return torch.exp(torch.clamp(x, max=0.0))
            if self.kind == "recip":
                return 1.0 / torch.clamp(x, min=0.5)
            return torch.tanh(self.alpha * x + self.beta)
        x = np.asarray(x, dtype=np.float64)
        if self.kind == "exp":
            return np.exp(np.minimum(x, 0.0))
        if self.kind == "recip":
            return 1.0 / np.maximum(x, 0.5)
        return np.tanh(self.alpha * x + self.beta)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "alpha": self.alpha, "beta": self.beta}

    @classmethod
    def from_dict(cls, d) -> "LookupFn":
        if not isinstance(d, dict) or d.get("kind") not in ("exp", "recip", "dyt"):
            raise DataError(f"{SPEC_FILE}: bad lookup function {d!r}")
        alpha, beta = float(d.get("alpha", 1.0)), float(d.get("beta", 0.0))
        if not (math.isfinite(alpha) and math.isfinite(beta)):
            raise DataError(f"{SPEC_FILE}: lookup function {d['kind']} has a non-finite parameter")
        return cls(d["kind"], alpha, beta)


@dataclass
class QuantSpec:
    """A quantised SAL-T (model options as in `saltjet.models.salt.SALTConfig`).

    Attributes:
        config: model options (n_particles, n_features, n_classes, d_model, n_heads, d_ff, n_layers,
            partitions, conv_heights, conv_mode, norm, pooling).
        class_names: logit order. feature_names: the F input columns (the firmware input).
        sort_by: particle order the input must have (kt: descending kT, padding last).
        weights: name -> float64 array of grid values of `types[name]` (shapes: see emulator).
        types: name -> FixedType (weights and activations), or a list of F FixedTypes for "in".
        luts: lookup-table name (the output tensor's name) -> LookupFn.
        source: provenance (float run, QAT options, metrics); free-form JSON.
    """

    config: dict
    class_names: list[str]
    feature_names: list[str]
    sort_by: str
    weights: dict[str, np.ndarray]
    types: dict[str, FixedType | list[FixedType]]
    luts: dict[str, LookupFn]
    source: dict = field(default_factory=dict)

    @property
    def n_particles(self) -> int:
        return int(self.config["n_particles"])

    def type_of(self, name: str) -> FixedType | list[FixedType]:
        try:
            return self.types[name]
        except KeyError:
            raise DataError(f"the quantised model has no type for tensor {name!r}") from None

    def bits(self) -> dict[str, int | list[int]]:
        """name -> width in bits (a list for per-feature types)."""
        return {k: [t.width for t in v] if isinstance(v, list) else v.width for k, v in self.types.items()}

    def save(self, folder: str | Path) -> Path:
        """Write quant_spec.json and quant_weights.npz into `folder` (created if needed)."""
        folder = make_dir(folder)
        codes = {}
        for name, w in self.weights.items():
            t = self.type_of(name)
            codes[name] = np.rint(np.ldexp(np.asarray(w, dtype=np.float64), t.fraction)).astype(np.int64)
        buf = io.BytesIO()
        np.savez_compressed(buf, **codes)
        atomic_write_bytes(folder / WEIGHTS_FILE, buf.getvalue())
        types = {k: [t.to_dict() for t in v] if isinstance(v, list) else v.to_dict() for k, v in self.types.items()}
        write_json(folder / SPEC_FILE, {
            "format_version": FORMAT_VERSION, "config": self.config, "class_names": self.class_names,
            "feature_names": self.feature_names, "sort_by": self.sort_by, "types": types,
            "ap_types": {k: [t.ap_type() for t in v] if isinstance(v, list) else v.ap_type() for k, v in self.types.items()},
            "luts": {k: v.to_dict() for k, v in self.luts.items()},
            "weight_shapes": {k: list(np.shape(v)) for k, v in self.weights.items()},
            "source": self.source})
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "QuantSpec":
        """Inverse of `save`; one-line `DataError` for a folder that is not a quantised run."""
        folder = Path(folder)
        path = folder / SPEC_FILE
        if not folder.is_dir():
            raise DataError(f"quantised run {folder} does not exist")
        if not path.is_file():
            raise DataError(f"{folder} is not a quantised run (no {SPEC_FILE}; make one with saltjet quantize)")
        try:
            raw = json.loads(path.read_text())
            types = {k: [FixedType.from_dict(t) for t in v] if isinstance(v, list) else FixedType.from_dict(v)
                     for k, v in raw["types"].items()}
            luts = {k: LookupFn.from_dict(v) for k, v in raw["luts"].items()}
            config, shapes = dict(raw["config"]), raw["weight_shapes"]
            spec = cls(config, list(raw["class_names"]), list(raw["feature_names"]), str(raw["sort_by"]),
                       {}, types, luts, dict(raw.get("source") or {}))
        except SaltjetError as e:
            raise DataError(f"{path}: {e}") from None
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise DataError(f"{path}: not a quantised-run spec ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
        spec.weights = _read_codes(folder / WEIGHTS_FILE, types, shapes)
        return spec


def _read_codes(path: Path, types: dict, shapes: dict) -> dict[str, np.ndarray]:
    """Integer codes -> float64 grid values, each checked against its type's range and the recorded shape."""
    if not path.is_file():
        raise DataError(f"{path.parent} has no {WEIGHTS_FILE}")
    try:
        with np.load(path, allow_pickle=False) as f:
            codes = {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if set(codes) != set(shapes):
        raise DataError(f"{path}: weights {sorted(set(codes) ^ set(shapes))[:3]} do not match {SPEC_FILE}")
    out = {}
    for name, code in codes.items():
        t = types.get(name)
        if not isinstance(t, FixedType) or code.dtype.kind not in "iu" or list(code.shape) != list(shapes[name]):
            raise DataError(f"{path}: weight {name!r} has no type, a non-integer dtype or the wrong shape")
        lo, hi = t.code_range
        if code.size and (code.min() < lo or code.max() > hi):
            raise DataError(f"{path}: weight {name!r} holds codes outside {t.ap_type()}")
        out[name] = np.ldexp(code.astype(np.float64), -t.fraction)
    return out
