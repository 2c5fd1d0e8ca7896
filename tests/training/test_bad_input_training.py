"""Bad input to training, run folders and the CLI: one line and exit 2 (or a saltjet error), never a
traceback, never garbage shipped as success (issue 10). One assertion per case."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
import yaml
from published_layouts import write_hls4ml

import saltjet.training.run as run
import saltjet.training.epoch as epoch_module
import saltjet.training.loop as train_module
from saltjet.cli import main
from saltjet.config import RunConfig
from saltjet.data.particles import ParticleData
from saltjet.data.toy import toy_jets
from saltjet.errors import ConfigError, DataError, TrainingError
from saltjet.evaluation.metrics import accuracy_in_bins
from saltjet.training.loop import train

DATA = toy_jets(160, n_classes=2, n_slots=20, seed=0)


def tiny_config(**train_options) -> RunConfig:
    t = {"epochs": 2, "batch_size": 32, "num_threads": 1, "quiet": True, "patience": 0, **train_options}
    return RunConfig.from_dict({"model": "salt", "data": {"n_particles": 20, "val_fraction": 0.25}, "train": t})


def one_error_line(argv, capsys) -> str:
    """Run the CLI; it must return 2 and print exactly one stderr line, starting 'saltjet CMD: error:'."""
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith(f"saltjet {argv[0]}: error: "), (code, err)
    return err[0]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "done"
    train(tiny_config(epochs=1), out, data=DATA)
    return out


def fresh_copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


# --- 1. numeric options: validated once, in the config dataclasses -------------------------------

@pytest.mark.parametrize("option, fragment", [
    (["--lr", "inf"], "train.lr"),
    (["--lr", "1e30"], "train.lr"),
    (["--set", "train.min_delta=nan"], "train.min_delta"),
    (["--weight-decay", "nan"], "train.weight_decay"),
    (["--seed", "-1"], "train.seed"),
    (["--set", "data.seed=-5"], "data.seed"),
    (["--set", "train.lr_gamma=inf"], "train.lr_gamma"),
    (["--set", "model.d_model=abc"], "d_model"),
])
def test_cli_refuses_bad_numbers_with_one_line(tmp_path, capsys, option, fragment):
    argv = ["train", "--data", str(tmp_path / "none.h5"), "--out", str(tmp_path / "r"), "--quiet", *option]
    assert fragment in one_error_line(argv, capsys)
    assert not (tmp_path / "r").exists()  # refused before anything is written


@pytest.mark.parametrize("options", [{"lr": float("nan")}, {"lr": -1.0}, {"weight_decay": float("inf")},
                                     {"min_delta": float("nan")}, {"seed": -1}])
def test_train_config_refuses_non_finite_or_out_of_range(options):
    with pytest.raises(ConfigError):
        tiny_config(**options)


def test_batch_schedule_overriding_batch_size_is_said(tmp_path):
    from saltjet.cli import build_parser
    from saltjet.cli.train import resolve_config

    args = build_parser().parse_args(["train", "--data", "a.h5", "--out", str(tmp_path / "r"),
                                      "--batch-size", "64", "--batch-schedule", "32,128"])
    with pytest.warns(UserWarning, match="batch size 64 is ignored"):
        resolve_config(args)


# --- 2. divergence is never shipped as success ----------------------------------------------------

def test_non_finite_training_loss_stops_the_run(tmp_path, monkeypatch):
    real = epoch_module.loss_fn  # the training step's loss (validation has its own in loop)
    monkeypatch.setattr(epoch_module, "loss_fn", lambda logits, y: real(logits, y) * float("nan"))
    with pytest.raises(TrainingError, match="training loss is nan"):
        train(tiny_config(), tmp_path / "r", data=DATA)
    # the initial weights are never written as "best", and no summary claims success
    assert not (tmp_path / "r" / run.WEIGHTS_FILE).exists() and not (tmp_path / "r" / run.SUMMARY_FILE).exists()


def test_non_finite_validation_loss_stops_the_run(tmp_path, monkeypatch):
    real = train_module._validate
    monkeypatch.setattr(train_module, "_validate", lambda *a: {**real(*a), "val_loss": float("inf")})
    with pytest.raises(TrainingError, match="validation loss is inf"):
        train(tiny_config(), tmp_path / "r", data=DATA)


def test_divergence_through_the_cli_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    path = tmp_path / "jetImage_0_150p_0.h5"
    write_hls4ml(path, n_jets=80, seed=0)
    real = train_module.loss_fn
    for module in (epoch_module, train_module):  # the training step's loss and validation's
        monkeypatch.setattr(module, "loss_fn", lambda logits, y: real(logits, y) * float("inf"))
    line = one_error_line(["train", "--data", str(path), "--out", str(tmp_path / "r"), "--epochs", "1", "--quiet",
                           "--num-threads", "1"], capsys)
    assert "diverged" in line


def test_an_epoch_that_never_improved_is_not_saved_as_best(tmp_path, monkeypatch):
    monkeypatch.setattr(train_module.EarlyStopping, "update", lambda self, loss, epoch: False)
    with pytest.raises(TrainingError, match="no epoch lowered the validation loss"):
        train(tiny_config(epochs=1), tmp_path / "r", data=DATA)
    assert not (tmp_path / "r" / run.WEIGHTS_FILE).exists()


def test_run_json_files_are_strict_json(tmp_path, finished_run):
    def refuse(token):
        raise AssertionError(f"non-standard JSON token {token}")

    run.write_jsonl(tmp_path / "m.jsonl", [{"val_loss": float("nan"), "lr": float("inf"), "x": np.float32(2.5)}])
    assert json.loads((tmp_path / "m.jsonl").read_text(), parse_constant=refuse) == {"val_loss": None, "lr": None, "x": 2.5}
    for name in (run.METRICS_FILE, run.SUMMARY_FILE):  # a real run's files too
        for line in (finished_run / name).read_text().splitlines() if name.endswith("l") else [(finished_run / name).read_text()]:
            json.loads(line, parse_constant=refuse)


# --- 3. single-class data ------------------------------------------------------------------------

def test_single_class_training_data_is_refused(tmp_path):
    one = ParticleData(DATA.x, DATA.mask, np.zeros(len(DATA.y), dtype=np.int64), DATA.class_names)
    with pytest.raises(DataError, match="1 class"):
        train(tiny_config(), tmp_path / "r", data=one)


# --- 4. one line instead of tracebacks -----------------------------------------------------------

def test_out_whose_parent_is_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    line = one_error_line(["train", "--data", str(tmp_path / "none.h5"), "--out", str(tmp_path / "file" / "r")], capsys)
    assert "cannot create the folder" in line


def test_unexpected_oserror_from_a_command_is_one_line(tmp_path, capsys, monkeypatch):
    import saltjet.cli.train as cli_train

    def boom(args):
        raise PermissionError(13, "Permission denied", str(tmp_path / "r"))

    monkeypatch.setattr(cli_train, "resolve_config", boom)
    assert "Permission denied" in one_error_line(["train", "--out", str(tmp_path / "r")], capsys)


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), Exception("SafetensorError: I/O error")])
def test_full_disk_on_a_weights_write_is_one_line(tmp_path, monkeypatch, error):
    def full(*a, **k):
        raise error

    monkeypatch.setattr(run, "save_file", full)
    with pytest.raises(DataError, match="cannot write"):
        run.save_weights(torch.nn.Linear(2, 2), tmp_path / "w.safetensors")
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_full_disk_on_a_json_write_is_one_line(tmp_path, monkeypatch):
    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run.os, "fsync", full)
    with pytest.raises(DataError, match="No space left"):
        run.write_json(tmp_path / "s.json", {"a": 1})


def test_edited_train_state_is_one_line_on_resume(tmp_path):
    out = tmp_path / "r"
    cfg = tiny_config()
    train(cfg, out, data=DATA, stop_after=1)
    tensors, meta = run.load_checkpoint(out / run.STATE_FILE)
    del meta["early_stopping"]
    run.save_checkpoint(out / run.STATE_FILE, tensors, meta)
    with pytest.raises(DataError, match="damaged or was edited"):
        train(cfg, out, resume=True, data=DATA)


def test_run_config_with_a_list_as_model_config_is_one_line(tmp_path, finished_run, capsys):
    out = fresh_copy(finished_run, tmp_path / "r")
    info = yaml.safe_load((out / run.CONFIG_FILE).read_text())
    info["model_config"] = [1, 2, 3]
    (out / run.CONFIG_FILE).write_text(yaml.safe_dump(info))
    assert "model_config" in one_error_line(["export", "--run", str(out), "--onnx", str(tmp_path / "m.onnx")], capsys)


def test_run_config_is_checked_against_the_weight_shapes_before_building(tmp_path, finished_run, capsys):
    out = fresh_copy(finished_run, tmp_path / "r")
    info = yaml.safe_load((out / run.CONFIG_FILE).read_text())
    info["model_config"].update(d_model=32768, n_layers=64)  # ~12 GB if it were built for real
    (out / run.CONFIG_FILE).write_text(yaml.safe_dump(info))
    t0 = time.perf_counter()
    line = one_error_line(["evaluate", "--run", str(out), "--data", str(tmp_path / "none.h5")], capsys)
    assert "does not match the model" in line and time.perf_counter() - t0 < 10


# --- 5. evaluate on an unfinished run, and the multiplicity overflow ------------------------------

def test_evaluate_says_a_run_is_unfinished(tmp_path):
    from saltjet.evaluation.evaluate import evaluate_run

    path = tmp_path / "jetImage_0_150p_0.h5"
    write_hls4ml(path, n_jets=80, seed=0)
    out = tmp_path / "r"
    main(["train", "--data", str(path), "--out", str(out), "--epochs", "3", "--stop-after", "1", "--quiet",
          "--n-particles", "20", "--num-threads", "1", "--batch-size", "32"])
    with pytest.warns(UserWarning, match="unfinished run"):
        report, _ = evaluate_run(out, path, device="cpu")
    assert report["run_finished"] is False


def test_run_without_best_weights_says_it_is_unfinished(tmp_path, finished_run):
    out = fresh_copy(finished_run, tmp_path / "r")
    (out / run.WEIGHTS_FILE).unlink()
    (out / run.SUMMARY_FILE).unlink()
    with pytest.raises(DataError, match="has not finished"):
        run.load_run(out)


def test_multiplicity_table_has_an_overflow_bin():
    probs = np.array([0.9, 0.1, 0.8, 0.3])
    bins = accuracy_in_bins(probs, np.array([1, 0, 0, 0]), np.array([10, 151, 200, 149]), edges=[0, 100, 150])
    assert bins[-1] == {"lo": 150, "hi": 200, "n": 2, "accuracy": 0.5, "overflow": True}
