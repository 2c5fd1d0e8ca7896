"""Firmware of a quantised SAL-T run (QRUN, `saltjet.trigger.spec.QuantSpec`): `saltjet firmware`.

The design is the emulator's `fixed_forward` for one jet, traced by da4ml, with two input ports:

    x     (n, F)  the run's features, sorted by its key (kT), padding last; one type per feature
                  (spec.types["in"]), so the port carries exactly the emulator's first quantised tensor
    mask  (n,)    1 for a real particle, 0 for a padded slot (ap_ufixed<1,1>)

and one output, the logits (n_out,) of type spec.types["logits"]. The hardware takes the flat vector
[x raveled row by row, mask] (n·F + n values) and returns the logits: what `emulate` computes.

C simulation (`csim_salt`) feeds the same jets to da4ml's interpreter, the g++-compiled HLS and, where
installed, Verilator, and compares each with `emulate` bit for bit. Padded slots are fed random
in-range codes rather than zeros, so the check also shows the hardware masks them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from saltjet.errors import ConfigError
from saltjet.trigger.emulator import MASK_TYPE, NumpyOps, emulate, fixed_forward
from saltjet.trigger.firmware import DEFAULT_CLOCK_MHZ, DEFAULT_HARD_DC, Design, Port, emit, trace
from saltjet.trigger.fixed import select
from saltjet.trigger.spec import QuantSpec

# g++ C simulation is practical up to about this many estimated LUTs on 2 cores: a 43k-LUT toy
# attention compiles in 30 s at -O0, a 226k-LUT flattened design did not finish in 15 minutes
CSIM_LUT_LIMIT = 150_000


def salt_ports(spec: QuantSpec) -> tuple[Port, Port]:
    """The two input ports of a SAL-T design (see the module docstring)."""
    n, features = spec.n_particles, int(spec.config["n_features"])
    types = spec.type_of("in")
    types = types if isinstance(types, list) else [types]
    return Port("x", (n, features), types), Port("mask", (n,), (MASK_TYPE,))


class FirmwareOps(NumpyOps):
    """The emulator's operations with `where` as `select` (saltjet.trigger.fixed): every condition in
    the graph is a 0/1 mask, and da4ml 0.6's own np.where gave wrong values on some operands (see
    `select`). Values are the emulator's: np.where and select agree on 0/1 conditions."""

    def where(self, cond, a, b):
        return select(cond, a, b)


def trace_salt(spec: QuantSpec, hard_dc: int = DEFAULT_HARD_DC) -> Design:
    """da4ml's trace of `fixed_forward(x, mask, spec)` for one jet (with FirmwareOps)."""
    ops = FirmwareOps(spec)
    return trace(lambda x, mask: fixed_forward(x, mask, spec, ops), salt_ports(spec), hard_dc)


def salt_inputs(design: Design, spec: QuantSpec, x: np.ndarray, mask: np.ndarray,
                junk_padding: bool = True, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Jets x (N, n, F) and mask (N, n) bool -> (flat hardware inputs (N, n·F + n), emulator logits
    (N, n_out)). With junk_padding, padded slots carry random codes of the input types (the emulator
    sees them zeroed: equal outputs show the firmware ignores padding)."""
    x = np.asarray(x, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    clean = np.where(mask[..., None], x, 0.0)
    expected = emulate(spec, clean, mask)
    fed = clean
    if junk_padding:
        xp = design.ports[0]
        lo = np.array([t.min for t in xp.types]) if len(xp.types) > 1 else xp.types[0].min
        hi = np.array([t.max for t in xp.types]) if len(xp.types) > 1 else xp.types[0].max
        junk = np.random.default_rng(seed).uniform(lo, hi, size=x.shape)
        fed = np.where(mask[..., None], clean, junk)
    return design.flat_inputs(fed, mask.astype(np.float64)), expected.reshape(len(x), -1)


def describe_spec(spec: QuantSpec, qrun: str | Path | None = None) -> dict:
    """What report.json says about the model itself."""
    c = spec.config
    return {"model": "salt", "qrun": str(Path(qrun).resolve()) if qrun else None, "n_particles": spec.n_particles,
            "n_features": int(c["n_features"]), "d_model": int(c["d_model"]), "n_heads": int(c["n_heads"]),
            "d_ff": int(c["d_ff"]), "n_layers": int(c["n_layers"]), "partitions": int(c["partitions"]),
            "class_names": list(spec.class_names), "feature_names": list(spec.feature_names),
            "sort_by": spec.sort_by, "output_type": spec.type_of("logits").ap_type(),
            "input_types": [t.ap_type() for t in salt_ports(spec)[0].types],
            "mask_type": MASK_TYPE.ap_type()}


def build_salt(spec: QuantSpec, out_dir: str | Path, hls: bool = True, verilog: bool = True,
               clock_mhz: float = DEFAULT_CLOCK_MHZ, latency_cutoff: float | None = None,
               qrun: str | Path | None = None, hard_dc: int = DEFAULT_HARD_DC) -> tuple[Design, dict]:
    """Trace the SAL-T of `spec`, emit HLS and/or Verilog into out_dir, write report.json:
    (design, report)."""
    design = trace_salt(spec, hard_dc)
    report = emit(design, out_dir, hls=hls, verilog=verilog, clock_mhz=clock_mhz, latency_cutoff=latency_cutoff,
                  extra={"model": describe_spec(spec, qrun)})
    return design, report


def check_csim_size(report: dict, force: bool = False) -> None:
    """ConfigError before any compiling when the design is too large for a g++ C simulation here."""
    if report["lut"] > CSIM_LUT_LIMIT and not force:
        raise ConfigError(f"the design is estimated at {report['lut']:,} LUTs; g++ C simulation is practical up to "
                          f"~{CSIM_LUT_LIMIT:,} on 2 cores (a 226k-LUT design did not compile in 15 minutes): quantise "
                          "a reduced run (n = 16-32, small d) for --csim, or pass --csim-anyway")


__all__ = ["CSIM_LUT_LIMIT", "FirmwareOps", "build_salt", "check_csim_size", "describe_spec", "salt_inputs", "salt_ports", "trace_salt"]
