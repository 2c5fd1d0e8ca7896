"""`saltjet train` flags are generated from DataConfig/TrainConfig: every field has one, with its
docstring help; a flag left out never overrides the YAML; the flags users know keep working."""

from __future__ import annotations

import dataclasses

import pytest

import saltjet.cli.train as cli_train
from saltjet.cli import build_parser
from saltjet.cli.config_flags import field_help, flag_name
from saltjet.cli.train import resolve_config
from saltjet.config import DataConfig, TrainConfig


def parse(*argv):
    return build_parser().parse_args(["train", "--out", "run", *argv])


def help_text(capsys) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("cls, section", [(DataConfig, "data"), (TrainConfig, "train")])
def test_every_field_has_a_flag_and_a_documented_help(cls, section, capsys):
    helps = field_help(cls)
    text = help_text(capsys)
    for f in dataclasses.fields(cls):
        assert f.name in helps, f"{cls.__name__}.{f.name} has no entry under Attributes: in its docstring"
        assert flag_name(section, f.name) in text
        assert " ".join(helps[f.name].rstrip(".").split()) in text


def test_a_new_train_field_gets_its_flag_for_free(monkeypatch, capsys):
    @dataclasses.dataclass
    class Grown(TrainConfig):
        """Grown.

        Attributes:
            ema_decay: decay of an exponential moving average of the weights
                (0 = off).
        """

        ema_decay: float = 0.0

    monkeypatch.setattr(cli_train, "TrainConfig", Grown)
    text = help_text(capsys)
    assert "--ema-decay X decay of an exponential moving average of the weights (0 = off) (default 0.0)" in text
    assert "--warmup-epochs" in text and "--length-groups" in text and "--lr-schedule" in text
    args = build_parser().parse_args(["train", "--out", "run", "--ema-decay", "0.9"])
    assert getattr(args, "train.ema_decay") == 0.9


def test_new_fields_reach_the_config():
    c = resolve_config(parse("--warmup-epochs", "2", "--length-groups", "1", "--lr-schedule", "cosine",
                             "--lr-gamma", "0.3", "--min-delta", "0.01", "--amp-dtype", "fp16",
                             "--test-fraction", "0.1", "--data-seed", "7", "--on-nonfinite", "drop"))
    t, d = c.train, c.data
    assert (t.warmup_epochs, t.length_groups, t.lr_schedule, t.lr_gamma, t.min_delta, t.amp_dtype) == \
        (2, 1, "cosine", 0.3, 0.01, "fp16")
    assert (d.test_fraction, d.seed, d.on_nonfinite) == (0.1, 7, "drop")
    assert t.seed == 0  # --data-seed is the split's seed, --seed the training seed


def test_a_flag_left_out_keeps_the_yaml_value(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("data: {sort_by: pt, seed: 4, on_nonfinite: drop}\n"
                   "train: {warmup_epochs: 3, length_groups: 2, amp: true, quiet: true, lr_schedule: step}\n")
    c = resolve_config(parse("--config", str(cfg), "--epochs", "2"))
    assert (c.train.warmup_epochs, c.train.length_groups, c.train.amp, c.train.quiet, c.train.lr_schedule) == \
        (3, 2, True, True, "step")
    assert (c.data.sort_by, c.data.seed, c.data.on_nonfinite, c.train.epochs) == ("pt", 4, "drop", 2)
    c = resolve_config(parse("--config", str(cfg), "--length-groups", "1", "--no-amp", "--no-quiet"))
    assert (c.train.length_groups, c.train.amp, c.train.quiet, c.train.warmup_epochs) == (1, False, False, 3)


def test_the_flags_users_know_keep_working():
    args = parse(
        "--data", "a.h5", "b.h5", "--model", "linformer", "--val-data", "v.h5", "--val-fraction", "0.3",
        "--format", "hls4ml", "--sort-by", "pt", "--n-particles", "30", "--max-jets", "100",
        "--features", "log", "--task", "top_vs_qcd", "--drop-nonfinite", "--epochs", "3", "--batch-size", "64",
        "--batch-schedule", "paper", "--batch-schedule-every", "2", "--lr", "0.002", "--weight-decay", "0.01",
        "--patience", "5", "--seed", "9", "--device", "cpu", "--amp", "--num-threads", "1", "--quiet",
        "--proj-dim", "2", "--d-model", "32", "--n-heads", "2", "--d-ff", "8", "--n-layers", "2",
        "--norm", "layernorm", "--pooling", "mean", "--dropout", "0.1")
    with pytest.warns(UserWarning, match="batch size 64 is ignored"):
        c = resolve_config(args)
    d, t = c.data, c.train
    assert [p.rsplit("/", 1)[1] for p in d.path] == ["a.h5", "b.h5"] and d.val_data[0].endswith("v.h5")
    assert (d.val_fraction, d.format, d.sort_by, d.n_particles, d.max_jets, d.task, d.on_nonfinite) == \
        (0.3, "hls4ml", "pt", 30, 100, "top_vs_qcd", "drop")
    assert d.features[0] == "log_pt"
    assert (t.epochs, t.batch_size, t.batch_schedule, t.batch_schedule_every, t.lr, t.weight_decay, t.patience,
            t.seed, t.device, t.amp, t.num_threads, t.quiet) == \
        (3, 64, [128, 256, 512, 1024, 2048], 2, 0.002, 0.01, 5, 9, "cpu", True, 1, True)
    assert c.model == "linformer" and c.model_options == {
        "proj_dim": 2, "d_model": 32, "n_heads": 2, "d_ff": 8, "n_layers": 2, "norm": "layernorm",
        "pooling": "mean", "dropout": 0.1}
    args = parse("--resume", "--stop-after", "2", "--set", "train.lr=0.5", "--partitions", "2", "--conv-mode", "none")
    assert args.resume and args.stop_after == 2 and args.set == ["train.lr=0.5"]
    assert resolve_config(args).model_options == {"partitions": 2, "conv_mode": "none"}
