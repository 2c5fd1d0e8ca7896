"""Models facing hostile input: any value in padded slots, empty jets, non-finite real particles,
numpy/float64 inputs, and model options of the wrong type or range (one `ConfigError` line)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import random_jets
from saltjet.errors import ConfigError, InputError
from saltjet.models import count_parameters, create_model, list_models

MODELS = list_models()
FILLS = [float("nan"), float("inf"), float("-inf"), 1e30, -1e30]


def _model(name, **options):
    torch.manual_seed(0)
    return create_model(name, n_particles=40, **options).eval()


def _fill_padding(x, mask, value):
    return x.masked_fill(~mask.unsqueeze(-1), value)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("options", [{}, {"n_layers": 2, "pooling": "mean", "norm": "layernorm"}])
@pytest.mark.parametrize("fill", FILLS)
def test_any_value_in_padded_slots_gives_exactly_the_logits_of_zeros(name, options, fill):
    model = _model(name, **options)
    x, mask = random_jets(9, 40, seed=3)
    with torch.no_grad():
        assert torch.equal(model(_fill_padding(x, mask, fill), mask), model(_fill_padding(x, mask, 0.0), mask))


@pytest.mark.parametrize("conv_mode", ["depthwise", "none"])
@pytest.mark.parametrize("fill", [float("nan"), float("inf")])
def test_salt_conv_modes_ignore_non_finite_padding(conv_mode, fill):
    model = _model("salt", conv_mode=conv_mode)
    x, mask = random_jets(9, 40, seed=4)
    with torch.no_grad():
        assert torch.equal(model(_fill_padding(x, mask, fill), mask), model(_fill_padding(x, mask, 0.0), mask))


@pytest.mark.parametrize("name", MODELS)
def test_nan_padding_leaves_gradients_finite(name):
    model = _model(name).train()
    x, mask = random_jets(8, 40, seed=5)
    model(_fill_padding(x, mask, float("nan")), mask).square().sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("fill", [float("nan"), float("inf")])
def test_salt_attention_fast_path_equals_literal_with_non_finite_padding(fill):
    """Both SAL-T attention paths select padded rows away, so non-finite padded rows change neither."""
    from saltjet.models.attention import PartitionedAttention

    torch.manual_seed(0)
    attn = PartitionedAttention(16, 4, 37, 4, (1, 3, 5), "shared")
    h = torch.randn(5, 37, 16)
    mask = torch.rand(5, 37, generator=torch.Generator().manual_seed(3)) < 0.6
    mask[:, 0] = True
    h_bad = h.masked_fill(~mask.unsqueeze(-1), fill)
    real = mask.unsqueeze(-1).expand(5, 37, 16)
    with torch.no_grad():
        fast, ref = attn(h_bad, mask)[real], attn.forward_reference(h_bad, mask)[real]
    torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_traced_graph_gives_a_nan_row_for_an_empty_jet_and_leaves_the_others(name):
    """What the exported graph does (it cannot raise): the empty jet's row is NaN, the rest unchanged."""
    model = _model(name)
    x, mask = random_jets(5, 40, seed=6)
    empty = mask.clone()
    empty[2] = False
    with torch.no_grad():
        expected = model(x, mask)
        got = model.classify(_fill_padding(x, empty, float("nan")), empty)  # the graph without eager checks
    rest = [0, 1, 3, 4]
    assert torch.isnan(got[2]).all()
    if name == "part":  # eager embeds the real pairs only, `classify` every pair: rounding apart on some CPUs
        torch.testing.assert_close(got[rest], expected[rest], atol=1e-5, rtol=0)
    else:
        assert torch.equal(got[rest], expected[rest])


@pytest.mark.parametrize("name", MODELS)
def test_traced_graph_gives_a_nan_row_for_a_non_finite_real_particle(name):
    model = _model(name)
    x, mask = random_jets(4, 40, seed=7)
    x[1, 0, 0] = float("inf")  # slot 0 is always real in random_jets
    with torch.no_grad():
        got = model.classify(x, mask)
    assert torch.isnan(got[1]).all() and torch.isfinite(got[[0, 2, 3]]).all()


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_feature_in_a_real_particle_is_refused(name, bad):
    model = _model(name)
    x, mask = random_jets(4, 40, seed=8)
    x[3, 0, 1] = bad
    with pytest.raises(InputError, match="1 of 4 jets have NaN or inf features in real particles"):
        model(x, mask)


@pytest.mark.parametrize("name", MODELS)
def test_float64_and_numpy_inputs_are_cast_to_float32(name):
    model = _model(name)
    x, mask = random_jets(6, 40, seed=9)
    with torch.no_grad():
        expected = model(x, mask)
        got = model(x.numpy().astype(np.float64), mask.numpy())
    assert got.dtype == torch.float32 and torch.equal(got, expected)


def test_float64_tensor_is_cast_like_numpy():
    model = _model("salt")
    x, mask = random_jets(3, 40, seed=10)
    with torch.no_grad():
        assert torch.equal(model(x.double(), mask), model(x, mask))


@pytest.mark.parametrize("x", [np.ones((2, 40, 3), dtype=np.int64), np.full((2, 40, 3), "1.0"), "jets"])
def test_non_float_x_is_a_one_line_input_error(x):
    mask = np.ones((2, 40), dtype=bool)
    with pytest.raises(InputError, match="^x must"):
        _model("salt")(x, mask)


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("salt", {"n_particles": 150.5}, "n_particles must be a whole number ≥ 1, got 150.5"),
        ("salt", {"d_model": "16"}, "d_model must be a whole number ≥ 1, got '16'"),
        ("salt", {"n_heads": True}, "n_heads must be a whole number"),
        ("salt", {"n_layers": 0}, "n_layers must be a whole number ≥ 1"),
        ("salt", {"d_ff": -4}, "d_ff must be a whole number ≥ 1"),
        ("salt", {"n_features": None}, "n_features must be a whole number"),
        ("salt", {"n_classes": 2.0}, "n_classes must be a whole number ≥ 2"),
        ("salt", {"dropout": float("nan")}, r"dropout must be a number in \[0, 1\)"),
        ("salt", {"dropout": "0.1"}, "dropout must be a number"),
        ("salt", {"norm": None}, "unknown norm None"),
        ("salt", {"pooling": ["max"]}, "unknown pooling"),
        ("salt", {"partitions": 4.0}, "partitions must be a whole number"),
        ("salt", {"partitions": 151}, r"partitions must be in 1\.\.n_particles=150"),
        ("salt", {"conv_heights": "135"}, "conv_heights must be a list"),
        ("salt", {"conv_heights": [1, 3.5]}, "conv_heights entries must be a whole number"),
        ("salt", {"conv_mode": None}, "unknown conv_mode None"),
        ("linformer", {"proj_dim": "4"}, "proj_dim must be a whole number"),
        ("transformer", {"d_model": 16.0}, "d_model must be a whole number"),
    ],
)
def test_model_options_of_wrong_type_or_range_are_one_line_config_errors(name, options, message):
    with pytest.raises(ConfigError, match=message):
        create_model(name, **options)


def test_numpy_integers_are_accepted_as_whole_numbers():
    model = create_model("salt", n_particles=np.int64(150), d_model=np.int32(16))
    assert count_parameters(model) == 3264 and type(model.config.n_particles) is int


def test_layers_do_not_repeat_the_config_checks():
    """Options are validated once, in the config dataclasses (issue 10): the layers hold no checks."""
    import inspect

    from saltjet.models import attention, layers

    assert "ConfigError" not in inspect.getsource(attention) + inspect.getsource(layers)
