"""`saltjet demo --quick`: the main job's path end to end on a tiny generated set."""

from __future__ import annotations

import json

from saltjet.cli import main


def test_demo_quick_prints_the_comparison_table(tmp_path, capsys):
    out, cache = tmp_path / "demo", tmp_path / "cache"
    assert main(["demo", "--quick", "--quiet", "--out", str(out), "--cache-dir", str(cache)]) == 0
    printed = capsys.readouterr().out
    table = [line for line in printed.splitlines() if line.startswith("| ")]
    labels = [line.split("|")[1].strip() for line in table[1:]]
    assert labels == ["SAL-T", "Linformer", "Transformer", "physics floor (BDT)"]
    # the table is the evaluation of the runs the demo wrote, not a fixed text
    results = json.loads((out / "results.json").read_text())
    salt = next(r for r in results["runs"] if r["run"] == "salt")
    assert f"{100 * salt['metrics']['accuracy']:.2f}" in table[1 + labels.index("SAL-T")]
    # the demo's inputs are the 6 log-scaled features: 3,264 + 3·16 embedding weights
    assert "3,312" in table[1 + labels.index("SAL-T")]
    assert (out / "report.md").is_file() and any((out / "figures").glob("*.png"))
    # the second call reuses the cached data and the finished runs
    assert main(["demo", "--quick", "--quiet", "--out", str(out), "--cache-dir", str(cache)]) == 0


def test_demo_bad_data_path_is_a_one_line_error(tmp_path, capsys):
    code = main(["demo", "--quick", "--quiet", "--data", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.h5" in err[0]
