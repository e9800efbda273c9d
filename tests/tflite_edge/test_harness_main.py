"""Tests for tflite_edge.harness_main: flag parsing into sources, the CLI without TensorFlow."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.emodata.test_drivedb import write_drive
from tests.emodata.test_wesad import write_subject
from tests.tflite_edge.test_face_pipeline import write_tiny_bundle
from tflite_edge.harness_main import build_source, resolve_delegate
from tflite_edge.sources import FEATURES, FRAME, SAMPLES

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Runs the CLI with TensorFlow blocked, as on a head unit without it.
_RUN_WITHOUT_TF = textwrap.dedent(
    """
    import importlib.abc, runpy, sys

    class BlockTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"tensorflow", "keras"}:
                raise ImportError(f"{name} is blocked")
            return None

    sys.meta_path.insert(0, BlockTensorFlow())
    sys.argv = ["harness_main", *sys.argv[1:]]
    runpy.run_module("tflite_edge.harness_main", run_name="__main__")
    """
)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _RUN_WITHOUT_TF, *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120)


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    """The CLI's single stderr line for a refused run (exit status 2, no traceback)."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness_main: error: "), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    return write_tiny_bundle(tmp_path_factory.mktemp("hm") / "bundle")


def test_resolve_delegate():
    assert resolve_delegate(None) is None and resolve_delegate("") is None
    assert resolve_delegate("edgetpu").startswith(("libedgetpu", "edgetpu"))
    assert resolve_delegate("/opt/lib/libfoo.so") == "/opt/lib/libfoo.so"


def test_build_source_from_flags(tmp_path):
    (tmp_path / "frames").mkdir()
    for i in range(3):
        Image.fromarray(np.full((48, 48), 10 * i, np.uint8)).save(tmp_path / "frames" / f"{i}.png")
    t = np.arange(0, 5, 0.065)
    drive = write_drive(tmp_path / "drive07.csv", {
        "Elapsed time(s)": t, "HR(bpm)": np.full(t.size, 70.0), "RESP(mV)": np.sin(t)})
    source = build_source(frames=str(tmp_path / "frames"), physio_replay=str(drive), fps=2)
    assert (source.signals, source.frames, source.feature_names) == (("hr", "resp"), True, ())
    events = list(source)
    assert [e.timestamp_s for e in events if e.kind == FRAME] == [0.0, 0.5, 1.0]
    assert {e.payload.signal for e in events if e.kind == SAMPLES} == {"hr", "resp"}
    write_subject(tmp_path / "wesad", 3, [0, 1, 2])
    events = list(build_source(physio_replay=str(tmp_path / "wesad" / "S3_feats_4.csv"),
                               features_period_s=2.0))
    assert [(e.timestamp_s, e.kind) for e in events] == [(0.0, FEATURES), (2.0, FEATURES),
                                                          (4.0, FEATURES)]
    synthetic = build_source(physio_replay="synthetic:1")
    kinds = {next(synthetic).kind for _ in range(400)}
    assert kinds == {FRAME, SAMPLES}  # the episode's own camera frames come along


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({}, ValueError, "give --frames and/or --physio_replay; got neither"),
    ({"frames": "/no/such/dir"}, FileNotFoundError, "--frames: '/no/such/dir' is neither"),
    ({"physio_replay": "/no/drive01.csv"}, FileNotFoundError, "--physio_replay: .* nor an"),
    ({"physio_replay": "synthetic:x"}, FileNotFoundError, "--physio_replay: 'synthetic:x'"),
])
def test_build_source_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        build_source(**kwargs)


