"""benchmarks.face_fl: config overrides and their errors (one line, exit 2, before any data is
read or TFF worker started), and the rounds-to-target helper."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.face_fl import first_round_reaching

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _face_fl(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, "-m", "benchmarks.face_fl", *args], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=180)


def _error_lines(result: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if ": error: " in line]


@pytest.fixture
def fer_root(tmp_path: Path) -> Path:
    """A data root that passes the data-path check (its fer2013/ folder is empty)."""
    (tmp_path / "data" / "fer2013").mkdir(parents=True)
    return tmp_path / "data"


@pytest.mark.parametrize("override, expected", [
    ("--config.train.rounds=0", "face_fl: error: config.train.rounds must be >= 1; got 0"),
    ("--rounds=0", "face_fl: error: config.train.rounds must be >= 1; got 0"),
    ("--config.model.dropout=1.5",
     "face_fl: error: config.model.dropout must be in [0, 1); got 1.5"),
])
def test_invalid_config_is_one_line_before_the_data_is_read(fer_root, tmp_path, override,
                                                             expected):
    result = _face_fl(f"--data_root={fer_root}", f"--workdir={tmp_path / 'work'}", override)
    assert result.returncode == 2, result.stderr
    assert _error_lines(result) == [expected]
    assert not (tmp_path / "work").exists()


def test_unknown_key_and_missing_data_are_one_line(tmp_path):
    result = _face_fl("--config.train.roudns=3")
    assert result.returncode == 2, result.stderr
    [line] = _error_lines(result)
    assert line.startswith("face_fl: error: --config.train.roudns: unknown config key "
                           "'train.roudns'; did you mean 'train.rounds'?")
    missing = tmp_path / "nowhere"
    result = _face_fl(f"--data_root={missing}")
    assert result.returncode == 2, result.stderr
    assert _error_lines(result) == [
        "face_fl: error: config.data.data_root must be a folder holding fer2013/ (image folders) "
        f"or fer2013.csv (the FER2013 data path is missing); got '{missing}'"]


def test_first_round_reaching_returns_the_first_round_at_or_above_the_target():
    rows = [{"round": 4, "acc": 0.5}, {"round": 6}, {"round": 8, "acc": 0.7},
            {"round": 12, "acc": 0.8}]
    assert first_round_reaching(rows, "acc", 0.7) == 8
    assert first_round_reaching(rows, "acc", 0.5) == 4
    assert first_round_reaching(rows, "acc", 0.81) is None
