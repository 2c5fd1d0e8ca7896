"""`saltjet bench`: records with the documented keys, outputs written, bad options. No timing asserts."""

from __future__ import annotations

import json

import pytest

from saltjet.cli import main

KEYS = {"model", "n_particles", "batch_size", "backend", "params", "flops", "latency_ms", "jets_per_s", "peak_mem_mb"}


def test_quick_json_records(capsys):
    args = ["bench", "--quick", "--json", "--n", "8,16", "--batch", "1,3", "--backend", "torch,onnxruntime",
            "--threads", "1", "--repeats", "2"]
    assert main(args) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 3 * 2 * 2 * 2
    for r in records:
        assert KEYS <= set(r)
        assert r["latency_ms"] > 0 and r["jets_per_s"] > 0 and r["flops"] > 0
        if r["backend"] == "torch":
            assert r["flops_measured"] == r["flops"] and r["peak_mem_mb"] > 0
            assert r["n_run"] <= r["n_particles"] and r["flops_run"] <= r["flops"]
        else:  # a traced graph runs every slot
            assert r["n_run"] == r["n_particles"] and r["flops_run"] == r["flops"]
        assert abs(r["latency_per_jet_us"] * r["batch_size"] - r["latency_ms"] * 1e3) < 1e-6 * r["latency_ms"] * 1e3
        assert abs(r["gflops_per_s"] - r["flops_run"] * r["jets_per_s"] / 1e9) <= 1e-9 * r["gflops_per_s"]
    ratios = {r["ratio_to_transformer"] for r in records if r["model"] == "transformer"}
    assert ratios == {1.0}
    salt = {(r["n_particles"]): r["flops"] for r in records if r["model"] == "salt"}
    assert salt[16] > salt[8]


def test_out_dir_gets_json_table_and_plot(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["bench", "--quick", "--models", "salt,transformer", "--n", "8", "--batch", "2",
                 "--repeats", "1", "--quiet", "--out", str(out)]) == 0
    data = json.loads((out / "bench.json").read_text())
    assert data["context"]["gemm_gflops_per_s"] > 0 and len(data["records"]) == 2
    table = (out / "bench.md").read_text()
    assert "| salt | 8 | 2 | torch |" in table
    assert (out / "bench_scaling.png").stat().st_size > 1000
    assert "| transformer |" in capsys.readouterr().out


def test_compiled_backend_runs_every_slot(capsys):
    from saltjet.compiled import cxx_compiler

    if cxx_compiler() is None:
        pytest.skip("Inductor needs a C++ compiler on the CPU")
    args = ["bench", "--quick", "--json", "--models", "salt,transformer", "--n", "8", "--batch", "2",
            "--backend", "torch,compiled", "--threads", "1", "--repeats", "2", "--no-memory"]
    assert main(args) == 0
    records = json.loads(capsys.readouterr().out)
    compiled = [r for r in records if r["backend"] == "compiled"]
    assert len(records) == 4 and len(compiled) == 2
    for r in compiled:  # a fixed-shape graph: all n slots, timed after compilation
        assert r["n_run"] == r["n_particles"] and r["latency_ms"] > 0 and r["peak_mem_mb"] is None
    assert {r["ratio_to_transformer"] for r in compiled if r["model"] == "transformer"} == {1.0}


def test_compiled_backend_without_a_compiler_is_a_one_line_error(capsys, monkeypatch):
    import saltjet.compiled

    monkeypatch.setattr(saltjet.compiled, "cxx_compiler", lambda: None)
    assert main(["bench", "--quick", "--backend", "compiled", "--device", "cpu", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "needs a C++ compiler" in err and len(err.strip().splitlines()) == 1


def test_bad_options_are_one_line_errors(capsys):
    assert main(["bench", "--quick", "--models", "nope", "--quiet"]) == 2
    assert "unknown model" in capsys.readouterr().err
    assert main(["bench", "--quick", "--backend", "tensorrt", "--quiet"]) == 2
    assert "unknown backend" in capsys.readouterr().err


def test_cases_whose_graph_would_not_fit_in_memory_are_skipped_with_a_note():
    from saltjet.cost.bench import materialised_attention_bytes, memory_budget_bytes

    # an ONNX Transformer at n=1024, batch 1024 holds 2·1024·4·1024²·4 B = 32 GiB of attention
    assert materialised_attention_bytes("transformer", 1024, 1024, "onnxruntime") == 32 * 2**30
    assert materialised_attention_bytes("transformer", 1024, 1024, "torch") == 0  # fused SDPA
    assert materialised_attention_bytes("transformer", 1024, 1024, "compiled") == 0  # the same fused kernel
    assert materialised_attention_bytes("salt", 1024, 1024, "onnxruntime") == 0
    assert 0 < memory_budget_bytes()
