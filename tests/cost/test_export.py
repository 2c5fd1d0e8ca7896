"""ONNX export round trip: ONNX Runtime equals PyTorch, metadata, fitted scaler inside, bad run dirs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import random_jets, weaver_installed
from saltjet.cli import main
from saltjet.errors import DataError, InputError
from saltjet.cost.export import ExportOptions, export_onnx, export_run, onnx_predict, onnx_session, read_metadata
from saltjet.models import create_model, list_models
from saltjet.training.run import RunInfo, save_model

N = 40
CLASSES = ["g", "q", "W", "Z", "t"]


def make_run(tmp_path, name, **options):
    torch.manual_seed(1)
    model = create_model(name, n_particles=N, **options).eval()
    # a non-trivial fitted normalisation, so parity on PHYSICAL inputs tests that it is in the graph
    model.scaler.set(center=[20.0, 0.05, -0.02], scale=[35.0, 0.2, 0.3])
    info = RunInfo(model=name, model_config=model.config.to_dict(), class_names=CLASSES, sort_by="kt")
    return save_model(tmp_path / f"run_{name}", model, info), model


@pytest.mark.parametrize("name", list_models())
def test_onnx_runtime_matches_pytorch(tmp_path, name):
    run_dir, model = make_run(tmp_path, name)
    path = export_run(run_dir, tmp_path / f"{name}.onnx")
    session = onnx_session(path, threads=1)
    for batch, seed in [(1, 0), (7, 1), (64, 2)]:
        x, mask = random_jets(batch, N, seed=seed)
        with torch.no_grad():
            expected = model(x, mask).numpy()
        got = onnx_predict(session, x, mask)
        assert got.shape == expected.shape == (batch, 5)
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_scaler_is_inside_the_graph(tmp_path):
    run_dir, model = make_run(tmp_path, "salt")
    path = export_run(run_dir, tmp_path / "salt.onnx")
    x, mask = random_jets(5, N)
    exported = onnx_predict(path, x, mask)
    model.scaler.set(center=[0.0, 0.0, 0.0], scale=[1.0, 1.0, 1.0])
    with torch.no_grad():
        unscaled = model(x, mask).numpy()
    assert np.abs(exported - unscaled).max() > 1e-3  # the fitted numbers matter, and travelled along


def test_metadata_says_how_to_use_the_graph(tmp_path):
    run_dir, _ = make_run(tmp_path, "salt")
    meta = read_metadata(export_run(run_dir, tmp_path / "m.onnx"))
    assert json.loads(meta["class_names"]) == CLASSES
    assert json.loads(meta["feature_names"]) == ["pt", "eta_rel", "phi_rel"]
    assert meta["sort_key"] == "kt" and meta["n_particles"] == str(N) and meta["model"] == "salt"
    assert meta["saltjet_version"]


def test_graph_has_a_dynamic_batch_and_current_opset(tmp_path):
    import onnx

    proto = onnx.load(str(export_onnx(create_model("salt", n_particles=N).eval(), tmp_path / "s.onnx")))
    onnx.checker.check_model(proto)
    assert [i.name for i in proto.graph.input] == ["x", "mask"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # symbolic batch
    assert proto.graph.input[1].type.tensor_type.elem_type == onnx.TensorProto.BOOL
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17


@pytest.mark.parametrize("mode", ["depthwise", "none"])
def test_salt_conv_variants_export(tmp_path, mode):
    model = create_model("salt", n_particles=N, conv_mode=mode, n_classes=2).eval()
    x, mask = random_jets(3, N)
    got = onnx_predict(export_onnx(model, tmp_path / "v.onnx"), x, mask)
    with torch.no_grad():
        np.testing.assert_allclose(got, model(x, mask).numpy(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("anchors", ["partitions", "leading_jet"])
def test_salt_pair_anchor_variants_export(tmp_path, anchors):
    """salt_pair's default (leading anchors) is in the every-model tests; its other anchors here."""
    model = create_model("salt_pair", n_particles=N, pair_anchors=anchors, pair_mode="both", n_classes=2)
    x, mask = random_jets(5, N)
    x[..., 0] = x[..., 0].abs() + 0.5  # physical pT, no ties
    model.train()(x, mask)  # fits the pair standardisation
    model.eval()
    got = onnx_predict(export_onnx(model, tmp_path / "v.onnx"), x, mask)
    with torch.no_grad():
        np.testing.assert_allclose(got, model(x, mask).numpy(), atol=1e-5, rtol=0)


