"""Input sources of the head-unit loop: one uniform, time-ordered stream of `Event`s.

An `Event` is `(timestamp_s, kind, payload)` on the stream clock (seconds; replays start at
`start_s`, live cameras at 0 when capture starts). Kinds and payloads:

    "frame"        `uint8[H,W]` grayscale, `uint8[H,W,3]` BGR (OpenCV order) or any array a
                   source produced (the loop validates shape and dtype)
    "frame_error"  `FrameError(reason, detail)`: no frame was delivered; reason is
                   "frame_read_failure" (camera/video read failed) or "corrupt_frame"
                   (undecodable file)
    "samples"      `SampleChunk`: consecutive samples of one signal; the event time is the time
                   of its newest sample (when the packet is complete)
    "features"     `float32[F]`: a precomputed physiological feature vector (e.g. WESAD rows)

Sources: `camera_source` (cv2.VideoCapture), `image_folder_source` (image or `.npy` files,
sorted by name), `video_source`, `frames_source` (arrays), `signals_source` (whole recordings
cut into packets), `drivedb_source` (a drivedb drive, `emodata.drivedb`), `episode_source` (a
synthetic cohort episode, `emodata.synthetic_cohort`), `features_source`; `merge` interleaves
several sources by time. `Source` is a stream plus what it delivers (raw signals, precomputed
features, frames; rows its loader skipped), which the harness checks against the bundle before
it runs (`tflite_edge.source_check.check_source`); `merge_sources` merges them. `Incident` records
what went wrong on the stream (the loop's log).
`Pacer` replays a stream in real time (sleeping until each event is due, and reporting how late
it is) or as fast as possible.
OpenCV is imported lazily by the sources that need it (camera, video, image files when PIL is
absent); numpy is the only hard dependency.
"""

from __future__ import annotations

import dataclasses
import heapq
import importlib
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from emocore.physio import SIGNAL_KINDS, Signal
from emodata.drivedb import DRIVEDB_SIGNALS, Drive, drive_channels, read_drive

if TYPE_CHECKING:
    from emodata.synthetic_cohort import Episode

FRAME = "frame"
FRAME_ERROR = "frame_error"
SAMPLES = "samples"
FEATURES = "features"
EVENT_KINDS = (FRAME, FRAME_ERROR, SAMPLES, FEATURES)
FRAME_READ_FAILURE = "frame_read_failure"
CORRUPT_FRAME = "corrupt_frame"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".tif", ".tiff")
FRAME_SUFFIXES = (*IMAGE_SUFFIXES, ".npy")
CAMERA_MAX_CONSECUTIVE_FAILURES = 30


class Event(NamedTuple):
    """One item of the stream: `timestamp_s` (stream clock, s), `kind` (EVENT_KINDS), payload."""

    timestamp_s: float
    kind: str
    payload: Any


@dataclasses.dataclass
class Source:
    """An event stream (iterate it like `events`) and what it delivers.

    `description` names it in messages (e.g. "drivedb drive 'drive07.csv'"); `signals` are the
    raw signal kinds (SIGNAL_KINDS) it sends as "samples"; `feature_names` name the columns of
    its precomputed "features" vectors (empty: it sends none); `frames` tells whether it sends
    camera frames; `skipped_rows` counts bad rows its loader dropped (on_bad_row='skip').
    """

    events: Iterator[Event]
    description: str
    signals: tuple[str, ...] = ()
    feature_names: tuple[str, ...] = ()
    frames: bool = False
    skipped_rows: int = 0

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        return next(self.events)

    def to_json_dict(self) -> dict[str, Any]:
        """What the summary reports about the source."""
        return {"description": self.description, "signals": list(self.signals),
                "features": len(self.feature_names), "frames": self.frames,
                "skipped_rows": self.skipped_rows}


def merge_sources(*sources: Source) -> Source:
    """One `Source` interleaving `sources` by time (see `merge`), with their union of contents."""
    if not sources:
        raise ValueError("merge_sources needs at least one Source; got none")
    return Source(
        merge(*sources),
        "; ".join(s.description for s in sources),
        tuple(dict.fromkeys(k for s in sources for k in s.signals)),
        tuple(name for s in sources for name in s.feature_names),
        any(s.frames for s in sources),
        sum(s.skipped_rows for s in sources),
    )


class FrameError(NamedTuple):
    """Payload of "frame_error": `reason` (FRAME_READ_FAILURE or CORRUPT_FRAME) and detail."""

    reason: str
    detail: str


