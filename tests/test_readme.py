"""The README's worked example (train -> evaluate -> predict -> export, then Python) runs as written.

The `saltjet generate` lines are the one substitution: Pythia takes minutes, so tiny hls4ml-layout
fixture files are written into the same folders instead. Every other line goes through the CLI's
`main` unchanged, and the Python block is executed as it stands.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from published_layouts import write_hls4ml
from saltjet.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## From file to score"


def worked_example() -> tuple[list[str], str]:
    """(the bash block's command lines, the python block's code) of the README's worked example."""
    text = README.read_text()
    assert SECTION in text, f"README has no section {SECTION!r}"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)
    bash = [code for lang, code in blocks if lang == "bash"]
    python = [code for lang, code in blocks if lang == "python"]
    assert len(bash) == 1 and len(python) == 1
    lines = [line.strip() for line in bash[0].splitlines() if line.strip() and not line.strip().startswith("#")]
    return lines, python[0]


def _fake_generate(argv: list[str]) -> None:
    out = Path(argv[argv.index("--out") + 1])
    seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else 0
    out.mkdir(parents=True, exist_ok=True)
    write_hls4ml(out / f"jetImage_gen_150p_{seed}.h5", n_jets=120, seed=seed, n_slots=150, max_mult=60)


def test_readme_worked_example_runs_as_written(tmp_path, monkeypatch, capsys):
    lines, code = worked_example()
    assert [line.split()[:2] for line in lines][2:] == [["saltjet", "train"], ["saltjet", "evaluate"],
                                                         ["saltjet", "predict"], ["saltjet", "export"]]
    monkeypatch.chdir(tmp_path)
    for line in lines:
        argv = shlex.split(line)
        assert argv[0] == "saltjet"
        if argv[1] == "generate":
            _fake_generate(argv)
            continue
        assert main(argv[1:]) == 0, line
    out = capsys.readouterr().out
    assert "accuracy" in out and "wrote runs/example/scores.h5" in out
    exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})


@pytest.mark.parametrize("needle", ["saltjet predict --run", "Tagger.from_run", "--with-sort", "input_features"])
def test_readme_documents_the_pipeline(needle):
    assert needle in README.read_text()
