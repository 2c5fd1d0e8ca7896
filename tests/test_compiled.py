"""`saltjet.compiled`: the Inductor-compiled tagger is the eager tagger's function, for one fixed shape.

Each compilation takes seconds, so one compiled tagger per paper model is shared by the module.
"""

from __future__ import annotations

import pytest
import torch

from conftest import random_jets
from saltjet.compiled import compile_for_inference, cxx_compiler
from saltjet.errors import ConfigError, InputError
from saltjet.models import create_model

N, BATCH = 24, 5
MODELS = ["salt", "linformer", "transformer"]

pytestmark = pytest.mark.skipif(cxx_compiler() is None, reason="Inductor needs a C++ compiler on the CPU")


@pytest.fixture(scope="module")
def compiled():
    out = {}
    for name in MODELS:
        torch.manual_seed(2)
        model = create_model(name, n_particles=N).eval()
        model.scaler.set(center=[20.0, 0.05, -0.02], scale=[35.0, 0.2, 0.3])  # a fitted, non-trivial scaling
        x, mask = random_jets(BATCH, N, seed=1)
        out[name] = (compile_for_inference(model, BATCH, example=(x, mask)), model)
    return out


@pytest.mark.parametrize("name", MODELS)
def test_compiled_equals_eager_on_new_jets(compiled, name):
    fast, model = compiled[name]
    x, mask = random_jets(BATCH, N, seed=7)  # not the jets it was compiled with
    with torch.no_grad():
        expected = model(x, mask)
    got = fast(x, mask)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-5, rtol=0)
    assert fast.max_abs_diff <= 1e-5 and fast.compile_seconds > 0


@pytest.mark.parametrize("name", MODELS)
def test_compiled_ignores_padded_slots_and_answers_bad_jets_with_nan_rows(compiled, name):
    """Like an ONNX graph: whatever the padded slots hold, the same logits; a jet without particles or
    with NaN in a real particle gets a NaN row and leaves the others untouched."""
    fast, model = compiled[name]
    x, mask = random_jets(BATCH, N, seed=8)
    clean = fast(x.masked_fill(~mask.unsqueeze(-1), 0.0), mask)
    assert torch.equal(fast(x.masked_fill(~mask.unsqueeze(-1), float("nan")), mask), clean)
    mask[1] = False
    x[3, 0, 0] = float("nan")
    got = fast(x, mask)
    assert torch.isnan(got[[1, 3]]).all()
    assert torch.allclose(got[[0, 2, 4]], clean[[0, 2, 4]], atol=1e-6, rtol=0)


def test_compiled_refuses_another_shape_with_one_line(compiled):
    fast, _ = compiled["salt"]
    x, mask = random_jets(BATCH + 1, N, seed=9)
    with pytest.raises(InputError, match=r"takes x \(5, 24, 3\)"):
        fast(x, mask)
    x, mask = random_jets(BATCH, N, seed=9)
    with pytest.raises(InputError):
        fast(x.double(), mask)
    with pytest.raises(InputError):
        fast(x, mask.float())


def test_no_compiler_is_a_one_line_config_error(monkeypatch):
    import saltjet.compiled as compiled_module

    monkeypatch.setattr(compiled_module, "cxx_compiler", lambda: None)
    with pytest.raises(ConfigError, match="needs a C\\+\\+ compiler"):
        compile_for_inference(create_model("salt", n_particles=N), 1)


def test_example_of_another_batch_is_refused():
    x, mask = random_jets(3, N, seed=1)
    with pytest.raises(InputError, match="not batch_size=2"):
        compile_for_inference(create_model("salt", n_particles=N), 2, example=(x, mask))


def test_a_model_inductor_cannot_compile_is_a_one_line_config_error(monkeypatch):
    model = create_model("salt", n_particles=N)

    def unsupported(x, mask):  # a data-dependent branch: a graph break, which fullgraph refuses
        if x.sum() > 0:
            return x.sum(dim=(1, 2))[:, None]
        return x.mean(dim=(1, 2))[:, None]

    monkeypatch.setattr(model, "classify", unsupported)
    with pytest.raises(ConfigError, match="^TorchInductor could not compile") as err:
        compile_for_inference(model, 1)
    assert "\n" not in str(err.value)
