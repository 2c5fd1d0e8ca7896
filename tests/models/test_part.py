"""Model `part`: weaver-core's ParticleTransformer behind saltjet's tagger interface.

Shapes, the exact parameter count, padding (any value changes nothing), invariance under permuting
the real particles, gradients, determinism, the 4-vectors, feature names, the FLOP count, and the
one-line errors (missing weaver-core, features without pT/η/φ). Skipped without weaver-core, except
the tests of what happens without it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from conftest import random_jets, weaver_installed
from saltjet.errors import ConfigError, MissingExtraError
from saltjet.models import count_parameters, create_model, model_config

needs_weaver = pytest.mark.skipif(not weaver_installed(),
                                  reason="needs weaver-core (pip install --no-deps weaver-core==0.5.3)")
LOG = ["log_pt", "log_ptrel", "log_e", "eta_rel", "phi_rel", "delta_r"]


def _model(**options):
    torch.manual_seed(0)
    return create_model("part", n_particles=40, **options).eval()


def log_features(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The `log` set (B, n, 6) from raw jets (pt, eta_rel, phi_rel); padded slots 0."""
    pt, eta, phi = x[..., 0].clamp_min(1e-3), x[..., 1], x[..., 2]
    jet_pt = torch.hypot((pt * torch.cos(phi) * mask).sum(1), (pt * torch.sin(phi) * mask).sum(1)).unsqueeze(1)
    f = torch.stack([pt.log(), (pt / jet_pt).log(), (pt * torch.cosh(eta)).log(), eta, phi, torch.hypot(eta, phi)], -1)
    return f.masked_fill(~mask.unsqueeze(-1), 0.0)


@needs_weaver
@pytest.mark.parametrize("n_classes, out", [(5, 5), (2, 1), (10, 10)])
def test_output_shape(n_classes, out):
    x, mask = random_jets(7, 40)
    assert _model(n_classes=n_classes)(x, mask).shape == (7, out)


@needs_weaver
def test_parameter_count_is_exact():
    # embedding 3→32→32→32 with LayerNorms: 6+128 + 64+1056 + 64+1056 = 2,374
    # pair embedding BN(4), 4→16→16→16→4 with BNs: 8 + 80+32 + 272+32 + 272+32 + 68+8 = 804
    # particle block (d 32, 4 heads, FFN 128): 4 LayerNorms 448, qkv 3,168, out 1,056, FFN 8,352, c_attn 4,
    # w_resid 32 = 13,060; two of them and one class-attention block: 39,180; class token 32; norm 64; head 165
    assert count_parameters(create_model("part")) == 2374 + 804 + 3 * 13060 + 32 + 64 + 165 == 42619
    assert count_parameters(create_model("part", n_classes=2)) == 42619 - 4 * 33
    assert count_parameters(create_model("part", features="log", n_features=6)) == 42619 + 3 * 2 + 3 * 32


@needs_weaver
@pytest.mark.parametrize("fill", [float("nan"), float("inf"), -1e30, 7.0])
@pytest.mark.parametrize("options", [{}, {"pooling": "mean"}, {"features": "log", "n_features": 6}])
def test_padded_slots_change_nothing_whatever_they_hold(fill, options):
    model = _model(**options)
    x, mask = random_jets(9, 40, seed=3)
    if options.get("features") == "log":
        x = log_features(x, mask)
    with torch.no_grad():
        zeros = model(x, mask)
        assert torch.equal(model(x.masked_fill(~mask.unsqueeze(-1), fill), mask), zeros)
        assert torch.equal(model.classify(x.masked_fill(~mask.unsqueeze(-1), fill), mask), model.classify(x, mask))


@needs_weaver
def test_padding_anywhere_changes_nothing_and_training_mode_too():
    """Padding between real particles, and the training path (sparse pair embedding, BatchNorm statistics)."""
    model = _model()
    x, _ = random_jets(6, 40, seed=5)
    mask = torch.rand(6, 40, generator=torch.Generator().manual_seed(1)) < 0.5
    mask[:, 3] = True
    garbage = torch.where(mask.unsqueeze(-1), x, torch.full_like(x, float("nan")))
    with torch.no_grad():
        torch.testing.assert_close(model(x, mask), model(garbage, mask), atol=0, rtol=0)
    model.train()
    torch.testing.assert_close(model(x, mask), model(garbage, mask), atol=0, rtol=0)


