"""Training logs a physicist can watch: metrics.csv next to metrics.jsonl, TensorBoard event files,
and `saltjet plot curves` on a plain `saltjet train` run (also after --resume)."""

from __future__ import annotations

import csv
import json
import math

import pytest
from published_layouts import write_hls4ml

from saltjet.training import log as training_log, run
from saltjet.cli import main

FAST = ["--num-threads", "1", "--quiet", "--n-particles", "30", "--batch-size", "32"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A plain 3-epoch `saltjet train` run, made in two calls (--stop-after 2, then --resume)."""
    folder = tmp_path_factory.mktemp("log")
    data = folder / "jetImage_0_150p_0.h5"
    write_hls4ml(data, n_jets=120, seed=0)
    out = folder / "run"
    argv = ["train", "--data", str(data), "--model", "salt", "--out", str(out), "--epochs", "3", *FAST]
    assert main(argv + ["--stop-after", "2"]) == 0
    assert main(["train", "--out", str(out), "--resume", "--quiet"]) == 0
    return out


def test_csv_has_the_jsonl_records_one_row_per_epoch(trained):
    records = run.read_jsonl(trained / run.METRICS_FILE)
    with open(trained / training_log.CSV_FILE, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3] == [r["epoch"] for r in records]
    assert list(rows[0]) == list(records[0])  # the same columns, in the same order
    for row, record in zip(rows, records):
        for key, value in record.items():
            if isinstance(value, float):
                assert float(row[key]) == value  # full precision
            elif value is None:
                assert row[key] == ""


def test_csv_cells_for_missing_and_non_finite_values():
    text = training_log.csv_text([{"epoch": 1, "val_auc": None, "loss": math.nan},
                                  {"epoch": 2, "loss": 0.5, "extra": True}])
    assert text.splitlines() == ["epoch,val_auc,loss,extra", "1,,,", "2,,0.5,True"]


def test_tensorboard_event_files_hold_every_epoch_once(trained):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(trained / training_log.TENSORBOARD_DIR))
    events.Reload()
    assert {"loss/train", "loss/validation", "accuracy/validation", "auc/validation"} <= set(events.Tags()["scalars"])
    steps = sorted(e.step for e in events.Scalars("loss/validation"))
    assert steps == [1, 2, 3]  # the resumed call added epoch 3 only
    records = run.read_jsonl(trained / run.METRICS_FILE)
    got = {e.step: e.value for e in events.Scalars("loss/validation")}
    assert got == pytest.approx({r["epoch"]: r["val_loss"] for r in records}, rel=1e-6)


def test_no_tensorboard_no_event_files(tmp_path, monkeypatch):
    monkeypatch.setattr(training_log, "tensorboard_available", lambda: False)
    training_log.log_epoch(tmp_path, [{"epoch": 1, "train_loss": 1.0}])
    assert (tmp_path / training_log.CSV_FILE).is_file()
    assert not (tmp_path / training_log.TENSORBOARD_DIR).exists()


def test_plot_curves_on_a_plain_train_run(trained, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["plot", "curves", "--run", str(trained)]) == 0
    printed = capsys.readouterr().out.split()
    assert sorted(printed) == [str(trained / "training_curves.pdf"), str(trained / "training_curves.png")]
    assert (trained / "training_curves.png").stat().st_size > 10_000
    assert main(["plot", "curves", "--run", str(trained), "--label", "salt", "--out", str(tmp_path / "fig")]) == 0
    assert (tmp_path / "fig" / "training_curves_salt.png").is_file()


def test_plot_curves_refuses_a_folder_without_epochs(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    (tmp_path / "empty").mkdir()
    assert main(["plot", "curves", "--run", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "metrics.jsonl holds no epochs" in err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / run.METRICS_FILE).write_text(json.dumps([1, 2]) + "\n")
    assert main(["plot", "curves", "--run", str(tmp_path / "bad")]) == 2
    assert "integer epoch" in capsys.readouterr().err
