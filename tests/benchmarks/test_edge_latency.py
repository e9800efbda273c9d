"""Tests for benchmarks.edge_latency on a tiny bundle (the run itself needs no TensorFlow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import edge_latency
from tests.tflite_edge.test_face_pipeline import write_tiny_bundle

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_runs_without_tensorflow_and_reports_the_keys(tmp_path):
    bundle = write_tiny_bundle(tmp_path / "bundle")
    out = tmp_path / "edge_latency.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.edge_latency", f"--bundle={bundle}",
         "--iterations=30", "--warmup=3", "--detector_iterations=2", f"--out={out}"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report == json.loads(result.stdout)
    assert report["tensorflow_imported"] is False
    assert 0 < report["pipeline_p50_ms"] <= report["pipeline_p99_ms"]
    assert 0 < report["peak_rss_mb_without_detector"] <= report["peak_rss_mb"]
    stages = report["detail"]["pipeline"]["stages"]
    assert set(stages) == {"physio_features", "physio_model", "face", "fusion", "pipeline"}
    assert report["detail"]["pipeline"]["physio_mode"] == "raw_signals"
    detector = report["detail"]["detector"]
    if detector["available"]:
        assert report["detector_p50_ms"] > 0 and detector["face_found_rate"] == 1.0
    else:
        assert report["detector_p50_ms"] is None
    assert set(report["meets_targets"]) == {"pipeline_p99_ms", "peak_rss_mb",
                                            "calibration_p99_us"}
    calibration = report["detail"]["pipeline"]["calibration"]
    assert calibration["bundle_calibration"] is False  # the tiny bundle is uncalibrated
    assert calibration["config"]["running"] is True
    assert 0 < calibration["p50_us"] <= calibration["p99_us"] == report["calibration_p99_us"]
    assert report["provenance"]["command"].startswith("python -m benchmarks.edge_latency")


def test_calibration_cost_uses_the_bundles_calibration():
    from emocore.calibration import CalibrationConfig
    from emocore.physio import PRECOMPUTED, PhysioSpec

    spec = PhysioSpec(PRECOMPUTED, ("a", "b"),
                      calibration=CalibrationConfig("center", 5, prior="driver_profile"))
    result = edge_latency.measure_calibration(spec, iterations=20)
    assert result["bundle_calibration"] is True and result["features"] == 2
    assert result["config"]["method"] == "center" and result["config"]["running"] is True
    assert result["p50_us"] > 0


def test_face_only_bundle_times_the_face_path(tmp_path):
    from emocore.fusion import FusionConfig

    bundle = write_tiny_bundle(tmp_path / "b", physio=False,
                               fusion_config=FusionConfig(modality_label_spaces={"face": "fer7"}))
    detail = edge_latency.measure_pipeline(str(bundle), iterations=5, warmup=1)
    assert set(detail["stages"]) == {"face", "fusion", "pipeline"}
    assert detail["stages"]["face"]["p50_ms"] <= detail["stages"]["pipeline"]["max_ms"]


def test_argument_validation(tmp_path):
    with pytest.raises(ValueError, match="iterations must be >= 1; got 0"):
        edge_latency.run(str(tmp_path), iterations=0)
    with pytest.raises(ValueError, match="warmup must be >= 0; got -1"):
        edge_latency.run(str(tmp_path), warmup=-1)
