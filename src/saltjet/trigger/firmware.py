"""FPGA firmware from a numpy-style fixed-point forward, through da4ml 0.6.

A *design* is a forward function written with `saltjet.trigger.fixed.quantize` / `lookup` and numpy
operations da4ml traces (matrix products with constants, variable × variable products, +, −, amax,
maximum, where, indexing, concatenation), plus its input ports:

    Port("x", (n, F), [FixedType per feature])      Port("mask", (n,), [FixedType(False, 1, 0)])

`trace` runs the forward once on da4ml's symbolic arrays (one flat input vector: the ports' values
in order, each raveled C-style) and returns a `Design`: da4ml's combinational logic (`CombLogic`),
the same split into pipeline stages at a delay cutoff (`Pipeline`), and the numbers of the report.
`emit` writes the HLS C++ (Vitis, ap_fixed) and/or Verilog project and `report.json`.
`saltjet.trigger.csim` compiles the emitted code and checks it against the numpy forward.

Cost numbers are da4ml's *estimates*, not synthesis results: LUTs from its per-operation cost model
(adders by carry-chain width, LUT6 tables by address and data width, in LUT6 equivalents), flip-flops
as the pipeline's register bits, DSPs 0 (da4ml builds every product from adders and LUTs; a
synthesis tool may still map variable × variable products to DSPs: their count is reported),
pipeline stages from its delay model cut at `latency_cutoff` delay units per stage (da4ml's default:
5 units for a 5 ns, 200 MHz clock), latency = stages × the clock period.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from saltjet.errors import ConfigError, InputError, SaltjetError
from saltjet.extras import require
from saltjet.trigger.fixed import FixedType, quantize_np

DEFAULT_CLOCK_MHZ = 200.0
DEFAULT_LATENCY_CUTOFF = 5.0  # da4ml delay units per pipeline stage (its default for a 5 ns clock)
# da4ml's CMVM solver option `hard_dc`: how many adder levels a constant matrix product may add over
# the shallowest tree (-1: no limit, da4ml's default, fewest adders). 0 measured on an n=32 SAL-T QRUN:
# combinational delay 123 -> 106 units, 25 -> 22 stages, +0.5 % LUTs (docs/TRIGGER.md)
DEFAULT_HARD_DC = 0
PROJECT = "saltjet_fw"  # top-level name of the emitted HLS function / Verilog module
# da4ml's opcode numbers (da4ml.types.Op) -> what they build, for the report's operation counts
OPCODES = {-1: "input", 0: "add", 1: "sub", 2: "relu", -2: "relu", 3: "quantize", -3: "quantize",
           4: "const_add", 5: "const", 6: "mux", -6: "mux", 7: "mul_var_var", 8: "lookup",
           9: "bit_unary", -9: "bit_unary", 10: "bit_binary"}


def stage_cutoff(clock_mhz: float, latency_cutoff: float | None = None) -> float:
    """Delay units per pipeline stage: `latency_cutoff` when given, else the clock period in ns (da4ml's
    delay model: 5 units per stage at 5 ns, 200 MHz)."""
    return float(latency_cutoff) if latency_cutoff else 1000.0 / clock_mhz


def da4ml_module(name: str = "da4ml"):
    """Import da4ml (or a submodule) or stop with the one-line install hint of the trigger extra."""
    return require(name, "trigger", "the firmware path")


class VerilogCodegenError(SaltjetError):
    """da4ml's Verilog generator cannot express the design (an internal assertion of da4ml 0.6, e.g. an
    MSB multiplexer whose output precision lies between those of its two operands)."""


@dataclass(frozen=True)
class Port:
    """One input of a design.

    Attributes:
        name: e.g. "x", "mask".
        shape: the array the forward receives, e.g. (n, F).
        types: one FixedType for every element, or one per entry of the last axis (length shape[-1]).
    """

    name: str
    shape: tuple[int, ...]
    types: tuple[FixedType, ...]

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        object.__setattr__(self, "types", tuple(self.types))
        if not self.shape or min(self.shape) < 1:
            raise ConfigError(f"port {self.name}: shape must have positive sizes, got {self.shape}")
        if len(self.types) not in (1, self.shape[-1]) or not all(isinstance(t, FixedType) for t in self.types):
            raise ConfigError(f"port {self.name}: give one FixedType or one per entry of the last axis ({self.shape[-1]})")

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def kif(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(k, i, f) integer arrays of `shape`, the types broadcast over the leading axes."""
        per = np.array([t.kif for t in self.types])  # (1 or last, 3)
        full = np.broadcast_to(per, self.shape + (3,)) if len(self.types) > 1 else np.broadcast_to(per[0], self.shape + (3,))
        return full[..., 0], full[..., 1], full[..., 2]

    def quantize_np(self, values: np.ndarray) -> np.ndarray:
        """values (B, *shape) -> the codes this port carries, as float64 grid values (B, *shape)."""
        values = np.asarray(values, dtype=np.float64)
        if values.shape[1:] != self.shape:
            raise InputError(f"port {self.name} takes arrays of shape {self.shape}, got {values.shape[1:]}")
        if len(self.types) == 1:
            return quantize_np(values, self.types[0])
        return np.stack([quantize_np(values[..., j], t) for j, t in enumerate(self.types)], axis=-1)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "ap_types": [t.ap_type() for t in self.types],
                "types": [t.to_dict() for t in self.types]}


