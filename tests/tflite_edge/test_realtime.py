"""Tests for tflite_edge.realtime: the loop survives bad input; stale/missing rules; harness."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from emocore.fusion import FusionConfig, FusionEngine
from emocore.physio import PRECOMPUTED, PhysioFeatureConfig, PhysioSpec
from emodata.synthetic_cohort import CohortConfig, generate_cohort
from tests.tflite_edge.test_face_pipeline import write_tiny_bundle
from tflite_edge.bundle import load_bundle
from tflite_edge.face_pipeline import FacePipeline
from tflite_edge.loop_stats import percentiles_ms
from tflite_edge.physio_stream import PhysioStream
from tflite_edge.realtime import LoopConfig, RealtimeLoop, run_harness, run_loop
from tflite_edge.source_check import check_source
from tflite_edge.sources import (
    FRAME,
    FRAME_READ_FAILURE,
    SAMPLES,
    Event,
    FrameError,
    SampleChunk,
    Source,
    episode_source,
)


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    return write_tiny_bundle(tmp_path_factory.mktemp("rt") / "bundle")


@pytest.fixture(scope="module")
def episode():
    cohort = generate_cohort(1, 0, CohortConfig(faces_per_class=1, episodes_per_driver=1,
                                                 segment_s=(10, 10), frame_fps=2.0))
    return cohort.drivers[0].episodes[0]  # 30 s, frames every 0.5 s


def _loop(bundle_dir, out=None, **config) -> RealtimeLoop:
    bundle = load_bundle(bundle_dir)
    return RealtimeLoop(FusionEngine(FusionConfig.from_json(bundle.fusion_json)),
                        face=FacePipeline.from_bundle(bundle),
                        physio=PhysioStream.from_bundle(bundle), out=out,
                        config=LoopConfig(**config))


def _planted(episode) -> list[Event]:
    """The episode's events with NaN/inf/out-of-range samples, an eda gap, bad frames,
    a camera read failure, an unknown event and a timestamp going back; frames stop at 20 s."""
    events = []
    for event in episode_source(episode):
        t = event.timestamp_s
        if event.kind == SAMPLES:
            chunk = event.payload
            if chunk.signal == "eda" and 12.0 <= t < 15.0:
                continue  # sensor gap
            if chunk.signal == "hr" and 11.0 <= t < 11.5:
                chunk = chunk._replace(values=np.array([np.nan, np.inf, 500.0][:chunk.values.size]))
            events.append(Event(t, SAMPLES, chunk))
        elif t == 5.0:
            events.append(Event(t, FRAME, event.payload.astype(np.float32)))  # wrong dtype
        elif t == 6.0:
            events.append(Event(t, FRAME, np.zeros((10, 10, 2), np.uint8)))  # wrong shape
        elif t <= 20.0:
            events.append(event)
    events.append(Event(7.25, "frame_error", FrameError(FRAME_READ_FAILURE, "camera read failed")))
    events.append(Event(8.1, "radar", {"range_m": 3.0}))
    events.sort(key=lambda e: e.timestamp_s)
    events.insert(100, Event(0.0, FRAME, events[0].payload))  # goes back in time
    return events


def test_the_loop_survives_planted_faults(bundle_dir, episode):
    out = io.StringIO()
    loop = _loop(bundle_dir, out=out)
    events = _planted(episode)
    summary = run_loop(events, loop)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert summary["events"]["total"] == len(events) - 1  # all but the one going back in time
    assert summary["fused"]["lines"] == len(lines) > 60
    counts = summary["incidents"]["counts"]
    assert counts["corrupt_frame"] == 2 and counts["frame_read_failure"] == 1
    assert counts["unknown_event"] == 1 and counts["bad_timestamp"] == 1
    assert counts["sensor_gap"] >= 1 and counts["invalid_samples"] >= 1
    assert summary["frames"] == {"received": 41, "processed": 39, "dropped": 0, "corrupt": 2,
                                 "read_failures": 1, "no_face": 0}
    assert summary["physio"]["windows"] == 20 and summary["physio"]["predictions"] == 20
    by_t = {(line["t"], line["trigger"]): line for line in lines}
    bad = by_t[(5.0, "face")]
    assert bad["face"] == {"t": 5.0, "missing": "corrupt_frame"}
    assert bad["fused"]["label"] == "unknown"  # no physio window yet, face missing
    assert bad["fused"]["excluded_kinds"] == {"face": "missing", "physio": "no_reading"}
    assert set(bad["fused"]["excluded"]) == {"face", "physio"}  # with prose reasons
    assert by_t[(7.25, "face")]["face"]["missing"] == FRAME_READ_FAILURE
    assert by_t[(5.5, "face")]["fused"]["used"] == ["face"]  # the next good frame recovers
    gap = [i for i in summary["incidents"]["first"] if i["kind"] == "sensor_gap"]
    assert gap[0]["source"] == "physio:eda"
    latency = summary["latency_ms"]
    assert latency["face_model"]["count"] == 39 and latency["physio_features"]["count"] == 20
    assert latency["fusion"]["p50"] <= latency["fusion"]["p99"]
    assert summary["peak_rss_mb"] > 10


def test_incident_logging_can_be_left_to_the_caller(bundle_dir, episode, caplog):
    events = _planted(episode)
    with caplog.at_level("WARNING", logger="tflite_edge.realtime"):
        logged = run_loop(events, _loop(bundle_dir))
    assert any("invalid_samples [physio:hr]" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level("WARNING", logger="tflite_edge.realtime"):
        quiet = run_loop(events, _loop(bundle_dir, log_incidents=False))
    assert not [r for r in caplog.records if r.name == "tflite_edge.realtime"]
    assert quiet["incidents"] == logged["incidents"]  # still counted and kept
    with pytest.raises(ValueError, match="log_incidents must be a bool; got 0"):
        LoopConfig(log_incidents=0)


def test_stale_and_missing_rules(bundle_dir, episode):
    out = io.StringIO()
    run_loop(_planted(episode), _loop(bundle_dir, out=out))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    physio_lines = [x for x in lines if x["trigger"] == "physio"]
    assert physio_lines[0]["t"] >= 10.0  # the first window ends window_s after the start
    fresh = [x for x in physio_lines if x["t"] <= 21.5]
    stale = [x for x in physio_lines if x["t"] > 22.0]  # frames stopped at 20 s, max_age 2 s
    assert fresh and all(x["fused"]["used"] == ["face", "physio"] for x in fresh)
    assert stale and all(x["fused"]["used"] == ["physio"] for x in stale)
    assert all(x["fused"]["excluded_kinds"] == {"face": "stale"} for x in stale)
    for line in physio_lines:
        assert line["physio"]["quality"] > 0.5
        assert sum(line["fused"]["probs"]) == pytest.approx(1.0, abs=1e-5)


def test_realtime_replay_drops_late_frames(bundle_dir, episode):
    class LatePacer:
        realtime = True

        def wait(self, timestamp_s):
            return 1.0 if 3.0 <= timestamp_s < 5.0 else 0.0

    loop = _loop(bundle_dir, max_frame_lag_s=0.5)
    summary = run_loop(episode_source(episode, signals=False), loop, pacer=LatePacer())
    assert summary["frames"]["dropped"] == 4 and summary["frames"]["processed"] == 56
    assert summary["incidents"]["counts"]["dropped_frame"] == 4
    assert summary["realtime"] is True


def test_missing_physio_model_and_undetectable_frames(tmp_path, episode, monkeypatch):
    bundle = load_bundle(write_tiny_bundle(tmp_path / "face_only", physio=False,
                                           fusion_config=FusionConfig(
                                               modality_label_spaces={"face": "fer7"})))
    loop = RealtimeLoop(FusionEngine(FusionConfig.from_json(bundle.fusion_json)),
                        face=FacePipeline.from_bundle(bundle))
    events = list(episode_source(episode))[:200]
    big = np.zeros((120, 160, 3), np.uint8)
    events.append(Event(events[-1].timestamp_s, FRAME, big))
    import sys

    monkeypatch.setitem(sys.modules, "cv2", None)  # no OpenCV on this head unit
    summary = run_loop(events, loop)
    counts = summary["incidents"]["counts"]
    assert counts["no_physio_model"] == 1 and counts["detector_unavailable"] == 1
    assert summary["physio"]["ignored"] > 100
    assert summary["fused"]["labels"].get("unknown", 0) == 1  # only the undetectable frame


def test_bad_samples_payload_is_an_incident(bundle_dir):
    loop = _loop(bundle_dir)
    assert loop.handle(Event(0.0, SAMPLES, {"hr": [70]})) is None
    bad = SampleChunk("hr", np.zeros((2, 2)), 4.0, np.zeros(2))
    assert loop.handle(Event(0.1, SAMPLES, bad)) is None
    assert loop.summary()["incidents"]["counts"] == {"bad_physio_event": 2}


def test_run_harness_writes_lines_and_refuses_a_tampered_bundle(tmp_path, bundle_dir, episode):
    out = tmp_path / "lines" / "run.jsonl"
    summary = run_harness(bundle_dir, episode_source(episode), out_lines=out, max_events=300)
    assert summary["events"]["total"] == 300
    assert len(out.read_text().splitlines()) == summary["fused"]["lines"] > 0
    assert summary["bundle"]["face_model"].endswith("face_int8.tflite")
    assert summary["realtime"] is False and summary["warnings"] == []
    tampered = write_tiny_bundle(tmp_path / "tampered")
    data = bytearray((tampered / "physio.tflite").read_bytes())
    data[len(data) // 2] ^= 0x01
    (tampered / "physio.tflite").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="file 'physio.tflite' was altered"):
        run_harness(tampered, episode_source(episode))


def test_stale_physio_configuration_is_warned_about(tmp_path, episode):
    bundle_dir = write_tiny_bundle(tmp_path / "b", fusion_config=FusionConfig(max_age_s=0.5))
    summary = run_harness(bundle_dir, episode_source(episode), max_events=10)
    assert summary["warnings"] == ["fusion max_age_s 0.5 s < physio stride_s 1 s: the physio "
                                   "reading goes stale between windows"]


def test_argument_validation(bundle_dir):
    with pytest.raises(ValueError, match="max_frame_lag_s must be a finite number > 0; got 0"):
        LoopConfig(max_frame_lag_s=0)
    with pytest.raises(ValueError, match="fusion must be a FusionEngine; got FusionConfig"):
        RealtimeLoop(FusionConfig())
    with pytest.raises(ValueError, match="max_events must be an int >= 0 or None; got -1"):
        run_loop([], _loop(bundle_dir), max_events=-1)
    assert percentiles_ms([]) == {"count": 0}
    assert percentiles_ms([1_000_000, 3_000_000])["p50"] == 2.0


def _source(**contents) -> Source:
    return Source(iter(()), "the source", **contents)


def test_check_source_refuses_what_the_physio_model_cannot_take():
    fusion = FusionConfig()
    raw = PhysioSpec.raw_signals(PhysioFeatureConfig(groups=("cardiac", "resp")))
    precomputed = PhysioSpec(PRECOMPUTED, ("f1", "f2", "f3"))
    with pytest.raises(ValueError, match=r"^the source provides precomputed feature vectors \(3 "
                                         r"features\), but the bundle's physio model takes raw "
                                         r"signals \(hr/ecg/bvp, resp\) and computes its 7 "):
        check_source(_source(feature_names=("f1", "f2", "f3")), raw, fusion)
    with pytest.raises(ValueError, match=r"^the source provides raw signals \(hr, eda\), but the "
                                         r"bundle's physio model takes precomputed feature "
                                         r"vectors \(3 features: f1, f2, f3, ...\)"):
        check_source(_source(signals=("hr", "eda")), precomputed, fusion)
    with pytest.raises(ValueError, match=r"columns \['f1', 'f3', 'f2'\], but the bundle's physio "
                                         r"model takes \['f1', 'f2', 'f3'\]"):
        check_source(_source(feature_names=("f1", "f3", "f2")), precomputed, fusion)
    assert check_source(_source(feature_names=("f1", "f2", "f3")), precomputed, fusion) == []
    assert check_source(_source(signals=("ecg", "resp")), raw, fusion) == []
    assert check_source(_source(frames=True), raw, fusion) == []  # no physio input at all
    assert check_source(_source(signals=("hr",)), None, fusion) == []  # no physio model


def test_check_source_says_when_missing_signals_keep_physio_out_of_fusion():
    raw = PhysioSpec.raw_signals(PhysioFeatureConfig(groups=("cardiac", "resp"),
                                                     cardiac_source="ecg"))
    (warning,) = check_source(_source(signals=("hr", "resp")), raw, FusionConfig(min_quality=0.8))
    assert warning == (
        "the source has no ecg (ECG) signal: 5 of 7 physio features (hr_mean_bpm, hr_std_bpm, "
        "hrv_sdnn_ms, hrv_rmssd_ms, hrv_lf_hf) are NaN in every window; the forest sends them "
        "down each split's missing-value branch, and physio quality (the fraction of finite "
        "features) is at most 2/7 = 0.286 (below the fusion's min_quality 0.8: physio readings "
        "are never fused)")


def test_a_ctrl_c_stops_the_loop_cleanly_only_when_asked(bundle_dir, episode):
    def interrupted_after(n: int):
        for i, event in enumerate(episode_source(episode)):
            if i == n:
                raise KeyboardInterrupt
            yield event

    summary = run_loop(interrupted_after(50), _loop(bundle_dir), stop_on_interrupt=True)
    assert summary["interrupted"] is True and summary["events"]["total"] == 50
    assert run_loop(iter(()), _loop(bundle_dir))["interrupted"] is False
    with pytest.raises(KeyboardInterrupt):
        run_loop(interrupted_after(5), _loop(bundle_dir))
