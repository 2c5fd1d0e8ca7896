"""The low-latency paths (issue 15) compute the literal model: cached weight folds, the one-product
SAL-T attention without gradients, the eager path without the NaN-row selection, shipped models."""

from __future__ import annotations

import pytest
import torch

from conftest import random_jets
from saltjet import pretrained
from saltjet.models import create_model
from saltjet.models.attention import PartitionedAttention
from saltjet.models.layers import check_inputs, masked_pool
from saltjet.training.run import load_run


def reference_logits(model, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The tagger written out literally: scaler, then embedding (plus `salt_pair`'s pair inputs and
    bias), SAL-T's `forward_reference`, every slot (no trimming), no weight folds.
    x: (B, n, F), mask: (B, n) -> (B, out)."""
    x = x.masked_fill(~mask.unsqueeze(-1), 0.0)
    h, bias = model.embed(model.scaler(x)), None
    pairs = getattr(model, "pairs", None)
    if pairs is not None:
        f = pairs.features(x, mask)
        h = h + pairs.inputs(f) if pairs.input_embed is not None else h
        bias = pairs.bias(f) if pairs.bias_embed is not None else None
    for block in model.blocks:
        attn = block.attn
        a = attn.forward_reference(h, mask, bias) if isinstance(attn, PartitionedAttention) else attn(h, mask)
        h = block.norm1(h + a)
        h = block.norm2(h + block.ffn(h))
    return model.head(masked_pool(h, mask, model.config.pooling))


def _attention(n_particles: int, p: int, conv_mode: str) -> PartitionedAttention:
    torch.manual_seed(0)
    attn = PartitionedAttention(16, 4, n_particles, p, (1, 3, 5), conv_mode).eval()
    if attn.conv is not None:
        for conv in attn.conv.convs:
            torch.nn.init.normal_(conv.bias)
    return attn


@pytest.mark.parametrize("conv_mode", ["shared", "depthwise", "none"])
@pytest.mark.parametrize("n_particles, n, p", [(150, 150, 4), (150, 65, 4), (37, 37, 4), (37, 30, 4),
                                                (40, 40, 8), (9, 9, 3), (1024, 96, 4)])
@pytest.mark.parametrize("large", [False, True])
def test_cached_fast_attention_equals_the_literal_one(conv_mode, n_particles, n, p, large):
    """Without gradients `forward` uses the cached folds; n < n_particles is a trimmed batch, n not a
    multiple of p leaves the last partition short. Masks with holes; padded rows hold NaN. `large`:
    the large-batch form (logits, then the convolution as one Conv1d), forced by its threshold."""
    attn = _attention(n_particles, p, conv_mode)
    attn.LARGE_BATCH_SLOTS = 1 if large else 10**12
    h = torch.randn(6, n, 16)
    mask = torch.rand(6, n, generator=torch.Generator().manual_seed(n)) < 0.6
    mask[:, 0] = True
    mask[1] = False
    mask[1, n - 1] = True  # one jet whose only particle sits in the last slot
    h = h.masked_fill(~mask.unsqueeze(-1), float("nan"))
    real = mask.unsqueeze(-1).expand_as(h)
    with torch.no_grad():
        fast, ref = attn(h, mask), attn.forward_reference(h, mask)
        assert "_folded" in attn.__dict__  # the cached path ran
    torch.testing.assert_close(fast[real], ref[real], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("conv_mode", ["shared", "depthwise", "none"])
@pytest.mark.parametrize("n, p", [(150, 4), (37, 4), (9, 3)])
def test_traced_attention_equals_the_literal_one(conv_mode, n, p):
    """The TorchScript trace (what ONNX export records) shifts rows with a constant Conv instead of
    unfold; it must compute the same function, padding and empty partitions included."""
    attn = _attention(n, p, conv_mode)
    h = torch.randn(4, n, 16)
    mask = torch.rand(4, n, generator=torch.Generator().manual_seed(2)) < 0.5
    mask[:, 0] = True
    mask[2, n // 2:] = False
    with torch.no_grad():
        attn(h, mask)
        traced = torch.jit.trace(attn, (h, mask), check_trace=False)
        got, ref = traced(h.masked_fill(~mask.unsqueeze(-1), float("nan")), mask), attn.forward_reference(h, mask)
    real = mask.unsqueeze(-1).expand_as(h)
    torch.testing.assert_close(got[real], ref[real], atol=1e-5, rtol=1e-5)


def test_cached_folds_follow_in_place_weight_changes_and_loaded_weights():
    attn = _attention(40, 4, "shared")
    other = _attention(40, 4, "depthwise")  # different convolution: not loadable, so change weights by hand
    h, mask = torch.randn(3, 40, 16), torch.ones(3, 40, dtype=torch.bool)
    with torch.no_grad():
        before = attn(h, mask)
        attn.qkv.weight.mul_(1.5)  # an optimiser step acts in place like this
        after = attn(h, mask)
        torch.testing.assert_close(after, attn.forward_reference(h, mask), atol=1e-5, rtol=1e-5)
        assert not torch.allclose(before, after)
        twin = _attention(40, 4, "shared")
        torch.nn.init.normal_(twin.key_collapse)
        attn.load_state_dict(twin.state_dict())
        torch.testing.assert_close(attn(h, mask), twin.forward_reference(h, mask), atol=1e-5, rtol=1e-5)
    assert other.conv is not None


def test_the_cache_is_not_state():
    """Folds live outside the state_dict: keys and shapes stay those of the shipped models."""
    model = create_model("salt", n_particles=40).eval()
    keys = {k: v.shape for k, v in model.state_dict().items()}
    with torch.no_grad():
        model(*random_jets(2, 40))
    assert {k: v.shape for k, v in model.state_dict().items()} == keys
    assert not any("fold" in k for k in keys)


@pytest.mark.parametrize("name", ["salt", "linformer", "transformer"])
def test_eager_inference_equals_the_literal_tagger(name):
    torch.manual_seed(0)
    model = create_model(name, n_particles=40).eval()
    model.scaler.set([20.0, 0.1, -0.1], [50.0, 0.5, 2.0])
    x, mask = random_jets(9, 40, seed=4)
    x = x.masked_fill(~mask.unsqueeze(-1), float("inf"))
    with torch.no_grad():
        fast = model(x, mask)  # checked, trimmed, cached attention folds, no NaN-row selection
        ref = reference_logits(model, x, mask)
    torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-5)
    with torch.enable_grad():  # the training path (no folds) gives the same logits too
        torch.testing.assert_close(model(x, mask).detach(), ref, atol=1e-5, rtol=1e-5)
    with torch.no_grad():  # new weights after the folds were cached: they are rebuilt
        model.scaler.set([5.0, 0.0, 0.0], [10.0, 1.0, 1.0])
        model.embed[0].weight.mul_(2.0)
        torch.testing.assert_close(model(x, mask), reference_logits(model, x, mask), atol=1e-5, rtol=1e-5)


def test_check_inputs_accepts_jets_whose_feature_sum_overflows():
    """The one-pass test of the common case is a finite sum; an overflowing sum of finite values
    falls back to counting and is accepted."""
    x, mask = random_jets(2, 8)
    x[:, :2, 0] = 3e38
    got, _ = check_inputs(x, mask, 3, 8)
    assert torch.isfinite(got).all() and not torch.isfinite(got.sum())


@pytest.mark.parametrize("name", pretrained.available())
def test_shipped_models_score_as_the_literal_model(name):
    """The shipped weights load unchanged (same keys and shapes) and give the literal logits."""
    model, info = load_run(pretrained.path(name))
    model.eval()
    c = model.config
    x, mask = random_jets(16, c.n_particles, c.n_features, seed=5)
    if "log_pt" in getattr(c, "features", ()):  # salt_pair reads pT from ln pT: keep it physical (no ties)
        col = list(c.features).index("log_pt")
        x[..., col] = torch.log1p(x[..., col].abs())
    with torch.no_grad():
        torch.testing.assert_close(model(x, mask), reference_logits(model, x, mask), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("conv_mode", ["shared", "depthwise"])
def test_large_batch_form_has_the_product_forms_values_and_gradients(conv_mode):
    """Both eager forms of the logits (one shifted product; logits then Conv1d) give the literal
    attention's values and gradients (padded rows random: the literal form's backward is not NaN-safe)."""
    attn = _attention(150, 4, conv_mode).train()
    torch.manual_seed(1)
    h = torch.randn(5, 150, 16)
    mask = torch.arange(150)[None] < torch.tensor([[150], [90], [37], [4], [1]])
    grads = {}
    for form, threshold in (("reference", None), ("product", 10**12), ("conv1d", 1)):
        x = h.clone().requires_grad_(True)
        if threshold is None:
            out = attn.forward_reference(x, mask)
        else:
            attn.LARGE_BATCH_SLOTS = threshold
            out = attn(x, mask)
        out[mask].sum().backward()
        grads[form] = (out[mask].detach(), x.grad[mask], attn.qkv.weight.grad.clone())
        attn.zero_grad()
    for form in ("product", "conv1d"):
        for got, want in zip(grads[form], grads["reference"]):
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
