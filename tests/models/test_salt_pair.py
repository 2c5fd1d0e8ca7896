"""Model `salt_pair`: SAL-T with the partition-pair bias (`saltjet.models.pairs`).

The generic model tests (shapes, padding, permutations, gradients, export, FLOPs) run over it as a
registered model; here: the pair features against a hand computation, the bias in the fast
attention path against the literal one, SAL-T recovered when the bias is zero, names and errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest import random_jets
from saltjet.cost.flops import analytic_flops, measured_flops
from saltjet.errors import ConfigError
from saltjet.models import count_parameters, create_model
from saltjet.models.attention import PartitionedAttention
from saltjet.models.pairs import anchor_pair_features

LOG = ["log_pt", "log_ptrel", "log_e", "eta_rel", "phi_rel", "delta_r"]


def _four_vector(pt, eta, phi):
    return np.array([pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta), pt * math.cosh(eta)])


def test_pair_features_equal_a_hand_computation():
    """Particle i against the summed 4-vector of each partition: ln Δ, ln kT, ln z, ln m²."""
    pt = torch.tensor([[50.0, 20.0, 9.0, 4.0, 2.0, 0.0]], dtype=torch.float64)
    eta = torch.tensor([[0.01, -0.2, 0.3, 0.15, -0.4, 0.0]], dtype=torch.float64)
    phi = torch.tensor([[0.02, 0.1, -0.25, 3.1, -3.1, 0.0]], dtype=torch.float64)
    mask = pt > 0
    got = anchor_pair_features(pt, eta, phi, mask, partitions=3, block=2)[0].numpy()  # (n, p, 4)
    vectors = [_four_vector(*(float(t[0, j]) for t in (pt, eta, phi))) for j in range(5)]
    partitions = [vectors[0] + vectors[1], vectors[2] + vectors[3], vectors[4]]
    for i in range(5):
        v = vectors[i]
        for c, big in enumerate(partitions):
            pt_c = math.hypot(big[0], big[1])
            rap_c = 0.5 * math.log((big[3] + big[2]) / (big[3] - big[2]))
            d_phi = (float(phi[0, i]) - math.atan2(big[1], big[0]) + math.pi) % (2 * math.pi) - math.pi
            ln_delta = 0.5 * math.log(max((float(eta[0, i]) - rap_c) ** 2 + d_phi**2, 1e-8))  # floor: weaver's eps
            low = min(float(pt[0, i]), pt_c)
            pair = v + big
            m2 = max(pair[3] ** 2 - (pair[:3] ** 2).sum(), 1e-8)  # (the lone particle 4 with itself: m² = 0)
            want = [ln_delta, math.log(low) + ln_delta, math.log(low / (float(pt[0, i]) + pt_c)), math.log(m2)]
            np.testing.assert_allclose(got[i, c], want, rtol=1e-9, atol=1e-9)
    assert np.isfinite(got).all()  # the padded slot, and no NaN anywhere


def test_leading_anchors_are_the_highest_pt_particles():
    """pair_anchors "leading": anchor c is the c-th highest-pT real particle; missing ones stay finite."""
    pt = torch.tensor([[4.0, 50.0, 9.0, 20.0, 0.0], [3.0, 0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    eta = torch.tensor([[0.1, -0.2, 0.3, 0.05, 0.0], [0.2, 0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    phi = torch.tensor([[-0.3, 0.1, 0.2, -0.1, 0.0], [0.1, 0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    mask = pt > 0
    got = anchor_pair_features(pt, eta, phi, mask, partitions=3, block=2, anchors="leading")
    assert torch.isfinite(got).all()
    for c, j in enumerate([1, 3, 2]):  # falling pT: 50, 20, 9
        for i in range(4):
            a = _four_vector(*(float(t[0, i]) for t in (pt, eta, phi)))
            b = _four_vector(*(float(t[0, j]) for t in (pt, eta, phi)))
            pair = a + b
            m2 = max(pair[3] ** 2 - (pair[:3] ** 2).sum(), 1e-8)
            low = min(float(pt[0, i]), float(pt[0, j]))
            np.testing.assert_allclose(got[0, i, c, 3].item(), math.log(m2), rtol=1e-7, atol=1e-7)
            np.testing.assert_allclose(got[0, i, c, 2].item(), math.log(low / (float(pt[0, i]) + float(pt[0, j]))),
                                       rtol=1e-9, atol=1e-9)
    # a trimmed jet shorter than p anchors (n < p) still works
    short = anchor_pair_features(pt[:, :2], eta[:, :2], phi[:, :2], mask[:, :2], partitions=3, block=1, anchors="leading")
    assert short.shape == (2, 2, 3, 4) and torch.isfinite(short).all()


def test_leading_jet_anchors_are_the_leading_particles_then_the_jet():
    """pair_anchors "leading_jet": anchors 0..p−2 as "leading", the last one the jet's summed 4-vector."""
    pt = torch.tensor([[4.0, 50.0, 9.0, 20.0, 0.0]], dtype=torch.float64)
    eta = torch.tensor([[0.1, -0.2, 0.3, 0.05, 0.7]], dtype=torch.float64)
    phi = torch.tensor([[-0.3, 0.1, 0.2, -0.1, 1.0]], dtype=torch.float64)  # the padded slot must not count
    mask = pt > 0
    got = anchor_pair_features(pt, eta, phi, mask, partitions=3, block=2, anchors="leading_jet")
    lead = anchor_pair_features(pt, eta, phi, mask, partitions=3, block=2, anchors="leading")
    assert got.shape == (1, 5, 3, 4)
    torch.testing.assert_close(got[:, :, :2], lead[:, :, :2], rtol=0, atol=0)
    vectors = [_four_vector(*(float(t[0, j]) for t in (pt, eta, phi))) for j in range(4)]
    jet = sum(vectors)
    for i in range(4):
        pair = vectors[i] + jet
        m2 = pair[3] ** 2 - (pair[:3] ** 2).sum()
        pt_jet = math.hypot(jet[0], jet[1])
        low = min(float(pt[0, i]), pt_jet)
        np.testing.assert_allclose(got[0, i, 2, 3].item(), math.log(m2), rtol=1e-9)
        np.testing.assert_allclose(got[0, i, 2, 2].item(), math.log(low / (float(pt[0, i]) + pt_jet)), rtol=1e-9)


