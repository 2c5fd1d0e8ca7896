"""Fixed-point types and quantisers with the exact semantics of Xilinx `ap_fixed` / `ap_ufixed`.

One `FixedType` describes a tensor's number format in da4ml's (HGQ's) k/i/f convention:

    k = 1 if signed else 0        the sign bit
    i = `integer`                 integer bits, NOT counting the sign bit (may be negative)
    f = `fraction`                fractional bits (may be negative)
    width W = k + i + f           representable values: q * 2**-f for integers q in
                                  [-2**(W-1), 2**(W-1) - 1] (signed) or [0, 2**W - 1] (unsigned)

so `ap_fixed<W, I>` has I = k + i (ap_fixed's I counts the sign). A value is first rounded to the
grid 2**-f (`rounding`), then brought into range (`overflow`), as ap_fixed does on assignment:

    rounding  TRN (floor)          TRN_ZERO (towards 0)     RND (nearest, ties up)
              RND_ZERO (ties to 0) RND_INF (ties away from 0) RND_MIN_INF (ties down)
              RND_CONV (ties to even)
    overflow  WRAP (two's complement wrap-around)  SAT (clip to [min, max])
              SAT_ZERO (0 when out of range)       SAT_SYM (signed: clip to [-max, max], so the
                                                   most negative code never occurs; unsigned: SAT)

Three quantisers share these semantics:

    quantize_np(x, t)     numpy, float64, exact (width <= 52); the reference
    fake_quantize(x, t)   torch, float32 or float64 (exact up to width 22 in float32), with a
                          straight-through gradient for quantisation-aware training
    quantize(x, t)        dispatch on the type of x: numpy / torch / da4ml's FixedVariableArray

da4ml's tracer (the firmware path) implements only TRN and RND rounding and WRAP, SAT and SAT_SYM
overflow (`TRACEABLE_ROUNDING`, `TRACEABLE_OVERFLOW`); `quantize` refuses the others on a traced
array with a ConfigError, while `lookup` tables accept every mode (the table is filled by
quantize_np). The tests check quantize_np against g++ compiling ap_fixed on every mode, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from saltjet.errors import ConfigError, InputError

ROUNDING = ("TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_INF", "RND_MIN_INF", "RND_CONV")
OVERFLOW = ("WRAP", "SAT", "SAT_ZERO", "SAT_SYM")
# what da4ml 0.6's FixedVariable.quantize implements (checked against quantize_np in the tests)
TRACEABLE_ROUNDING = ("TRN", "RND")
TRACEABLE_OVERFLOW = ("WRAP", "SAT", "SAT_SYM")
MAX_WIDTH = 52  # float64 holds every code of a type up to this width exactly
MAX_SHIFT = 256  # |integer|, |fraction| bound: keeps x * 2**f finite and exact for sane inputs


@dataclass(frozen=True)
class FixedType:
    """A fixed-point number format (see the module docstring for the convention).

    Attributes:
        signed: two's complement (True) or unsigned (False).
        integer: integer bits i, not counting the sign bit; may be negative.
        fraction: fractional bits f; may be negative (a grid coarser than 1).
        rounding: one of ROUNDING (ap_fixed's AP_<mode>), applied first.
        overflow: one of OVERFLOW (ap_fixed's AP_<mode>), applied to the rounded value.
    """

    signed: bool
    integer: int
    fraction: int
    rounding: str = "TRN"
    overflow: str = "WRAP"

    def __post_init__(self):
        if not isinstance(self.signed, (bool, np.bool_)):
            raise ConfigError(f"fixed-point type: signed must be true or false, got {self.signed!r}")
        for name in ("integer", "fraction"):
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise ConfigError(f"fixed-point type: {name} bits must be a whole number, got {value!r}")
            if abs(int(value)) > MAX_SHIFT:
                raise ConfigError(f"fixed-point type: {name} bits must be within ±{MAX_SHIFT}, got {value}")
            object.__setattr__(self, name, int(value))
        object.__setattr__(self, "signed", bool(self.signed))
        for name, allowed in (("rounding", ROUNDING), ("overflow", OVERFLOW)):
            value = getattr(self, name)
            mode = value.upper().removeprefix("AP_") if isinstance(value, str) else value
            if mode not in allowed:
                raise ConfigError(f"fixed-point type: {name} mode must be one of {', '.join(allowed)}, got {value!r}")
            object.__setattr__(self, name, mode)
        if not 1 <= self.width <= MAX_WIDTH:
            raise ConfigError(f"fixed-point type {self.kif} (k, i, f) has width {self.width}; it must be 1..{MAX_WIDTH} "
                              "bits (a 0-bit tensor is the constant 0)")
        if self.overflow == "SAT_SYM" and self.signed and self.width == 1:
            raise ConfigError("fixed-point type: SAT_SYM needs at least 2 bits when signed (1 bit holds only -1 and 0)")

    @property
    def width(self) -> int:
        """W = k + i + f, the number of bits."""
        return int(self.signed) + self.integer + self.fraction

    @property
    def kif(self) -> tuple[int, int, int]:
        """(k, i, f) as da4ml and HGQ write it."""
        return int(self.signed), self.integer, self.fraction

    @property
    def step(self) -> float:
        """The grid spacing 2**-f (the value of one LSB)."""
        return math.ldexp(1.0, -self.fraction)

    @property
    def code_range(self) -> tuple[int, int]:
        """(qmin, qmax): the integer codes, value = code * step."""
        if self.signed:
            return -(1 << (self.width - 1)), (1 << (self.width - 1)) - 1
        return 0, (1 << self.width) - 1

    @property
    def min(self) -> float:
        """The most negative representable value (-2**i if signed, else 0)."""
        return math.ldexp(self.code_range[0], -self.fraction)

    @property
    def max(self) -> float:
        """The largest representable value, 2**i - 2**-f."""
        return math.ldexp(self.code_range[1], -self.fraction)

    def ap_type(self) -> str:
        """The C++ type, e.g. "ap_fixed<8,3,AP_RND,AP_SAT>" (I = k + i counts the sign bit)."""
        base = "ap_fixed" if self.signed else "ap_ufixed"
        return f"{base}<{self.width},{int(self.signed) + self.integer},AP_{self.rounding},AP_{self.overflow}>"

    def with_modes(self, rounding: str | None = None, overflow: str | None = None) -> FixedType:
        """The same grid and range with other rounding / overflow modes."""
        return FixedType(self.signed, self.integer, self.fraction, rounding or self.rounding, overflow or self.overflow)

    def values(self) -> np.ndarray:
        """Every representable value, ascending: float64 array of shape (2**W,). Only for W <= 20."""
        if self.width > 20:
            raise ConfigError(f"{self.ap_type()} has 2**{self.width} values; enumerating stops at 20 bits")
        lo, hi = self.code_range
        return np.ldexp(np.arange(lo, hi + 1, dtype=np.float64), -self.fraction)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: {"signed", "integer", "fraction", "rounding", "overflow"}."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> FixedType:
        """Inverse of to_dict; a ConfigError naming what is wrong for anything else."""
        if not isinstance(d, dict):
            raise ConfigError(f"fixed-point type must be a mapping, got {type(d).__name__}")
        unknown = set(d) - {"signed", "integer", "fraction", "rounding", "overflow"}
        missing = {"signed", "integer", "fraction"} - set(d)
        if unknown or missing:
            what = f"unknown keys {sorted(unknown)}" if unknown else f"missing keys {sorted(missing)}"
            raise ConfigError(f"fixed-point type: {what}")
        return cls(**d)

    @classmethod
    def fit(cls, low: float, high: float, fraction: int, rounding: str = "TRN", overflow: str = "WRAP") -> FixedType:
        """The narrowest type with grid 2**-fraction whose range holds [low, high] (signed only if
        low < 0); e.g. from calibrated extremes of a tensor."""
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            raise ConfigError(f"fixed-point range must be finite with low <= high, got [{low}, {high}]")
        signed = low < 0
        need = max(abs(low) if signed else 0.0, high + math.ldexp(1.0, -fraction))  # 2**i must exceed high
        integer = max(math.ceil(math.log2(need)), 1 - int(signed) - fraction) if need > 0 else 1 - int(signed) - fraction
        return cls(signed, integer, fraction, rounding, overflow)


# ------------------------------------------------------------------------------------------------
# the reference quantiser (numpy) and its torch twin share this structure:
#   1. reduce x so that x * 2**f stays exact (fmod by the wrap period, or clip just outside range)
#   2. r = x * 2**f; round r to an integer code q with the rounding mode
#   3. bring q into [qmin, qmax] with the overflow mode; value = q * 2**-f


def _reduce_bound(t: FixedType) -> float:
    """Values beyond ±this overflow anyway; clipping (non-WRAP) or fmod-ing (WRAP, a multiple of the
    period 2**(k+i)) to it keeps r = x * 2**f below 2**(W+2) in magnitude, so exact."""
    return math.ldexp(1.0, int(t.signed) + t.integer + 1)


def quantize_np(x: Any, t: FixedType) -> np.ndarray:
    """x (any shape, numbers) quantised to `t` as ap_fixed assignment from double would: float64
    array of the same shape whose values lie on t's grid and in its range. Non-finite input is an
    InputError (ap_fixed has no NaN or infinity)."""
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise InputError(f"cannot quantise non-finite values to {t.ap_type()} ({int(np.sum(~np.isfinite(x)))} of them)")
    bound = _reduce_bound(t)
    x = np.fmod(x, bound) if t.overflow == "WRAP" else np.clip(x, -bound, bound)
    r = np.ldexp(x, t.fraction)
    q = np.floor(r)
    frac = r - q  # exact
    up = _round_up(np, frac, r, q, t.rounding)
    q = q + up
    qmin, qmax = t.code_range
    q = _overflow(np, q, float(qmin), float(qmax), t)
    return np.ldexp(q, -t.fraction) + 0.0  # + 0.0: no negative zeros


def _round_up(xp, frac, r, q, rounding: str):
    """Boolean array: whether the code is floor(r) + 1 (xp = numpy or torch)."""
    if rounding == "TRN":
        return xp.zeros_like(frac) > 0
    if rounding == "TRN_ZERO":
        return (r < 0) & (frac > 0)
    above, tie = frac > 0.5, frac == 0.5
    if rounding == "RND":
        return frac >= 0.5
    if rounding == "RND_MIN_INF":
        return above
    if rounding == "RND_ZERO":
        return above | (tie & (r < 0))
    if rounding == "RND_INF":
        return above | (tie & (r > 0))
    # RND_CONV: ties to the even code
    odd = xp.remainder(q, 2.0) == 1.0
    return above | (tie & odd)


def _overflow(xp, q, qmin: float, qmax: float, t: FixedType):
    """Integer codes q brought into [qmin, qmax] by t.overflow (xp = numpy or torch)."""
    if t.overflow == "WRAP":
        period = 2.0 ** t.width
        return xp.remainder(q - qmin, period) + qmin
    if t.overflow == "SAT_ZERO":
        return xp.where((q < qmin) | (q > qmax), xp.zeros_like(q), q)
    low = -qmax if (t.overflow == "SAT_SYM" and t.signed) else qmin
    return xp.clip(q, low, qmax)


def fake_quantize(x, t: FixedType):
    """torch: x (float32 or float64 tensor, any shape) with the values of quantize_np (bit-identical
    in float64; in float32 exact for widths up to 22 and |i|, |f| < 100), same dtype and device.

    Gradient (straight-through): 1 where the rounded code is in range, so only rounding happened;
    0 where overflow changed the value (saturated, zeroed or wrapped), as for a clamp: pushing a
    saturated value further out does not change the output, and a wrapped value jumps, so neither
    gives a useful slope. NaN passes through as NaN (no check, to keep training free of syncs)."""
    import torch

    if not torch.is_floating_point(x):
        x = x.to(torch.get_default_dtype())
    return _straight_through().apply(x, t)


def _quantize_torch(x, t: FixedType):
    """(values, in_range) for a float tensor x: the quantised values and where no overflow occurred."""
    import torch

    bound = _reduce_bound(t)
    xr = torch.fmod(x, bound) if t.overflow == "WRAP" else torch.clamp(x, -bound, bound)
    r = xr * math.ldexp(1.0, t.fraction)
    q = torch.floor(r)
    frac = r - q
    q = q + _round_up(torch, frac, r, q, t.rounding).to(q.dtype)
    qmin, qmax = t.code_range
    inside = (q >= qmin) & (q <= qmax)
    if t.overflow == "SAT_SYM" and t.signed:
        inside &= q >= -qmax
    q = _overflow(torch, q, float(qmin), float(qmax), t)
    return q * math.ldexp(1.0, -t.fraction) + 0.0, inside


_STRAIGHT_THROUGH = None


def _straight_through():
    """The autograd Function behind fake_quantize (built on first use: torch is imported lazily).
    Its forward returns the quantised values exactly (no x + (y - x).detach() rounding)."""
    global _STRAIGHT_THROUGH
    if _STRAIGHT_THROUGH is None:
        import torch

        class StraightThroughQuantize(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, t):
                y, inside = _quantize_torch(x, t)
                ctx.save_for_backward(inside)
                return y

            @staticmethod
            def backward(ctx, grad):
                (inside,) = ctx.saved_tensors
                return grad * inside.to(grad.dtype), None

        _STRAIGHT_THROUGH = StraightThroughQuantize
    return _STRAIGHT_THROUGH


def _is_traced(x) -> bool:
    """Whether x is a da4ml FixedVariableArray (checked without importing da4ml)."""
    return any(c.__module__.startswith("da4ml.") and c.__name__ == "FixedVariableArray" for c in type(x).__mro__)


def _is_torch(x) -> bool:
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def check_traceable(t: FixedType) -> None:
    """ConfigError if da4ml 0.6's tracer cannot implement t's rounding or overflow mode."""
    if t.rounding not in TRACEABLE_ROUNDING or t.overflow not in TRACEABLE_OVERFLOW:
        raise ConfigError(f"{t.ap_type()}: da4ml's firmware tracer supports rounding {'/'.join(TRACEABLE_ROUNDING)} and "
                          f"overflow {'/'.join(TRACEABLE_OVERFLOW)} only (a lookup table takes any mode)")


def _clip_traced(x, low: float, high: float):
    """A traced array clipped to [low, high] (both on the target grid) with two ReLUs and constant
    additions: max(x, low) = relu(x - low) + low, min(y, high) = high - relu(high - y).

    Saturating before rounding equals ap_fixed's round-then-saturate when the bounds lie on the grid
    (TRN and RND; the tests check every code). da4ml 0.6's own SAT path (max_of / min_of, sign-bit
    multiplexers with constants) breaks on variables carrying a large power-of-two scale (seen after
    the logit convolution of an n=32 SAL-T: 2**-35): its interpreter raises "Unsupported msb_mux
    shift configuration" and its Verilog writer asserts. ReLUs and constant additions avoid both."""
    y = (x - low).relu() + low
    return -((-(y - high)).relu()) + high


def _traced_range(x) -> tuple[float, float]:
    """(min, max) over every element of a da4ml FixedVariableArray, from its variables' types."""
    qints = [v.qint for v in np.ravel(x._vars)]
    return float(min(q.min for q in qints)), float(max(q.max for q in qints))


def select(cond, a, b):
    """where(cond, a, b) for a 0/1 condition (a mask, an occupancy flag): numpy -> np.where; a da4ml
    traced condition -> with d = a − b and M = a power of two ≥ max |d|, the gated form

        b + relu(d − M·(1 − cond)) − relu(−d − M·(1 − cond))

    (a relu term is left out where d cannot have its sign). cond = 1 gives b + d = a; cond = 0 pushes
    both relu inputs to ≤ 0, giving b. Every step is exact (adders, sign-bit ReLUs, constant shifts
    of the 1-bit cond). da4ml 0.6's own np.where (a sign-bit multiplexer) returned wrong values on
    some operands with different power-of-two scales (a SAL-T at n=32, d=4, 6 bits: 2,444 of 6,400
    entries of where(occupied, scores, low)), and its product of a variable with the 1-bit cond,
    b + cond·(a − b), costs 9 delay units and 9 LUTs per 8-bit value, against ~3 units here."""
    if not _is_traced(cond):
        return np.where(np.asarray(cond) != 0, a, b)
    if not (_is_traced(a) or _is_traced(b)):
        a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    d = a - b
    if not _is_traced(d):  # a − b is a constant: cond · d is a constant times one bit (a shift)
        return cond * d + b
    low, high = _traced_range(d)
    if low == high == 0.0:
        return d + b
    big = 2.0 ** math.ceil(math.log2(max(abs(low), abs(high))))
    off = cond * (-big) + big  # 0 where cond, M elsewhere
    pos = (d - off).relu() if high > 0 else None
    neg = (-d - off).relu() if low < 0 else None
    gated = -neg if pos is None else pos if neg is None else pos - neg
    return gated if (not _is_traced(b) and not np.any(b)) else gated + b


def quantize(x, t: FixedType):
    """x quantised to t: numpy (or numbers) -> quantize_np, torch.Tensor -> fake_quantize,
    da4ml FixedVariableArray -> its traced quantize (hardware), ConfigError for modes it lacks."""
    if _is_traced(x):
        check_traceable(t)
        k, i, f = t.kif
        if t.overflow != "WRAP":
            x = _clip_traced(x, -t.max if (t.overflow == "SAT_SYM" and t.signed) else t.min, t.max)
        return x.quantize(k, i, f, overflow_mode="WRAP", round_mode=t.rounding)
    if _is_torch(x):
        return fake_quantize(x, t)
    return quantize_np(x, t)


def lookup(x, fn: Callable[[Any], Any], t_out: FixedType):
    """A lookup-table nonlinearity: fn (elementwise, numpy in / numpy out; torch in / torch out for
    a tensor) applied to x, quantised to t_out. numpy: quantize_np(fn(x), t_out). da4ml: a ROM over
    every code x can hold, filled with the same quantize_np values, so both agree on every input.
    torch: fake_quantize(fn(x), t_out) (fn must then accept tensors)."""
    if _is_traced(x):
        k, i, f = t_out.kif
        # the table holds quantize_np's values; da4ml's TRN/WRAP quantize of on-grid in-range values is exact
        return x.apply(lambda v: quantize_np(fn(np.asarray(v, dtype=np.float64)), t_out)).quantize(
            k, i, f, overflow_mode="WRAP", round_mode="TRN")
    if _is_torch(x):
        return fake_quantize(fn(x), t_out)
    return quantize_np(fn(np.asarray(x, dtype=np.float64)), t_out)


__all__ = ["FixedType", "MAX_WIDTH", "OVERFLOW", "ROUNDING", "TRACEABLE_OVERFLOW", "TRACEABLE_ROUNDING",
           "check_traceable", "fake_quantize", "lookup", "quantize", "quantize_np", "select"]
