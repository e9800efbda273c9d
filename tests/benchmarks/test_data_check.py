"""Tests for benchmarks.data_check on a tiny fixture data root in the real layouts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks import data_check
from tests.emodata.test_drivedb import protocol_columns, small_columns, write_drive
from tests.emodata.test_fer2013 import write_image_tree
from tests.emodata.test_wesad import write_subject

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def make_data_root(root: Path) -> Path:
    write_image_tree(root / "fer2013")
    write_subject(root / "wesad_features", 2, [0, 1, 1])
    write_subject(root / "wesad_features", 3, [2])
    write_drive(root / "drivedb" / "drive05.csv", protocol_columns())
    cols = small_columns()
    write_drive(root / "drivedb" / "drive01.csv", {k: cols[k] for k in list(cols)[:2]})
    return root


def test_run_checks_reports_counts(tmp_path, capsys):
    root = make_data_root(tmp_path / "data")
    results = data_check.run_checks(root, cache_dir=str(tmp_path / "cache"))
    lines = capsys.readouterr().out.strip().splitlines()
    assert [json.loads(line) for line in lines] == results
    fer, wesad, drive = results
    assert fer["ok"] and fer["splits"] == {"train": 3, "public_test": 1, "private_test": 1}
    assert fer["class_counts"]["train"]["happy"] == 1 and not fer["from_cache"]
    assert wesad["ok"] and wesad["rows"] == 4 and wesad["subjects"] == 2
    assert wesad["label_counts"] == {"amusement": 1, "baseline": 2, "stress": 1}
    assert drive["ok"] and drive["used"] == ["drive05"]
    assert drive["excluded"] == {"drive01": "no marker column"}
    assert 29.5 < drive["labelled_minutes"]["low"] < 30.5
    assert set(drive["segment_minutes"]["drive05"]) >= {"rest1", "city3", "rest2"}
    again = data_check.run_checks(root, str(tmp_path / "cache"), datasets=["fer2013"])
    assert again[0]["from_cache"]


def test_failed_dataset_is_reported_not_raised(tmp_path, capsys):
    root = make_data_root(tmp_path / "data")
    (root / "wesad_features" / "S3_feats_4.csv").write_text("a,b\n1,2\n")
    (wesad,) = data_check.run_checks(root, datasets=["wesad"])
    assert not wesad["ok"]
    assert wesad["error"].startswith("DataFormatError: ") and "S3_feats_4.csv" in wesad["error"]


def test_command_line_exit_status_and_out_file(tmp_path):
    root = make_data_root(tmp_path / "data")
    out = tmp_path / "out" / "check.json"
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.data_check",
        f"--data_root={root}",
        f"--cache_dir={tmp_path / 'cache'}",
        f"--out={out}",
        "--datasets=wesad,drivedb",
    ]
    ok = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert [json.loads(line)["dataset"] for line in ok.stdout.splitlines()] == ["wesad", "drivedb"]
    assert "drive05" in ok.stderr  # the per-drive segment table
    assert json.loads(out.read_text())["ok"] is True
    (root / "drivedb" / "drive05.csv").unlink()
    (root / "drivedb" / "drive01.csv").unlink()
    failed = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1
    last = json.loads(failed.stdout.splitlines()[-1])
    assert last["dataset"] == "drivedb" and "no files matching" in last["error"]
