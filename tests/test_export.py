"""ONNX export round trip: ONNX Runtime equals PyTorch, metadata, fitted scaler inside, bad run dirs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import random_jets
from saltjet.cli import main
from saltjet.errors import DataError
from saltjet.export import ExportOptions, export_onnx, export_run, onnx_predict, onnx_session, read_metadata
from saltjet.models import create_model, list_models
from saltjet.run import RunInfo, save_model

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
    assert "sort particles by kt" in capsys.readouterr().out


def test_bad_run_dir_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(DataError):
        export_run(tmp_path / "nope", tmp_path / "x.onnx")
    (tmp_path / "empty").mkdir()
    for bad in (tmp_path / "nope", tmp_path / "empty"):
        assert main(["export", "--run", str(bad), "--onnx", str(tmp_path / "x.onnx")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "error" in err and "Traceback" not in err
    assert not (tmp_path / "x.onnx").exists()
