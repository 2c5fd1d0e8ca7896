"""Learning curves against training budget (saltjet.study.curves): the axes, the compute-matched
table, the report section and the figure."""

from __future__ import annotations

import json

import numpy as np
import pytest

from saltjet.study.curves import best_within, budget_axes, budget_table, curve_of, run_curve
from saltjet.study.report import render_report


def _row(label, flops, acc, seconds, n_train=1000, task="5class"):
    return {"task": task, "run": label.lower(), "label": label, "model": label.lower(), "seed": 0,
            "flops": flops, "n_train": n_train, "metrics": {"accuracy": acc[-1]}, "curve": {"val_accuracy": acc, "epoch_seconds": seconds}}


def _results(rows, figures=("curves",)):
    return {"study": "t", "command": "saltjet study t", "versions": {}, "runs": rows, "floor": [],
            "tasks": {"5class": {"class_names": ["a", "b"], "n_train": 1000, "n_test": 10, "n_pool": 20}},
            "settings": {"figures": list(figures), "seeds": 1, "train": {}, "data": {}, "columns": ["accuracy"]}}


def test_budget_axes_accumulate_time_and_flops():
    axes = budget_axes(_row("A", 100.0, [0.5, 0.6, 0.7], [2.0, 3.0, 5.0], n_train=10))
    assert axes["seconds"].tolist() == [2.0, 5.0, 10.0]
    assert axes["flops"].tolist() == [3000.0, 6000.0, 9000.0]  # epoch × jets × 3 × forward
    assert budget_axes({"task": "x"}) is None


def test_best_within_takes_only_epochs_inside_the_budget():
    axes = budget_axes(_row("A", 1.0, [0.5, 0.9, 0.7], [1.0, 1.0, 1.0]))
    assert best_within(axes, "seconds", 1.0) == 0.5
    assert best_within(axes, "seconds", 3.0) == 0.9
    assert np.isnan(best_within(axes, "seconds", 0.5))


def test_budget_table_matches_the_cheapest_run():
    cheap = _row("Cheap", 1.0, [0.6, 0.7], [1.0, 1.0])           # 2 s, 6000 FLOPs
    dear = _row("Dear", 10.0, [0.5, 0.65, 0.8], [1.0, 1.0, 1.0])  # 3 s, 90000 FLOPs
    table = budget_table(_results([cheap, dear]), "5class")
    lines = table.splitlines()
    assert "within 2 s" in lines[0] and "within 6e+03 FLOPs" in lines[0]
    cells = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in lines[2:]}
    assert cells["Cheap"][3:] == ["70.00", "70.00", "70.00"]
    # the dear model: 65 % after its 2nd second; not one epoch inside 6000 FLOPs (its first costs 30000)
    assert cells["Dear"][3:] == ["80.00", "65.00", "—"]


def test_report_has_the_budget_table_only_when_asked():
    rows = [_row("Cheap", 1.0, [0.6, 0.7], [1.0, 1.0]), _row("Dear", 10.0, [0.5, 0.8], [1.0, 1.0])]
    assert "compute-matched" in render_report(_results(rows))
    assert "compute-matched" not in render_report(_results(rows, figures=("roc",)))


def test_run_curve_reads_metrics_jsonl(tmp_path):
    assert run_curve(tmp_path) is None
    records = [{"epoch": 1, "val_accuracy": 0.4, "epoch_seconds": 2.5}, {"epoch": 2, "val_accuracy": 0.5, "epoch_seconds": 2.0}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert run_curve(tmp_path) == curve_of(records) == {"val_accuracy": [0.4, 0.5], "epoch_seconds": [2.5, 2.0]}


def test_learning_curve_figure_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    from saltjet.study.curves import learning_curve_figures

    rows = [_row("SAL-T", 1.0, [0.5, 0.6, 0.7], [1.0, 1.0, 1.0]), _row("Transformer", 3.0, [0.4, 0.6, 0.72], [2.0, 2.0, 2.0])]
    paths = learning_curve_figures(_results(rows), tmp_path)
    assert sorted(p.name for p in paths) == ["curves_5class.pdf", "curves_5class.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