def test_unknown_replay_file_name(tmp_path):
    (tmp_path / "recording.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="file name 'recording.csv' is neither driveNN.csv"):
        build_source(physio_replay=str(tmp_path / "recording.csv"))


def test_cli_runs_a_synthetic_replay_without_tensorflow(tmp_path, bundle_dir):
    out, summary_out = tmp_path / "lines.jsonl", tmp_path / "summary.json"
    result = _cli(f"--bundle={bundle_dir}", "--physio_replay=synthetic:0", "--max_events=400",
                  f"--out={out}", f"--summary_out={summary_out}")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary == json.loads(summary_out.read_text())
    assert summary["events"]["total"] == 400 and summary["frames"]["processed"] > 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == summary["fused"]["lines"]
    assert {"t", "trigger", "face", "physio", "fused", "latency_ms"} <= set(lines[0])


def test_cli_refuses_a_tampered_bundle(tmp_path):
    bundle = write_tiny_bundle(tmp_path / "bundle")
    (bundle / "fusion.json").write_text((bundle / "fusion.json").read_text().replace("2.0", "9.0"))
    result = _cli(f"--bundle={bundle}", "--physio_replay=synthetic:0", "--max_events=5")
    assert result.returncode == 2
    assert "harness_main: error: bundle" in result.stderr
    assert "file 'fusion.json' was altered" in result.stderr


def test_cli_edgetpu_without_the_runtime_is_a_clear_error(bundle_dir):
    from tflite_edge.interpreter import can_load_library

    library = resolve_delegate("edgetpu")
    if can_load_library(library):
        pytest.skip(f"{library} is installed on this machine")
    result = _cli(f"--bundle={bundle_dir}", "--physio_replay=synthetic:0", "--delegate=edgetpu")
    assert result.returncode == 2
    assert f"could not load delegate library '{library}'" in result.stderr
    assert "Coral runtime" in result.stderr


def _drive_with_bad_rows(path: Path) -> Path:
    """A 30-s drivedb drive (HR + respiration, no EDA or temperature) whose file lines 5 and 9
    hold a non-numeric heart rate."""
    t = np.arange(0, 30, 0.065)
    drive = write_drive(path, {"Elapsed time(s)": t, "HR(bpm)": np.full(t.size, 70.0),
                               "RESP(mV)": np.sin(t)})
    lines = drive.read_text().splitlines()
    for line in (5, 9):
        fields = lines[line - 1].split(",")
        fields[1] = "n/a"
        lines[line - 1] = ",".join(fields)
    drive.write_text("\n".join(lines) + "\n")
    return drive


def test_cli_bad_drivedb_row_names_the_header_column_and_line(tmp_path, bundle_dir):
    drive = _drive_with_bad_rows(tmp_path / "drive07.csv")
    line = _one_error_line(_cli(f"--bundle={bundle_dir}", f"--physio_replay={drive}"))
    assert line == (f"harness_main: error: {drive}: line 5: column 'HR(bpm)' (column 2 of 3) "
                    "holds a non-numeric value 'n/a'")


def test_cli_on_bad_row_skip_counts_skipped_rows_and_reports_missing_signals(tmp_path,
                                                                               bundle_dir):
    drive = _drive_with_bad_rows(tmp_path / "drive07.csv")
    result = _cli(f"--bundle={bundle_dir}", f"--physio_replay={drive}", "--on_bad_row=skip")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["source"] == {"description": f"--physio_replay={drive} (drivedb drive)",
                                 "signals": ["hr", "resp"], "features": 0, "frames": False,
                                 "skipped_rows": 2}
    assert summary["physio"]["predictions"] > 0
    # The tiny bundle's 14 features need eda and temp too: said once, with the quality cap.
    missing = [w for w in summary["warnings"] if "has no" in w]
    assert missing == [
        f"--physio_replay={drive} (drivedb drive) has no eda (electrodermal activity) signal: 5 "
        "of 14 physio features (eda_tonic_mean, eda_tonic_slope_per_min, eda_scr_count, "
        "eda_scr_amp_mean, eda_scr_rise_mean_s) are NaN in every window; the forest sends them "
        "down each split's missing-value branch, and physio quality (the fraction of finite "
        "features) is at most 9/14 = 0.643 (fusion min_quality 0.5)",
        f"--physio_replay={drive} (drivedb drive) has no temp (skin temperature) signal: 2 of 14 "
        "physio features (temp_mean, temp_slope_per_min) are NaN in every window; the forest "
        "sends them down each split's missing-value branch, and physio quality (the fraction of "
        "finite features) is at most 12/14 = 0.857 (fusion min_quality 0.5)"]
    for warning in missing:
        assert result.stderr.count(warning) == 1  # logged once, at start


def test_cli_refuses_a_wesad_feature_csv_on_a_raw_signal_bundle(tmp_path, bundle_dir):
    csv = write_subject(tmp_path / "wesad", 3, [0, 1, 2])
    line = _one_error_line(_cli(f"--bundle={bundle_dir}", f"--physio_replay={csv}"))
    assert line == (
        f"harness_main: error: --physio_replay={csv} (WESAD feature CSV) provides precomputed "
        "feature vectors (46 features), but the bundle's physio model takes raw signals "
        "(hr/ecg/bvp, eda, temp, resp) and computes its 14 window features itself: replay raw "
        "signals (a drivedb drive or synthetic[:SEED]) or use a bundle built on precomputed "
        "features")


@pytest.mark.parametrize("flag", ["--out", "--summary_out"])
def test_cli_output_under_an_existing_file_is_refused_up_front(tmp_path, bundle_dir, flag):
    (tmp_path / "a_file").write_text("x")
    target = tmp_path / "a_file" / "x.json"
    line = _one_error_line(_cli(f"--bundle={bundle_dir}", "--physio_replay=synthetic:0",
                                f"{flag}={target}"))
    assert line == (f"harness_main: error: {flag}: cannot write '{target}': "
                    f"'{tmp_path / 'a_file'}' is a file, not a folder")


def test_cli_ctrl_c_during_a_realtime_replay_stops_cleanly_with_the_summary(tmp_path,
                                                                             bundle_dir):
    out, summary_out = tmp_path / "lines.jsonl", tmp_path / "summary.json"
    process = subprocess.Popen(
        [sys.executable, "-c", _RUN_WITHOUT_TF, f"--bundle={bundle_dir}",
         "--physio_replay=synthetic:0", "--realtime", f"--out={out}",
         f"--summary_out={summary_out}"], cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not (out.is_file() and out.stat().st_size > 0):  # fused lines are coming
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "harness_main: interrupted" in stderr
    summary = json.loads(stdout)
    assert summary == json.loads(summary_out.read_text())
    assert summary["interrupted"] is True and summary["realtime"] is True
    assert summary["events"]["total"] > 0
    lines = out.read_text().splitlines()
    assert len(lines) == summary["fused"]["lines"] > 0
    json.loads(lines[-1])  # the last line is complete


def test_driver_profile_is_read_merged_with_the_session_and_written(tmp_path):
    from emocore.calibration import ReferenceStats
    from tflite_edge.harness_main import read_driver_profile, write_driver_profile

    path = tmp_path / "profiles" / "driver.json"
    assert read_driver_profile(path) is None and read_driver_profile(None) is None
    rng = np.random.default_rng(0)
    first = ReferenceStats.from_windows(rng.normal(size=(6, 2)), ("a", "b"))
    write_driver_profile(path, None, first.to_json_dict())
    second = ReferenceStats.from_windows(rng.normal(size=(4, 2)), ("a", "b"))
    write_driver_profile(path, read_driver_profile(path), second.to_json_dict())
    profile = read_driver_profile(path)
    np.testing.assert_array_equal(profile.count, [10.0, 10.0])
    np.testing.assert_allclose(profile.mean, first.merge(second).mean, rtol=1e-15)
    with pytest.raises(ValueError, match="the bundle's physio model is not calibrated"):
        write_driver_profile(path, profile, None)
    path.write_text("{}")
    with pytest.raises(ValueError, match="is not a driver profile: reference statistics must"):
        read_driver_profile(path)
