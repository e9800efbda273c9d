"""Latency and memory of one fused update on the head unit, in a process without TensorFlow.

    python -m benchmarks.edge_latency --bundle=DIR [--iterations=2000] [--warmup=200] \\
        [--detector_iterations=200] [--out=FILE.json]

One "pipeline" update = physio window features (`emocore.physio.extract_window` over a full
window of synthetic raw streams, or a copied vector for precomputed-feature bundles) + the
physio model + the face path on a 48x48 crop (scaling, explicit quantization, model,
dequantization) + one fusion step, all on 1 thread (TFLite `num_threads=1`). Targets: p99
<= 2 ms without the detector, peak RSS <= 80 MB. The Haar detector is timed separately on a
synthetic 640x480 BGR camera frame holding one face (default DetectorConfig, i.e. searched at
320x240; OpenCV on 1 thread; null without OpenCV). Peak RSS (`getrusage`) is read after the
pipeline and again after the detector. The physio calibration (`emocore.calibration`) runs
inside `physio_model` when the bundle calibrates; its per-window cost is also timed on its own
(`calibration`: the bundle's config, or a z-score stand-in on the bundle's feature width,
always updating its reference = the worst case; target < 50 us). The run checks at the end
that TensorFlow was never imported (`tensorflow_imported`; exit status 1 if it was).
"""

from __future__ import annotations

import sys

from emocore.cli_output import quiet_unless_verbose

# ruff: noqa: E402 (the imports below follow the quiet-output call on purpose)
if __name__ == "__main__":  # before anything imports TensorFlow: quiet its console output
    quiet_unless_verbose(sys.argv)

import dataclasses
import time
from typing import Any

import numpy as np

from benchmarks.common import emit, provenance
from emocore.calibration import CalibrationConfig, ReferenceStats, SessionCalibration
from emocore.fusion import FusionConfig, FusionEngine, ModalityReading
from emocore.physio import RAW_SIGNALS, PhysioSpec
from emodata.synthetic_faces import RenderSettings, render_faces, sample_identity
from emodata.synthetic_physio import sample_physiology, simulate_streams
from tflite_edge.bundle import load_bundle
from tflite_edge.face_detection import DetectorConfig, FaceDetector
from tflite_edge.face_pipeline import FacePipeline
from tflite_edge.loop_stats import peak_rss_mb
from tflite_edge.physio_stream import PhysioStream

TARGETS = {"pipeline_p99_ms": 2.0, "peak_rss_mb": 80.0, "calibration_p99_us": 50.0}
PIPELINE_STAGES = ("physio_features", "physio_model", "face", "fusion")


def _stats(samples_ns: list[int]) -> dict[str, float]:
    ms = np.asarray(samples_ns, dtype=np.float64) / 1e6
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {"p50_ms": round(float(p50), 4), "p95_ms": round(float(p95), 4),
            "p99_ms": round(float(p99), 4), "mean_ms": round(float(ms.mean()), 4),
            "max_ms": round(float(ms.max()), 4)}


def _fill_physio(physio: PhysioStream, seed: int) -> float:
    """Pushes one full window of synthetic raw streams; returns the newest sample time."""
    config = physio.spec.config
    assert config is not None
    rng = np.random.default_rng(seed)
    duration = float(np.ceil(config.window_s)) + 2.0
    streams = simulate_streams(sample_physiology(rng), [(0.0, duration, 0)], rng)
    for name, (values, rate) in streams.items():
        physio.push(name, values, rate, 0.0)
    return duration


def synthetic_profile(spec: PhysioSpec, seed: int = 0) -> ReferenceStats:
    """A driver profile of 120 standard-normal windows over `spec`'s features (for bundles
    calibrated against the driver's profile)."""
    rng = np.random.default_rng(seed)
    return ReferenceStats.from_windows(rng.normal(size=(120, len(spec.feature_names))),
                                       spec.feature_names)


def _driver_profile(spec: PhysioSpec, seed: int) -> ReferenceStats | None:
    needs = spec.calibration is not None and spec.calibration.prior == "driver_profile"
    return synthetic_profile(spec, seed) if needs else None


