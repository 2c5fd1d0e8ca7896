"""Dropping the slots that are padding in every jet of a batch changes no logit (and no gradient)."""

from __future__ import annotations

import pytest
import torch

from conftest import random_jets
from saltjet.models import create_model, list_models
from saltjet.models.layers import trim_padding


def short_jets(batch: int, n: int, longest: int, seed: int = 0):
    """Jets of at most `longest` particles in n slots, padding last."""
    x, mask = random_jets(batch, longest, seed=seed)
    return torch.nn.functional.pad(x, (0, 0, 0, n - longest)), torch.nn.functional.pad(mask, (0, n - longest))


def test_trim_padding_cuts_to_the_last_slot_any_jet_uses():
    x, mask = short_jets(6, 40, 23)
    mask[:, 22] = False
    mask[3, 22] = True  # one jet reaches slot 22
    xt, mt = trim_padding(x, mask)
    assert mt.shape == (6, 23) and xt.shape == (6, 23, 3)
    assert torch.equal(mt, mask[:, :23])
    full = torch.ones(2, 9, dtype=torch.bool)
    assert trim_padding(torch.zeros(2, 9, 3), full)[1].shape == (2, 9)


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("longest", [1, 17, 37, 38, 39, 75])
def test_trimmed_batch_gives_the_same_logits_and_gradients(name, longest):
    torch.manual_seed(0)
    model = create_model(name, n_particles=150)
    x, mask = short_jets(8, 150, longest, seed=longest)
    fast = model(x, mask)  # forward trims
    slow = model.classify(x, mask)  # every slot
    torch.testing.assert_close(fast, slow, atol=1e-6, rtol=1e-6)
    grads = []
    for fn in (model, model.classify):
        model.zero_grad()
        fn(x, mask).square().sum().backward()
        grads.append({k: p.grad.clone() for k, p in model.named_parameters()})
    # float rounding differs with the summation length. ParT's pair embedding normalises with training-mode
    # BatchNorm, whose backward cancels large terms: rounding shows at up to 8e-5 of a tensor's largest
    # gradient, and the biases just before a BatchNorm (zero gradient analytically) keep ~1e-7 of noise
    # (measured; in float64 both paths agree to 1e-14)
    rel, floor = (3e-4, 3e-7) if name == "part" else (1e-5, 1e-9)
    for k, slow_grad in grads[1].items():
        scale = float(slow_grad.abs().max())
        torch.testing.assert_close(grads[0][k], slow_grad, atol=rel * scale + floor, rtol=1e-4, msg=k)
