"""Multi-process training: `torchrun --nproc_per_node=2` on CPU (gloo) runs `saltjet train` with DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch
from published_layouts import write_hls4ml
from safetensors.torch import load_file

from saltjet.training import run
from saltjet.cli import main

FAST = ["--num-threads", "1", "--quiet", "--n-particles", "30", "--batch-size", "32"]


def test_torchrun_two_cpu_processes_match_one_process(tmp_path):
    jets = tmp_path
    write_hls4ml(jets / "jetImage_0_150p_0.h5", n_jets=160, seed=0)
    write_hls4ml(jets / "jetImage_9_150p_0.h5", n_jets=40, seed=9)
    common = ["--data", str(jets / "jetImage_0_150p_0.h5"), "--val-data", str(jets / "jetImage_9_150p_0.h5"),
              "--model", "salt", "--epochs", "2", "--device", "cpu", *FAST]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "saltjet.cli", "train", "--out", str(tmp_path / "ddp"), *common]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((tmp_path / "ddp" / run.SUMMARY_FILE).read_text())
    assert summary["world_size"] == 2 and summary["ranks_agree"] and summary["n_train"] == 160
    assert len(run.read_jsonl(tmp_path / "ddp" / run.METRICS_FILE)) == 2
    assert run.read_info(tmp_path / "ddp").extra["world_size"] == 2
    # gradients averaged over two halves of each global batch = the single-process step, up to rounding
    assert main(["train", "--out", str(tmp_path / "one"), *common]) == 0
    a, b = load_file(str(tmp_path / "ddp" / run.WEIGHTS_FILE)), load_file(str(tmp_path / "one" / run.WEIGHTS_FILE))
    diff = max(float((a[k] - b[k]).abs().max()) for k in a)
    print(f"max |DDP - single| weight difference: {diff:.2e}")
    assert diff < 1e-4, diff
    assert not torch.equal(a["embed.0.weight"], torch.zeros_like(a["embed.0.weight"]))
