"""`saltjet train` on hls4ml-layout files: option precedence, resume from the run directory, errors."""

from __future__ import annotations

import json
import os

import pytest
from published_layouts import write_hls4ml

from saltjet.training import run
from saltjet.cli import build_parser, main
from saltjet.cli.train import resolve_config

FAST = ["--num-threads", "1", "--quiet", "--n-particles", "30", "--batch-size", "32"]


@pytest.fixture(scope="module")
def jets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jets")
    write_hls4ml(folder / "jetImage_0_150p_0.h5", n_jets=160, seed=0)
    write_hls4ml(folder / "jetImage_9_150p_0.h5", n_jets=40, seed=9)
    return folder


def parse(argv):
    return build_parser().parse_args(["train", *argv])


def test_yaml_config_then_command_line_overrides(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("model: linformer\nmodel_options: {proj_dim: 8, d_model: 32}\n"
                   "data: {n_particles: 64, sort_by: pt}\ntrain: {epochs: 9, lr: 0.01, lr_schedule: cosine}\n")
    args = parse(["--data", "a.h5", "--out", str(tmp_path / "r"), "--config", str(cfg), "--epochs", "2",
                  "--proj-dim", "2", "--set", "train.lr=0.02", "--set", "data.sort_by=deltar", "--sort-by", "kt"])
    c = resolve_config(args)
    assert c.model == "linformer" and c.model_options == {"proj_dim": 2, "d_model": 32}
    assert c.train.epochs == 2 and c.train.lr == 0.02 and c.train.lr_schedule == "cosine"
    assert c.data.n_particles == 64 and c.data.sort_by == "kt" and os.path.isabs(c.data.path[0])


def test_train_then_resume_from_the_run_directory_alone(jets, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--data", str(jets / "jetImage_0_150p_0.h5"), "--model", "salt", "--out", str(out),
            "--epochs", "2", "--partitions", "2", *FAST]
    assert main(argv + ["--stop-after", "1"]) == 0
    assert run.load_checkpoint(out / run.STATE_FILE)[1]["next_epoch"] == 1
    assert main(["train", "--out", str(out), "--resume"]) == 0
    summary = json.loads((out / run.SUMMARY_FILE).read_text())
    assert summary["epochs_run"] == 2 and summary["finished"]
    info = run.read_info(out)
    assert info.class_names == ["g", "q", "W", "Z", "t"] and info.model_config["partitions"] == 2
    assert capsys.readouterr().out == ""  # --quiet


@pytest.mark.parametrize("argv, fragment", [
    (["--model", "resnet"], "unknown model 'resnet'"),
    (["--set", "train.epochz=3"], "unknown train option"),
    (["--conv-mode", "diagonal"], "conv_mode"),
    (["--model", "transformer", "--partitions", "4"], "unknown option"),
    (["--sort-by", "colour"], "sort key"),
    (["--lr-schedule", "linear"], "lr_schedule"),
])
def test_bad_options_exit_2_with_one_line(jets, tmp_path, capsys, argv, fragment):
    code = main(["train", "--data", str(jets / "jetImage_0_150p_0.h5"), "--out", str(tmp_path / "r"), *FAST, *argv])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and err.count("\n") == 1 and "Traceback" not in err


def test_missing_data_and_bad_config_file_exit_2(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "nothing.h5"), "--out", str(tmp_path / "r"), *FAST]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "r"), *FAST]) == 2
    assert "no training data" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epochs: [1\n")
    assert main(["train", "--data", "x.h5", "--out", str(tmp_path / "r"), "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "not valid YAML" in err and err.count("\n") == 1
