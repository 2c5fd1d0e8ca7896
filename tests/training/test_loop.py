"""Training loop: learning, resume == uninterrupted, checkpoints, early stopping, run directory."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from saltjet.training import run
from saltjet.config import RunConfig
from saltjet.data.pipeline import JetTensors
from saltjet.data.toy import toy_jets
from saltjet.errors import ConfigError
from saltjet.training.loop import EarlyStopping, train

DATA = toy_jets(400, n_classes=3, n_slots=30, seed=0)


def tiny_config(model: str = "salt", model_options: dict | None = None, **train_options) -> RunConfig:
    t = {"epochs": 2, "batch_size": 32, "num_threads": 1, "quiet": True, "patience": 0, **train_options}
    return RunConfig.from_dict({"model": model, "model_options": model_options or {},
                                "data": {"n_particles": 20, "val_fraction": 0.25}, "train": t})


def weights(path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def assert_same_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("model", ["salt", "linformer", "transformer"])
def test_each_model_learns_and_writes_a_run_directory(tmp_path, model):
    summary = train(tiny_config(model, epochs=3, lr=5e-3), tmp_path / "run", data=DATA)
    out = tmp_path / "run"
    history = run.read_jsonl(out / run.METRICS_FILE)
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    for key in ("train_loss", "val_loss", "val_accuracy", "val_auc", "lr", "batch_size", "jets_per_s", "wall_seconds"):
        assert history[0][key] is not None, key
    assert summary["finished"] and summary["epochs_run"] == 3 and summary["n_train"] == 300
    assert json.loads((out / run.SUMMARY_FILE).read_text())["best_epoch"] == summary["best_epoch"]
    for name in (run.CONFIG_FILE, run.WEIGHTS_FILE, run.LAST_WEIGHTS_FILE, run.STATE_FILE):
        assert (out / name).is_file(), name
    assert not list(out.glob("*.tmp"))
    info = run.read_info(out)
    assert info.model == model and info.class_names == ["c0", "c1", "c2"] and info.sort_by == "kt"
    assert info.feature_names == ["pt", "eta_rel", "phi_rel"] and info.model_config["n_particles"] == 20
    assert info.extra["run_config"]["train"]["epochs"] == 3 and "torch" in info.extra["versions"]


def test_binary_data_trains_one_logit(tmp_path):
    data = toy_jets(200, n_classes=2, n_slots=20, seed=1)
    summary = train(tiny_config("transformer"), tmp_path / "run", data=data)
    model, _ = run.load_run(tmp_path / "run")
    x = torch.from_numpy(data.x[:4]).sort(dim=1, descending=True).values
    assert model(x, torch.from_numpy(data.mask[:4]).sort(dim=1, descending=True).values).shape == (4, 1)
    assert summary["val_auc"] is not None and 0 <= summary["val_accuracy"] <= 1


def test_normaliser_is_stored_with_the_weights(tmp_path):
    train(tiny_config(epochs=1), tmp_path / "run", data=DATA)
    model, info = run.load_run(tmp_path / "run")
    stored = info.extra["normalisation"]
    np.testing.assert_allclose(model.scaler.center.numpy(), stored["center"], rtol=1e-6)
    np.testing.assert_allclose(model.scaler.scale.numpy(), stored["scale"], rtol=1e-6)
    assert model.scaler.scale[0] > 1  # pT spread in GeV: fitted, not the identity default


def _interrupt_after(monkeypatch, calls: int):
    """Make the n-th batch fetch raise KeyboardInterrupt (a kill in the middle of an epoch)."""
    real = JetTensors.batch
    count = {"n": 0}

    def batch(self, index, device=None):
        count["n"] += 1
        if count["n"] == calls:
            raise KeyboardInterrupt
        return real(self, index, device)

    monkeypatch.setattr(JetTensors, "batch", batch)


def test_resume_after_a_kill_mid_epoch_gives_identical_weights(tmp_path, monkeypatch):
    config = tiny_config(model_options={"dropout": 0.1}, epochs=4, lr_schedule="cosine",
                         batch_schedule=[16, 32], batch_schedule_every=1)
    train(config, tmp_path / "straight", data=DATA)
    # epoch 1: 19 train batches + 1 validation fetch; epoch 2: 10 + 1; call 36 is inside epoch 3
    with monkeypatch.context() as m:
        _interrupt_after(m, 36)
        with pytest.raises(KeyboardInterrupt):
            train(config, tmp_path / "killed", data=DATA)
    _, meta = run.load_checkpoint(tmp_path / "killed" / run.STATE_FILE)
    assert meta["next_epoch"] == 2  # the interrupted epoch is lost, the two before it are kept
    summary = train(config, tmp_path / "killed", resume=True, data=DATA)
    assert summary["epochs_run"] == 4
    for name in (run.WEIGHTS_FILE, run.LAST_WEIGHTS_FILE):
        assert_same_tensors(weights(tmp_path / "straight" / name), weights(tmp_path / "killed" / name))
    a, b = (run.read_jsonl(tmp_path / d / run.METRICS_FILE) for d in ("straight", "killed"))
    assert [r["val_loss"] for r in a] == [r["val_loss"] for r in b]


def test_stop_after_then_resume_equals_one_call(tmp_path):
    config = tiny_config(epochs=3, lr_schedule="step", lr_step_epochs=1)
    train(config, tmp_path / "straight", data=DATA)
    first = train(config, tmp_path / "parts", data=DATA, stop_after=1)
    assert not first["finished"] and first["epochs_run"] == 1
    train(config, tmp_path / "parts", resume=True, data=DATA)
    assert_same_tensors(weights(tmp_path / "straight" / run.WEIGHTS_FILE), weights(tmp_path / "parts" / run.WEIGHTS_FILE))
    again = train(config, tmp_path / "parts", resume=True, data=DATA)  # a finished run stays as it is
    assert again["epochs_run"] == 3


def test_checkpoint_round_trip_gives_identical_outputs(tmp_path):
    train(tiny_config("linformer", epochs=2), tmp_path / "run", data=DATA)
    model, info = run.load_run(tmp_path / "run")
    tensors, meta = run.load_checkpoint(tmp_path / "run" / run.STATE_FILE)
    rebuilt, _ = run.load_run(tmp_path / "run")
    rebuilt.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("best.")})
    x = torch.from_numpy(DATA.x[:8, :20]).abs() + 0.1
    mask = torch.ones(8, 20, dtype=torch.bool)
    with torch.no_grad():
        assert torch.equal(model(x, mask), rebuilt(x, mask))
        run.save_model(tmp_path / "copy", model, info)
        copy, _ = run.load_run(tmp_path / "copy")
        assert torch.equal(model(x, mask), copy(x, mask))
    last, _ = run.load_run(tmp_path / "run", weights_file=run.LAST_WEIGHTS_FILE)
    assert meta["next_epoch"] == 2 and meta["optimizer"]["param_groups"][0]["betas"] == [0.9, 0.999]
    assert any(k.startswith("optim.") for k in tensors) and last is not None
    # safetensors header first: no pickle anywhere in the run directory
    for name in (run.WEIGHTS_FILE, run.LAST_WEIGHTS_FILE, run.STATE_FILE):
        head = (tmp_path / "run" / name).read_bytes()[:9]
        assert head[8:9] == b"{", name


def test_optimizer_state_round_trip():
    p = torch.nn.Parameter(torch.randn(3))
    opt = torch.optim.Adam([p], lr=0.1)
    p.sum().backward()
    opt.step()
    tensors, meta = run.flatten_optimizer_state(opt.state_dict())
    back = run.unflatten_optimizer_state(tensors, json.loads(json.dumps(meta)))
    assert back["param_groups"] == opt.state_dict()["param_groups"]
    assert torch.equal(back["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])


def test_early_stopping_restores_the_best_epoch(tmp_path, monkeypatch):
    import saltjet.training.loop as train_module

    real = train_module._validate
    scripted = iter([1.0, 0.5, 0.7, 0.9, 0.3])

    def validate(*args):
        return {**real(*args), "val_loss": next(scripted)}

    monkeypatch.setattr(train_module, "_validate", validate)
    summary = train(tiny_config(epochs=5, patience=2), tmp_path / "stopped", data=DATA)
    assert summary["stopped_early"] and summary["epochs_run"] == 4 and summary["best_epoch"] == 2
    scripted = iter([1.0, 0.5])
    train(tiny_config(epochs=2, patience=2), tmp_path / "two", data=DATA)
    assert_same_tensors(weights(tmp_path / "stopped" / run.WEIGHTS_FILE), weights(tmp_path / "two" / run.LAST_WEIGHTS_FILE))
    assert [r["best"] for r in run.read_jsonl(tmp_path / "stopped" / run.METRICS_FILE)] == [True, True, False, False]


def test_early_stopping_counter():
    s = EarlyStopping(patience=2, min_delta=0.1)
    assert s.update(1.0, 0) and not s.update(0.95, 1) and not s.should_stop
    assert not s.update(2.0, 2) and s.should_stop and s.best_epoch == 0
    assert not EarlyStopping(patience=0, bad_epochs=99).should_stop


def test_existing_run_and_changed_config_are_refused(tmp_path):
    config = tiny_config(epochs=1)
    train(config, tmp_path / "run", data=DATA)
    with pytest.raises(ConfigError, match="already holds a run"):
        train(config, tmp_path / "run", data=DATA)
    with pytest.raises(ConfigError, match="train.lr"):
        train(tiny_config(epochs=1, lr=0.5), tmp_path / "run", resume=True, data=DATA)
    longer = train(tiny_config(epochs=2), tmp_path / "run", resume=True, data=DATA)  # more epochs is allowed
    assert longer["epochs_run"] == 2
    stored = yaml.safe_load((tmp_path / "run" / run.CONFIG_FILE).read_text())
    assert stored["run_config"]["train"]["epochs"] == 2


def test_cuda_request_without_a_gpu_is_a_config_error(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigError, match="CUDA"):
        train(tiny_config(device="cuda"), tmp_path / "run", data=DATA)


def test_point_clouds_train_with_radius_order(tmp_path):
    from saltjet.data.particles import ParticleData

    rng = np.random.default_rng(0)
    y = np.arange(90) % 3
    xyz = rng.normal(size=(90, 24, 3)) * (1 + y)[:, None, None]  # class = cloud size
    data = ParticleData(xyz, np.ones((90, 24), bool), y, ["a", "b", "c"], ["x", "y", "z"], kind="pointcloud")
    config = tiny_config("salt", epochs=1)
    config.data.n_particles = 24
    summary = train(config, tmp_path / "run", data=data)
    info = run.read_info(tmp_path / "run")
    assert info.sort_by == "radius" and info.feature_names == ["x", "y", "z"] and summary["n_train"] == 66


def test_objective_binary_and_multiclass():
    from sklearn.metrics import log_loss

    from saltjet.training.objective import loss_fn, macro_auc, predictions, probabilities

    logits = torch.tensor([[2.0], [-1.0], [0.5]])
    y = torch.tensor([1, 0, 0])
    p = probabilities(logits.numpy())
    assert float(loss_fn(logits, y)) == pytest.approx(log_loss(y.numpy(), p), rel=1e-6)
    assert predictions(logits).tolist() == [1, 0, 1]
    multi = torch.tensor([[3.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, -1.0]])
    ym = torch.tensor([0, 1, 2, 2])
    pm = probabilities(multi.numpy())
    assert float(loss_fn(multi, ym)) == pytest.approx(log_loss(ym.numpy(), pm), rel=1e-6)
    # one-vs-rest AUCs by hand: class 0 and 1 perfectly ranked; class 2's jet 3 (p2 = 0.090) beats one of
    # the two background jets (0.045, 0.107), so AUC_2 = 3/4
    assert macro_auc(pm, ym.numpy()) == pytest.approx((1 + 1 + 0.75) / 3)
    assert macro_auc(pm[:2], np.array([0, 1])) is None  # class 2 absent: undefined


@pytest.mark.parametrize("model", ["salt", "linformer", "transformer"])
@pytest.mark.parametrize("n_classes", [5, 2])
def test_length_groups_take_the_same_step_as_the_whole_batch(model, n_classes):
    """Sub-batches of similar multiplicity, gradients accumulated: the gradient of the batch's mean loss."""
    from contextlib import nullcontext

    from saltjet.training.distributed import setup
    from saltjet.models import create_model
    from saltjet.training.epoch import accumulate_gradients

    data = JetTensors.from_data(toy_jets(96, n_classes=n_classes, n_slots=60, seed=3))
    x, mask = data.x.clone(), data.mask.clone()
    order = torch.argsort(mask.float(), dim=1, descending=True, stable=True)  # padding last, as prepared
    x, mask = torch.gather(x, 1, order[..., None].expand_as(x)), torch.gather(mask, 1, order)
    torch.manual_seed(0)
    net = create_model(model, n_particles=60, n_classes=n_classes)
    ctx = setup("cpu")
    grads, losses = [], []
    for groups in (1, 4):
        net.zero_grad()
        loss, correct = accumulate_gradients(net, None, nullcontext, x, mask, data.y, groups, ctx)
        losses.append(float(loss))
        grads.append({k: p.grad.clone() for k, p in net.named_parameters()})
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    for k, whole in grads[0].items():
        torch.testing.assert_close(grads[1][k], whole, atol=1e-5 * float(whole.abs().max()) + 1e-9, rtol=1e-4, msg=k)
    assert int(correct) <= len(data.y)


