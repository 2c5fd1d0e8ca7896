"""Every registered model: shapes, exact parameter counts, gradients, masking, order, determinism."""

from __future__ import annotations

import pytest
import torch

from conftest import random_jets
from saltjet.data import apply_permutation, sort_particles
from saltjet.errors import ConfigError, InputError
from saltjet.models import count_parameters, create_model, list_models

MODELS = list_models()


def test_registry_lists_the_models():
    assert MODELS == ["linformer", "part", "salt", "salt_pair", "transformer", "transformer_pair"]


@pytest.mark.parametrize(
    "name, options, expected",
    [
        ("salt", {}, 3264),
        ("linformer", {}, 6809),
        ("transformer", {}, 2009),
        ("salt", {"n_particles": 200, "n_classes": 2}, 3580),
        ("salt_pair", {}, 3536),
        ("transformer_pair", {}, 2281),
    ],
)
def test_parameter_counts_match_the_paper(name, options, expected):
    assert count_parameters(create_model(name, **options)) == expected


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("n_classes, out", [(5, 5), (2, 1), (10, 10)])
def test_output_shape(name, n_classes, out):
    model = create_model(name, n_particles=40, n_classes=n_classes)
    x, mask = random_jets(7, 40)
    assert model(x, mask).shape == (7, out)


@pytest.mark.parametrize("name", MODELS)
def test_multi_layer_stack(name):
    model = create_model(name, n_particles=32, n_layers=3, d_model=32, n_heads=8, d_ff=64)
    x, mask = random_jets(5, 32)
    out = model(x, mask)
    assert out.shape == (5, 5) and torch.isfinite(out).all()
    assert len(model.blocks) == 3


@pytest.mark.parametrize("name", MODELS)
def test_gradients_reach_every_parameter(name):
    torch.manual_seed(0)
    model = create_model(name, n_particles=30)
    x, mask = random_jets(16, 30, min_particles=20)
    model(x, mask).square().sum().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        if ".conv.convs." in pname and pname.endswith(".bias"):
            # the logit convolution's bias adds one number to all p logits of a row, and softmax is
            # shift-invariant: its gradient is zero analytically (float rounding may leave ~1e-9)
            assert p.grad.abs().max() < 1e-6, pname
            continue
        assert p.grad.abs().sum() > 0, f"zero gradient for {pname}"


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("options", [{}, {"n_layers": 2, "pooling": "mean"}])
def test_padded_slots_change_nothing(name, options):
    torch.manual_seed(0)
    model = create_model(name, n_particles=50, **options).eval()
    x, mask = random_jets(12, 50, seed=3)
    garbage = torch.randn_like(x) * 1e3
    x2 = torch.where(mask.unsqueeze(-1), x, garbage)
    with torch.no_grad():
        torch.testing.assert_close(model(x, mask), model(x2, mask), atol=1e-6, rtol=0)


@pytest.mark.parametrize("conv_mode", ["shared", "depthwise", "none"])
def test_salt_padding_invariance_for_every_conv_mode(conv_mode):
    torch.manual_seed(0)
    model = create_model("salt", n_particles=50, conv_mode=conv_mode, conv_heights=(1, 3, 5, 7, 9)).eval()
    x, mask = random_jets(12, 50, seed=4)
    x2 = torch.where(mask.unsqueeze(-1), x, torch.full_like(x, -77.0))
    with torch.no_grad():
        torch.testing.assert_close(model(x, mask), model(x2, mask), atol=1e-6, rtol=0)


def test_salt_padding_not_last_also_changes_nothing():
    """Masks are honoured wherever the padding sits, not only at the end."""
    torch.manual_seed(0)
    model = create_model("salt", n_particles=40).eval()
    x, _ = random_jets(6, 40, seed=5)
    mask = torch.rand(6, 40, generator=torch.Generator().manual_seed(1)) < 0.4
    mask[:, 7] = True
    x2 = torch.where(mask.unsqueeze(-1), x, torch.randn_like(x) * 50)
    with torch.no_grad():
        torch.testing.assert_close(model(x, mask), model(x2, mask), atol=1e-6, rtol=0)


