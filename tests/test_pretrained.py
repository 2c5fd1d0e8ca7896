"""Shipped models: listed, resolved by name wherever a run folder is taken, loaded as a Tagger."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import saltjet
from published_layouts import write_hls4ml
from saltjet import pretrained
from saltjet.cli import main
from saltjet.config import RunConfig
from saltjet.errors import ConfigError
from saltjet.inference import Tagger
from saltjet.training.loop import train

@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A folder of shipped models holding one small trained run, "toy-5class", and its data file."""
    tmp = tmp_path_factory.mktemp("pretrained")
    data = tmp / "jetImage_0_150p_0.h5"
    write_hls4ml(data, n_jets=120, seed=0, n_slots=40, max_mult=36)
    config = RunConfig.from_dict({"model": "salt", "data": {"path": [str(data)], "n_particles": 32},
                                  "train": {"epochs": 1, "batch_size": 32, "device": "cpu", "quiet": True}})
    root = tmp / "models"
    train(config, root / "toy-5class")
    (root / "toy-5class" / pretrained.CARD_FILE).write_text("# toy\n\nSummary: a toy SAL-T for the tests\n")
    (root / "empty").mkdir()  # a folder without weights is not a model
    return root, data

@pytest.fixture
def use_shipped(shipped, monkeypatch):
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", shipped[0])
    return shipped

def test_available_lists_folders_with_weights(use_shipped):
    assert pretrained.available() == ["toy-5class"]
    assert pretrained.summary_line("toy-5class") == "a toy SAL-T for the tests"

def test_unknown_name_is_one_line_naming_the_choices(use_shipped):
    with pytest.raises(ConfigError, match="choose from toy-5class"):
        pretrained.path("salt-7class")

def test_an_existing_folder_wins_over_a_shipped_name(use_shipped, tmp_path, monkeypatch):
    root, _ = use_shipped
    assert pretrained.resolve_run("toy-5class") == root / "toy-5class"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "toy-5class").mkdir()
    assert pretrained.resolve_run("toy-5class") == tmp_path.joinpath("toy-5class").relative_to(tmp_path)
    assert pretrained.resolve_run("runs/x") == pretrained.Path("runs/x")

def test_load_pretrained_scores_like_the_run_folder(use_shipped):
    root, data = use_shipped
    tagger = saltjet.load_pretrained("toy-5class", device="cpu")
    assert isinstance(tagger, Tagger)
    np.testing.assert_array_equal(tagger.predict(str(data)),
                                  Tagger.from_run(root / "toy-5class", device="cpu").predict(str(data)))

def test_cli_takes_a_shipped_name_for_run(use_shipped, tmp_path, capsys):
    _, data = use_shipped
    assert main(["evaluate", "--run", "toy-5class", "--data", str(data), "--json", "--quiet"]) == 0
    assert '"accuracy"' in capsys.readouterr().out
    assert main(["predict", "--run", "toy-5class", "--data", str(data), "--out", str(tmp_path / "s.h5")]) == 0
    assert main(["models", "--pretrained"]) == 0
    assert "toy-5class" in capsys.readouterr().out

@pytest.mark.parametrize("name", pretrained.available())
def test_every_shipped_model_loads_and_has_a_card(name):
    """The real shipped models (none when this runs before any is added: then nothing to check)."""
    folder = pretrained.path(name)
    card = (folder / pretrained.CARD_FILE).read_text(encoding="utf-8")
    assert pretrained.summary_line(name) and "- Command: `saltjet " in card and "## Held-out metrics" in card
    tagger = saltjet.load_pretrained(name, device="cpu")
    assert tagger.class_names and tagger.n_particles >= 1


def test_ship_copies_a_study_run_and_writes_its_card_from_the_results(shipped, tmp_path):
    """`ship` reads every number on the card from the study's results.json and the run's summary."""
    import json

    from saltjet.pretrained.ship import ship

    root, data = shipped
    study = tmp_path / "study"
    shutil.copytree(root / "toy-5class", study / "runs" / "5class" / "salt" / "seed0")
    row = {"task": "5class", "run": "salt", "label": "SAL-T", "model": "salt", "seed": 0, "data_options": {},
           "metrics": {"accuracy": 0.7123, "auc_macro": 0.9234, "mean_rejection_at_tpr_0.8": 12.5},
           "params": 3312, "flops": 594464.0, "latency_ms": 0.0123, "latency_batch": 256, "threads": 2,
           "train_wall_s": 600.0, "n_train": 96, "run_dir": "runs/5class/salt/seed0"}
    floor = {"task": "5class", "seed": 0, "metrics": {"accuracy": 0.6501, "auc_macro": 0.89,
                                                       "mean_rejection_at_tpr_0.8": 8.0}}
    results = {"study": "compare", "command": "saltjet study compare --seeds 1", "runs": [row], "floor": [floor],
               "settings": {"train": {"epochs": 40, "batch_size": 512, "lr": 0.002, "lr_schedule": "cosine",
                                      "warmup_epochs": 2, "patience": 10}, "data": {"feature_set": "log"}},
               "data": {"source": "toy", "path": str(data), "n_jets": 120},
               "tasks": {"5class": {"class_names": ["g", "q", "W", "Z", "t"], "n_test": 24}}}
    (study / "results.json").write_text(json.dumps(results))
    dest = ship(study, "5class", "salt", dest_root=tmp_path / "models")
    assert dest.name == "salt-5class"
    card = (dest / pretrained.CARD_FILE).read_text()
    assert "71.23 % accuracy" in card and "+6.22 points" in card and "saltjet study compare --seeds 1" in card
    assert Tagger.from_run(dest, device="cpu").class_names == Tagger.from_run(root / "toy-5class").class_names
    with pytest.raises(ConfigError, match="no finished run 'transformer'"):
        ship(study, "5class", "transformer", dest_root=tmp_path / "models")


def test_model_card_names_the_generate_commands_of_every_data_folder(tmp_path):
    import json

    from saltjet.pretrained.ship import generator_note

    settings = {"jets_per_class": 100, "seed": 0, "shard": 1, "n_shards": 5, "mpi": True}
    for folder, extra in (("jets_a", {}), ("jets_b", {"seed": 1, "shard": 0, "n_shards": 1, "classes": ["t"]})):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "generate_manifest_0of1.json").write_text(json.dumps({"settings": {**settings, **extra}}))
    note = generator_note(str(tmp_path / "jets_*" / "*.h5"))  # a glob with a wildcard folder part
    assert "`saltjet generate --jets-per-class 100 --seed 0 --shard 1/5`" in note
    assert "`saltjet generate --jets-per-class 100 --seed 1 --classes t`" in note
    assert generator_note(str(tmp_path / "nothing_here" / "*.h5")) == ""