def test_rotate_reflect_keeps_what_a_rotation_keeps():
    from saltjet.training.augment import augment_columns, rotate_reflect

    names = ["log_pt", "log_ptrel", "log_e", "eta_rel", "phi_rel", "delta_r"]
    cols = augment_columns(names, "rotate")
    assert cols == (3, 4) and augment_columns(names, "none") is None
    torch.manual_seed(0)
    x = torch.randn(64, 20, 6)
    x[:, 15:] = 0.0  # padding
    out = rotate_reflect(x, cols)
    torch.testing.assert_close(out[..., 3].square() + out[..., 4].square(), x[..., 3].square() + x[..., 4].square())
    torch.testing.assert_close(out[..., [0, 1, 2, 5]], x[..., [0, 1, 2, 5]])
    assert torch.equal(out[:, 15:], x[:, 15:]) and not torch.allclose(out[..., 3], x[..., 3])
    with pytest.raises(ConfigError, match="j1_px"):
        augment_columns(["pt", "eta_rel", "phi_rel", "j1_px"], "rotate")
    with pytest.raises(ConfigError, match="eta_rel"):
        augment_columns(["pt"], "rotate")


def test_augmented_training_is_reproducible_and_resumable(tmp_path):
    data = toy_jets(400, n_classes=3, n_slots=30, seed=2)
    cfg = {"model": "salt", "data": {"n_particles": 30},
           "train": {"epochs": 2, "batch_size": 64, "quiet": True, "augment": "rotate", "device": "cpu"}}
    train(RunConfig.from_dict(cfg), tmp_path / "a", data=data)
    train(RunConfig.from_dict(cfg), tmp_path / "b", data=data, stop_after=1)
    train(RunConfig.from_dict(cfg), tmp_path / "b", resume=True, data=data)
    a, b = (load_file(str(tmp_path / r / "model.safetensors")) for r in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)
