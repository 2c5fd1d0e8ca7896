"""Fixed-point types and quantisers: quantize_np against g++ compiling Xilinx ap_fixed (every rounding ×
overflow mode, bit for bit), torch == numpy, the straight-through gradient, da4ml's traced quantize and
lookup tables against quantize_np, and the one-line errors of bad types."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from saltjet.errors import ConfigError, InputError
from saltjet.trigger.fixed import (OVERFLOW, ROUNDING, TRACEABLE_OVERFLOW, TRACEABLE_ROUNDING, FixedType,
                                   fake_quantize, lookup, quantize, quantize_np)

# (signed, integer, fraction): ap_fixed<8,3>, ap_ufixed<6,2>, negative i, negative f, 1-bit unsigned, 16 bits
GRIDS = [(True, 2, 5), (False, 2, 4), (True, -2, 6), (True, 6, -3), (False, 0, 1), (True, 5, 10)]


def ap_headers() -> Path | None:
    try:
        import da4ml
    except ImportError:
        return None
    path = Path(da4ml.__file__).parent / "codegen" / "hls" / "source" / "ap_types" / "include"
    return path if (path / "ap_fixed.h").exists() else None


def probe_values(t: FixedType, seed: int = 0) -> np.ndarray:
    """Values that tell every mode apart: each code and the ties, quarters and near-misses around it,
    over three times the range on each side, random values, huge values and zeros. float64 (N,)."""
    qmin, qmax = t.code_range
    span = qmax - qmin + 1
    codes = np.arange(qmin - 3 * span, qmax + 3 * span + 1, dtype=np.float64)
    if codes.size > 4000:  # wide types: the codes around zero and both ends of the range
        codes = np.unique(np.concatenate([np.arange(-600, 600), np.arange(qmin - 300, qmin + 300),
                                          np.arange(qmax - 300, qmax + 300)]).astype(np.float64))
    offsets = np.array([0.0, 0.5, -0.5, 0.25, 0.75, -0.25, 1e-6, -1e-6, 0.5 - 2**-30, 0.5 + 2**-30])
    grid = (codes[:, None] + offsets[None, :]).ravel()
    rng = np.random.default_rng(seed)
    rand = rng.uniform(qmin - 2 * span, qmax + 2 * span, 2000)
    huge = np.array([1e6, -1e6, 2.0**40 + 0.5, -(2.0**40) - 0.5, 1e15, -1e15, 0.0, -0.0, 123456.789, -98765.4321])
    return np.concatenate([np.ldexp(np.concatenate([grid, rand]), -t.fraction), huge])


@pytest.fixture(scope="module")
def ap_reference(tmp_path_factory):
    """{(grid, rounding, overflow): g++ ap_fixed values} for every grid in GRIDS and every mode pair,
    from one compiled program (about 20 s of g++)."""
    include = ap_headers()
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed: the ap_fixed reference cannot be compiled")
    if include is None:
        pytest.skip("da4ml (the trigger extra) is not installed: it ships the ap_types headers")
    tmp = tmp_path_factory.mktemp("apfixed")
    types, body = [], []
    for g, grid in enumerate(GRIDS):
        (tmp / f"x{g}.txt").write_text("\n".join(map(float.hex, probe_values(FixedType(*grid)).tolist())))  # exact
        for rounding, overflow in itertools.product(ROUNDING, OVERFLOW):
            if overflow == "SAT_SYM" and grid[0] and sum(map(int, grid)) == 1:
                continue
            t = FixedType(*grid, rounding, overflow)
            types.append((grid, rounding, overflow))
            body.append(f"  run<{t.ap_type()} >(argv[{g + 1}]);")
    source = (tmp / "ref.cpp")
    source.write_text('#include <cstdio>\n#include <cstdlib>\n#include "ap_fixed.h"\n'
                      "template <class T> void run(const char* path) {\n"
                      '  FILE* f = std::fopen(path, "r"); char buf[64];\n'
                      '  while (std::fscanf(f, "%63s", buf) == 1) { T v = std::strtod(buf, nullptr);'
                      ' std::printf("%a\\n", v.to_double()); }\n'
                      '  std::fclose(f); std::printf("end\\n");\n}\n'
                      "int main(int argc, char** argv) {\n" + "\n".join(body) + "\n}\n")
    subprocess.run(["g++", "-O0", "-std=c++17", f"-I{include}", str(source), "-o", str(tmp / "ref")], check=True)
    args = [str(tmp / f"x{g}.txt") for g in range(len(GRIDS))]
    out = subprocess.run([str(tmp / "ref"), *args], check=True, capture_output=True, text=True).stdout
    blocks = out.split("end\n")[:-1]
    assert len(blocks) == len(types)
    return {key: np.array([float.fromhex(v) for v in block.split()]) for key, block in zip(types, blocks)}


@pytest.mark.parametrize("grid", GRIDS, ids=lambda g: "k%d_i%d_f%d" % tuple(map(int, g)))
def test_quantize_np_matches_ap_fixed_on_every_mode(ap_reference, grid):
    x = probe_values(FixedType(*grid))
    checked = 0
    for (g, rounding, overflow), expected in ap_reference.items():
        if g != grid:
            continue
        t = FixedType(*grid, rounding, overflow)
        got = quantize_np(x, t)
        bad = np.flatnonzero(got != expected)
        assert bad.size == 0, (f"{t.ap_type()}: {bad.size} mismatches, e.g. x={x[bad[0]]!r}: "
                               f"ours {got[bad[0]]!r}, ap_fixed {expected[bad[0]]!r}")
        checked += 1
    assert checked >= 27


def test_the_reference_tells_every_mode_apart(ap_reference):
    """The probe values are sharp enough that quantising with any other mode would mismatch g++ (so a
    wrong mode cannot pass the test above)."""
    grid = GRIDS[0]
    x = probe_values(FixedType(*grid))
    for (rounding, overflow), (r2, o2) in itertools.permutations(itertools.product(ROUNDING, OVERFLOW), 2):
        expected = ap_reference[(grid, rounding, overflow)]
        assert np.any(quantize_np(x, FixedType(*grid, r2, o2)) != expected), (rounding, overflow, r2, o2)


@pytest.mark.parametrize("rounding,overflow", list(itertools.product(ROUNDING, OVERFLOW)))
def test_torch_float64_is_bit_identical_to_numpy(rounding, overflow):
    for grid in GRIDS:
        if overflow == "SAT_SYM" and grid[0] and sum(map(int, grid)) == 1:
            continue
        t = FixedType(*grid, rounding, overflow)
        x = probe_values(t)
        np.testing.assert_array_equal(fake_quantize(torch.from_numpy(x), t).numpy(), quantize_np(x, t))
        x32 = x[np.abs(x) < 1e5].astype(np.float32)  # float32 inputs: same values as float64 on them
        got32 = fake_quantize(torch.from_numpy(x32), t)
        assert got32.dtype == torch.float32
        np.testing.assert_array_equal(got32.double().numpy(), quantize_np(x32.astype(np.float64), t))


def test_straight_through_gradient_is_one_inside_and_zero_where_overflow_acted():
    t = FixedType(True, 1, 2, "RND", "SAT")  # codes -8..7: values [-2, 1.75]
    x = torch.tensor([-3.0, -2.1, -2.0, -0.3, 0.0, 0.6, 1.7, 1.8, 1.9, 5.0], dtype=torch.float64, requires_grad=True)
    y = fake_quantize(x, t)
    (y * torch.arange(1.0, 11.0, dtype=torch.float64)).sum().backward()
    # -2.1 rounds to -2.0 (in range) -> gradient flows; 1.8 rounds to 1.75 (in range); 1.9 rounds to 2.0 -> saturated
    expected_inside = torch.tensor([0, 1, 1, 1, 1, 1, 1, 1, 0, 0], dtype=torch.float64)
    torch.testing.assert_close(x.grad, expected_inside * torch.arange(1.0, 11.0, dtype=torch.float64))
    wrap = FixedType(True, 1, 2, "TRN", "WRAP")
    xw = torch.tensor([2.5, 0.5], dtype=torch.float64, requires_grad=True)
    fake_quantize(xw, wrap).sum().backward()
    assert xw.grad.tolist() == [0.0, 1.0]


def test_fixed_type_conventions_and_json():
    t = FixedType(True, 2, 5, "rnd", "AP_SAT")
    assert (t.width, t.kif, t.rounding, t.overflow) == (8, (1, 2, 5), "RND", "SAT")
    assert t.ap_type() == "ap_fixed<8,3,AP_RND,AP_SAT>"
    assert FixedType(False, 2, 4).ap_type() == "ap_ufixed<6,2,AP_TRN,AP_WRAP>"
    assert (t.min, t.max, t.step) == (-4.0, 4.0 - 1 / 32, 1 / 32)
    assert FixedType.from_dict(t.to_dict()) == t
    assert FixedType(True, -2, 6).ap_type().startswith("ap_fixed<5,-1,")
    assert np.array_equal(FixedType(False, 1, 1).values(), [0.0, 0.5, 1.0, 1.5])
    fitted = FixedType.fit(-3.2, 5.1, 4)
    assert fitted.signed and fitted.min <= -3.2 and fitted.max >= 5.1 and fitted.integer == 3


@pytest.mark.parametrize("make,message", [
    (lambda: FixedType(True, 2, 5, "ROUND"), "rounding mode must be one of"),
    (lambda: FixedType(True, 2, 5, "TRN", "CLIP"), "overflow mode must be one of"),
    (lambda: FixedType(True, -3, 2), "width 0"),
    (lambda: FixedType(True, 40, 20), "width 61"),
    (lambda: FixedType(True, 2.5, 5), "integer bits must be a whole number"),
    (lambda: FixedType("yes", 2, 5), "signed must be true or false"),
    (lambda: FixedType(True, 0, 0, "TRN", "SAT_SYM"), "SAT_SYM needs at least 2 bits"),
    (lambda: FixedType.from_dict({"signed": True, "integer": 1}), "missing keys ['fraction']"),
    (lambda: FixedType.from_dict({"signed": True, "integer": 1, "fraction": 1, "bits": 3}), "unknown keys ['bits']"),
    (lambda: FixedType.from_dict([1, 2]), "must be a mapping"),
])
def test_bad_types_are_one_line_config_errors(make, message):
    with pytest.raises(ConfigError, match=None) as e:
        make()
    assert message in str(e.value) and "\n" not in str(e.value)


def test_non_finite_values_are_an_input_error():
    with pytest.raises(InputError, match="non-finite"):
        quantize_np(np.array([1.0, np.nan]), FixedType(True, 2, 2))


def test_quantize_dispatches_on_the_array_type():
    t = FixedType(True, 2, 3, "RND", "SAT")
    x = np.array([0.06, -5.0, 3.99])
    assert isinstance(quantize(x, t), np.ndarray)
    assert isinstance(quantize(torch.from_numpy(x), t), torch.Tensor)
    assert quantize(0.07, t) == 0.125 and quantize(0.06, t) == 0.0
    sq = lookup(x, np.square, FixedType(False, 5, 2))
    np.testing.assert_array_equal(sq, quantize_np(np.square(x), FixedType(False, 5, 2)))


# ---- da4ml's traced quantize and lookup tables against quantize_np, on every code of a source type

def _trace_all_codes(source: FixedType, fn):
    """(every value of `source`, da4ml's emulation of fn on them): fn traced over one input of type source."""
    trace = pytest.importorskip("da4ml.trace", reason="da4ml (the trigger extra) is not installed")
    inp = trace.FixedVariableArrayInput((1,))
    x = inp.quantize(*source.kif)  # the input port: TRN/WRAP to the source type
    comb = trace.comb_trace(inp, fn(x))
    values = source.values()
    return values, np.asarray(comb.predict(values[:, None], n_threads=1)).ravel()


@pytest.mark.parametrize("rounding,overflow", list(itertools.product(TRACEABLE_ROUNDING, TRACEABLE_OVERFLOW)))
def test_da4ml_traced_quantize_equals_quantize_np(rounding, overflow):
    source = FixedType(True, 4, 5)  # 10 bits, wider than every target on both ends
    for grid in [(True, 2, 2), (False, 1, 3), (True, -1, 4), (True, 3, -1)]:
        t = FixedType(*grid, rounding, overflow)
        values, got = _trace_all_codes(source, lambda x: quantize(x, t))
        bad = np.flatnonzero(got != quantize_np(values, t))
        assert bad.size == 0, f"{t.ap_type()}: {bad.size} mismatches, e.g. x={values[bad[0]]}: da4ml {got[bad[0]]}"


def test_untraceable_modes_are_refused_on_a_traced_array():
    trace = pytest.importorskip("da4ml.trace", reason="da4ml (the trigger extra) is not installed")
    x = trace.FixedVariableArrayInput((2,)).quantize(1, 3, 3)
    with pytest.raises(ConfigError, match="supports rounding TRN/RND"):
        quantize(x, FixedType(True, 1, 2, "RND_CONV", "SAT"))


@pytest.mark.parametrize("fn,t_out", [
    (np.exp, FixedType(False, 3, 6, "RND_CONV", "SAT")),
    (lambda v: 1.0 / (1.0 + np.abs(v)), FixedType(False, 0, 8, "RND", "WRAP")),
    (np.tanh, FixedType(True, 0, 7, "RND_INF", "SAT_SYM")),
])
def test_da4ml_lookup_table_equals_numpy_on_every_input(fn, t_out):
    source = FixedType(True, 2, 5)
    values, got = _trace_all_codes(source, lambda x: lookup(x, fn, t_out))
    np.testing.assert_array_equal(got, lookup(values, fn, t_out))
    exact = fn(values)
    inside = (exact >= t_out.min) & (exact <= t_out.max)  # where no overflow acted, the table is within one step
    assert inside.sum() > 100 and np.max(np.abs(got - exact)[inside]) <= t_out.step
