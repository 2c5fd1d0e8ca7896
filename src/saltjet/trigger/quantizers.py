"""Torch quantisers with learned fractional bits (HGQ-style), and lookup tables that are exact in eval.

`LearnedQuantizer` holds one tensor's type: sign k and integer bits i (set from calibrated ranges,
saturating beyond them) and trainable fractional bits f (a float parameter, per tensor or per channel
of the last axis). Forward in training: `fake_quantize` to round(f) bits (straight-through for x), plus
HGQ's surrogate gradient for f: the quantisation error δ = q(x) − x scales as 2**-f, so ∂q/∂f is taken
as −ln2 · δ where no overflow happened. Forward in eval: exactly `fake_quantize` in float64, which is
bit-identical to `quantize_np` (the emulator). Calibration mode passes x through and records ranges.

`LookupQuantizer` is the output quantiser of a lookup table: training applies the smooth function and
fake-quantises (gradient through the function); eval indexes a table filled by numpy over every code
of the input type, exactly as the emulator's `lookup` and da4ml's ROM are filled.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from saltjet.trigger.fixed import FixedType, fake_quantize, quantize_np

LN2 = math.log(2.0)


def integer_bits(low: float, high: float) -> tuple[bool, int]:
    """(signed, i): the fewest integer bits whose range holds [low, high] (values past it saturate)."""
    signed = low < 0
    need = []
    if signed:
        need.append(math.ceil(math.log2(-low)))  # -2**i <= low
    if high > 0:
        need.append(math.floor(math.log2(high)) + 1)  # high < 2**i
    return signed, max(need) if need else 0


class LearnedQuantizer(nn.Module):
    """One tensor's fixed-point type with trainable fractional bits.

    Args:
        signed, integer: k and i (i may be a list, one per channel, with `channels`).
        fraction: initial f. rounding, overflow: ap_fixed modes (see saltjet.trigger.fixed).
        channels: None for one type per tensor, else C types along the last axis.
        max_width: widths are clamped to [1, max_width] (float64 stays exact; tables stay small).
    """

    def __init__(self, signed: bool, integer, fraction: float, rounding: str = "TRN", overflow: str = "SAT",
                 channels: int | None = None, max_width: int = 20):
        super().__init__()
        shape = () if channels is None else (channels,)
        self.channels = channels
        self.signed = [bool(signed)] * (channels or 1) if not isinstance(signed, list) else list(signed)
        ints = integer if isinstance(integer, list) else [int(integer)] * (channels or 1)
        self.integer = [int(i) for i in ints]
        self.rounding, self.overflow, self.max_width = rounding, overflow, max_width
        self.f = nn.Parameter(torch.full(shape, float(fraction), dtype=torch.float64))
        self.calibrating = False
        self.floor: float | None = None  # ranges are fitted to max(seen_min, floor) when set
        self.register_buffer("seen_min", torch.full(shape, math.inf, dtype=torch.float64), persistent=False)
        self.register_buffer("seen_max", torch.full(shape, -math.inf, dtype=torch.float64), persistent=False)

    def _bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        k = torch.tensor([float(s) for s in self.signed], dtype=torch.float64)
        i = torch.tensor([float(v) for v in self.integer], dtype=torch.float64)
        lo, hi = 1.0 - k - i, self.max_width - k - i
        return (lo, hi) if self.channels else (lo[0], hi[0])

    def frac(self) -> torch.Tensor:
        """round(f) clamped to widths 1..max_width, with a straight-through gradient to f."""
        lo, hi = self._bounds()
        f = self.f + (torch.round(self.f) - self.f).detach()
        return torch.minimum(torch.maximum(f, lo), hi)

    def bits(self) -> torch.Tensor:
        """Width k + i + f (differentiable in f), per channel when per-channel."""
        k = torch.tensor([float(s) for s in self.signed], dtype=torch.float64)
        i = torch.tensor([float(v) for v in self.integer], dtype=torch.float64)
        return (k + i if self.channels else k[0] + i[0]) + self.frac()

    def fixed_type(self) -> FixedType | list[FixedType]:
        f = self.frac().detach().round().to(torch.int64).reshape(-1).tolist()
        types = [FixedType(s, i, int(fj), self.rounding, self.overflow) for s, i, fj in zip(self.signed, self.integer, f)]
        return types if self.channels else types[0]

    def reset_seen(self) -> None:
        self.seen_min.fill_(math.inf)
        self.seen_max.fill_(-math.inf)

    @torch.no_grad()
    def observe(self, x: torch.Tensor, valid=None) -> None:
        """Fold x's extremes (over entries where `valid`, broadcast to x, is nonzero) into seen_min/max."""
        x = x.detach()
        keep = torch.ones_like(x, dtype=torch.bool) if valid is None else torch.broadcast_to(valid != 0, x.shape)
        dims = tuple(range(x.dim() - (1 if self.channels else 0)))
        lo = torch.where(keep, x, math.inf).amin(dim=dims) if x.numel() else self.seen_min
        hi = torch.where(keep, x, -math.inf).amax(dim=dims) if x.numel() else self.seen_max
        torch.minimum(self.seen_min, lo.to(torch.float64), out=self.seen_min)
        torch.maximum(self.seen_max, hi.to(torch.float64), out=self.seen_max)

    def set_range_from_seen(self, keep_sign: bool = False) -> None:
        """k and i from the recorded extremes (unchanged where nothing was seen); f is kept."""
        lows, highs = self.seen_min.reshape(-1).tolist(), self.seen_max.reshape(-1).tolist()
        for c, (lo, hi) in enumerate(zip(lows, highs)):
            if math.isfinite(lo) and math.isfinite(hi):
                signed, i = integer_bits(lo if self.floor is None else max(lo, self.floor), hi)
                self.signed[c] = self.signed[c] if keep_sign else signed
                self.integer[c] = i

    def forward(self, x: torch.Tensor, valid=None) -> torch.Tensor:
        if self.calibrating or self.training:
            self.observe(x, valid)
        if self.calibrating:
            return x
        types = self.fixed_type()
        if self.channels:
            y = torch.cat([fake_quantize(x[..., j:j + 1], t) for j, t in enumerate(types)], dim=-1)
            t_min = x.new_tensor([t.min for t in types])
            t_max = x.new_tensor([t.max for t in types])
        else:
            y = fake_quantize(x, types)
            t_min, t_max = types.min, types.max
        if self.training:  # HGQ surrogate: d(q(x))/df = -ln2 * (q(x) - x) where in range
            err = ((y - x) * ((x >= t_min) & (x <= t_max))).detach()
            f = self.frac()
            y = y - LN2 * err * (f - f.detach())
        return y


