"""Tests for tflite_edge.harness_main: flag parsing into sources, the CLI without TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
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
    events = list(build_source(frames=str(tmp_path / "frames"), physio_replay=str(drive), fps=2))
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
    assert result.returncode == 1
    assert "harness_main: error: bundle" in result.stderr
    assert "file 'fusion.json' was altered" in result.stderr


def test_cli_edgetpu_without_the_runtime_is_a_clear_error(bundle_dir):
    from tflite_edge.interpreter import can_load_library

    library = resolve_delegate("edgetpu")
    if can_load_library(library):
        pytest.skip(f"{library} is installed on this machine")
    result = _cli(f"--bundle={bundle_dir}", "--physio_replay=synthetic:0", "--delegate=edgetpu")
    assert result.returncode == 1
    assert f"could not load delegate library '{library}'" in result.stderr
    assert "Coral runtime" in result.stderr