@dataclass
class Design:
    """A traced design. comb: da4ml CombLogic; pipeline: da4ml Pipeline (None before `pipeline()`);
    ports: the inputs in order; out_shape: the forward's output shape; seconds: time per step."""

    comb: Any
    ports: tuple[Port, ...]
    out_shape: tuple[int, ...]
    pipeline: Any = None
    latency_cutoff: float = DEFAULT_LATENCY_CUTOFF
    seconds: dict[str, float] = field(default_factory=dict)
    hard_dc: int = -1

    @property
    def n_inputs(self) -> int:
        return sum(p.size for p in self.ports)

    def flat_inputs(self, *arrays: np.ndarray) -> np.ndarray:
        """One array per port, (B, *port.shape) each -> the flat input vectors (B, n_inputs) the
        hardware takes, every value quantised to its port's type (TRN/WRAP codes as given)."""
        if len(arrays) != len(self.ports):
            raise InputError(f"the design has {len(self.ports)} inputs ({', '.join(p.name for p in self.ports)}), got {len(arrays)}")
        parts = [p.quantize_np(a).reshape(len(a), -1) for p, a in zip(self.ports, arrays)]
        return np.concatenate(parts, axis=1)

    def predict(self, flat: np.ndarray) -> np.ndarray:
        """da4ml's own bit-exact emulation of the logic (its C++ interpreter): (B, n_inputs) -> (B, n_out)."""
        return np.asarray(self.comb.predict(np.ascontiguousarray(flat, dtype=np.float64), n_threads=1))

    def to_pipeline(self, latency_cutoff: float = DEFAULT_LATENCY_CUTOFF):
        """Cut the logic into register-separated stages of at most `latency_cutoff` delay units."""
        if not latency_cutoff > 0:
            raise ConfigError(f"latency cutoff must be > 0 delay units, got {latency_cutoff}")
        trace = da4ml_module("da4ml.trace")
        start = time.perf_counter()
        self.pipeline = trace.to_pipeline(self.comb, latency_cutoff, verbose=False)
        self.latency_cutoff = float(latency_cutoff)
        self.seconds["pipeline"] = time.perf_counter() - start
        return self.pipeline

    def op_counts(self) -> dict[str, int]:
        """Operations in the combinational logic by kind (add, sub, lookup, mul_var_var, ...)."""
        counts = Counter(OPCODES.get(op.opcode, f"opcode_{op.opcode}") for op in self.comb.ops)
        return dict(sorted(counts.items()))

    def report(self, clock_mhz: float = DEFAULT_CLOCK_MHZ, extra: dict | None = None) -> dict[str, Any]:
        """The numbers of report.json (see the module docstring for what is an estimate)."""
        if self.pipeline is None:
            self.to_pipeline(self.latency_cutoff)
        from saltjet import __version__

        da4ml = da4ml_module()
        period = 1000.0 / clock_mhz
        stages = len(self.pipeline.solutions)
        counts = self.op_counts()
        delay = float(self.comb.latency[1])
        out_q = self.comb.out_qint
        return {
            "lut": round(float(self.comb.cost)),
            "ff": int(self.pipeline.reg_bits),
            "dsp": 0,
            "pipeline_stages": stages,
            "latency_cycles": stages,
            "clock_mhz": clock_mhz,
            "clock_period_ns": period,
            "latency_ns": stages * period,
            "initiation_interval": 1,
            "latency_cutoff_delay_units": self.latency_cutoff,
            "hard_dc": self.hard_dc,
            "combinational_delay_units": delay,
            "operations": counts,
            "lookup_tables": len(self.comb.lookup_tables or ()),
            "inputs": [p.to_dict() for p in self.ports],
            "n_inputs": self.n_inputs,
            "output_shape": list(self.out_shape),
            "output_range": [float(min(q.min for q in out_q)), float(max(q.max for q in out_q))],
            "output_step": float(min(q.step for q in out_q)),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "da4ml_version": da4ml.__version__,
            "saltjet_version": __version__,
            "estimates": {
                "lut": "da4ml cost model (LUT6 equivalents), not a synthesis result",
                "ff": "register bits between pipeline stages (da4ml Pipeline.reg_bits), not a synthesis result",
                "dsp": "0: da4ml builds products from LUTs/adders; synthesis may map the "
                       f"{counts.get('mul_var_var', 0)} variable x variable products to DSPs",
                "latency": f"{stages} stages x {period:g} ns, stages from da4ml's delay model cut at "
                           f"{self.latency_cutoff:g} units per stage (not timing-closed)",
            },
            **(extra or {}),
        }


