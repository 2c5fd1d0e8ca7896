"""Analytic FLOP counts vs PyTorch's FlopCounterMode on the real graph; scaling in n; paper numbers."""

from __future__ import annotations

import pytest

from conftest import random_jets
from saltjet.cost.flops import analytic_flops, literal_flops, measured_flops, paper_convention_flops
from saltjet.models import create_model, list_models


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("n", [8, 37, 64])
def test_analytic_count_equals_the_flop_counter(name, n):
    model = create_model(name, n_particles=n).eval()
    x, mask = random_jets(3, n)
    assert analytic_flops(model).total == measured_flops(model, x, mask) > 0


@pytest.mark.parametrize(
    "name, options",
    [("salt", {"conv_mode": "depthwise", "n_layers": 2, "partitions": 8}), ("salt", {"conv_mode": "none"}),
     ("salt", {"conv_heights": (3, 7), "n_classes": 2}), ("linformer", {"proj_dim": 8, "n_layers": 2}),
     ("transformer", {"d_model": 32, "n_heads": 8, "d_ff": 64})],
)
def test_analytic_count_follows_the_config(name, options):
    model = create_model(name, n_particles=30, **options).eval()
    x, mask = random_jets(2, 30)
    assert analytic_flops(name, n_particles=30, **options).total == measured_flops(model, x, mask)


def test_salt_flops_are_linear_in_n():
    f = {n: analytic_flops("salt", n_particles=n).total for n in (40, 80, 120, 160)}
    assert f[80] - f[40] == f[120] - f[80] == f[160] - f[120] > 0
    literal = {n: literal_flops("salt", n_particles=n).total for n in (40, 80, 120)}
    assert literal[80] - literal[40] == literal[120] - literal[80]


def test_linear_scaling_also_holds_on_the_measured_graph():
    def counted(n):
        x, mask = random_jets(1, n)
        return measured_flops(create_model("salt", n_particles=n).eval(), x, mask)

    assert counted(64) - counted(32) == counted(96) - counted(64)


def test_transformer_flops_are_quadratic_in_n():
    f = {n: analytic_flops("transformer", n_particles=n).total for n in (50, 100, 150, 200)}
    first = [f[100] - f[50], f[150] - f[100], f[200] - f[150]]
    second = [first[1] - first[0], first[2] - first[1]]
    assert second[0] == second[1] > 0  # constant second difference: a quadratic
    # and the n² term is the attention's 4·n²·d
    assert second[0] == 4 * 50 * 50 * 16 * 2


def test_layers_are_named_and_sum_to_the_total():
    count = analytic_flops("salt")
    layers = count.by_layer()
    assert {"embedding", "kv_collapse", "logits", "logit_conv", "ffn", "head"} <= set(layers)
    assert sum(layers.values()) == count.total
    assert "three convolutions" in next(l.note for l in count.layers if l.layer == "logit_conv")


def test_folded_salt_graph_trades_flops_for_operators():
    """forward runs logits and the (h_max=5) logit convolution as ONE product over 5 shifted copies of
    h: 5x the plain logit FLOPs, about 16 % more than the literal graph in all, for far fewer ops."""
    layers = analytic_flops("salt").by_layer()
    assert layers["logits"] + layers["logit_conv"] == 5 * layers["logits"]
    assert literal_flops("salt").total < analytic_flops("salt").total < 1.2 * literal_flops("salt").total
    none = analytic_flops("salt", conv_mode="none").by_layer()
    assert none["logit_conv"] == none["conv_fold"] == 0


def test_paper_convention_reproduces_the_published_table():
    # SAL-T paper, hls4ml 150 particles: 739,918 / 552,718 / 2,479,918 FLOPs per jet
    assert paper_convention_flops("salt") == 739_918
    assert paper_convention_flops("linformer") == 552_718
    assert paper_convention_flops("transformer") == 2_479_918