def test_salt_empty_partitions_get_no_attention():
    torch.manual_seed(0)
    model = create_model("salt", n_particles=40).eval()
    attn = model.blocks[0].attn
    x, _ = random_jets(2, 40)
    mask = torch.zeros(2, 40, dtype=torch.bool)
    mask[:, :5] = True  # only the first of four partitions (10 slots each) is occupied
    h = model.embed(model.scaler(x))
    weights = torch.softmax(attn.logits(h, mask), dim=-1)
    assert torch.all(weights[..., 1:] == 0)
    torch.testing.assert_close(weights[..., 0], torch.ones_like(weights[..., 0]))


@pytest.mark.parametrize("name", MODELS)
def test_permuting_real_particles_then_resorting_changes_nothing(name):
    torch.manual_seed(0)
    model = create_model(name, n_particles=60).eval()
    x, mask = random_jets(10, 60, seed=6)
    g = torch.Generator().manual_seed(2)
    shuffled = torch.stack([torch.randperm(60, generator=g) for _ in range(10)])
    x_shuf = torch.gather(x, 1, shuffled.unsqueeze(-1).expand_as(x))
    m_shuf = torch.gather(mask, 1, shuffled)

    def sort(xb, mb):
        xb, mb = xb.numpy(), mb.numpy()
        perm = sort_particles(xb[..., 0], xb[..., 1], xb[..., 2], mb, by="kt")
        return torch.from_numpy(apply_permutation(xb, perm)), torch.from_numpy(apply_permutation(mb, perm))

    with torch.no_grad():
        torch.testing.assert_close(model(*sort(x, mask)), model(*sort(x_shuf, m_shuf)), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", MODELS)
def test_same_seed_same_outputs(name):
    x, mask = random_jets(4, 30)
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        outs.append(create_model(name, n_particles=30).eval()(x, mask))
    torch.testing.assert_close(outs[0], outs[1], atol=0, rtol=0)
    torch.manual_seed(124)
    assert not torch.equal(outs[0], create_model(name, n_particles=30).eval()(x, mask))


def test_salt_is_fx_traceable():
    torch.manual_seed(0)
    model = create_model("salt").eval()
    traced = torch.fx.symbolic_trace(model)
    x, mask = random_jets(5, 150)
    torch.testing.assert_close(traced(x, mask), model(x, mask), atol=0, rtol=0)
    ops = {node.op for node in traced.graph.nodes}
    assert "call_module" in ops or "call_function" in ops


@pytest.mark.parametrize("mode", ["shared", "depthwise"])
@pytest.mark.parametrize("heights", [(1, 3, 5), (3, 3, 3), (1,), (1, 3, 5, 7, 9)])
@pytest.mark.parametrize("p", [2, 4, 5, 8])
def test_folded_logit_conv_equals_the_three_convolutions(mode, heights, p):
    from saltjet.models.attention import LogitConv

    torch.manual_seed(0)
    conv = LogitConv(p, heights, mode, n_heads=4)
    for c in conv.convs:  # non-trivial biases so their averaging is tested too
        torch.nn.init.normal_(c.bias)
    s = torch.randn(3, 4, 37, p)
    torch.testing.assert_close(conv(s), conv.reference(s), atol=1e-5, rtol=1e-5)


def test_salt_conv_parameter_counts():
    shared = create_model("salt", conv_mode="shared").blocks[0].attn.conv
    depthwise = create_model("salt", conv_mode="depthwise").blocks[0].attn.conv
    assert sum(p.numel() for p in shared.parameters()) == 39
    assert sum(p.numel() for p in depthwise.parameters()) == 4 * 39
    assert create_model("salt", conv_mode="none").blocks[0].attn.conv is None


def test_transformer_takes_any_length_but_position_models_do_not():
    x, mask = random_jets(3, 77)
    assert create_model("transformer", n_particles=150)(x, mask).shape == (3, 5)
    for name in ("salt", "linformer"):
        with pytest.raises(InputError, match="n=150"):
            create_model(name)(x, mask)


@pytest.mark.parametrize("name", MODELS)
def test_jet_without_particles_is_rejected_not_nan(name):
    model = create_model(name, n_particles=20)
    x, mask = random_jets(4, 20)
    mask[2] = False
    with pytest.raises(InputError, match="1 of 4 jets have no real particles"):
        model(x, mask)


@pytest.mark.parametrize("name", MODELS)
def test_wrong_input_shapes_are_clear_errors(name):
    model = create_model(name, n_particles=20)
    x, mask = random_jets(4, 20)
    with pytest.raises(InputError, match="x must be"):
        model(x[..., :2], mask)
    with pytest.raises(InputError, match="mask must be bool"):
        model(x, mask.float())


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("nope", {}, "unknown model 'nope'"),
        ("salt", {"partitons": 4}, "unknown option"),
        ("salt", {"d_model": 18}, "not divisible"),
        ("salt", {"conv_heights": (2, 4)}, "odd"),
        ("salt", {"conv_mode": "wide"}, "conv_mode"),
        ("salt", {"partitions": 0}, "partitions"),
        ("linformer", {"proj_dim": 0}, "proj_dim"),
        ("transformer", {"norm": "batch"}, "norm"),
        ("transformer", {"n_classes": 1}, "n_classes"),
    ],
)
def test_bad_configs_are_config_errors(name, options, message):
    with pytest.raises(ConfigError, match=message):
        create_model(name, **options)


