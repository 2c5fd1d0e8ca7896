"""Model `transformer_pair`: the Transformer with `salt_pair`'s leading-particle pair inputs.

The generic model tests (shapes, padding, permutations, gradients, export, FLOPs, compiled path) run
over it as a registered model; here: it is the Transformer plus exactly salt_pair's pair term, its
parameter and FLOP counts, and its errors.
"""

from __future__ import annotations

import pytest
import torch

from conftest import random_jets
from saltjet.cost.flops import analytic_flops
from saltjet.errors import ConfigError
from saltjet.models import count_parameters, create_model

LOG = ["log_pt", "log_ptrel", "log_e", "eta_rel", "phi_rel", "delta_r"]


def _jets(n_features: int = 6):
    x, mask = random_jets(8, 150, n_features, seed=3)
    x[..., 0] = x[..., 0].abs() + 0.5  # ln pT: physical, no ties between particles
    return x, mask


def test_zero_pair_term_is_the_transformer():
    """With the pair embedding zeroed, the same weights give the Transformer's logits exactly."""
    torch.manual_seed(0)
    pair = create_model("transformer_pair", n_features=6, features=LOG).eval()
    plain = create_model("transformer", n_features=6).eval()
    missing = plain.load_state_dict(pair.state_dict(), strict=False)
    assert all(k.startswith("pairs.") for k in missing.unexpected_keys) and not missing.missing_keys
    x, mask = _jets()
    with torch.no_grad():
        assert not torch.allclose(pair(x, mask), plain(x, mask))  # the pair term is there
        torch.nn.init.zeros_(pair.pairs.input_embed.weight)
        torch.nn.init.zeros_(pair.pairs.input_embed.bias)
        assert torch.equal(pair(x, mask), plain(x, mask))


def _pair_terms(reference, *models):
    """Each model's pair term (B, n, d) on the same jets, with `reference`'s pair weights."""
    x, mask = _jets()
    x = x.masked_fill(~mask.unsqueeze(-1), 0.0)
    terms = []
    with torch.no_grad():
        for model in (reference, *models):
            model.pairs.load_state_dict(reference.pairs.state_dict())
            terms.append(model.pairs.inputs(model.pairs.features(x, mask)))
    return terms


def test_pair_term_is_salt_pairs_with_leading_anchors():
    """The same pair weights give the same pair term in both models (leading anchors, inputs)."""
    torch.manual_seed(1)
    tp = create_model("transformer_pair", n_features=6, features=LOG).eval()
    sp = create_model("salt_pair", n_features=6, features=LOG, pair_anchors="leading").eval()
    a, b = _pair_terms(tp, sp)
    assert torch.equal(a, b)


def test_leading_jet_anchors_are_salt_pairs():
    """pair_anchors leading_jet: the same pair term as salt_pair's default for the same weights."""
    torch.manual_seed(2)
    tp = create_model("transformer_pair", n_features=6, features=LOG, pair_anchors="leading_jet").eval()
    sp = create_model("salt_pair", n_features=6, features=LOG).eval()
    assert sp.config.pair_anchors == "leading_jet"
    a, b, c = _pair_terms(tp, sp, create_model("transformer_pair", n_features=6, features=LOG).eval())
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_parameters_and_flops():
    """2,009 (Transformer) + (4·k + 1)·d for the pair inputs; FLOPs add 2·n·4·k·d."""
    assert count_parameters(create_model("transformer_pair")) == 2009 + 17 * 16
    assert count_parameters(create_model("transformer_pair", pair_leading=2)) == 2009 + 9 * 16
    extra = analytic_flops("transformer_pair").total - analytic_flops("transformer").total
    assert extra == 2 * 150 * 4 * 4 * 16
    assert analytic_flops("transformer_pair").by_layer()["pair_inputs"] == extra


def test_any_length_and_fewer_particles_than_anchors():
    """Like the Transformer it takes any number of slots; a jet with fewer than k particles is fine."""
    model = create_model("transformer_pair", n_features=3).eval()
    x, mask = random_jets(3, 7, 3, seed=4)
    x[..., 0] = x[..., 0].abs() + 1.0
    mask[:, 2:] = False
    with torch.no_grad():
        out = model(x, mask)
    assert out.shape == (3, 5) and torch.isfinite(out).all()


@pytest.mark.parametrize("options, match", [
    ({"pair_leading": 0}, "pair_leading"),
    ({"pair_leading": 2.5}, "pair_leading"),
    ({"features": ["pt", "eta_rel"], "n_features": 2}, "phi_rel"),
    ({"features": "log"}, "n_features=3"),
    ({"pair_anchors": "partitions"}, "unknown pair_anchors 'partitions'; choose from leading, leading_jet"),
    ({"pair_anchors": "leading_jet", "pair_leading": 1}, "needs pair_leading ≥ 2, got 1"),
])
def test_bad_options_are_one_line_errors(options, match):
    with pytest.raises(ConfigError, match=match):
        create_model("transformer_pair", **options)
