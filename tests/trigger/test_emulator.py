"""The bit-exact emulator: equals the QAT model in eval mode bit for bit, masks padding exactly, traces
with da4ml, and its quantised run (QRUN) round-trips without pickles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import random_jets

from saltjet.errors import DataError
from saltjet.models import create_model, model_config
from saltjet.trigger.emulator import emulate, fixed_forward
from saltjet.trigger.fixed import FixedType, quantize_np
from saltjet.trigger.qat import Split, calibrate, qsalt_from_spec
from saltjet.trigger.qsalt import QSALT
from saltjet.trigger.spec import QuantSpec


def tiny_qat(n=16, features=3, bits=8, seed=0, conv_mode="shared", layers=1, classes=5, jitter=True):
    """A small QSALT calibrated on random jets, with unequal widths per tensor (learned-looking)."""
    torch.manual_seed(seed)
    cfg = model_config("salt", n_particles=n, n_features=features, n_classes=classes, d_model=8, n_heads=2, d_ff=8,
                       partitions=4, conv_mode=conv_mode, n_layers=layers)
    model = create_model("salt", cfg).eval()
    x, mask = random_jets(400, n, features, seed=seed + 1)
    qm = QSALT.from_float(model, bits)
    calibrate(qm, Split(x, mask, torch.zeros(400)), bits)
    if jitter:
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for q in qm.quants.values():
                q.f.add_(torch.randint(-3, 3, q.f.shape, generator=g).double())
    return model, qm.eval()


def spec_of(qm):
    return qm.to_spec(["g", "q", "W", "Z", "t"][: max(2, qm.config.n_classes)], ["a", "b", "c"][: qm.config.n_features], "kt")


@pytest.mark.parametrize("conv_mode, layers", [("shared", 1), ("depthwise", 2), ("none", 1)])
def test_emulator_equals_qat_model_bit_for_bit_on_1200_jets(conv_mode, layers):
    _, qm = tiny_qat(conv_mode=conv_mode, layers=layers)
    x, mask = random_jets(1200, 16, 3, seed=7)
    with torch.no_grad():
        qat = qm(x, mask).numpy()
    emu = emulate(spec_of(qm), x.numpy(), mask.numpy())
    assert emu.shape == (1200, 5)
    assert np.array_equal(emu, qat)  # bit for bit, every logit of every jet
    assert len(np.unique(emu[:, 0])) > 20  # the logits vary from jet to jet


def test_a_perturbed_type_breaks_bit_exactness():
    _, qm = tiny_qat()
    x, mask = random_jets(1000, 16, 3, seed=8)
    with torch.no_grad():
        qat = qm(x, mask).numpy()
    spec = spec_of(qm)
    t = spec.types["l0_s"]
    spec.types["l0_s"] = FixedType(t.signed, t.integer, t.fraction - 1, t.rounding, t.overflow)
    assert not np.array_equal(emulate(spec, x.numpy(), mask.numpy()), qat)


def test_padded_slots_change_nothing():
    _, qm = tiny_qat()
    spec = spec_of(qm)
    x, mask = random_jets(300, 16, 3, seed=9)
    noisy = x.clone()
    noisy[~mask] = torch.randn(int((~mask).sum()), 3) * 50  # anything in padded slots
    assert np.array_equal(emulate(spec, x.numpy(), mask.numpy()), emulate(spec, noisy.numpy(), mask.numpy()))
    noisy[~mask] = float("nan")
    with torch.no_grad():
        assert torch.equal(qm(x, mask), qm(noisy, mask))


def test_one_jet_without_batch_axis_equals_the_batched_emulator():
    _, qm = tiny_qat()
    spec = spec_of(qm)
    x, mask = random_jets(5, 16, 3, seed=10)
    batched = emulate(spec, x.numpy(), mask.numpy())
    for j in range(5):
        assert np.array_equal(fixed_forward(x[j].double().numpy(), mask[j].numpy(), spec), batched[j])


def test_da4ml_trace_of_fixed_forward_computes_the_emulator():
    pytest.importorskip("da4ml")
    from da4ml.trace import FixedVariableArrayInput, comb_trace

    _, qm = tiny_qat(n=8, bits=6)
    spec = spec_of(qm)
    xi, mi = FixedVariableArrayInput((8, 3)), FixedVariableArrayInput((8,))
    out = fixed_forward(xi, mi, spec)
    comb = comb_trace(np.concatenate([xi._vars.ravel(), mi._vars.ravel()]), out._vars.ravel())
    x, mask = random_jets(100, 8, 3, seed=11)
    x = np.where(mask.numpy()[..., None], x.numpy(), 0.0)
    xq = np.concatenate([quantize_np(x[..., j:j + 1], t) for j, t in enumerate(spec.types["in"])], -1)
    inputs = np.concatenate([xq.reshape(100, -1), mask.numpy().astype(np.float64)], axis=1)
    assert np.array_equal(comb.predict(inputs), emulate(spec, x, mask.numpy()))


def test_quantised_run_round_trip(tmp_path):
    _, qm = tiny_qat()
    spec = spec_of(qm)
    spec.save(tmp_path / "q")
    back = QuantSpec.load(tmp_path / "q")
    assert back.types == spec.types and back.luts == spec.luts and back.config == spec.config
    assert all(np.array_equal(back.weights[k], spec.weights[k]) for k in spec.weights)
    x, mask = random_jets(200, 16, 3, seed=12)
    emu = emulate(back, x.numpy(), mask.numpy())
    with torch.no_grad():
        assert np.array_equal(qsalt_from_spec(back)(x, mask).numpy(), emu)


def test_a_broken_quantised_run_is_one_data_error(tmp_path):
    _, qm = tiny_qat()
    spec_of(qm).save(tmp_path / "q")
    with pytest.raises(DataError, match="not a quantised run"):
        QuantSpec.load(tmp_path)
    codes = dict(np.load(tmp_path / "q" / "quant_weights.npz"))
    codes["embed_w"] = codes["embed_w"] + 10 ** 6  # outside its type
    np.savez(tmp_path / "q" / "quant_weights.npz", **codes)
    with pytest.raises(DataError, match="outside"):
        QuantSpec.load(tmp_path / "q")
    np.save(tmp_path / "q" / "quant_weights.npz", np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(DataError):
        QuantSpec.load(tmp_path / "q")


def test_binary_task_one_logit_bit_exact():
    _, qm = tiny_qat(classes=2, seed=3)
    x, mask = random_jets(300, 16, 3, seed=13)
    with torch.no_grad():
        qat = qm(x, mask).numpy()
    emu = emulate(spec_of(qm), x.numpy(), mask.numpy())
    assert emu.shape == (300, 1) and np.array_equal(emu, qat)
