"""`Tagger`: a trained run as a Python object that scores jets.

    tagger = saltjet.Tagger.from_run("runs/salt")
    probs = tagger.predict("new_jets/*.h5")                        # a path (any supported format)
    probs = tagger.predict(particle_data)                          # a saltjet ParticleData
    probs = tagger.predict(pt=pt, eta_rel=eta, phi_rel=phi, mask=mask, e=e)   # numpy arrays (N, m)

`predict` walks the run's own pipeline (`saltjet.data.pipeline.InputSpec`, rebuilt from the run
folder): physical columns -> sort (the run's key) -> truncate/pad to n -> the run's features
(derived ones computed) -> batched forward pass. It returns probabilities (N, C), one column per
class in `tagger.class_names`, one row per input jet in input order; a jet with no particle gets a
row of NaN. No labels and no relabelling: every jet is scored.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from saltjet.data.particles import UNLABELLED, ParticleData
from saltjet.errors import InputError

DEFAULT_BATCH_SIZE = 1024  # = saltjet.evaluation.evaluate.DEFAULT_BATCH_SIZE, so scores equal `evaluate`'s bit for bit


class Tagger:
    """A loaded run: model (eval mode, on `device`), its `RunInfo` and its `InputSpec`.

    Attributes:
        class_names: the C classes, in the order of `predict`'s columns.
        inputs: the physical columns the run's features are built from (pt, eta_rel, phi_rel[, e, ...]).
        features: the run's input features. sort_by: its particle order. n_particles: its slots n.
    """

    def __init__(self, model: torch.nn.Module, info, device: str | torch.device = "auto",
                 batch_size: int = DEFAULT_BATCH_SIZE):
        from saltjet.data.pipeline import InputSpec
        from saltjet.evaluation.evaluate import _device

        self.model, self.info = model.eval(), info
        self.spec = InputSpec.from_run(info, model.config.n_particles)
        self.device, self.batch_size = _device(device), int(batch_size)

    @classmethod
    def from_run(cls, path: str | Path, device: str | torch.device = "auto",
                 batch_size: int = DEFAULT_BATCH_SIZE) -> "Tagger":
        """Load the run folder `path` (config.yaml + model.safetensors, `saltjet.training.run.load_run`)."""
        from saltjet.training.run import load_run

        model, info = load_run(path)
        return cls(model, info, device, batch_size)

    @property
    def class_names(self) -> list[str]:
        return list(self.info.class_names)

    @property
    def inputs(self) -> list[str]:
        return self.spec.inputs

    @property
    def features(self) -> list[str]:
        return list(self.spec.features)

    @property
    def sort_by(self) -> str:
        return self.spec.sort_by

    @property
    def n_particles(self) -> int:
        return self.spec.n_particles

    def load(self, path, format: str = "auto", max_jets: int | None = None, quiet: bool = True,
             labels: str = "optional", on_nonfinite: str = "raise") -> ParticleData:
        """Read `path` (file, folder, glob or list) with the physical columns this run needs.

        Labels are optional by default (jets without one get y = -1), so files without labels
        score too; `on_nonfinite="drop"` skips jets holding NaN/inf values (counted warning)
        instead of refusing the file. See `saltjet.data.load`."""
        from saltjet.data.loading import load
        from saltjet.data.pipeline import reader_features

        return load(path, format=format, max_jets=max_jets, features=reader_features(path, format, self.features),
                    quiet=quiet, labels=labels, on_nonfinite=on_nonfinite)

    def as_particles(self, data=None, **arrays) -> ParticleData:
        """`data` (ParticleData, path or dict of arrays) or keyword arrays as ParticleData."""
        if data is None and not arrays:
            raise InputError("predict needs jets: a ParticleData, a path, or arrays pt, eta_rel, phi_rel (mask, e)")
        if isinstance(data, ParticleData):
            return data
        if isinstance(data, (str, Path)) or (isinstance(data, (list, tuple)) and data and isinstance(data[0], (str, Path))):
            return self.load(data)
        if isinstance(data, dict):
            arrays = {**data, **arrays}
        elif data is not None:
            raise InputError(f"predict takes a ParticleData, a path or arrays, not {type(data).__name__}")
        return particles_from_arrays(self.inputs, self.class_names, self.spec.kind, **arrays)

    def predict(self, data=None, *, quiet: bool = True, **arrays) -> np.ndarray:
        """Class probabilities of every jet: (N, C) float64, rows in input order, NaN rows for jets
        without particles. See the module docstring for what `data` / `arrays` may be."""
        return self.predict_particles(self.as_particles(data, **arrays), quiet=quiet)

    def predict_particles(self, data: ParticleData, quiet: bool = True) -> np.ndarray:
        """`predict` on ParticleData (physical columns, file order, any slot count)."""
        from saltjet.evaluation.evaluate import predict

        nonempty = data.mask.any(axis=1)
        out = np.full((len(data), len(self.class_names)), np.nan)
        if not nonempty.any():
            return out
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # empty jets: NaN rows, said in the docstring
            prepared, _ = self.spec.prepare(data)  # drops the empty jets, keeps the order of the rest
        probs = predict(self.model, prepared.x, prepared.mask, self.batch_size, self.device, quiet=quiet)
        out[nonempty] = np.stack([1.0 - probs, probs], axis=1) if probs.ndim == 1 else probs
        return out

    def physical_model(self, with_sort: bool = False) -> torch.nn.Module:
        """The torch module that `saltjet export` turns into ONNX: physical x (B, n, P), mask -> logits."""
        from saltjet.models.inputs import physical_model

        return physical_model(self.model.to("cpu"), self.info, with_sort=with_sort)


def particles_from_arrays(inputs: list[str], class_names: list[str], kind: str = "jets", mask=None,
                          **columns) -> ParticleData:
    """ParticleData from per-particle arrays named like the run's physical `inputs`.

    Args:
        inputs: the columns needed (e.g. pt, eta_rel, phi_rel, e); extra keyword columns are ignored.
        class_names: the run's classes (the labels are all -1: unknown).
        mask: (N, m) bool, True = real particle; default pt > 0.
        columns: name -> (N, m) array (e.g. pt in GeV, eta_rel, phi_rel relative to the jet axis).
    """
    missing = [name for name in inputs if name not in columns]
    if missing:
        raise InputError(f"this run needs the arrays {', '.join(inputs)}; missing {', '.join(missing)}")
    arrays = [np.asarray(columns[name], dtype=np.float32) for name in inputs]
    shape = arrays[0].shape
    if len(shape) != 2 or any(a.shape != shape for a in arrays):
        raise InputError(f"arrays {', '.join(inputs)} must all be (N, m); got {[a.shape for a in arrays]}")
    mask = arrays[0] > 0 if mask is None else np.asarray(mask, dtype=bool)
    if mask.shape != shape:
        raise InputError(f"mask must be (N, m) = {shape}, got {mask.shape}")
    x = np.stack(arrays, axis=-1)
    return ParticleData(x, mask, np.full(shape[0], UNLABELLED, np.int64), class_names, list(inputs), kind)


def observer_columns(data: ParticleData) -> dict[str, np.ndarray]:
    """Jet-level columns that travel with the scores, (N,) each: jet_pt [GeV], then jet_eta and
    jet_phi when the reader gives them (`ParticleData.jet_columns`: the file's, or those of the sum
    of all the jet's constituents), jet_mass [GeV] of the summed constituents (massless from pT, Δη,
    Δφ) and multiplicity."""
    from saltjet.data.features import input_columns
    from saltjet.data.kinematics import invariant_mass
    from saltjet.evaluation.observables import massless_four_momenta

    out = {"multiplicity": data.multiplicity.astype(np.int64)}
    if data.kind == "jets":
        i_pt, i_eta, i_phi = input_columns(data, ["pt", "eta_rel", "phi_rel"])
        e, px, py, pz = (a.sum(axis=1) for a in massless_four_momenta(data.x[..., i_pt], data.x[..., i_eta],
                                                                          data.x[..., i_phi], data.mask))
        direction = {k: data.jet_columns[k] for k in ("jet_eta", "jet_phi") if k in data.jet_columns}
        out = {"jet_pt": np.hypot(px, py), **direction, "jet_mass": invariant_mass(e, px, py, pz), **out}
    return out


def score_table(tagger: Tagger, data: ParticleData, labelled: bool = True, quiet: bool = True) -> dict[str, np.ndarray]:
    """One row per jet of `data`: score_<class> for each of the run's classes, the observer columns
    (`observer_columns`) and, when `labelled`, `label`: the jet's class in the run's classes
    (relabelled by the run's task; -1 for a jet of no class of the run, e.g. a W jet for top_vs_qcd).
    Jets without a label (read with labels="optional") get -1; a file without any label gets a
    column of -1. No label column when the data's classes are neither the run's nor those its task
    is made from."""
    from saltjet.data.tasks import task_labels
    from saltjet.errors import DataError

    probs = tagger.predict_particles(data, quiet=quiet)
    table = {f"score_{name}": probs[:, i] for i, name in enumerate(tagger.class_names)}
    table.update(observer_columns(data))
    if labelled:
        if list(data.class_names) == tagger.class_names:
            table["label"] = data.y.astype(np.int64)
        elif tagger.spec.task not in (None, "5class"):
            try:
                table["label"] = task_labels(data, tagger.spec.task)
            except DataError:  # the file's classes are not those the task is made from: no label
                pass
        if "label" not in table and not data.labelled.any():
            table["label"] = np.full(len(data), UNLABELLED, np.int64)
    return table


def write_scores(path: str | Path, table: dict[str, np.ndarray], attrs: dict[str, str] | None = None) -> Path:
    """Write a score table: .h5/.hdf5 (one dataset per column, `attrs` on the file), .npz or .csv."""
    from saltjet.errors import ConfigError
    from saltjet.training.run import atomic_write_bytes

    path = Path(path)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix in (".h5", ".hdf5"):
        import h5py

        tmp = path.with_name(path.name + ".tmp")
        with h5py.File(tmp, "w") as f:
            for name, column in table.items():
                f.create_dataset(name, data=column)
            for key, value in (attrs or {}).items():
                f.attrs[key] = value
        tmp.replace(path)
    elif suffix == ".npz":
        import io

        buf = io.BytesIO()
        np.savez_compressed(buf, **table, **{f"attr_{k}": np.asarray(v) for k, v in (attrs or {}).items()})
        atomic_write_bytes(path, buf.getvalue())
    elif suffix == ".csv":
        import io

        rows = np.column_stack([np.asarray(column, dtype=np.float64) for column in table.values()])
        buf = io.StringIO()
        np.savetxt(buf, rows, delimiter=",", header=",".join(table), comments="", fmt="%.9g")
        atomic_write_bytes(path, buf.getvalue().encode())
    else:
        raise ConfigError(f"--out {path}: unknown score file type {suffix or '(none)'}; use .h5, .npz or .csv")
    return path
