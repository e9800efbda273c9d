"""The real-time loop's bookkeeping: event/frame/physio counters, stage timings, incidents
(counted, kept, rate-limited logging) and the run summary (`LoopStats.summary`)."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import importlib
import logging
import math
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from tflite_edge.sources import CORRUPT_FRAME, FRAME_READ_FAILURE, Incident

logger = logging.getLogger("tflite_edge.realtime")  # the loop's incidents log as the loop

STAGES = ("detect", "face_preprocess", "face_model", "face_postprocess", "physio_features",
          "physio_model", "fusion")
DECIMALS = 6


@dataclasses.dataclass(frozen=True)
class LoopConfig:
    """Frame dropping under real-time replay, incident bookkeeping and logging."""

    max_frame_lag_s: float = 0.5  # real time: frames later than this are dropped
    incidents_kept: int = 100  # the first ones are kept verbatim in the summary
    log_first: int = 5  # per incident kind: log the first ones, then every `log_every`-th
    log_every: int = 100
    # False: incidents are counted and kept for the summary but not logged (a caller that
    # reports the counts itself, e.g. the main job's results table).
    log_incidents: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.log_incidents, bool):
            raise ValueError(f"LoopConfig.log_incidents must be a bool; "
                             f"got {self.log_incidents!r}")
        if not (math.isfinite(self.max_frame_lag_s) and self.max_frame_lag_s > 0):
            raise ValueError(f"LoopConfig.max_frame_lag_s must be a finite number > 0; "
                             f"got {self.max_frame_lag_s!r}")
        for name in ("incidents_kept", "log_first", "log_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (
                    1 if name == "log_every" else 0):
                raise ValueError(f"LoopConfig.{name} must be a non-negative int "
                                 f"({'>= 1' if name == 'log_every' else '>= 0'}); got {value!r}")


def peak_rss_mb() -> float | None:
    """Peak resident set size of this process in MiB: `getrusage` (KiB on Linux, bytes on
    macOS), else psutil's peak working set (Windows) or current RSS; None without either."""
    try:
        resource = importlib.import_module("resource")
    except ImportError:
        resource = None
    if resource is not None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (2**20 if sys.platform == "darwin" else 2**10)
    try:
        psutil = importlib.import_module("psutil")
    except ImportError:
        return None
    info = psutil.Process().memory_info()
    return getattr(info, "peak_wset", info.rss) / 2**20


def percentiles_ms(samples_ns: Iterable[int]) -> dict[str, float | int]:
    """`{count, p50, p95, p99, max}` in ms of durations in ns (linear interpolation)."""
    values = np.fromiter(samples_ns, dtype=np.float64) / 1e6
    if values.size == 0:
        return {"count": 0}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"count": int(values.size), "p50": round(float(p50), 4), "p95": round(float(p95), 4),
            "p99": round(float(p99), 4), "max": round(float(values.max()), 4)}


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


class LoopStats:
    """Counters, per-stage timings (ns), incidents and fused labels of one `RealtimeLoop` run."""

    def __init__(self, config: LoopConfig = LoopConfig()) -> None:
        self.config = config
        self.timings: dict[str, list[int]] = {stage: [] for stage in (*STAGES, "event")}
        self.counts: collections.Counter[str] = collections.Counter()
        self.incident_counts: collections.Counter[str] = collections.Counter()
        self.incidents: list[Incident] = []
        self.labels: collections.Counter[str] = collections.Counter()
        self.first_t: float | None = None
        self.last_t: float | None = None
        self.wall_start: float | None = None
        self.wall_end: float | None = None
        self.current: dict[str, float] = {}  # this event's stage latencies in ms

    def start_event(self, t: float, wall_start: float) -> None:
        """Notes an accepted event at stream time `t` (s) that started at `wall_start`."""
        if self.first_t is None:
            self.first_t, self.wall_start = t, wall_start
        self.last_t = t

    def record(self, incident: Incident) -> None:
        """Counts, keeps (the first `incidents_kept`) and logs (rate-limited) an incident."""
        self.incident_counts[incident.kind] += 1
        count = self.incident_counts[incident.kind]
        if len(self.incidents) < self.config.incidents_kept:
            self.incidents.append(incident)
        if self.config.log_incidents and (count <= self.config.log_first
                                          or count % self.config.log_every == 0):
            logger.warning("t=%.3f s %s [%s] %s (#%d of this kind)", incident.timestamp_s,
                           incident.kind, incident.source, incident.detail, count)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Times the block as stage `name` (all runs and this event's latest)."""
        start = time.perf_counter_ns()
        try:
            yield
        finally:
            elapsed = time.perf_counter_ns() - start
            self.timings[name].append(elapsed)
            self.current[name] = elapsed / 1e6

    def summary(self, warnings: Sequence[str] = ()) -> dict[str, Any]:
        """Counts, per-stage latency percentiles, throughput, peak RSS, incidents and the
        loop's `warnings`."""
        counts = self.counts
        wall_s = (self.wall_end - self.wall_start) if (
            self.wall_start is not None and self.wall_end is not None) else 0.0
        stream_s = (self.last_t - self.first_t) if self.first_t is not None else 0.0
        events = sum(v for k, v in counts.items() if k.startswith("events."))
        lines = sum(self.labels.values())

        def rate(n: int) -> float | None:
            return round(n / wall_s, 3) if wall_s > 0 else None

        return {
            "events": {"total": events, "by_kind": {k.split(".", 1)[1]: v for k, v in
                                                    sorted(counts.items())
                                                    if k.startswith("events.")}},
            "frames": {"received": counts["frames.received"],
                       "processed": counts["frames.processed"],
                       "dropped": counts["frames.dropped"],
                       "corrupt": counts[f"frames.{CORRUPT_FRAME}"],
                       "read_failures": counts[f"frames.{FRAME_READ_FAILURE}"],
                       "no_face": counts["frames.no_face"]},
            "physio": {k: counts[f"physio.{k}"] for k in (
                "packets", "samples", "feature_vectors", "windows", "predictions",
                "empty_windows", "ignored")},
            "fused": {"lines": lines, "labels": dict(sorted(self.labels.items()))},
            "latency_ms": {stage: percentiles_ms(v) for stage, v in self.timings.items()},
            "throughput": {"wall_s": round(wall_s, 4), "stream_s": round(stream_s, 4),
                           "events_per_s": rate(events),
                           "frames_per_s": rate(counts["frames.processed"]),
                           "lines_per_s": rate(lines),
                           "stream_to_wall": round(stream_s / wall_s, 3) if wall_s > 0 else None},
            "peak_rss_mb": _round(peak_rss_mb(), 2),
            "incidents": {"counts": dict(sorted(self.incident_counts.items())),
                          "first": [i._asdict() for i in self.incidents]},
            "warnings": list(warnings),
        }
