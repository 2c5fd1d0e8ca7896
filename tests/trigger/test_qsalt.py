"""The quantisation-aware SAL-T: equals the float model with wide types, learns its bit widths
(gradients reach them, the EBOPs penalty shrinks them), and refuses what it cannot quantise."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import random_jets
from trigger.test_emulator import tiny_qat

from saltjet.errors import ConfigError
from saltjet.models import create_model, model_config
from saltjet.trigger.qat import QATOptions, Split, calibrate, fine_tune, loss_of
from saltjet.trigger.qsalt import QSALT
from saltjet.trigger.quantizers import LearnedQuantizer, integer_bits


@pytest.mark.parametrize("conv_mode", ["shared", "depthwise"])
def test_wide_types_give_the_float_model(conv_mode):
    model, qm = tiny_qat(bits=16, conv_mode=conv_mode, jitter=False)
    x, mask = random_jets(300, 16, 3, seed=3)
    with torch.no_grad():
        ref = model(x, mask).double()
        out = qm(x, mask)
    # tables' inputs stop at 14 bits (2**14-entry tables): DyT's tanh steps by ~2**-9 there
    assert torch.allclose(out, ref, atol=1e-2), float((out - ref).abs().max())
    assert float((out - ref).abs().mean()) < 1e-3
    with torch.no_grad():  # and narrow types do not
        for q in qm.quants.values():
            q.f.sub_(12)
        assert not torch.allclose(qm(x, mask), ref, atol=1e-2)


def test_gradients_reach_every_bit_width_and_weight():
    _, qm = tiny_qat(bits=6)
    qm.train()
    x, mask = random_jets(64, 16, 3, seed=4)
    y = torch.randint(0, 5, (64,))
    loss_of(qm(x, mask), y).backward()
    ce_grads = {k: float(q.f.grad.abs().sum()) for k, q in qm.quants.items()}
    # the loss sees most widths (not those whose values happen to sit on their grid: no error, no slope)
    assert sum(g > 0 for g in ce_grads.values()) >= 0.75 * len(ce_grads), ce_grads
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in qm.weights.values())
    qm.zero_grad()
    qm.ebops().backward()
    assert all(float(q.f.grad.sum()) > 0 for q in qm.quants.values() if q.f.grad is not None)  # more bits cost more


def test_ebops_penalty_learns_bit_widths_down():
    _, qm = tiny_qat(bits=10, jitter=False)
    x, mask = random_jets(256, 16, 3, seed=5)
    data = Split(x, mask, torch.randint(0, 5, (256,)))
    before = float(qm.ebops().detach())
    opts = QATOptions(epochs=3, batch_size=64, lr_bits=0.2, ebops_weight=1e-3, settle_epochs=1)
    last, records = fine_tune(qm, data, data.head(64), opts, log=lambda s: None)
    assert [r["epoch"] for r in records] == [0, 1, 2, 3] and [r["bits_frozen"] for r in records[1:]] == [False, False, True]
    assert records[2]["ebops"] < 0.7 * before and records[2]["mean_bits"] < 9
    assert records[3]["ebops"] == records[2]["ebops"]  # frozen types in the settle epoch
    assert records[-1]["chosen"] and float(last.ebops().detach()) == records[-1]["ebops"]
    # with a float accuracy to compare to: the fewest EBOPs within max_loss, else the most accurate
    chosen, records = fine_tune(qm, data, data.head(64), QATOptions(epochs=1, max_loss=100.0, settle_epochs=0,
                                                                    ebops_weight=1e-3), lambda s: None, 0.5)
    assert min(records, key=lambda r: r["ebops"])["chosen"]
    _, records = fine_tune(qm, data, data.head(64), QATOptions(epochs=1, max_loss=0.0, settle_epochs=0),
                           lambda s: None, 1.0)
    assert max(records, key=lambda r: r["val_accuracy"])["chosen"]


def test_calibration_sets_integer_bits_from_ranges():
    assert integer_bits(-3.0, 1.0) == (True, 2) and integer_bits(0.0, 1.0) == (False, 1)
    assert integer_bits(0.0, 0.7) == (False, 0) and integer_bits(-0.25, 0.1) == (True, -2)
    q = LearnedQuantizer(True, 0, 4)
    q.calibrating = True
    q(torch.tensor([[-5.0, 2.0], [100.0, 1.0]]), valid=torch.tensor([[1.0], [0.0]]))  # the 100 is padding
    q.set_range_from_seen()
    assert q.signed == [True] and q.integer == [3]
    q.calibrating = False
    assert float(q(torch.tensor(50.0)).detach()) == q.fixed_type().max  # saturates


def test_only_dyt_and_max_pool_sal_t_is_quantised():
    cfg = model_config("salt", n_particles=8, n_features=3, n_classes=5, d_model=8, n_heads=2, d_ff=8,
                       partitions=2, norm="layernorm")
    with pytest.raises(ConfigError, match="norm=dyt"):
        QSALT.from_float(create_model("salt", cfg))
    lin = create_model("linformer", model_config("linformer", n_particles=8, n_features=3, d_model=8, n_heads=2, d_ff=8))
    with pytest.raises(ConfigError, match="SAL-T"):
        QSALT.from_float(lin)


def test_every_type_stays_inside_exact_float64_widths():
    _, qm = tiny_qat(bits=16, jitter=False)
    with torch.no_grad():
        for q in qm.quants.values():
            q.f.add_(40)
    spec = qm.to_spec(list("gqWZt"), ["a", "b", "c"], "kt")
    widths = [w for v in spec.bits().values() for w in (v if isinstance(v, list) else [v])]
    assert max(widths) <= 20 and min(widths) >= 1
    x, mask = random_jets(10, 16, 3, seed=6)
    with torch.no_grad():
        assert torch.isfinite(qm(x, mask)).all()
    assert np.isfinite(float(qm.ebops().detach()))


def test_calibrate_sets_the_starting_width():
    _, qm = tiny_qat(bits=7, jitter=False)
    widths = torch.cat([q.bits().detach().reshape(-1) for q in qm.quants.values()])
    assert (widths <= 7).all() and (widths >= 1).all()
    assert calibrate is not None