class Incident(NamedTuple):
    """Something that went wrong on the stream (bad samples, a gap, a corrupt frame, ...):
    when (stream clock, s), what (`kind`, e.g. "sensor_gap"), where (`source`, e.g.
    "physio:hr", "face") and a human-readable `detail`."""

    timestamp_s: float
    kind: str
    source: str
    detail: str


class SampleChunk(NamedTuple):
    """Consecutive samples of one signal: `values: float64[N]` at `rate_hz`, taken at
    `timestamps_s: float64[N]` (increasing; gaps are allowed and detected downstream)."""

    signal: str
    values: np.ndarray
    rate_hz: float
    timestamps_s: np.ndarray


def _positive(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    if not (math.isfinite(float(value)) and float(value) > 0):
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def _optional_count(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0 or None; got {value!r}")
    return value


def import_cv2(purpose: str) -> Any:
    """The `cv2` module; ImportError naming `purpose` and the package to install when absent."""
    try:
        return importlib.import_module("cv2")
    except ImportError:
        raise ImportError(
            f"{purpose} needs OpenCV, which is not installed: pip install "
            "opencv-python-headless (or the project's [edge-camera] extra)"
        ) from None


# ----------------------------------------------------------------------------- frames


def frames_source(
    frames: np.ndarray | Iterable[np.ndarray], times_s: np.ndarray | Iterable[float]
) -> Iterator[Event]:
    """"frame" events from `frames` (e.g. `uint8[T,48,48]`) at `times_s: float[T]` (increasing)."""
    times = np.asarray(times_s if isinstance(times_s, np.ndarray) else list(times_s),
                       dtype=np.float64)
    frames = frames if isinstance(frames, np.ndarray) else list(frames)
    if times.ndim != 1 or len(frames) != times.shape[0]:
        raise ValueError(f"times_s must be float[T] with one time per frame ({len(frames)}); "
                         f"got shape {list(times.shape)}")
    if not np.all(np.isfinite(times)) or np.any(np.diff(times) < 0):
        raise ValueError("times_s must be finite and non-decreasing")
    for t, frame in zip(times.tolist(), frames, strict=True):
        yield Event(t, FRAME, frame)


def list_frame_files(folder: str | os.PathLike) -> list[Path]:
    """Frame files (FRAME_SUFFIXES, case-insensitive) directly in `folder`, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"frames folder {str(folder)!r} does not exist or is not a folder")
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"frames folder {str(folder)!r} holds no frame files "
                                f"({', '.join(FRAME_SUFFIXES)})")
    return files


def read_frame_file(path: Path) -> np.ndarray:
    """One frame file -> `uint8[H,W]` grayscale (images) or the stored array (`.npy`).

    Images are decoded with PIL when installed, else OpenCV. Raises ValueError for a file that
    cannot be decoded.
    """
    if path.suffix.lower() == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise ValueError(f"{path.name}: not a readable .npy array ({err})") from None
    try:
        image_module = importlib.import_module("PIL.Image")
    except ImportError:
        image_module = None
    if image_module is not None:
        try:
            with image_module.open(path) as image:
                return np.asarray(image.convert("L"), dtype=np.uint8)
        except (OSError, ValueError, SyntaxError) as err:  # PIL raises these for bad files
            raise ValueError(f"{path.name}: cannot decode image ({err})") from None
    cv2 = import_cv2("reading image frames without PIL")
    frame = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if frame is None:
        raise ValueError(f"{path.name}: cannot decode image")
    return frame


def image_folder_source(
    folder: str | os.PathLike, *, fps: float = 10.0, start_s: float = 0.0
) -> Iterator[Event]:
    """"frame" events from the files of `folder` (sorted by name), one every `1 / fps` s.

    A file that cannot be decoded gives a "frame_error" event naming it (the stream goes on).
    """
    fps = _positive(fps, "fps")
    files = list_frame_files(folder)
    for i, path in enumerate(files):
        t = start_s + i / fps
        try:
            frame = read_frame_file(path)
        except ValueError as err:
            yield Event(t, FRAME_ERROR, FrameError(CORRUPT_FRAME, str(err)))
            continue
        yield Event(t, FRAME, frame)


def _capture_frames(
    capture: Any, timestamp: Callable[[int], float], max_frames: int | None,
    max_failures: int, what: str,
) -> Iterator[Event]:
    index = failures = 0
    try:
        while max_frames is None or index < max_frames:
            ok, frame = capture.read()
            t = timestamp(index)
            index += 1
            if ok and frame is not None:
                failures = 0
                yield Event(t, FRAME, frame)
                continue
            failures += 1
            if max_failures == 0:  # files end at the first failed read
                return
            yield Event(t, FRAME_ERROR, FrameError(
                FRAME_READ_FAILURE, f"{what} read failed ({failures} in a row)"))
            if failures >= max_failures:
                yield Event(t, FRAME_ERROR, FrameError(
                    FRAME_READ_FAILURE, f"{what} lost after {failures} failed reads; stopping "
                                        "the source"))
                return
    finally:
        capture.release()


def camera_source(
    device: int | str = 0,
    *,
    max_frames: int | None = None,
    max_consecutive_failures: int = CAMERA_MAX_CONSECUTIVE_FAILURES,
    capture: Any = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Event]:
    """Live frames from `cv2.VideoCapture(device)` (BGR `uint8[H,W,3]`), timed by `clock`.

    A failed read gives a "frame_error" event; after `max_consecutive_failures` in a row the
    source stops. `capture`: an already opened VideoCapture-like object (`read() -> (ok,
    frame)`, `release()`), e.g. for tests; `device` is then ignored.
    """
    max_frames = _optional_count(max_frames, "max_frames")
    if isinstance(max_consecutive_failures, bool) or not isinstance(
            max_consecutive_failures, int) or max_consecutive_failures < 1:
        raise ValueError("max_consecutive_failures must be an int >= 1; got "
                         f"{max_consecutive_failures!r}")
    if capture is None:
        cv2 = import_cv2("camera capture")
        capture = cv2.VideoCapture(device)
        if not capture.isOpened():
            capture.release()
            raise FileNotFoundError(f"device: cannot open camera {device!r}")
    start = clock()
    return _capture_frames(capture, lambda _: clock() - start, max_frames,
                           max_consecutive_failures, "camera")


def video_source(
    path: str | os.PathLike, *, max_frames: int | None = None, start_s: float = 0.0
) -> Iterator[Event]:
    """Frames of a video file (BGR `uint8[H,W,3]`) at `start_s + index / fps` of the file."""
    max_frames = _optional_count(max_frames, "max_frames")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video file {str(path)!r} does not exist")
    cv2 = import_cv2("reading video files")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise ValueError(f"video file {str(path)!r} cannot be opened by OpenCV")
    fps = float(capture.get(cv2.CAP_PROP_FPS))
    if not (math.isfinite(fps) and fps > 0):
        capture.release()
        raise ValueError(f"video file {str(path)!r} reports no frame rate (got {fps})")
    return _capture_frames(capture, lambda i: start_s + i / fps, max_frames, 0, "video")


# ---------------------------------------------------------------------------- signals


def _chunks(signal: str, values: np.ndarray, rate_hz: float, times: np.ndarray,
            chunk_s: float) -> Iterator[Event]:
    per_chunk = max(1, int(round(chunk_s * rate_hz)))
    for lo in range(0, values.shape[0], per_chunk):
        hi = min(lo + per_chunk, values.shape[0])
        chunk = SampleChunk(signal, values[lo:hi], rate_hz, times[lo:hi])
        yield Event(float(times[hi - 1]), SAMPLES, chunk)


def signals_source(
    signals: Mapping[str, Signal], *, start_s: float = 0.0, chunk_s: float = 0.25
) -> Iterator[Event]:
    """Whole recordings `{kind: Signal(values float[N], rate_hz)}` starting together at
    `start_s`, cut into packets of `chunk_s` seconds per signal, interleaved by time."""
    chunk_s = _positive(chunk_s, "chunk_s")
    streams = []
    for name, (values, rate) in signals.items():
        if name not in SIGNAL_KINDS:
            raise ValueError(f"signals has unknown signal {name!r}; expected names from "
                             f"{list(SIGNAL_KINDS)}")
        rate = _positive(rate, f"signals[{name!r}].rate_hz")
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1:
            raise ValueError(f"signals[{name!r}].values must be 1-D; got shape "
                             f"{list(values.shape)}")
        times = start_s + np.arange(values.shape[0]) / rate
        streams.append(_chunks(name, values, rate, times, chunk_s))
    return merge(*streams)


def drivedb_signals(
    drive: Drive, signals: Mapping[str, tuple[str, ...]] = DRIVEDB_SIGNALS
) -> dict[str, str]:
    """{signal kind: drivedb channel} of the kinds `drive` has (`emodata.drivedb.drive_channels`:
    `signals` maps each kind to its channels; the first present wins). Raises ValueError when it
    has none of them."""
    for kind in signals:
        if kind not in SIGNAL_KINDS:
            raise ValueError(f"signals has unknown signal {kind!r}; expected names from "
                             f"{list(SIGNAL_KINDS)}")
    found = drive_channels(drive, signals)
    if not found:
        raise ValueError(f"drive {drive.name!r} has none of the channels "
                         f"{sorted({c for cs in signals.values() for c in cs})}; it has "
                         f"{sorted(drive.channels)}")
    return found


def drivedb_source(
    drive: Drive | str | os.PathLike,
    *,
    chunk_s: float = 0.25,
    start_s: float = 0.0,
    signals: Mapping[str, tuple[str, ...]] = DRIVEDB_SIGNALS,
) -> Iterator[Event]:
    """Packets of a drivedb drive (a `Drive` or a `driveNN.csv` path) on its own time column,
    shifted to start at `start_s`. `signals` maps signal kinds to drivedb channels (the first
    present is used: hand GSR, else foot GSR, becomes "eda"); the rate is the drive's measured
    one (15.4 Hz, not the nominal 15.5 Hz)."""
    if isinstance(drive, str | os.PathLike):
        drive = read_drive(drive)
    chunk_s = _positive(chunk_s, "chunk_s")
    times = np.asarray(drive.time_s, dtype=np.float64)
    times = times - times[0] + start_s
    rate = float(drive.sample_rate_hz)
    streams = [_chunks(kind, np.asarray(drive.channels[channel], dtype=np.float64), rate, times,
                       chunk_s) for kind, channel in drivedb_signals(drive, signals).items()]
    return merge(*streams)


def episode_source(
    episode: Episode, *, chunk_s: float = 0.25, frames: bool = True, signals: bool = True
) -> Iterator[Event]:
    """A synthetic cohort episode: its raw streams as packets and/or its camera frames."""
    parts = []
    if signals:
        parts.append(signals_source(episode.streams, chunk_s=chunk_s))
    if frames:
        parts.append(frames_source(episode.frames, episode.frame_times_s))
    if not parts:
        raise ValueError("episode_source needs frames=True and/or signals=True; got neither")
    return merge(*parts)


def features_source(
    features: np.ndarray, *, period_s: float = 5.0, start_s: float = 0.0
) -> Iterator[Event]:
    """"features" events from the rows of `features: float[N,F]`, one every `period_s`."""
    period_s = _positive(period_s, "period_s")
    features = np.asarray(features)
    if features.ndim != 2 or features.dtype.kind not in "iuf":
        raise ValueError(f"features must be a numeric float[N,F] array; got "
                         f"{features.dtype}{list(features.shape)}")
    rows = features.astype(np.float32, copy=False)
    for i, row in enumerate(rows):
        yield Event(start_s + i * period_s, FEATURES, row)


def merge(*sources: Iterable[Event]) -> Iterator[Event]:
    """Interleaves time-ordered sources by timestamp (ties keep the argument order)."""
    return heapq.merge(*sources, key=lambda event: event.timestamp_s)


# ----------------------------------------------------------------------------- pacing


class Pacer:
    """Replays a stream in real time (`realtime=True`, `speed` x faster) or as fast as possible.

    `wait(timestamp_s)` sleeps until the event is due on the wall clock (the first call anchors
    the stream clock to now) and returns how late it is (s, >= 0; 0 when not real time).
    """

    def __init__(
        self,
        realtime: bool,
        *,
        speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.realtime = bool(realtime)
        self.speed = _positive(speed, "speed")
        self._clock, self._sleep = clock, sleep
        self._anchor: tuple[float, float] | None = None

    def wait(self, timestamp_s: float) -> float:
        if not self.realtime:
            return 0.0
        now = self._clock()
        if self._anchor is None:
            self._anchor = (now, timestamp_s)
        wall0, stream0 = self._anchor
        due = wall0 + (timestamp_s - stream0) / self.speed
        if due > now:
            self._sleep(due - now)
            now = self._clock()
        return max(0.0, now - due)


def paced(events: Iterable[Event], pacer: Pacer) -> Iterator[tuple[Event, float]]:
    """`(event, lateness_s)` pairs, each yielded when `pacer` says the event is due."""
    for event in events:
        yield event, pacer.wait(event.timestamp_s)