class LookupQuantizer(LearnedQuantizer):
    """Output quantiser of a lookup table fn: x (on the input type's grid) -> q(fn(x)).

    forward(x, in_type, fn_np, fn_torch): training: fake-quantised fn_torch(x) (gradients through fn);
    eval: table[index of x in in_type] with the table quantize_np(fn_np(every code of in_type), out).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._tables: dict = {}

    def table(self, in_type: FixedType, fn_np) -> torch.Tensor:
        out_type = self.fixed_type()
        key = (in_type, out_type, fn_np)
        if key not in self._tables:
            self._tables.clear()
            self._tables[key] = torch.from_numpy(quantize_np(fn_np(in_type.values()), out_type))
        return self._tables[key]

    def forward(self, x: torch.Tensor, in_type: FixedType = None, fn_np=None, fn_torch=None) -> torch.Tensor:
        if self.calibrating or self.training:
            return super().forward(fn_torch(x))
        table = self.table(in_type, fn_np).to(x.device)
        index = torch.round((x - in_type.min) * math.ldexp(1.0, in_type.fraction)).to(torch.int64)
        return table[index.clamp(0, len(table) - 1)]


def uniform_bits(module: nn.Module) -> dict[str, np.ndarray]:
    """name -> widths (numpy) of every LearnedQuantizer under `module` (for logs)."""
    return {name: q.bits().detach().numpy().copy() for name, q in module.named_modules()
            if isinstance(q, LearnedQuantizer)}