def trace(forward: Callable[..., Any], ports: Sequence[Port], hard_dc: int = DEFAULT_HARD_DC) -> Design:
    """Trace forward(*arrays) (one array per port, shaped port.shape) with da4ml into a Design;
    `hard_dc` is da4ml's adder-depth slack for products with constants (see DEFAULT_HARD_DC).

    Every port enters as the codes of its type(s) (truncating, wrapping input registers); the
    forward's own quantize of an input to the same type is then free. The output (any shape) is
    raveled C-style into the design's outputs."""
    trace_mod = da4ml_module("da4ml.trace")
    ports = tuple(ports)
    if not ports:
        raise ConfigError("a design needs at least one input port")
    start = time.perf_counter()
    if int(hard_dc) < -1:
        raise ConfigError(f"hard_dc must be -1 (no limit) or a number of adder levels >= 0, got {hard_dc}")
    flat = trace_mod.FixedVariableArrayInput((sum(p.size for p in ports),), solver_options={"hard_dc": int(hard_dc)})
    arrays, offset = [], 0
    for p in ports:
        k, i, f = p.kif()
        arrays.append(flat[offset:offset + p.size].reshape(p.shape).quantize(k, i, f))
        offset += p.size
    out = forward(*arrays)
    out_shape = tuple(np.shape(out._vars)) if hasattr(out, "_vars") else tuple(np.shape(out))
    comb = trace_mod.comb_trace(flat, out, keep_dead_inputs=True)
    design = Design(comb, ports, out_shape, hard_dc=int(hard_dc))
    design.seconds["trace"] = time.perf_counter() - start
    return design


def emit(design: Design, out_dir: str | Path, hls: bool = True, verilog: bool = True,
         clock_mhz: float = DEFAULT_CLOCK_MHZ, latency_cutoff: float | None = None,
         extra: dict | None = None) -> dict[str, Any]:
    """Write out_dir/hls (Vitis HLS C++ project: src/saltjet_fw.hh, a g++ bridge under sim/) and/or
    out_dir/verilog (pipelined Verilog: src/*.v, memfiles for the tables, a Verilator binder), and
    out_dir/report.json. Returns the report dict."""
    if not (clock_mhz > 0 and np.isfinite(clock_mhz)):
        raise ConfigError(f"--clock-mhz must be a positive number, got {clock_mhz}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if latency_cutoff is not None or design.pipeline is None:
        design.to_pipeline(latency_cutoff or design.latency_cutoff)
    period = 1000.0 / clock_mhz
    written, failed = [], {}
    if hls:
        start = time.perf_counter()
        hls_model(design, out_dir / "hls", period).write()
        design.seconds["write_hls"] = time.perf_counter() - start
        written.append("hls")
    if verilog:
        start = time.perf_counter()
        try:
            write_verilog(design, out_dir / "verilog", period)
            written.append("verilog")
        except VerilogCodegenError as e:
            failed["verilog"] = str(e)
        design.seconds["write_verilog"] = time.perf_counter() - start
    report = design.report(clock_mhz, {"emitted": written, "not_emitted": failed, **(extra or {})})
    write_report(out_dir / "report.json", report)
    return report


def hls_model(design: Design, path: Path, clock_period_ns: float):
    """da4ml's HLSModel of the design's combinational logic (Vitis flavour: ap_fixed)."""
    hls = da4ml_module("da4ml.codegen.hls.hls_model")
    return hls.HLSModel(design.comb, PROJECT, path, flavor="vitis", clock_period=clock_period_ns, print_latency=False)


def verilog_model(design: Design, path: Path, clock_period_ns: float):
    """da4ml's VerilogModel of the design's pipeline."""
    rtl = da4ml_module("da4ml.codegen.rtl.rtl_model")
    return rtl.VerilogModel(design.pipeline, PROJECT, path, clock_period=clock_period_ns, print_latency=False)


def write_verilog(design: Design, path: Path, clock_period_ns: float):
    """Write the Verilog project (see verilog_model) and return the model. da4ml 0.6 writes the lookup
    tables' memory files without a final newline, and Verilator's $readmemh then drops the last entry
    (the table value of the all-ones address, e.g. -1 LSB): every memfile here ends with one."""
    model = verilog_model(design, path, clock_period_ns)
    try:
        model.write()
    except AssertionError as e:  # da4ml 0.6's Verilog generator asserts on shapes it cannot express
        raise VerilogCodegenError(f"da4ml {da4ml_module().__version__} cannot write this design as Verilog "
                                  f"(assertion in its RTL generator: {str(e)[:160]}); the HLS C++ is not affected") from None
    for mem in (Path(path) / "src" / "memfiles").glob("*.mem"):
        text = mem.read_text()
        if text and not text.endswith("\n"):
            mem.write_text(text + "\n")
    return model


def write_report(path: Path, report: dict) -> None:
    """report.json, strict JSON (no NaN), through the run folder's one JSON writer."""
    from saltjet.training.run import write_json

    write_json(path, report)


def load_report(path: str | Path) -> dict:
    """report.json back as a dict."""
    return json.loads(Path(path).read_text())


__all__ = ["DEFAULT_CLOCK_MHZ", "DEFAULT_LATENCY_CUTOFF", "Design", "Port", "emit", "hls_model", "load_report",
           "stage_cutoff", "trace", "verilog_model", "write_verilog", "VerilogCodegenError"]