def test_empty_partitions_give_finite_features():
    pt = torch.tensor([[30.0, 10.0, 0.0, 0.0]])
    mask = pt > 0
    f = anchor_pair_features(pt, torch.zeros_like(pt), torch.zeros_like(pt), mask, partitions=2, block=2)
    assert torch.isfinite(f).all()


@pytest.mark.parametrize("conv_mode", ["shared", "depthwise", "none"])
@pytest.mark.parametrize("batch, n, p", [(5, 150, 4), (5, 37, 8), (40, 150, 4)])  # (40, 150): large-batch path
def test_fast_forward_with_bias_equals_the_literal_formulation(conv_mode, batch, n, p):
    torch.manual_seed(0)
    attn = PartitionedAttention(16, 4, n, p, (1, 3, 5), conv_mode)
    h = torch.randn(batch, n, 16, requires_grad=True)
    bias = torch.randn(batch, 4 * p, n, requires_grad=True)
    mask = torch.rand(batch, n, generator=torch.Generator().manual_seed(3)) < 0.6
    mask[:, 0] = True
    fast, ref = attn(h, mask, bias), attn.forward_reference(h, mask, bias)
    real = mask.unsqueeze(-1).expand_as(fast)
    torch.testing.assert_close(fast[real], ref[real], atol=1e-5, rtol=1e-5)
    for a, b in zip(torch.autograd.grad((fast * real).sum(), [h, bias]), torch.autograd.grad((ref * real).sum(), [h, bias])):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(fast[real], attn(h, mask)[real])  # the bias does change the output


@pytest.mark.parametrize("mode", ["bias", "inputs", "both"])
def test_zeroed_pair_layers_give_salt_exactly(mode):
    """With the pair embeddings' output layers zeroed, SAL-T-pair is SAL-T with the same weights."""
    torch.manual_seed(0)
    pair = create_model("salt_pair", n_particles=40, pair_mode=mode).eval()
    for layer in (pair.pairs.bias_embed[-1] if pair.pairs.bias_embed is not None else None, pair.pairs.input_embed):
        if layer is not None:
            torch.nn.init.zeros_(layer.weight)
            if layer.bias is not None:
                torch.nn.init.zeros_(layer.bias)
    salt = create_model("salt", n_particles=40).eval()
    salt.load_state_dict({k: v for k, v in pair.state_dict().items() if not k.startswith("pairs.")})
    x, mask = random_jets(6, 40)
    with torch.no_grad():
        torch.testing.assert_close(pair(x, mask), salt(x, mask), atol=0, rtol=0)


