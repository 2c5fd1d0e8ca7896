"""`saltjet models` and the CLI's error contract."""

from __future__ import annotations

import subprocess
import sys

import pytest

from saltjet.cli import main


def test_models_command_prints_parameter_counts(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "3,264" in out and "6,809" in out and "2,009" in out


def test_bad_option_exits_non_zero_without_traceback():
    proc = subprocess.run([sys.executable, "-m", "saltjet.cli", "models", "--n-particles", "0"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "expected a number" in proc.stderr


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "models" in capsys.readouterr().out
