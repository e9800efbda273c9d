from __future__ import annotations

from pathlib import Path

from pipeline.report import results_table


def _summary(incident_counts: dict[str, int]) -> dict:
    latency = {"face_model": {"count": 3, "p50": 0.5, "p99": 0.9}, "fusion": {"count": 0}}
    return {
        "timings": {"cohort_s": 1.0, "replay_s": 2.0},
        "cohort": {"drivers": 26, "faces_per_class": {"happy": 10}, "episodes": 52},
        "replay": {"driver": 26, "episode_s": [120.0],
                   "accuracy": [{"face": 0.9, "physio": 0.8, "fused": 0.95, "face_decisions": 3,
                                 "physio_decisions": 2, "fused_decisions": 3,
                                 "face_reading": 0.7, "physio_reading": 0.8}],
                   "harness": [{"latency_ms": latency, "peak_rss_mb": 70.0,
                                "incidents": {"counts": incident_counts}}]},
    }


def test_the_table_counts_replay_incidents_once():
    table = results_table(_summary({"invalid_samples": 12, "sensor_gap": 3}), Path("/tmp/w"))
    assert ("  replay incidents (counted, not fatal): invalid_samples 12, sensor_gap 3  "
            "(-v 0 logs each; the synthetic drives include sensor dropouts)") in table
    assert "face_model p50 0.50 / p99 0.90" in table and "fusion p50" not in table
    assert "    fused        0.950          3\n" in table
    assert "    face         0.900          3  0.700\n" in table


def test_no_incident_line_without_incidents():
    assert "replay incidents" not in results_table(_summary({}), Path("/tmp/w"))