def test_reads_its_inputs_by_name_and_the_pair_cost_is_linear():
    model = create_model("salt_pair", n_features=6, features="log", n_classes=2)
    assert model.config.features == tuple(LOG)
    assert (model.config.pair_mode, model.config.pair_anchors) == ("inputs", "leading_jet")  # the measured best
    assert count_parameters(model) == count_parameters(create_model("salt", n_features=6, n_classes=2)) + 17 * 16
    for mode, layer, per_n in [("bias", "pair_bias", 2 * 4 * (4 + 4) * 8), ("inputs", "pair_inputs", 2 * 4 * 4 * 16)]:
        pair = {n: analytic_flops("salt_pair", n_particles=n, pair_mode=mode).by_layer()[layer] for n in (40, 80, 120)}
        assert pair[80] - pair[40] == pair[120] - pair[80] == 40 * per_n


@pytest.mark.parametrize("anchors", ["partitions", "leading", "leading_jet"])
@pytest.mark.parametrize("mode, extra", [("bias", 5 * 8 + 8 * 4), ("inputs", 17 * 16), ("both", 5 * 8 + 8 * 4 + 17 * 16)])
def test_pair_modes_parameters_flops_and_gradients(mode, extra, anchors):
    model = create_model("salt_pair", n_particles=37, pair_mode=mode, pair_anchors=anchors)
    assert count_parameters(model) == count_parameters(create_model("salt", n_particles=37)) + extra
    x, mask = random_jets(3, 37)
    model.train()
    model(x, mask).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    model.eval()
    assert analytic_flops(model).total == measured_flops(model, x, mask)


def test_pair_features_are_standardised_on_the_first_training_batch_only():
    torch.manual_seed(0)
    model = create_model("salt_pair", n_particles=40)
    x, mask = random_jets(16, 40, seed=1)
    with torch.no_grad():
        model.eval()(x, mask)
        assert not model.pairs.fitted and torch.equal(model.pairs.scale, torch.ones(4, 4))  # evaluation: no fit
        model.train()(x, mask)
        pt, eta, phi = model.pairs.columns.pt_eta_phi(x, mask)
        real = anchor_pair_features(pt, eta, phi, mask, 4, 10, model.pairs.anchors)[mask]  # (N, p, 4)
        torch.testing.assert_close(model.pairs.center, real.median(dim=0).values, rtol=0, atol=1e-5)
        iqr = torch.quantile(real.flatten(1), 0.75, dim=0) - torch.quantile(real.flatten(1), 0.25, dim=0)
        torch.testing.assert_close(model.pairs.scale, iqr.clamp(min=1e-3).view(4, 4))
        center = model.pairs.center.clone()
        model(*random_jets(16, 40, seed=2))  # a later batch does not refit
        assert torch.equal(model.pairs.center, center) and "pairs.center" in model.state_dict()
        model.load_state_dict(create_model("salt_pair", n_particles=40).state_dict())  # unfitted weights
        model(*random_jets(16, 40, seed=2))  # ... are fitted on the next training batch
        assert model.pairs.fitted and not torch.equal(model.pairs.scale, torch.ones(4, 4))


@pytest.mark.parametrize("options, message", [
    ({"features": ["log_e", "eta_rel", "delta_r"]}, "features need pt or log_pt, eta_rel and phi_rel"),
    ({"n_features": 6}, "3 feature names"),
    ({"pair_hidden": 0}, "pair_hidden must be a whole number"),
    ({"features": 7}, "features must be a feature set name"),
    ({"pair_mode": "sum"}, "unknown pair_mode 'sum'; choose from bias, inputs, both"),
    ({"pair_anchors": "subjets"}, "unknown pair_anchors 'subjets'; choose from partitions, leading, leading_jet"),
    ({"pair_anchors": "leading_jet", "partitions": 1}, "needs partitions ≥ 2, got 1"),
])
def test_bad_options_are_one_line_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        create_model("salt_pair", **options)
