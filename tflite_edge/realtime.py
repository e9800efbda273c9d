"""The head unit's real-time loop: events -> face and physio paths -> fusion -> JSON lines.

`RealtimeLoop.handle(event)` routes one `tflite_edge.sources.Event`:
  * "frame": dropped when real-time replay runs more than `max_frame_lag_s` late; else
    detection (skipped for 48x48 crops) -> `FacePipeline` -> a face reading.
  * "frame_error": the face modality is marked missing at that time.
  * "samples" / "features": pushed into `PhysioStream`; when a window is due, features ->
    physio model -> a physio reading.
Each new reading (or newly missing modality) triggers one fusion step
(`fusion.FusionEngine.update` at the event time; the engine's `max_age_s` turns old readings
"stale") and one JSON line: `t`, `trigger`, per-modality `{t, probs, driver_state, quality}`
(plus `pooled_driver_state`, what fusion used, for modalities the bundle pools) or `{t, missing}`,
`fused` `{label, probs, used, excluded, excluded_kinds}` (per excluded modality
its prose reason and its `emocore.fusion.ExclusionKind` value) and the stage latencies in ms.
Bad input never stops the loop: NaN/inf/out-of-range samples, gaps, silent sensors, frames of
the wrong shape/dtype, undecodable files and camera read failures become `Incident`s (logged,
rate-limited, counted in the summary) and the affected modality is marked missing.
`summary()` reports per-stage p50/p95/p99, throughput, peak RSS and the incident counts.
`run_harness` is the library entry point: verified bundle + source -> summary. Given a
`sources.Source`, it first checks it against the bundle (`source_check.check_source`): a source
whose physio input the model cannot take (precomputed feature vectors for a raw-signal model, or
the reverse) is refused with ValueError; one lacking a signal the model's features need is
reported once, at start, with the quality cap it implies. `stop_on_interrupt=True` turns Ctrl-C
into a clean stop: the summary of what ran so far, with `"interrupted": true`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from emocore.calibration import ReferenceStats
from emocore.fusion import FusionConfig, FusionEngine, FusionResult, ModalityReading
from emocore.physio import (
    PhysioSpec,
)
from tflite_edge.bundle import load_bundle
from tflite_edge.face_detection import DetectorConfig, FaceDetector, check_frame, is_face_crop
from tflite_edge.face_pipeline import FacePipeline
from tflite_edge.loop_stats import (
    DECIMALS,
    LoopConfig,
    LoopStats,
)
from tflite_edge.physio_stream import PhysioStream
from tflite_edge.source_check import check_source, config_warnings
from tflite_edge.sources import (
    CORRUPT_FRAME,
    FEATURES,
    FRAME,
    FRAME_ERROR,
    SAMPLES,
    Event,
    FrameError,
    Incident,
    Pacer,
    SampleChunk,
    Source,
)

logger = logging.getLogger(__name__)

FACE, PHYSIO = "face", "physio"


def _floats(values: np.ndarray) -> list[float]:
    return [round(float(v), DECIMALS) for v in np.asarray(values).reshape(-1)]


class RealtimeLoop:
    """Routes events through the face and physio paths into fusion; see the module docstring."""

    def __init__(
        self,
        fusion: FusionEngine,
        *,
        face: FacePipeline | None = None,
        detector: FaceDetector | None = None,
        physio: PhysioStream | None = None,
        out: TextIO | None = None,
        config: LoopConfig = LoopConfig(),
    ) -> None:
        if not isinstance(fusion, FusionEngine):
            raise ValueError(f"fusion must be a FusionEngine; got {type(fusion).__name__}")
        if not isinstance(config, LoopConfig):
            raise ValueError(f"config must be a LoopConfig; got {type(config).__name__}")
        self.fusion, self.face, self.physio, self.out, self.config = (
            fusion, face, physio, out, config)
        self.detector = detector if detector is not None else FaceDetector()
        self.warnings = config_warnings(fusion.config, physio)
        for warning in self.warnings:
            logger.warning("%s", warning)
        self._readings: dict[str, ModalityReading] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self.stats = LoopStats(config)
        self._counts = self.stats.counts
        self._stage = self.stats.stage

    # ---------------------------------------------------------------------- bookkeeping

    def record(self, incident: Incident) -> None:
        """Counts, keeps (the first `incidents_kept`) and logs (rate-limited) an incident."""
        self.stats.record(incident)

    def _missing(self, modality: str, t: float, reason: str) -> None:
        self._readings[modality] = ModalityReading(modality, None, t)
        self._views[modality] = {"t": t, "missing": reason}

    # ---------------------------------------------------------------------------- events

    def handle(self, event: Event, lateness_s: float = 0.0) -> dict[str, Any] | None:
        """Processes one event; returns the JSON line written (None when nothing was fused)."""
        stats = self.stats
        wall_start = time.perf_counter()
        start = time.perf_counter_ns()
        stats.current = {}
        t = event.timestamp_s
        if not (isinstance(t, int | float | np.integer | np.floating) and math.isfinite(t)) or (
                stats.last_t is not None and t < stats.last_t):
            self.record(Incident(stats.last_t or 0.0, "bad_timestamp", "stream",
                                 f"event {event.kind!r} at {t!r} is not finite or goes back in "
                                 f"time (last {stats.last_t})"))
            return None
        t = float(t)
        stats.start_event(t, wall_start)
        self._counts[f"events.{event.kind}"] += 1
        if event.kind == FRAME:
            trigger = self._frame(t, event.payload, lateness_s)
        elif event.kind == FRAME_ERROR:
            trigger = self._frame_error(t, event.payload)
        elif event.kind in (SAMPLES, FEATURES):
            trigger = self._physio(t, event)
        else:
            self.record(Incident(t, "unknown_event", "stream",
                                 f"unknown event kind {event.kind!r} ignored"))
            trigger = None
        line = self._fuse(t, trigger) if trigger is not None else None
        stats.timings["event"].append(time.perf_counter_ns() - start)
        if line is not None:
            line["latency_ms"] = {k: round(v, 4) for k, v in stats.current.items()}
            line["latency_ms"]["event"] = round((time.perf_counter_ns() - start) / 1e6, 4)
            if self.out is not None:
                self.out.write(json.dumps(line) + "\n")
        stats.wall_end = time.perf_counter()
        return line

    def _frame(self, t: float, frame: object, lateness_s: float) -> str | None:
        self._counts["frames.received"] += 1
        if lateness_s > self.config.max_frame_lag_s:
            self._counts["frames.dropped"] += 1
            self.record(Incident(t, "dropped_frame", FACE,
                                 f"{lateness_s:.3f} s late (> {self.config.max_frame_lag_s} s)"))
            return None
        if self.face is None:
            return None
        try:
            frame = check_frame(frame)
            if is_face_crop(frame):
                crop = self.detector.crop(frame)
            else:
                with self._stage("detect"):
                    crop = self.detector.crop(frame)
        except ValueError as err:
            self._counts[f"frames.{CORRUPT_FRAME}"] += 1
            self.record(Incident(t, CORRUPT_FRAME, FACE, str(err)))
            self._missing(FACE, t, CORRUPT_FRAME)
            return FACE
        except (ImportError, FileNotFoundError) as err:
            self.record(Incident(t, "detector_unavailable", FACE, str(err)))
            self._missing(FACE, t, "detector_unavailable")
            return FACE
        if crop is None:
            self._counts["frames.no_face"] += 1
            self.record(Incident(t, "no_face", FACE, "no face found in the frame"))
            self._missing(FACE, t, "no_face")
            return FACE
        try:
            with self._stage("face_preprocess"):
                model_input = self.face.preprocess(crop)
            with self._stage("face_model"):
                raw = self.face.infer(model_input)
            with self._stage("face_postprocess"):
                prediction = self.face.postprocess(raw)
        except ValueError as err:
            self.record(Incident(t, "face_model_error", FACE, str(err)))
            self._missing(FACE, t, "face_model_error")
            return FACE
        self._counts["frames.processed"] += 1
        self._readings[FACE] = ModalityReading(FACE, prediction.driver_state, t, 1.0)
        self._views[FACE] = {"t": t, "probs": _floats(prediction.probs),
                             "driver_state": _floats(prediction.driver_state)}
        return FACE

    def _frame_error(self, t: float, payload: object) -> str:
        if isinstance(payload, FrameError):
            reason, detail = payload.reason, payload.detail
        else:
            reason, detail = "frame_error", str(payload)
        self._counts[f"frames.{reason}"] += 1
        self.record(Incident(t, reason, FACE, detail))
        self._missing(FACE, t, reason)
        return FACE

    def _physio(self, t: float, event: Event) -> str | None:
        if self.physio is None:
            if self._counts["physio.ignored"] == 0:
                self.record(Incident(t, "no_physio_model", PHYSIO,
                                     "the bundle has no physio model; physio input is ignored"))
            self._counts["physio.ignored"] += 1
            return None
        try:
            if event.kind == SAMPLES:
                chunk = event.payload
                if not isinstance(chunk, SampleChunk):
                    raise ValueError(f"samples payload must be a SampleChunk; got "
                                     f"{type(chunk).__name__}")
                self._counts["physio.packets"] += 1
                self._counts["physio.samples"] += int(np.size(chunk.values))
                incidents = self.physio.push(chunk.signal, chunk.values, chunk.rate_hz,
                                             chunk.timestamps_s)
            else:
                self._counts["physio.feature_vectors"] += 1
                incidents = self.physio.push_features(event.payload, t)
        except (ValueError, TypeError) as err:
            self.record(Incident(t, "bad_physio_event", PHYSIO, str(err)))
            return None
        for incident in incidents:
            self.record(incident)
        if not self.physio.due(t):
            return None
        self._counts["physio.windows"] += 1
        try:
            with self._stage("physio_features"):
                features, incidents = self.physio.compute_features(t)
            for incident in incidents:
                self.record(incident)
            with self._stage("physio_model"):
                prediction = self.physio.predict(features)
        except ValueError as err:
            self.record(Incident(t, "physio_model_error", PHYSIO, str(err)))
            self._missing(PHYSIO, t, "physio_model_error")
            return PHYSIO
        if prediction is None:
            self._counts["physio.empty_windows"] += 1
            self.record(Incident(t, "physio_window_empty", PHYSIO,
                                 "no finite feature in the window (sensors missing or invalid)"))
            self._missing(PHYSIO, t, "no_valid_features")
            return PHYSIO
        self._counts["physio.predictions"] += 1
        self._readings[PHYSIO] = ModalityReading(PHYSIO, prediction.driver_state, t,
                                                 prediction.quality)
        self._views[PHYSIO] = {"t": t, "probs": _floats(prediction.probs),
                               "driver_state": _floats(prediction.driver_state),
                               "quality": round(prediction.quality, DECIMALS)}
        return PHYSIO

    def _fuse(self, t: float, trigger: str) -> dict[str, Any]:
        modalities = self.fusion.config.modalities
        readings = [self._readings[m] for m in modalities if m in self._readings]
        with self._stage("fusion"):
            result: FusionResult = self.fusion.update(readings, t)
        self.stats.labels[result.label] += 1
        fused = {"label": result.label,
                 "probs": None if result.probs is None else _floats(result.probs),
                 "used": list(result.used), "excluded": result.reasons,
                 "excluded_kinds": {m: kind.value for m, kind in result.kinds.items()}}
        line: dict[str, Any] = {"t": round(t, DECIMALS), "trigger": trigger}
        for modality in modalities:
            view = self._views.get(modality)
            pooled = self.fusion.pooled_probs(modality)
            if view is not None and "driver_state" in view and pooled is not None:
                view = view | {"pooled_driver_state": _floats(pooled)}
            line[modality] = view
        line["fused"] = fused
        return line

    # --------------------------------------------------------------------------- summary

    def summary(self) -> dict[str, Any]:
        """Counts, per-stage latency percentiles, throughput, peak RSS and incidents."""
        return self.stats.summary(self.warnings)


def run_loop(
    events: Iterable[Event],
    loop: RealtimeLoop,
    *,
    realtime: bool = False,
    max_events: int | None = None,
    pacer: Pacer | None = None,
    stop_on_interrupt: bool = False,
) -> dict[str, Any]:
    """Feeds `events` to `loop` (real-time paced or as fast as possible); returns its summary.

    `stop_on_interrupt=True`: Ctrl-C (KeyboardInterrupt) ends the loop cleanly and the summary
    of what ran so far has `"interrupted": true`; otherwise it propagates.
    """
    if max_events is not None and (isinstance(max_events, bool) or not isinstance(
            max_events, int) or max_events < 0):
        raise ValueError(f"max_events must be an int >= 0 or None; got {max_events!r}")
    pacer = pacer if pacer is not None else Pacer(realtime)
    interrupted = False
    try:
        for i, event in enumerate(events):
            if max_events is not None and i >= max_events:
                break
            loop.handle(event, pacer.wait(event.timestamp_s))
    except KeyboardInterrupt:
        if not stop_on_interrupt:
            raise
        interrupted = True
    summary = loop.summary()
    summary["realtime"] = pacer.realtime
    summary["interrupted"] = interrupted
    return summary


def run_harness(
    bundle_dir: str | os.PathLike,
    source: Iterable[Event],
    *,
    realtime: bool = False,
    out_lines: str | os.PathLike | TextIO | None = None,
    max_events: int | None = None,
    delegate_path: str | None = None,
    face_variant: str | None = None,
    num_threads: int = 1,
    detector_config: DetectorConfig | None = None,
    loop_config: LoopConfig = LoopConfig(),
    stop_on_interrupt: bool = False,
    driver_profile: ReferenceStats | None = None,
) -> dict[str, Any]:
    """Verifies and loads the bundle, runs the loop over `source`; returns the summary.

    `driver_profile`: the driver's persisted calibration prior for a physio model trained on
    calibrated features (see `emocore.calibration`; the bundle's population prior otherwise).

    `out_lines`: a path (JSON lines written there) or an open text stream. A bundle that fails
    verification raises ValueError; a delegate that cannot be loaded FileNotFoundError. A
    `Source` is checked against the bundle first (`check_source`: ValueError for a mismatch,
    logged warnings for missing signals, also listed in the summary's "warnings"; its
    description and skipped rows go to the summary's "source"). `stop_on_interrupt`: see
    `run_loop`.
    """
    bundle = load_bundle(bundle_dir)
    fusion_config = FusionConfig.from_json(bundle.fusion_json)
    source_warnings = []
    if isinstance(source, Source):  # before any interpreter is created
        spec = PhysioSpec.from_json_dict(bundle.features) if "physio" in bundle.models else None
        source_warnings = check_source(source, spec, fusion_config)
    for warning in source_warnings:
        logger.warning("%s", warning)
    face = FacePipeline.from_bundle(bundle, variant=face_variant, delegate_path=delegate_path,
                                    num_threads=num_threads)
    physio = (PhysioStream.from_bundle(bundle, num_threads=num_threads,
                                       driver_profile=driver_profile)
              if "physio" in bundle.models else None)
    engine = FusionEngine(fusion_config)
    detector = FaceDetector(detector_config) if detector_config else FaceDetector()
    with contextlib.ExitStack() as stack:
        out = out_lines
        if isinstance(out_lines, str | os.PathLike):
            path = Path(out_lines)
            path.parent.mkdir(parents=True, exist_ok=True)
            out = stack.enter_context(open(path, "w", encoding="utf-8"))
        loop = RealtimeLoop(engine, face=face, detector=detector, physio=physio, out=out,
                            config=loop_config)
        summary = run_loop(source, loop, realtime=realtime, max_events=max_events,
                           stop_on_interrupt=stop_on_interrupt)
    summary["warnings"] = [*source_warnings, *summary["warnings"]]
    if isinstance(source, Source):
        summary["source"] = source.to_json_dict()
    stats = None if physio is None else physio.session_stats()
    # What the driver's profile merges in at the end of the session (None: no calibration).
    summary["physio_session_reference"] = None if stats is None else stats.to_json_dict()
    summary["bundle"] = {
        "directory": str(bundle.directory),
        "face_model": face.model.source,
        "physio_model": None if physio is None or physio.model is None
        else physio.model.source,
        "delegate": delegate_path,
        "created_utc": bundle.manifest.get("created", {}).get("utc"),
    }
    return summary
