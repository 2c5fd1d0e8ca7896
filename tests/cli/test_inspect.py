"""`saltjet inspect` on files in the published layouts, and on bad input."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from published_layouts import write_hls4ml, write_jetclass, write_quarkgluon, write_toplandscape

from saltjet.cli import main
from saltjet.data.readers.screening import ReaderWarning


def inspect_json(capsys, *args) -> dict:
    assert main(["inspect", *map(str, args), "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return json.loads(out)


def test_inspect_json_hls4ml(tmp_path, capsys):
    a = write_hls4ml(tmp_path / "jetImage_0_150p_0_10000.h5", n_jets=20, seed=1, max_mult=50)
    b = write_hls4ml(tmp_path / "jetImage_1_150p_0_10000.h5", n_jets=15, seed=2, max_mult=70)
    s = inspect_json(capsys, tmp_path / "jetImage_*.h5")
    labels = np.concatenate([a["labels"], b["labels"]])
    mult = np.concatenate([(a["constituents"][..., 5] > 0).sum(1), (b["constituents"][..., 5] > 0).sum(1)])
    assert s["format"] == "hls4ml" and s["n_jets"] == 35
    assert s["class_names"] == ["g", "q", "W", "Z", "t"]
    assert s["class_counts"] == {name: int((labels == k).sum()) for k, name in enumerate(s["class_names"])}
    assert s["max_particles"] == mult.max()
    assert s["mean_multiplicity"] == pytest.approx(mult.mean())
    pt = np.concatenate([a["constituents"][..., 5].ravel(), b["constituents"][..., 5].ravel()])
    pt = pt[pt > 0]
    r = s["feature_ranges"]["pt"]
    assert (r["min"], r["median"], r["max"]) == pytest.approx((pt.min(), np.median(pt), pt.max()), rel=1e-6)
    assert inspect_json(capsys, tmp_path, "--max-jets", 12)["n_jets"] == 12


def test_inspect_every_jet_format(tmp_path, capsys):
    write_toplandscape(tmp_path / "test.h5", n_jets=10)
    write_quarkgluon(tmp_path / "QG_jets.npz", n_jets=10)
    write_jetclass(tmp_path / "ZToQQ_100.root", n_jets=10)
    expected = {"test.h5": ("toplandscape", 2), "QG_jets.npz": ("quarkgluon", 2), "ZToQQ_100.root": ("jetclass", 10)}
    for name, (fmt, n_classes) in expected.items():
        s = inspect_json(capsys, tmp_path / name)
        assert s["format"] == fmt and s["n_jets"] == 10 and len(s["class_names"]) == n_classes
        assert sum(s["class_counts"].values()) == 10
    s = inspect_json(capsys, tmp_path / "QG_jets.npz", "--format", "quarkgluon")
    assert s["class_names"] == ["g", "q"]


def test_inspect_text(tmp_path, capsys):
    write_hls4ml(tmp_path / "a.h5", n_jets=8)
    assert main(["inspect", str(tmp_path / "a.h5")]) == 0
    out = capsys.readouterr().out
    for text in ("hls4ml", "mean multiplicity", "eta_rel", "phi_rel", "median"):
        assert text in out


def test_inspect_bad_input_one_line_no_traceback(tmp_path, capsys):
    write_hls4ml(tmp_path / "good.h5", n_jets=10)
    (tmp_path / "garbage.h5").write_bytes(b"garbage " * 64)
    good = (tmp_path / "good.h5").read_bytes()
    (tmp_path / "truncated.h5").write_bytes(good[: len(good) // 3])
    write_quarkgluon(tmp_path / "QG_nan.npz", n_jets=3)
    np.savez(tmp_path / "QG_nan.npz", X=np.full((3, 4, 4), np.nan), y=np.ones(3))
    cases = [
        ([str(tmp_path / "missing.h5")], "no such file"),
        ([str(tmp_path / "garbage.h5")], "unknown data layout"),
        ([str(tmp_path / "truncated.h5")], "unreadable"),
        ([str(tmp_path / "truncated.h5"), "--format", "hls4ml"], "truncated"),
        ([str(tmp_path / "garbage.h5"), "--format", "jetclass"], "not a ROOT file"),
        ([str(tmp_path / "QG_nan.npz")], "3 of 3 jets hold NaN/inf"),
        ([str(tmp_path / "nothing_*.h5")], "no files match"),
    ]
    for args, message in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ReaderWarning)
            code = main(["inspect", *args, "--json"])
        captured = capsys.readouterr()
        assert code == 2, args
        assert captured.out == ""
        err = captured.err.strip()
        assert err.count("\n") == 0 and message in err and "Traceback" not in err, err
        assert err.startswith("saltjet inspect: error:")


def test_inspect_rejects_unknown_format_option(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["inspect", str(tmp_path), "--format", "csv"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err

