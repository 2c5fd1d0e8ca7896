"""Typed run config: YAML parsing, strict keys, type coercion, merge precedence, schedules."""

from __future__ import annotations

import math

import pytest
import yaml

from saltjet.config import (
    PAPER_BATCH_SCHEDULE,
    DataConfig,
    RunConfig,
    TrainConfig,
    load_yaml,
    merge_dicts,
    parse_assignment,
)
from saltjet.errors import ConfigError


def test_defaults_follow_the_authors():
    c = RunConfig()
    assert c.model == "salt" and c.train.lr == 1e-3 and c.train.patience == 40
    assert c.data.n_particles == 150 and c.data.sort_by == "auto" and c.train.batch_schedule == []


def test_from_dict_coerces_types_from_yaml_and_cli_strings():
    c = RunConfig.from_dict({"model": "linformer", "model_options": {"proj_dim": 8},
                             "data": {"path": "a.h5", "n_particles": "100", "features": "pt,eta_rel",
                                      "max_jets": "null"},
                             "train": {"epochs": "7", "lr": "3e-4", "amp": "yes", "batch_schedule": "paper",
                                       "num_threads": 2.0}})
    assert c.data.path == ["a.h5"] and c.data.n_particles == 100 and c.data.features == ["pt", "eta_rel"]
    assert c.data.max_jets is None
    assert c.train.epochs == 7 and math.isclose(c.train.lr, 3e-4) and c.train.amp is True
    assert c.train.batch_schedule == PAPER_BATCH_SCHEDULE and c.train.num_threads == 2


def test_round_trip_through_dict_and_yaml():
    c = RunConfig.from_dict({"model": "salt", "model_options": {"conv_heights": [1, 3]},
                             "data": {"path": ["x/*.h5"], "val_fraction": 0.1}, "train": {"batch_schedule": [64, 128]}})
    again = RunConfig.from_dict(yaml.safe_load(yaml.safe_dump(c.to_dict())))
    assert again == c


@pytest.mark.parametrize("bad, fragment", [
    ({"modle": "salt"}, "unknown config section"),
    ({"train": {"epoch": 3}}, "unknown train option"),
    ({"data": {"paths": "a"}}, "unknown data option"),
    ({"train": {"epochs": "many"}}, "train.epochs must be a whole number"),
    ({"train": {"epochs": 2.5}}, "whole number"),
    ({"train": {"epochs": 0}}, "epochs must be a positive"),
    ({"train": {"lr": -1}}, "train.lr must be a finite number in (0, 1]"),
    ({"train": {"lr_schedule": "linear"}}, "lr_schedule must be one of"),
    ({"train": {"device": "tpu"}}, "device must be one of"),
    ({"train": {"amp": "maybe"}}, "true or false"),
    ({"train": {"batch_schedule": [128, 0]}}, "batch_schedule"),
    ({"data": {"val_fraction": 1.5}}, "val_fraction"),
    ({"data": {"val_fraction": 0.5, "test_fraction": 0.5}}, "leave jets for training"),
    ({"model_options": {"n_particles": 30}}, "come from the data"),
    ({"model": 3}, "model must be a name"),
])
def test_bad_values_are_one_line_config_errors(bad, fragment):
    with pytest.raises(ConfigError) as e:
        RunConfig.from_dict(bad)
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_unknown_model_or_model_option_is_caught_by_validate_model():
    with pytest.raises(ConfigError, match="unknown model"):
        RunConfig(model="resnet").validate_model()
    with pytest.raises(ConfigError, match="unknown option"):
        RunConfig(model="transformer", model_options={"partitions": 4}).validate_model()
    RunConfig(model="salt", model_options={"partitions": 8}).validate_model()


def test_merge_precedence_later_wins_and_nested_sections_merge():
    base = {"model": "salt", "train": {"epochs": 3, "lr": 0.01}, "data": {"path": ["a"]}}
    over = {"train": {"epochs": 1}, "model_options": {"partitions": 2}}
    merged = merge_dicts(base, over)
    assert merged == {"model": "salt", "train": {"epochs": 1, "lr": 0.01}, "data": {"path": ["a"]},
                      "model_options": {"partitions": 2}}
    assert base["train"]["epochs"] == 3  # inputs untouched


def test_parse_assignment():
    assert RunConfig.from_dict(parse_assignment("train.lr=2e-3")).train.lr == 2e-3  # YAML reads "2e-3" as text
    assert parse_assignment("train.epochs=5") == {"train": {"epochs": 5}}
    assert parse_assignment("model.conv_heights=[1, 3]") == {"model_options": {"conv_heights": [1, 3]}}
    assert parse_assignment("data.sort_by=pt") == {"data": {"sort_by": "pt"}}
    assert parse_assignment("model=linformer") == {"model": "linformer"}
    for bad in ("lr", "optimizer.lr=1", "train=3"):
        with pytest.raises(ConfigError):
            parse_assignment(bad)


def test_load_yaml(tmp_path):
    good = tmp_path / "c.yaml"
    good.write_text("model: transformer\ntrain:\n  epochs: 4\n")
    assert load_yaml(good) == {"model": "transformer", "train": {"epochs": 4}}
    (tmp_path / "empty.yaml").write_text("")
    assert load_yaml(tmp_path / "empty.yaml") == {}
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    (tmp_path / "broken.yaml").write_text("train: [1, 2\n")
    for name, fragment in (("missing.yaml", "does not exist"), ("list.yaml", "mapping"), ("broken.yaml", "not valid YAML")):
        with pytest.raises(ConfigError, match=fragment):
            load_yaml(tmp_path / name)


def test_schedules_are_pure_functions_of_the_epoch():
    t = TrainConfig(epochs=10, lr=1e-3, lr_schedule="cosine")
    assert t.lr_at(0) == pytest.approx(1e-3) and t.lr_at(5) == pytest.approx(5e-4)
    assert t.lr_at(9) < t.lr_at(8) < t.lr_at(0)
    s = TrainConfig(lr=1e-3, lr_schedule="step", lr_step_epochs=2, lr_gamma=0.1)
    assert [round(s.lr_at(e) / 1e-3, 6) for e in range(5)] == [1, 1, 0.1, 0.1, 0.01]
    assert TrainConfig(lr_schedule="none").lr_at(50) == 1e-3
    b = TrainConfig(batch_schedule="paper", batch_schedule_every=2)
    assert [b.batch_size_at(e) for e in range(12)] == [128, 128, 256, 256, 512, 512, 1024, 1024, 2048, 2048, 2048, 2048]
    assert TrainConfig(batch_size=64).batch_size_at(7) == 64
    w = TrainConfig(epochs=12, lr=2e-3, lr_schedule="cosine", warmup_epochs=2)
    assert [w.lr_at(e) for e in range(3)] == pytest.approx([1e-3, 2e-3, 2e-3])  # warm-up, then cosine from the top
    assert w.lr_at(7) == pytest.approx(1e-3) and w.lr_at(11) < w.lr_at(10)
    assert TrainConfig(epochs=1, warmup_epochs=2).lr_at(0) == pytest.approx(5e-4)  # shorter than the warm-up
    with pytest.raises(ConfigError, match="warmup_epochs"):
        TrainConfig(warmup_epochs=-1)
    assert TrainConfig(batch_schedule="32, 64").batch_schedule == [32, 64]


def test_data_config_paths_accept_one_or_many():
    assert DataConfig(path="a.h5").path == ["a.h5"]
    assert DataConfig(path=["a.h5", "b/*.h5"], val_data="v.h5").val_data == ["v.h5"]
    with pytest.raises(ConfigError):
        DataConfig(path={"a": 1})