@needs_weaver
@pytest.mark.parametrize("train", [False, True])
def test_permuting_the_real_particles_leaves_the_logits(train):
    """ParT has no positional encoding: any order of a jet's particles (padding included) gives the same logits."""
    model = _model().train(train)
    x, mask = random_jets(10, 40, seed=6, min_particles=2)
    g = torch.Generator().manual_seed(2)
    order = torch.stack([torch.randperm(40, generator=g) for _ in range(10)])
    x_perm, m_perm = torch.gather(x, 1, order.unsqueeze(-1).expand_as(x)), torch.gather(mask, 1, order)
    with torch.no_grad():
        torch.testing.assert_close(model(x_perm, m_perm), model(x, mask), atol=2e-5, rtol=1e-5)


@needs_weaver
def test_eager_sparse_pairs_equal_the_dense_graph_path():
    """`forward` embeds only the real pairs (weaver's default), `classify` and traced graphs every pair."""
    model = _model()
    x, mask = random_jets(12, 40, seed=11)
    with torch.no_grad():
        torch.testing.assert_close(model(x, mask), model.classify(x, mask), atol=2e-6, rtol=1e-5)
    assert model.part.pair_embed.sparse_eval == (True, False)  # restored after the eager pass


# Zero gradient analytically in training mode: a bias followed by a BatchNorm (which removes the batch
# mean), and the last pair BatchNorm's bias (one shift of all attention logits of a head: softmax ignores it).
ZERO_GRADIENT = {f"part.pair_embed.embed.{i}.bias" for i in (0, 1, 4, 7, 10, 11)}


@needs_weaver
def test_gradients_reach_every_parameter():
    model = create_model("part", n_particles=30).train()
    x, mask = random_jets(16, 30, min_particles=10)
    model(x, mask).square().sum().backward()
    top = max(float(p.grad.abs().max()) for p in model.parameters())
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        if name in ZERO_GRADIENT:
            assert p.grad.abs().max() < 1e-5 * top, name
        else:
            assert p.grad.abs().max() > 1e-4 * top, f"no gradient for {name}"


@needs_weaver
def test_nan_padding_leaves_gradients_finite():
    model = _model().train()
    x, mask = random_jets(8, 40, seed=5)
    model(x.masked_fill(~mask.unsqueeze(-1), float("nan")), mask).square().sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@needs_weaver
def test_same_seed_same_model_and_logits():
    x, mask = random_jets(4, 30)
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        outs.append(create_model("part", n_particles=30).eval()(x, mask))
    assert torch.equal(outs[0], outs[1])
    torch.manual_seed(124)
    assert not torch.equal(outs[0], create_model("part", n_particles=30).eval()(x, mask))


@needs_weaver
def test_four_vectors_are_massless_in_the_jet_frame():
    model = _model(features=["phi_rel", "log_pt", "eta_rel"])  # any order; pT from log pT
    x, mask = random_jets(3, 40, seed=7)
    features = torch.stack([x[..., 2], x[..., 0].log(), x[..., 1]], -1).masked_fill(~mask.unsqueeze(-1), 0)
    v = model.four_vectors(features, mask)
    px, py, pz, e = v.double().unbind(1)
    real = mask
    pt, eta, phi = x[..., 0].double(), x[..., 1].double(), x[..., 2].double()
    torch.testing.assert_close(torch.hypot(px, py)[real], pt[real], rtol=1e-6, atol=0)
    torch.testing.assert_close(torch.atan2(py, px)[real], phi[real], rtol=0, atol=1e-5)
    torch.testing.assert_close(torch.asinh(pz / torch.hypot(px, py))[real], eta[real], rtol=0, atol=1e-5)
    p = torch.sqrt(px * px + py * py + pz * pz)
    assert ((e < p) & (e > p * (1 - 1e-5)))[real].all()  # a hair below |p|: self-pair m² < 0 (part.ENERGY_SHRINK)
    padded = v.permute(0, 2, 1)[~mask]  # (padded slots, 4): one fixed vector, pT 1 at η = φ = 0
    assert len(padded) and torch.equal(padded, torch.tensor([[1.0, 0.0, 0.0, 1.0 - 2.0**-18]]).expand_as(padded))