def test_layernorm_and_depthwise_options_build_and_run():
    x, mask = random_jets(3, 150)
    model = create_model("salt", norm="layernorm", conv_mode="depthwise", partitions=8)
    assert model(x, mask).shape == (3, 5)
    assert count_parameters(model) != 3264


def test_input_scaler_is_applied_and_saved():
    torch.manual_seed(0)
    model = create_model("salt", n_particles=30).eval()
    x, mask = random_jets(4, 30)
    before = model(x, mask)
    model.scaler.set([10.0, 0.0, 0.0], [100.0, 1.0, 1.0])
    assert not torch.allclose(before, model(x, mask))
    assert {"scaler.center", "scaler.scale"} <= set(model.state_dict())
    # scaled input == feeding pre-scaled features to an identity scaler
    ident = create_model("salt", n_particles=30).eval()
    ident.load_state_dict(model.state_dict())
    ident.scaler.set([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    scaled = (x - torch.tensor([10.0, 0.0, 0.0])) / torch.tensor([100.0, 1.0, 1.0])
    torch.testing.assert_close(model(x, mask), ident(scaled, mask))


@pytest.mark.parametrize("conv_mode", ["shared", "depthwise", "none"])
@pytest.mark.parametrize("n, p", [(150, 4), (37, 4), (40, 8), (9, 3), (16, 1)])
def test_salt_fast_forward_equals_the_literal_formulation(conv_mode, n, p):
    """`PartitionedAttention.forward` (refactored for speed) computes the same function as
    `forward_reference` (Q, K, V, collapse, logits, conv, softmax, ×Ṽ, projection), with arbitrary
    masks, padding anywhere, non-trivial biases, and gradients too."""
    from saltjet.models.attention import PartitionedAttention

    torch.manual_seed(0)
    attn = PartitionedAttention(16, 4, n, p, (1, 3, 5), conv_mode)
    if attn.conv is not None:
        for c in attn.conv.convs:
            torch.nn.init.normal_(c.bias)
    h = torch.randn(5, n, 16, requires_grad=True)
    mask = torch.rand(5, n, generator=torch.Generator().manual_seed(3)) < 0.6
    mask[:, 0] = True
    fast, ref = attn(h, mask), attn.forward_reference(h, mask)
    real = mask.unsqueeze(-1).expand_as(fast)
    torch.testing.assert_close(fast[real], ref[real], atol=1e-5, rtol=1e-5)
    g_fast = torch.autograd.grad((fast * real).sum(), [h, *attn.parameters()], allow_unused=True)
    g_ref = torch.autograd.grad((ref * real).sum(), [h, *attn.parameters()], allow_unused=True)
    for a, b in zip(g_fast, g_ref):
        if a is None or b is None:
            assert a is None and b is None
        else:
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_blocked_cpu_inference_equals_one_pass(name):
    """Large no-grad CPU batches run in cache-sized blocks; the logits must not change."""
    torch.manual_seed(0)
    model = create_model(name, n_particles=40).eval()
    model.inference_block_slots = 40 * 7  # blocks of 7 jets: 50 jets -> 8 blocks, the last partial
    x, mask = random_jets(50, 40, seed=9)
    with torch.no_grad():
        blocked = model(x, mask)
        whole = model.classify(x, mask)
    assert blocked.shape == (50, 5)
    # part: eager embeds the pairs of real particles, `classify` every pair (the same sums in another
    # order: ~1e-6 apart on some CPUs)
    atol = 1e-5 if name == "part" else 1e-6
    torch.testing.assert_close(blocked, whole, atol=atol, rtol=0)
    # with gradients (training) the batch runs in one pass and matches too
    torch.testing.assert_close(model(x, mask).detach(), whole, atol=atol, rtol=0)
