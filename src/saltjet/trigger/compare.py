"""A quantised run on jets: float run vs QAT model vs bit-exact emulator (`saltjet emulate`)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from saltjet.data.pipeline import InputSpec, load_particles
from saltjet.errors import DataError
from saltjet.training.run import RunInfo, load_run
from saltjet.trigger.emulator import emulate
from saltjet.trigger.qat import Split, accuracy, logits_of, predictions, qsalt_from_spec, run_splits
from saltjet.trigger.spec import QuantSpec


def jets_for(spec: QuantSpec, paths, split: str) -> Split:
    """The jets of `paths` prepared as the float run's pipeline does: its train / val / test part, or
    all of them (relabelled to the run's task)."""
    raw = spec.source.get("run_info")
    if not isinstance(raw, dict):
        raise DataError("the quantised run does not record its float run's config (source.run_info)")
    info = RunInfo.from_dict(raw)
    if split != "all":
        return run_splits(info, spec.n_particles, paths)[split]
    spec_in = InputSpec.from_run(info, spec.n_particles)
    data = spec_in.apply_task(load_particles(list(paths), "auto", None, spec_in.features, True).require_labels("emulate"))
    if list(data.class_names) != list(info.class_names):
        raise DataError(f"the data's classes {data.class_names} differ from the run's {info.class_names}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared, _ = spec_in.prepare(data)
    return Split(torch.from_numpy(np.ascontiguousarray(prepared.x, dtype=np.float32)),
                 torch.from_numpy(np.ascontiguousarray(prepared.mask)), torch.from_numpy(np.asarray(prepared.y, np.int64)))


def compare_run(qrun: str | Path, paths, split: str = "test", jets: int | None = None) -> dict:
    """Accuracy of the float run (when its folder is still there), the QAT model and the emulator on
    the chosen jets, and how many jets get bit-identical logits from the emulator and the QAT model."""
    spec = QuantSpec.load(qrun)
    data = jets_for(spec, paths, split).head(jets)
    if len(data.y) == 0:
        raise DataError(f"no jets in the {split} part of this data")
    float_acc = agree = None
    float_run = spec.source.get("float_run")
    emu = emulate(spec, data.x.numpy(), data.mask.numpy())
    if float_run and Path(float_run).is_dir():
        model, _ = load_run(float_run)
        float_logits = logits_of(model, data)
        float_acc = accuracy(float_logits, data.y)
        agree = float((predictions(float_logits) == predictions(emu)).mean())
    qm = qsalt_from_spec(spec)
    qat = logits_of(qm, data)
    same = np.all(qat == emu, axis=1)
    widths = [w for v in spec.bits().values() for w in (v if isinstance(v, list) else [v])]
    with torch.no_grad():
        ebops = float(qm.ebops())
    return {"qrun": str(qrun), "jets": int(len(data.y)), "split": split, "n_particles": spec.n_particles,
            "float_accuracy": float_acc, "qat_accuracy": accuracy(qat, data.y), "emulator_accuracy": accuracy(emu, data.y),
            "bit_exact_jets": int(same.sum()), "bit_exact": bool(same.all()), "agreement_with_float": agree,
            "ebops": ebops, "min_bits": min(widths), "max_bits": max(widths), "mean_bits": float(np.mean(widths)),
            "bits": spec.bits()}
