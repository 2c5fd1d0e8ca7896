"""Firmware: a numpy-style fixed-point forward traced by da4ml, emitted as HLS C++ / Verilog with
report.json, compiled by g++ (and Verilator where installed) and compared with the numpy forward bit
for bit, on a toy attention and on the quantised SAL-T's emulator; and the `saltjet firmware` command."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from conftest import random_jets

from saltjet.cli import main
from saltjet.trigger.fixed import FixedType, lookup, quantize, quantize_np

pytest.importorskip("da4ml", reason="da4ml (the trigger extra) is not installed")

from saltjet.trigger.csim import check, compare, verilator_available  # noqa: E402
from saltjet.trigger.firmware import Port, emit, trace  # noqa: E402

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None or shutil.which("make") is None,
                               reason="g++ and make are needed to compile the HLS C simulation")

T_IN = FixedType(True, 2, 3)
T_H = FixedType(True, 2, 3, "RND", "SAT")
T_S = FixedType(True, 3, 2, "TRN", "SAT")
T_E = FixedType(False, 0, 5, "RND", "SAT")
T_SUM = FixedType(False, 3, 4, "TRN", "SAT")
T_A = FixedType(False, 0, 5, "RND", "SAT_SYM")
MASK = FixedType(False, 1, 0)
W = np.array([[0.5, -0.25], [0.75, 1.0]])


def toy_attention(x, mask, t_e=T_E):
    """A masked softmax attention on x (n, 2): constant matmul, x·xᵀ, exp and 1/sum tables, max pool -> (2,)."""
    m = quantize(mask, MASK)
    h = quantize(x @ W, T_H)
    s = np.where(m[None, :], quantize(h @ h.T, T_S), T_S.min)
    e = lookup(quantize(s - np.amax(s, axis=-1)[:, None], T_S), np.exp, t_e)
    r = lookup(quantize(np.sum(e, axis=-1), T_SUM), lambda v: 1.0 / np.maximum(v, 0.5), T_A)
    a = quantize(e * r[:, None], T_A)
    return quantize(np.amax(np.where(m[:, None], quantize(a @ h, T_H), T_H.min), axis=0), T_H)


def toy_inputs(n=4, jets=300, seed=0):
    rng = np.random.default_rng(seed)
    x = quantize_np(rng.normal(size=(jets, n, 2)) * 1.5, T_IN)
    mask = rng.random((jets, n)) < 0.7
    mask[:, 0] = True
    expected = np.stack([toy_attention(xi, mi.astype(np.float64)) for xi, mi in zip(x, mask)])
    return x, mask.astype(np.float64), expected


@pytest.fixture(scope="module")
def toy_design():
    return trace(toy_attention, [Port("x", (4, 2), [T_IN]), Port("mask", (4,), [MASK])])


def test_da4ml_logic_equals_the_numpy_forward(toy_design):
    x, mask, expected = toy_inputs()
    got = toy_design.predict(toy_design.flat_inputs(x, mask))
    assert np.array_equal(got, expected) and len(np.unique(expected)) > 10


def test_report_has_the_estimates(toy_design, tmp_path):
    report = emit(toy_design, tmp_path / "fw", hls=True, verilog=True, clock_mhz=250)
    on_disk = json.loads((tmp_path / "fw" / "report.json").read_text())
    assert on_disk == json.loads(json.dumps(report))
    for key in ("lut", "ff", "dsp", "pipeline_stages", "latency_ns", "clock_mhz", "inputs", "output_shape",
                "da4ml_version", "estimates", "operations"):
        assert key in report, key
    assert report["lut"] > 100 and report["ff"] > 0 and report["pipeline_stages"] >= 2
    assert report["latency_ns"] == pytest.approx(report["pipeline_stages"] * 4.0)
    assert report["operations"]["lookup"] > 0 and report["operations"]["mul_var_var"] > 0
    assert report["inputs"][0]["ap_types"] == ["ap_fixed<6,3,AP_TRN,AP_WRAP>"]
    assert (tmp_path / "fw" / "hls" / "src" / "saltjet_fw.hh").is_file()
    assert list((tmp_path / "fw" / "verilog" / "src").glob("*.v"))


@needs_gxx
def test_hls_and_verilog_csim_equal_the_numpy_forward_bit_for_bit(toy_design, tmp_path):
    x, mask, expected = toy_inputs()
    flat = toy_design.flat_inputs(x, mask)
    results = check(toy_design, flat, expected, tmp_path, hls=True, verilog=None)  # Verilog where verilator is
    assert [r.name for r in results] == ["da4ml", "hls"] + (["verilog"] if verilator_available() else [])
    assert all(r.mismatches == 0 and r.elements == expected.size for r in results), [r.line() for r in results]
    # the comparison can fail: one changed output bit is counted
    wrong = expected.copy()
    wrong[3, 1] += T_H.step
    assert compare("hls", expected, wrong, 0.0).mismatches == 1


def test_a_different_forward_mismatches(toy_design):
    """The check is sharp: the same design against a forward whose softmax rounds differently."""
    x, mask, expected = toy_inputs()
    t_e = FixedType(False, 0, 5, "TRN", "SAT")
    other = np.stack([toy_attention(xi, mi, t_e) for xi, mi in zip(x, mask)])
    got = toy_design.predict(toy_design.flat_inputs(x, mask))
    assert compare("da4ml", got, other, 0.0).mismatches > 0


# ---- the quantised SAL-T (C's emulator) at a reduced size

def small_spec(n=6, d=4, bits=5, seed=0):
    from saltjet.models import create_model, model_config
    from saltjet.trigger.qat import Split, calibrate
    from saltjet.trigger.qsalt import QSALT

    torch.manual_seed(seed)
    cfg = model_config("salt", n_particles=n, n_features=3, n_classes=2, d_model=d, n_heads=1, d_ff=d,
                       partitions=2, n_layers=1)
    x, mask = random_jets(300, n, 3, seed=seed + 1)
    qm = QSALT.from_float(create_model("salt", cfg).eval(), bits)
    calibrate(qm, Split(x, mask, torch.zeros(300)), bits)
    return qm.eval().to_spec(["a", "b"], ["f0", "f1", "f2"], "kt"), x.numpy(), mask.numpy()


@pytest.fixture(scope="module")
def salt_case():
    from saltjet.trigger.firmware_salt import salt_inputs, trace_salt

    spec, x, mask = small_spec()
    design = trace_salt(spec)
    flat, expected = salt_inputs(design, spec, x, mask)  # padded slots carry junk codes
    return spec, design, flat, expected


def test_salt_design_equals_the_emulator_with_junk_in_padding(salt_case):
    spec, design, flat, expected = salt_case
    assert np.array_equal(design.predict(flat), expected)
    assert len(np.unique(expected)) > 5
    assert design.n_inputs == 6 * 3 + 6


@needs_gxx
@pytest.mark.slow
def test_salt_hls_csim_equals_the_emulator(salt_case, tmp_path):
    spec, design, flat, expected = salt_case
    results = check(design, flat, expected, tmp_path, hls=True, verilog=None)
    assert all(r.mismatches == 0 for r in results), [r.line() for r in results]


# ---- the command

def test_firmware_command_writes_the_design_and_report(tmp_path, capsys):
    spec, _, _ = small_spec()
    spec.save(tmp_path / "qrun")
    assert main(["firmware", "--run", str(tmp_path / "qrun"), "--out", str(tmp_path / "fw"), "--hls"]) == 0
    out = capsys.readouterr().out
    assert "LUTs" in out and "ns at 200 MHz" in out
    report = json.loads((tmp_path / "fw" / "report.json").read_text())
    assert report["emitted"] == ["hls"] and report["model"]["n_particles"] == 6
    assert report["model"]["output_type"] == spec.types["logits"].ap_type()
    assert not (tmp_path / "fw" / "verilog").exists()


@pytest.mark.parametrize("args,message", [
    (["--run", "{tmp}/nothing"], "does not exist"),
    (["--run", "{tmp}"], "is not a quantised run"),
    (["--run", "{tmp}", "--csim"], "--csim needs --data"),
])
def test_bad_qrun_or_options_are_one_line_errors(tmp_path, capsys, args, message):
    code = main(["firmware", "--out", str(tmp_path / "fw")] + [a.format(tmp=tmp_path) for a in args])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and "\n" not in err and "Traceback" not in err, err


def test_a_verilog_generator_assertion_leaves_the_hls_and_says_why(toy_design, tmp_path, monkeypatch):
    """da4ml 0.6 asserts on some designs in its Verilog writer: the HLS is still written, the report says why."""
    from da4ml.codegen.rtl import rtl_model

    def fail(self, metadata=None):
        raise AssertionError("1382, Op(...), shift0=2, shift1=-6")

    monkeypatch.setattr(rtl_model.RTLModel, "write", fail)
    report = emit(toy_design, tmp_path / "fw", hls=True, verilog=True)
    assert report["emitted"] == ["hls"] and "cannot write this design as Verilog" in report["not_emitted"]["verilog"]
    if verilator_available():  # the C simulation reports it as not simulated, not as 0 mismatches
        x, mask, expected = toy_inputs()
        results = check(toy_design, toy_design.flat_inputs(x, mask), expected, tmp_path, hls=False, verilog=True)
        assert results[-1].name == "verilog" and not results[-1].ok and "not simulated" in results[-1].line()


def test_without_da4ml_the_command_names_the_extra(tmp_path, capsys, monkeypatch):
    import sys

    spec, _, _ = small_spec()
    spec.save(tmp_path / "qrun")
    for key in [k for k in sys.modules if k == "da4ml" or k.startswith("da4ml.")]:
        monkeypatch.setitem(sys.modules, key, None)
    monkeypatch.setitem(sys.modules, "da4ml", None)
    assert main(["firmware", "--run", str(tmp_path / "qrun"), "--out", str(tmp_path / "fw")]) == 2
    err = capsys.readouterr().err.strip()
    assert "pip install 'saltjet[trigger]'" in err and "\n" not in err, err


def test_salt_n32_with_select_equals_the_emulator_where_da4mls_where_did_not():
    """At n=32, d=4, 6 bits, da4ml 0.6's np.where(occupied, scores, low) gives wrong values; the
    firmware's `select` (b + cond·(a − b)) gives the emulator's logits exactly."""
    from saltjet.trigger.emulator import NumpyOps, fixed_forward
    from saltjet.trigger.firmware_salt import salt_inputs, salt_ports, trace_salt

    spec, x, mask = small_spec(n=32, d=4, bits=6)
    design = trace_salt(spec)
    flat, expected = salt_inputs(design, spec, x[:100], mask[:100])
    assert np.array_equal(design.predict(flat), expected)
    ops = NumpyOps(spec)  # the emulator's own ops: np.where traced as da4ml's sign-bit multiplexer
    native = trace(lambda xx, mm: fixed_forward(xx, mm, spec, ops), salt_ports(spec))
    assert compare("da4ml where", native.predict(flat), expected, 0.0).mismatches > 0


def test_select_is_where_on_masks():
    """select(cond, a, b) traced by da4ml == np.where on every code, for the forms the SAL-T graph
    uses: a signed value gated to 0 (two ReLUs), an unsigned one to 0 and a value to its type's
    minimum (one ReLU each), a traced b, and constants; and the gate is shallow (≤ 2 delay units
    for a mask of a signed 5-bit value, where cond·a cost 9)."""
    from saltjet.trigger.fixed import select

    trace_mod = pytest.importorskip("da4ml.trace")
    a_t, c_t = FixedType(True, 3, 2), FixedType(False, 1, 0)
    inp = trace_mod.FixedVariableArrayInput((2,))
    a, c = inp[0:1].quantize(*a_t.kif), inp[1:2].quantize(*c_t.kif)
    grid = np.array([(v, m) for v in a_t.values() for m in (0.0, 1.0)])
    cases = {
        "scaled to a constant": (lambda x, m: select(m, x * 0.25, -3.5)),
        "signed to 0": (lambda x, m: select(m, x, 0.0)),
        "unsigned to 0": (lambda x, m: select(m, np.maximum(x, 0.0) if isinstance(x, np.ndarray) else x.relu(), 0.0)),
        "to the type's minimum": (lambda x, m: select(m, x, a_t.min)),
        "to another variable": (lambda x, m: select(m, x, x * 0.5 - 1.0)),
        "constants": (lambda x, m: select(m, 2.75, -1.25)),
    }
    for name, fn in cases.items():
        comb = trace_mod.comb_trace(inp, fn(a, c))
        got = comb.predict(grid, n_threads=1).ravel()
        np.testing.assert_array_equal(got, fn(grid[:, 0], grid[:, 1]), err_msg=name)
    assert np.max(select(c, a, 0.0).latency) <= 2 < np.max((a * c).latency)