@needs_weaver
def test_feature_names_set_and_order():
    assert model_config("part", features="log", n_features=6).features == tuple(LOG)
    assert model_config("part").to_dict()["features"] == ["pt", "eta_rel", "phi_rel"]
    x, mask = random_jets(5, 40, seed=8)
    feats = log_features(x, mask)
    model = _model(features="log", n_features=6)
    with torch.no_grad():
        assert model(feats, mask).shape == (5, 5)
    # the 4-vectors (so the pair features) of the log set equal those of the raw set
    raw = _model()
    torch.testing.assert_close(model.four_vectors(feats, mask), raw.four_vectors(x, mask), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"features": ["log_e", "eta_rel", "phi_rel"]}, "features need pt or log_pt, eta_rel and phi_rel, got log_e, "),
        ({"features": "hls"}, "features need pt or log_pt, eta_rel and phi_rel, got hls$"),
        ({"features": []}, "features must be a feature set name or a list"),
        ({"pooling": "max"}, "unknown pooling 'max'; choose from cls, mean"),
        ({"norm": "dyt"}, "unknown norm 'dyt'; choose from layernorm"),
        ({"d_ff": 48}, "d_ff=48 must be a multiple of d_model=32"),
        ({"num_cls_layers": 0}, "num_cls_layers must be a whole number ≥ 1"),
        ({"pair_embed_dims": "16"}, "pair_embed_dims must be a list"),
        ({"embed_hidden": [32, 0]}, "embed_hidden entries must be a whole number ≥ 1"),
    ],
)
def test_bad_options_are_one_line_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        model_config("part", **options)


@needs_weaver
def test_feature_count_must_match_n_features():
    message = r"3 feature names \(pt, eta_rel, phi_rel\) for n_features=6; .*model.features=log"
    with pytest.raises(ConfigError, match=message):
        create_model("part", n_features=6)


def test_without_weaver_building_part_is_one_line_and_saltjet_never_imports_it():
    """A fresh interpreter where `import weaver` fails: saltjet and its other models work, and building
    `part` says how to install weaver-core."""
    code = (
        "import sys; sys.modules['weaver'] = None\n"
        "import saltjet, saltjet.models, saltjet.cost.flops, saltjet.training.loop\n"
        "from saltjet.models import create_model, list_models\n"
        "assert 'part' in list_models()\n"
        "create_model('salt'); create_model('transformer')\n"
        "try:\n    create_model('part')\nexcept Exception as e:\n    print(type(e).__name__, e.extra, e)\n"
    )
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == ("MissingExtraError part model 'part' needs weaver-core, which is not installed; install "
                                  "it with: pip install --no-deps weaver-core==0.5.3 (it needs only torch)")
    untouched = subprocess.run([sys.executable, "-c", "import sys, saltjet.models, saltjet.cli; "
                                "print(any(m.split('.')[0] == 'weaver' for m in sys.modules))"],
                               capture_output=True, text=True, timeout=300)
    assert untouched.stdout.strip() == "False", untouched.stderr


def test_missing_extra_error_is_a_missing_extra_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "weaver", None)
    for key in [k for k in sys.modules if k.startswith("weaver.")]:
        monkeypatch.setitem(sys.modules, key, None)
    with pytest.raises(MissingExtraError, match="^model 'part' needs weaver-core") as e:
        create_model("part")
    assert e.value.extra == "part" and "\n" not in str(e.value)


@needs_weaver
def test_analytic_flops_equal_the_counted_ones_and_grow_as_n_squared():
    from saltjet.cost.flops import analytic_flops, measured_flops

    for options in ({}, {"pooling": "mean", "fc_dims": (16,), "n_layers": 1}):
        model = create_model("part", n_particles=24, **options).eval()
        x, mask = random_jets(3, 24)
        assert analytic_flops(model).total == measured_flops(model, x, mask) > 0
    f = {n: analytic_flops("part", n_particles=n).total for n in (50, 100, 150, 200)}
    first = [f[100] - f[50], f[150] - f[100], f[200] - f[150]]
    assert first[1] - first[0] == first[2] - first[1] > 0  # quadratic: attention and the n(n+1)/2 pairs
    assert f[150] == 28_930_624


NO_ENERGY = ["log_pt", "eta_rel", "phi_rel", "delta_r"]  # toy jets carry no energy


@needs_weaver
def test_training_hands_the_runs_feature_names_to_the_model(tmp_path):
    """A run with log features must build its 4-vectors from log_pt, not read column 0 as pT:
    the training loop passes the run's feature names; they are refused as a model option."""
    from saltjet.config import RunConfig
    from saltjet.data.toy import toy_jets
    from saltjet.training.loop import train
    from saltjet.training.run import load_run

    config = RunConfig.from_dict({"model": "part", "data": {"n_particles": 20, "val_fraction": 0.25, "features": NO_ENERGY},
                                  "train": {"epochs": 1, "batch_size": 32, "num_threads": 1, "quiet": True}})
    train(config, tmp_path / "run", data=toy_jets(80, n_classes=2, n_slots=20, seed=0))
    model, _ = load_run(tmp_path / "run")
    assert list(model.config.features) == NO_ENERGY
    with pytest.raises(ConfigError, match="come from the data"):
        RunConfig.from_dict({"model": "part", "model_options": {"features": "raw"}})