def measure_calibration(spec: PhysioSpec, iterations: int, seed: int = 0) -> dict[str, Any]:
    """Per-window cost of `SessionCalibration.apply` (reference always updating) on `spec`."""
    config = spec.calibration or CalibrationConfig("zscore", 60)
    config = dataclasses.replace(config, running=True)
    prior = spec.population or synthetic_profile(spec, seed)
    session = SessionCalibration(config, prior)
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(64, len(spec.feature_names))).astype(np.float32)
    times = []
    for i in range(iterations):
        start = time.perf_counter_ns()
        session.apply(vectors[i % len(vectors)])
        times.append(time.perf_counter_ns() - start)
    stats = _stats(times)
    return {"bundle_calibration": spec.calibration is not None, "config": config.to_json_dict(),
            "features": len(spec.feature_names), "p50_us": 1000 * stats["p50_ms"],
            "p99_us": 1000 * stats["p99_ms"]}


def measure_pipeline(bundle_dir: str, iterations: int, warmup: int,
                     seed: int = 0) -> dict[str, Any]:
    """Per-stage and total latency of `iterations` fused updates (after `warmup` ones)."""
    bundle = load_bundle(bundle_dir)
    face = FacePipeline.from_bundle(bundle, num_threads=1)
    spec = PhysioSpec.from_json_dict(bundle.features) if "physio" in bundle.models else None
    physio = (PhysioStream.from_bundle(bundle, num_threads=1,
                                       driver_profile=_driver_profile(spec, seed))
              if spec is not None else None)
    engine = FusionEngine(FusionConfig.from_json(bundle.fusion_json))
    rng = np.random.default_rng(seed)
    crops = render_faces(sample_identity(rng), rng.integers(0, 7, 32), rng, RenderSettings())
    raw = physio is not None and physio.spec.mode == RAW_SIGNALS
    now = _fill_physio(physio, seed) if raw else 0.0
    vectors = None if physio is None or raw else rng.normal(
        size=(32, len(physio.spec.feature_names))).astype(np.float32)
    timings: dict[str, list[int]] = {s: [] for s in (*PIPELINE_STAGES, "pipeline")}
    for i in range(warmup + iterations):
        t = now + 0.1 * i
        marks = [time.perf_counter_ns()]
        readings = []
        if physio is not None:
            features = (physio.compute_features(now)[0] if vectors is None
                        else vectors[i % len(vectors)].copy())
            marks.append(time.perf_counter_ns())
            prediction = physio.predict(features)
            marks.append(time.perf_counter_ns())
            readings.append(ModalityReading("physio", None if prediction is None
                                            else prediction.driver_state, t,
                                            1.0 if prediction is None else prediction.quality))
        face_prediction = face.predict(crops[i % len(crops)])
        marks.append(time.perf_counter_ns())
        readings.append(ModalityReading("face", face_prediction.driver_state, t))
        engine.update(readings, t)
        marks.append(time.perf_counter_ns())
        if i < warmup:
            continue
        stages = PIPELINE_STAGES if physio is not None else PIPELINE_STAGES[2:]
        for stage, (a, b) in zip(stages, zip(marks[:-1], marks[1:], strict=True), strict=True):
            timings[stage].append(b - a)
        timings["pipeline"].append(marks[-1] - marks[0])
    return {
        "stages": {k: _stats(v) for k, v in timings.items() if v},
        "face_model": face.model.source,
        "face_input_dtype": face.input_dtype.name,
        "physio_mode": None if physio is None else physio.spec.mode,
        "physio_features": None if physio is None else len(physio.spec.feature_names),
        "calibration": None if physio is None else measure_calibration(physio.spec, iterations,
                                                                        seed),
    }


