"""Tests for tflite_edge.sources: frame/signal/feature sources, merging and pacing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from emocore.physio import Signal
from emodata.synthetic_cohort import CohortConfig, generate_cohort
from tests.emodata.test_drivedb import write_drive
from tflite_edge.sources import (
    CORRUPT_FRAME,
    FEATURES,
    FRAME,
    FRAME_ERROR,
    FRAME_READ_FAILURE,
    SAMPLES,
    Event,
    FrameError,
    Pacer,
    camera_source,
    drivedb_source,
    episode_source,
    features_source,
    frames_source,
    image_folder_source,
    merge,
    paced,
    signals_source,
    video_source,
)


def test_frames_source_and_validation():
    frames = np.zeros((3, 48, 48), np.uint8)
    events = list(frames_source(frames, [0.0, 0.5, 1.0]))
    assert [(e.timestamp_s, e.kind) for e in events] == [(0.0, FRAME), (0.5, FRAME), (1.0, FRAME)]
    with pytest.raises(ValueError, match=r"one time per frame \(3\); got shape \[2\]"):
        list(frames_source(frames, [0.0, 1.0]))
    with pytest.raises(ValueError, match="times_s must be finite and non-decreasing"):
        list(frames_source(frames, [0.0, 2.0, 1.0]))


def test_image_folder_source_reads_images_npy_and_reports_corrupt_files(tmp_path):
    gray = np.arange(48 * 48, dtype=np.uint8).reshape(48, 48)
    Image.fromarray(gray).save(tmp_path / "000.png")
    rgb = np.zeros((60, 80, 3), np.uint8)
    rgb[..., 1] = 200
    Image.fromarray(rgb).save(tmp_path / "001.png")
    (tmp_path / "002.jpg").write_bytes(b"not a jpeg at all")
    np.save(tmp_path / "003.npy", gray)
    (tmp_path / "notes.txt").write_text("ignored")
    events = list(image_folder_source(tmp_path, fps=4.0, start_s=1.0))
    assert [e.timestamp_s for e in events] == [1.0, 1.25, 1.5, 1.75]
    assert [e.kind for e in events] == [FRAME, FRAME, FRAME_ERROR, FRAME]
    np.testing.assert_array_equal(events[0].payload, gray)
    assert events[1].payload.shape == (60, 80) and events[1].payload.dtype == np.uint8
    assert isinstance(events[2].payload, FrameError)
    assert events[2].payload.reason == CORRUPT_FRAME and "002.jpg" in events[2].payload.detail
    np.testing.assert_array_equal(events[3].payload, gray)


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="frames folder .*nope' does not exist"):
        list(image_folder_source(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="holds no frame files"):
        list(image_folder_source(tmp_path))
    with pytest.raises(ValueError, match="fps must be a finite number > 0; got 0"):
        list(image_folder_source(tmp_path, fps=0))


class FakeCapture:
    """A VideoCapture stand-in: `script` of frames (None = failed read)."""

    def __init__(self, script):
        self.script = list(script)
        self.released = False

    def read(self):
        if not self.script:
            return False, None
        frame = self.script.pop(0)
        return frame is not None, frame

    def release(self):
        self.released = True


def test_camera_read_failures_become_events_and_a_dead_camera_stops():
    frame = np.zeros((4, 4, 3), np.uint8)
    ticks = iter(np.arange(0.0, 100.0, 0.1))
    capture = FakeCapture([frame, None, frame, None, None, None])
    events = list(camera_source(capture=capture, max_consecutive_failures=3,
                                clock=lambda: float(next(ticks))))
    kinds = [e.kind for e in events]
    assert kinds == [FRAME, FRAME_ERROR, FRAME] + [FRAME_ERROR] * 4
    assert all(e.payload.reason == FRAME_READ_FAILURE for e in events if e.kind == FRAME_ERROR)
    assert "camera lost after 3 failed reads" in events[-1].payload.detail
    assert events[0].timestamp_s == pytest.approx(0.1) and capture.released
    capture = FakeCapture([frame] * 10)
    assert len(list(camera_source(capture=capture, max_frames=4))) == 4 and capture.released
    with pytest.raises(ValueError, match="max_frames must be an int >= 0 or None; got -1"):
        camera_source(capture=capture, max_frames=-1)


def test_video_source_reads_a_file(tmp_path):
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (64, 48))
    for i in range(6):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    events = list(video_source(path))
    assert [e.kind for e in events] == [FRAME] * 6
    assert [e.timestamp_s for e in events] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert events[0].payload.shape == (48, 64, 3)
    assert len(list(video_source(path, max_frames=2))) == 2
    with pytest.raises(FileNotFoundError, match="video file .*missing.avi' does not exist"):
        video_source(tmp_path / "missing.avi")
    (tmp_path / "bad.avi").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot be opened by OpenCV|reports no frame rate"):
        video_source(tmp_path / "bad.avi")


def test_signals_source_cuts_packets_on_the_sample_clock():
    signals = {"hr": Signal(np.arange(10.0), 4.0), "ecg": Signal(np.arange(40.0), 16.0)}
    events = list(signals_source(signals, start_s=2.0, chunk_s=0.5))
    assert all(e.kind == SAMPLES for e in events)
    times = [e.timestamp_s for e in events]
    assert times == sorted(times)
    for name, (values, rate) in signals.items():
        chunks = [e.payload for e in events if e.payload.signal == name]
        np.testing.assert_array_equal(np.concatenate([c.values for c in chunks]), values)
        stamps = np.concatenate([c.timestamps_s for c in chunks])
        np.testing.assert_allclose(stamps, 2.0 + np.arange(values.size) / rate)
        assert all(c.rate_hz == rate for c in chunks)
        assert all(e.timestamp_s == e.payload.timestamps_s[-1] for e in events)
    assert len([e for e in events if e.payload.signal == "hr"]) == 5  # 2 samples per packet
    with pytest.raises(ValueError, match="unknown signal 'gsr'"):
        signals_source({"gsr": Signal(np.zeros(3), 4.0)})


def test_drivedb_source_maps_channels_and_uses_the_measured_rate(tmp_path):
    t = np.arange(0, 20, 0.065) + 3.0
    path = write_drive(tmp_path / "drive05.csv", {
        "Elapsed time(s)": t, "ECG(mV)": np.sin(t), "foot GSR(mV)": np.full(t.size, 4.0),
        "hand GSR(mV)": np.full(t.size, 6.0), "HR(bpm)": np.full(t.size, 70.0),
        "marker(mV)": np.full(t.size, 10.0)})
    events = list(drivedb_source(path, chunk_s=1.0))
    signals = {e.payload.signal for e in events}
    assert signals == {"eda", "hr"}  # no RESP column; marker and 15.5-Hz ECG are not signals
    eda = np.concatenate([e.payload.values for e in events if e.payload.signal == "eda"])
    np.testing.assert_array_equal(eda, 6.0)  # hand GSR preferred over foot GSR
    first = events[0].payload
    assert first.rate_hz == pytest.approx(1 / 0.065) and first.timestamps_s[0] == 0.0
    with pytest.raises(ValueError, match="has none of the channels"):
        list(drivedb_source(path, signals={"resp": ("resp",)}))


def test_episode_source_interleaves_frames_and_streams():
    cohort = generate_cohort(1, 0, CohortConfig(faces_per_class=1, episodes_per_driver=1,
                                                 segment_s=(10, 10), frame_fps=2.0))
    episode = cohort.drivers[0].episodes[0]
    events = list(episode_source(episode, chunk_s=0.5))
    times = [e.timestamp_s for e in events]
    assert times == sorted(times)
    frames = [e for e in events if e.kind == FRAME]
    assert len(frames) == episode.frames.shape[0] == 60
    np.testing.assert_array_equal(frames[3].payload, episode.frames[3])
    samples = sum(e.payload.values.size for e in events if e.kind == SAMPLES)
    assert samples == sum(s.values.size for s in episode.streams.values())
    assert all(e.kind == SAMPLES for e in episode_source(episode, frames=False))
    with pytest.raises(ValueError, match="needs frames=True and/or signals=True"):
        episode_source(episode, frames=False, signals=False)


def test_features_source():
    events = list(features_source(np.ones((3, 4)), period_s=2.0, start_s=1.0))
    assert [(e.timestamp_s, e.kind) for e in events] == [(1.0, FEATURES), (3.0, FEATURES),
                                                          (5.0, FEATURES)]
    assert events[0].payload.dtype == np.float32
    with pytest.raises(ValueError, match=r"features must be a numeric float\[N,F\] array"):
        list(features_source(np.ones(4)))


def test_merge_orders_by_time_and_keeps_argument_order_on_ties():
    a = [Event(0.0, "a", 1), Event(1.0, "a", 2)]
    b = [Event(0.0, "b", 1), Event(0.5, "b", 2)]
    assert [(e.kind, e.payload) for e in merge(a, b)] == [("a", 1), ("b", 1), ("b", 2), ("a", 2)]


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_pacer_sleeps_until_due_and_reports_lateness():
    clock = FakeClock()
    pacer = Pacer(True, clock=clock, sleep=clock.sleep)
    events = [Event(5.0, "x", None), Event(5.5, "x", None), Event(6.0, "x", None)]
    out = []
    for event, lateness in paced(events, pacer):
        out.append(lateness)
        if event.timestamp_s == 5.5:
            clock.now += 1.2  # processing this one took 1.2 s
    assert clock.sleeps == pytest.approx([0.5])
    assert out == pytest.approx([0.0, 0.0, 0.7])
    fast = Pacer(False, clock=clock, sleep=clock.sleep)
    assert [lateness for _, lateness in paced(events, fast)] == [0.0, 0.0, 0.0]
    assert clock.sleeps == pytest.approx([0.5])
    double = Pacer(True, speed=2.0, clock=clock, sleep=clock.sleep)
    list(paced(events, double))
    assert clock.sleeps[1:] == pytest.approx([0.25, 0.25])
    with pytest.raises(ValueError, match="speed must be a finite number > 0; got 0"):
        Pacer(True, speed=0)