@pytest.mark.slow
def test_dynamo_exporter_also_matches(tmp_path):
    model = create_model("salt", n_particles=N).eval()
    path = export_onnx(model, tmp_path / "d.onnx", options=ExportOptions(exporter="dynamo"))
    x, mask = random_jets(5, N)
    with torch.no_grad():
        np.testing.assert_allclose(onnx_predict(path, x, mask), model(x, mask).numpy(), atol=1e-5, rtol=0)


def test_cli_export(tmp_path, capsys):
    run_dir, _ = make_run(tmp_path, "linformer")
    assert main(["export", "--run", str(run_dir), "--onnx", str(tmp_path / "out" / "l.onnx")]) == 0
    assert (tmp_path / "out" / "l.onnx").is_file()
    assert "by kt (padding last)" in capsys.readouterr().out


def test_bad_run_dir_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(DataError):
        export_run(tmp_path / "nope", tmp_path / "x.onnx")
    (tmp_path / "empty").mkdir()
    for bad in (tmp_path / "nope", tmp_path / "empty"):
        assert main(["export", "--run", str(bad), "--onnx", str(tmp_path / "x.onnx")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "error" in err and "Traceback" not in err
    assert not (tmp_path / "x.onnx").exists()


# --- hostile input and inconsistent runs (issue 10) ---------------------------------------------

FILLS = [float("nan"), float("inf"), float("-inf"), 1e30]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One export per registered model: name -> (ONNX Runtime session, torch model)."""
    out = {}
    for name in list_models():
        if name == "part" and not weaver_installed():
            continue  # its tests are skipped (conftest)
        run_dir, model = make_run(tmp_path_factory.mktemp(name), name)
        out[name] = (onnx_session(export_run(run_dir, run_dir / f"{name}.onnx"), threads=1), model)
    return out


def _run_graph(session, x, mask):
    """The bare graph, without onnx_predict's checks."""
    return session.run(["logits"], {"x": np.asarray(x, dtype=np.float32), "mask": np.asarray(mask)})[0]


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("fill", FILLS)
def test_onnx_gives_exactly_the_zero_padding_logits_whatever_padded_slots_hold(exported, name, fill):
    session, _ = exported[name]
    x, mask = random_jets(9, N, seed=3)
    zeros = _run_graph(session, x.masked_fill(~mask.unsqueeze(-1), 0.0), mask)
    assert np.array_equal(_run_graph(session, x.masked_fill(~mask.unsqueeze(-1), fill), mask), zeros)


@pytest.mark.parametrize("name", list_models())
def test_onnx_gives_a_nan_row_for_an_empty_jet_where_torch_raises(exported, name):
    """The documented behaviour: torch (and onnx_predict) refuse an all-padding jet; the bare graph,
    which cannot raise, answers it with a NaN row and the other jets exactly as torch does."""
    session, model = exported[name]
    x, mask = random_jets(5, N, seed=4)
    with torch.no_grad():
        expected = model(x, mask).numpy()
    mask[2] = False
    got = _run_graph(session, x.masked_fill(~mask.unsqueeze(-1), float("nan")), mask)
    rest = [0, 1, 3, 4]
    assert np.isnan(got[2]).all() and np.allclose(got[rest], expected[rest], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", list_models())
def test_torch_and_onnx_predict_refuse_an_empty_jet_alike(exported, name):
    session, model = exported[name]
    x, mask = random_jets(4, N, seed=5)
    mask[1] = False
    messages = []
    for predict in (model, lambda a, b: onnx_predict(session, a, b)):
        with pytest.raises(InputError) as err:
            predict(x, mask)
        messages.append(str(err.value))
    assert messages == ["1 of 4 jets have no real particles; drop them first"] * 2


@pytest.mark.parametrize("name", list_models())
def test_onnx_gives_a_nan_row_for_a_non_finite_real_particle(exported, name):
    session, _ = exported[name]
    x, mask = random_jets(4, N, seed=6)
    x[1, 0, 2] = float("nan")  # slot 0 is always a real particle
    got = _run_graph(session, x, mask)
    assert np.isnan(got[1]).all() and np.isfinite(got[[0, 2, 3]]).all()


def test_onnx_predict_refuses_a_non_finite_real_particle_like_torch(exported):
    session, model = exported["salt"]
    x, mask = random_jets(4, N, seed=7)
    x[3, 0, 0] = float("inf")
    with pytest.raises(InputError, match="1 of 4 jets have NaN or inf features in real particles"):
        onnx_predict(session, x, mask)


def test_onnx_predict_casts_float64(exported):
    session, _ = exported["salt"]
    x, mask = random_jets(6, N, seed=8)
    assert np.array_equal(onnx_predict(session, x.numpy().astype(np.float64), mask), onnx_predict(session, x, mask))


@pytest.mark.parametrize("name", list_models())
def test_metadata_match_the_graph(tmp_path, name):
    """n_particles, n_features and the class count in the metadata are those of the graph itself."""
    import onnx

    run_dir, _ = make_run(tmp_path, name)
    path = export_run(run_dir, tmp_path / "m.onnx")
    meta, graph = read_metadata(path), onnx.load(str(path)).graph
    shape = [[d.dim_value for d in v.type.tensor_type.shape.dim][1:] for v in (graph.input[0], graph.output[0])]
    assert shape == [[int(meta["n_particles"]), len(json.loads(meta["feature_names"]))],
                     [len(json.loads(meta["class_names"]))]]


def _tamper_config(run_dir, **changes):
    import yaml

    path = run_dir / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config.update(changes)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def _nan_weights(run_dir):
    from safetensors.torch import load_file, save_file

    state = load_file(str(run_dir / "model.safetensors"))
    state["head.fc2.weight"][0, 0] = float("nan")
    save_file(state, str(run_dir / "model.safetensors"))


@pytest.mark.parametrize(
    "tamper, message",
    [
        (_nan_weights, "head.fc2.weight holds 1 NaN/inf value"),
        (lambda d: _tamper_config(d, class_names=["g", "q", "W", "Z"]), "4 class_names"),
        (lambda d: _tamper_config(d, class_names=CLASSES + ["H"]), "6 class_names"),
        (lambda d: _tamper_config(d, class_names=["g", "g", "W", "Z", "t"]), "distinct"),
        (lambda d: _tamper_config(d, sort_by="kT2"), "unknown sort key 'kT2'"),
        (lambda d: _tamper_config(d, feature_names=["pt", "eta_rel"]), "feature"),
    ],
    ids=["nan-weights", "too-few-classes", "too-many-classes", "duplicate-class", "unknown-sort-key", "feature-count"],
)
def test_cli_export_refuses_an_inconsistent_run_with_one_line(tmp_path, capsys, tamper, message):
    run_dir, _ = make_run(tmp_path, "salt")
    tamper(run_dir)
    out = tmp_path / "bad.onnx"
    code = main(["export", "--run", str(run_dir), "--onnx", str(out)])
    err = capsys.readouterr().err
    assert (code, err.count("\n"), message in err, out.exists()) == (2, 1, True, False), err


def test_export_refuses_a_graph_that_does_not_reproduce_torch(tmp_path, monkeypatch):
    """The ONNX Runtime parity check runs before writing (tolerance forced below any real gap)."""
    import saltjet.cost.export

    monkeypatch.setattr(saltjet.cost.export, "PARITY_ATOL", -1.0)
    with pytest.raises(DataError, match="ONNX Runtime differs from PyTorch"):
        export_onnx(create_model("salt", n_particles=N).eval(), tmp_path / "p.onnx")
    assert not (tmp_path / "p.onnx").exists()