def synthetic_camera_frame(seed: int = 0) -> np.ndarray:
    """A 640x480 BGR `uint8[480,640,3]` frame with one ~160-px synthetic face (needs OpenCV)."""
    import cv2  # noqa: PLC0415 (optional dependency)

    rng = np.random.default_rng(seed)
    plain = RenderSettings(jitter=0.0, max_rotation_deg=0.0, max_shift=0.0,
                           max_scale_change=0.0, noise_std=(0.0, 0.0), sunglasses_prob=0.0,
                           hand_prob=0.0)
    face = render_faces(sample_identity(rng), np.array([6]), rng, plain)[0]
    frame = np.full((480, 640), int(face[0, 0]), dtype=np.uint8)
    frame[160:320, 240:400] = cv2.resize(face, (160, 160), interpolation=cv2.INTER_CUBIC)
    noise = rng.normal(0.0, 3.0, frame.shape)
    frame = np.clip(frame + noise, 0, 255).astype(np.uint8)
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


def measure_detector(iterations: int, seed: int = 0) -> dict[str, Any]:
    """Haar detection + crop latency on `synthetic_camera_frame` (None values without OpenCV)."""
    try:
        frame = synthetic_camera_frame(seed)
    except ImportError as err:
        return {"available": False, "reason": str(err)}
    detector = FaceDetector(DetectorConfig(num_threads=1))
    detector.crop(frame)  # loads the cascade
    times, found = [], 0
    for _ in range(iterations):
        start = time.perf_counter_ns()
        crop = detector.crop(frame)
        times.append(time.perf_counter_ns() - start)
        found += crop is not None
    return {"available": True, "frame_shape": list(frame.shape), **_stats(times),
            "face_found_rate": found / iterations}


def run(bundle_dir: str, *, iterations: int = 2000, warmup: int = 200,
        detector_iterations: int = 200, seed: int = 0) -> dict[str, Any]:
    """The benchmark result dict (see the module docstring)."""
    for name, value in (("iterations", iterations), ("detector_iterations", detector_iterations)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1; got {value}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0; got {warmup}")
    pipeline = measure_pipeline(bundle_dir, iterations, warmup, seed)
    rss_pipeline = peak_rss_mb()
    detector = measure_detector(detector_iterations, seed)
    rss = peak_rss_mb()
    tensorflow_imported = "tensorflow" in sys.modules
    total = pipeline["stages"]["pipeline"]
    calibration = pipeline["calibration"]
    result = {
        "pipeline_p50_ms": total["p50_ms"],
        "pipeline_p99_ms": total["p99_ms"],
        "detector_p50_ms": detector.get("p50_ms"),
        "peak_rss_mb": None if rss is None else round(rss, 2),
        "peak_rss_mb_without_detector": None if rss_pipeline is None else round(rss_pipeline, 2),
        "tensorflow_imported": tensorflow_imported,
        "targets": TARGETS,
        "calibration_p99_us": None if calibration is None else calibration["p99_us"],
        "meets_targets": {"pipeline_p99_ms": total["p99_ms"] <= TARGETS["pipeline_p99_ms"],
                          "calibration_p99_us": calibration is not None
                          and calibration["p99_us"] < TARGETS["calibration_p99_us"],
                          "peak_rss_mb": rss is not None and rss <= TARGETS["peak_rss_mb"]},
        "detail": {"iterations": iterations, "warmup": warmup, "threads": 1,
                   "bundle": bundle_dir, "pipeline": pipeline, "detector": detector},
        "provenance": provenance(),
    }
    return result


if __name__ == "__main__":
    from absl import app, flags

    _BUNDLE = flags.DEFINE_string("bundle", None, "Model bundle directory.", required=True)
    _ITERATIONS = flags.DEFINE_integer("iterations", 2000, "Timed pipeline updates.")
    _WARMUP = flags.DEFINE_integer("warmup", 200, "Untimed updates first.")
    _DETECTOR_ITERATIONS = flags.DEFINE_integer("detector_iterations", 200, "Timed detections.")
    _OUT = flags.DEFINE_string("out", None, "Write the JSON result here.")

    def main(argv: list[str]) -> None:
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {argv[1:]}")
        result = run(_BUNDLE.value, iterations=_ITERATIONS.value, warmup=_WARMUP.value,
                     detector_iterations=_DETECTOR_ITERATIONS.value)
        emit(result, _OUT.value)
        if result["tensorflow_imported"]:
            sys.exit("edge_latency: TensorFlow was imported; the edge path must not import it")

    app.run(main)
