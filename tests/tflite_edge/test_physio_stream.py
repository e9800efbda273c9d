"""Tests for tflite_edge.physio_stream: ring buffers, bad samples, gaps, windows, the model."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from emocore.calibration import CalibrationConfig, ReferenceStats, calibrate_session
from emocore.physio import (
    PRECOMPUTED,
    PhysioFeatureConfig,
    PhysioSpec,
    Signal,
    extract_window,
    feature_names,
)
from emodata.synthetic_physio import sample_physiology, simulate_streams
from tflite_edge.physio_stream import PhysioStream, SignalBuffer

CONFIG = PhysioFeatureConfig(window_s=10.0, stride_s=1.0)
RAW = PhysioSpec.raw_signals(CONFIG)


def _streams(seconds: float = 14.0, seed: int = 0) -> dict[str, Signal]:
    rng = np.random.default_rng(seed)
    return simulate_streams(sample_physiology(rng), [(0.0, seconds, 2)], rng)


def _kinds(incidents) -> list[str]:
    return [i.kind for i in incidents]


def test_spec_json_round_trip_and_errors():
    data = json.loads(json.dumps(RAW.to_json_dict()))
    assert data["mode"] == "raw_signals" and data["config"]["window_s"] == 10.0
    assert PhysioSpec.from_json_dict(data) == RAW
    pre = PhysioSpec(PRECOMPUTED, ("a", "b"), source="wesad")
    assert PhysioSpec.from_json_dict(pre.to_json_dict()) == pre
    with pytest.raises(ValueError, match=r"unknown keys \['window_s'\], missing keys \['mode'"):
        PhysioSpec.from_json_dict({"window_s": 60, "feature_names": ["a"]})
    with pytest.raises(ValueError, match=r"config has unknown keys \['stride'\]"):
        PhysioSpec.from_json_dict({**data, "config": {**data["config"], "stride": 1}})
    with pytest.raises(ValueError, match="feature_names must be .* for its config"):
        PhysioSpec.from_json_dict({**data, "feature_names": data["feature_names"][::-1]})
    with pytest.raises(ValueError, match="mode must be one of .*; got 'wavelets'"):
        PhysioSpec("wavelets", ("a",))
    with pytest.raises(ValueError, match="mode 'raw_signals' needs a config object"):
        PhysioSpec("raw_signals", ("a",))


def test_signal_buffer_is_a_ring_of_the_newest_samples():
    buffer = SignalBuffer(4.0, 5)
    buffer.append(np.arange(3.0))
    np.testing.assert_array_equal(buffer.latest(10), [0, 1, 2])
    buffer.append(np.arange(3.0, 7.0))
    np.testing.assert_array_equal(buffer.latest(5), [2, 3, 4, 5, 6])
    np.testing.assert_array_equal(buffer.latest(2), [5, 6])
    buffer.append(np.arange(10.0, 22.0))  # longer than the ring
    np.testing.assert_array_equal(buffer.latest(5), [17, 18, 19, 20, 21])
    assert len(buffer) == 5
    with pytest.raises(ValueError, match="capacity must be >= 1; got 0"):
        SignalBuffer(4.0, 0)


def test_streamed_features_equal_offline_extraction():
    streams = _streams()
    stream = PhysioStream(RAW)
    pushed = dict.fromkeys(streams, 0)
    checked = 0
    for step in range(int(14.0 / 0.25)):
        t_end = (step + 1) * 0.25
        for name, (values, rate) in streams.items():
            hi = int(round(t_end * rate))
            stream.push(name, values[pushed[name]:hi], rate, pushed[name] / rate)
            pushed[name] = hi
        if stream.due(t_end):
            features, incidents = stream.compute_features(t_end)
            assert incidents == []
            valid_ranges = {"hr": (CONFIG.hr_min_bpm, CONFIG.hr_max_bpm)}
            offline = {}
            for name, (values, rate) in streams.items():
                x = values[:pushed[name]].copy()
                if name in valid_ranges:
                    low, high = valid_ranges[name]
                    x[(x < low) | (x > high)] = np.nan
                offline[name] = Signal(x, rate)
            np.testing.assert_array_equal(features, extract_window(offline, CONFIG))
            checked += 1
    assert checked == 5  # windows end at 10, 11, 12, 13 and 14 s
    assert np.isfinite(features).sum() >= 10


def test_nan_inf_and_out_of_range_samples_become_invalid():
    stream = PhysioStream(RAW)
    incidents = stream.push("hr", [70.0, np.nan, np.inf, 400.0, 72.0, 5.0], 4.0, 0.0)
    assert _kinds(incidents) == ["invalid_samples"]
    assert incidents[0].source == "physio:hr"
    assert incidents[0].detail == ("1 NaN, 1 inf, 2 out-of-range of 6 samples set invalid "
                                   "(valid range [30, 220])")
    np.testing.assert_array_equal(stream.buffers["hr"].latest(6),
                                  [70.0, np.nan, np.nan, np.nan, 72.0, np.nan])
    assert stream.push("ecg", [1e6, -1e6], 128.0, 0.0) == []  # ecg units vary: no range


def test_gaps_are_filled_with_nan_and_reported():
    stream = PhysioStream(RAW)
    stream.push("eda", np.ones(8), 4.0, 0.0)  # samples at 0 .. 1.75 s
    incidents = stream.push("eda", np.full(4, 2.0), 4.0, 3.0)  # resumes at 3.0 s
    assert _kinds(incidents) == ["sensor_gap"]
    assert "4 samples (1 s) missing after t=1.750 s" in incidents[0].detail
    np.testing.assert_array_equal(stream.buffers["eda"].latest(9),
                                  [1.0] + [np.nan] * 4 + [2.0] * 4)
    # Per-sample timestamps with a hole inside one packet.
    incidents = stream.push("eda", [3.0, 3.0], 4.0, np.array([4.0, 4.5]))
    assert _kinds(incidents) == ["sensor_gap"] and "1 samples" in incidents[0].detail
    np.testing.assert_array_equal(stream.buffers["eda"].latest(4), [2.0, 3.0, np.nan, 3.0])


def test_samples_without_a_finite_timestamp_are_dropped():
    stream = PhysioStream(RAW)
    stream.push("temp", [33.0], 4.0, 2.0)
    incidents = stream.push("temp", [33.1, 33.2], 4.0, np.array([np.nan, 2.25]))
    assert _kinds(incidents) == ["bad_timestamps"] and incidents[0].timestamp_s == 2.25
    np.testing.assert_array_equal(stream.buffers["temp"].latest(3), [33.0, 33.2])
    (incident,) = stream.push("temp", [33.3], 4.0, np.array([np.inf]))
    assert incident.kind == "bad_timestamps" and incident.timestamp_s == 2.25  # last known
    assert len(stream.buffers["temp"]) == 2


def test_a_huge_gap_only_keeps_one_window():
    stream = PhysioStream(RAW)
    stream.push("temp", np.full(4, 33.0), 4.0, 0.0)
    stream.push("temp", [34.0], 4.0, 3600.0)
    window = stream.buffers["temp"].latest(40)
    assert window.shape == (40,) and np.isnan(window[:-1]).all() and window[-1] == 34.0


def test_repeated_and_old_samples_are_dropped():
    stream = PhysioStream(RAW)
    stream.push("temp", [33.0, 33.1, 33.2], 4.0, 0.0)
    incidents = stream.push("temp", [30.0, 33.3, 33.3, 33.4], 4.0,
                            np.array([0.25, 0.75, 0.75, 1.0]))
    assert _kinds(incidents) == ["out_of_order"]
    assert incidents[0].detail.startswith("2 samples repeated or older")
    np.testing.assert_array_equal(stream.buffers["temp"].latest(5), [33.0, 33.1, 33.2, 33.3,
                                                                      33.4])


def test_silent_sensor_turns_its_features_nan():
    streams = _streams(seconds=12.0)
    stream = PhysioStream(RAW)
    for name, (values, rate) in streams.items():
        stop = len(values) if name != "eda" else int(4.0 * rate)  # eda dies at 4 s
        stream.push(name, values[:stop], rate, 0.0)
    features, incidents = stream.compute_features(12.0)
    assert _kinds(incidents) == ["sensor_silent"]
    assert incidents[0].source == "physio:eda" and "no sample for 8.25 s" in incidents[0].detail
    names = feature_names(CONFIG)
    eda = [i for i, n in enumerate(names) if n.startswith("eda_")]
    assert np.isnan(features[eda]).all()
    assert np.isfinite(features[names.index("temp_mean")])
    assert stream.compute_features(12.5)[1] == []  # reported once per silence


def test_windows_are_due_every_stride_after_the_first_full_window():
    stream = PhysioStream(RAW)
    stream.push("temp", np.full(4, 33.0), 4.0, 5.0)
    assert not stream.due(14.9) and stream.due(15.0)
    stream.compute_features(15.2)
    assert not stream.due(15.9) and stream.due(16.0)
    stream.compute_features(19.5)  # a late call skips the missed windows
    assert not stream.due(19.9) and stream.due(20.0)


def test_unknown_and_unexpected_input_is_reported_once():
    stream = PhysioStream(RAW)
    assert _kinds(stream.push("emg", [1.0], 15.5, 0.0)) == ["unknown_signal"]
    assert stream.push("emg", [1.0], 15.5, 1.0) == []
    assert _kinds(stream.push_features(np.zeros(len(RAW.feature_names)), 0.0)) == [
        "unexpected_features"]
    pre = PhysioStream(PhysioSpec(PRECOMPUTED, ("a", "b")))
    assert _kinds(pre.push("hr", [70.0], 4.0, 0.0)) == ["unexpected_samples"]


def test_rate_change_restarts_the_buffer():
    stream = PhysioStream(RAW)
    stream.push("resp", np.zeros(32), 32.0, 0.0)
    incidents = stream.push("resp", np.ones(16), 16.0, 1.0)
    assert _kinds(incidents) == ["rate_change"]
    assert stream.buffers["resp"].rate_hz == 16.0 and len(stream.buffers["resp"]) == 16


def test_malformed_packets_raise():
    stream = PhysioStream(RAW)
    with pytest.raises(ValueError, match=r"values of 'hr' must be 1-D; got shape \[2, 2\]"):
        stream.push("hr", np.zeros((2, 2)), 4.0, 0.0)
    with pytest.raises(ValueError, match="rate_hz of 'hr' must be a finite number > 0; got 0"):
        stream.push("hr", [70.0], 0, 0.0)
    with pytest.raises(ValueError, match=r"timestamps of 'hr' must have shape \[2\]; got \[3\]"):
        stream.push("hr", [70.0, 71.0], 4.0, np.zeros(3))
    with pytest.raises(ValueError, match="valid_ranges must map signal kinds"):
        PhysioStream(RAW, valid_ranges={"hr": (200.0, 30.0)})
    with pytest.raises(ValueError, match="spec must be a PhysioSpec; got dict"):
        PhysioStream(RAW.to_json_dict())


def test_precomputed_vectors():
    stream = PhysioStream(PhysioSpec(PRECOMPUTED, ("a", "b", "c")))
    assert not stream.due(0.0)
    incidents = stream.push_features([1.0, np.inf, 3.0], 5.0)
    assert _kinds(incidents) == ["invalid_features"]
    assert stream.due(5.0)
    features, _ = stream.compute_features(5.0)
    np.testing.assert_array_equal(features, [1.0, np.nan, 3.0])
    assert not stream.due(5.0)
    with pytest.raises(ValueError, match=r"features must have shape \[3\]; got \[2\]"):
        stream.push_features([1.0, 2.0], 6.0)


def test_model_probabilities_quality_and_missing_windows(tmp_path):
    from tests.tflite_edge.test_face_pipeline import tiny_models, write_tiny_bundle
    from tflite_edge.bundle import load_bundle

    stream = PhysioStream.from_bundle(load_bundle(write_tiny_bundle(tmp_path / "b")))
    assert stream.label_space == "wesad3" and stream.spec == RAW
    ensemble = tiny_models()["ensemble"]
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20, len(RAW.feature_names))).astype(np.float32)
    x[::3, 4] = np.nan  # NaN features follow the trees' missing-value direction
    for row in x:
        prediction = stream.predict(row)
        np.testing.assert_allclose(prediction.probs, ensemble.predict_proba(row[None])[0],
                                   atol=1e-6)
        assert prediction.quality == pytest.approx(np.isfinite(row).mean())
        np.testing.assert_allclose(prediction.driver_state,
                                   prediction.probs[[1, 0, 2]])  # baseline, amusement, stress
    assert stream.predict(np.full(len(RAW.feature_names), np.nan, np.float32)) is None


def test_from_bundle_needs_a_physio_model(tmp_path):
    from tests.tflite_edge.test_face_pipeline import write_tiny_bundle
    from tflite_edge.bundle import load_bundle

    face_only = load_bundle(write_tiny_bundle(tmp_path / "b", physio=False))
    with pytest.raises(ValueError, match="has no physio model"):
        PhysioStream.from_bundle(face_only)
    with_physio = load_bundle(write_tiny_bundle(tmp_path / "c"))
    from tflite_edge.interpreter import TFLiteModel

    model = TFLiteModel(with_physio.models["physio"])
    with pytest.raises(ValueError, match=r"physio model input must have shape \[1,2\]"):
        PhysioStream(PhysioSpec(PRECOMPUTED, ("a", "b")), model)


def _calibrated_spec(prior: str = "population") -> tuple[PhysioSpec, ReferenceStats]:
    rng = np.random.default_rng(3)
    width = len(RAW.feature_names)
    population = ReferenceStats(RAW.feature_names, np.full(width, 30.0), rng.normal(size=width),
                                rng.uniform(5.0, 60.0, size=width))
    config = CalibrationConfig("zscore", baseline_windows=4, prior=prior, prior_weight=3.0)
    return dataclasses.replace(RAW, calibration=config, population=population), population


def test_predict_runs_the_session_calibration_window_by_window(tmp_path):
    """The edge feeds the model exactly what `calibrate_session` (training) computes."""
    from tests.tflite_edge.test_face_pipeline import tiny_models, write_tiny_bundle
    from tflite_edge.bundle import load_bundle

    bundle = load_bundle(write_tiny_bundle(tmp_path / "b"))
    plain = PhysioStream.from_bundle(bundle)
    spec, population = _calibrated_spec()
    calibrated = PhysioStream(spec, plain.model, label_space=plain.label_space)
    ensemble = tiny_models()["ensemble"]
    rng = np.random.default_rng(4)
    x = rng.normal(size=(12, len(RAW.feature_names))).astype(np.float32)
    trained = calibrate_session(x, spec.calibration, population)
    changed = 0
    for row, expected_input in zip(x, trained, strict=True):
        expected = ensemble.predict_proba(expected_input[None])[0]
        np.testing.assert_allclose(calibrated.predict(row).probs, expected, atol=1e-6)
        changed += not np.allclose(plain.predict(row).probs, expected, atol=1e-6)
    assert changed > 0  # the calibration matters for this model
    stats = calibrated.session_stats()
    np.testing.assert_array_equal(stats.count, np.full(len(RAW.feature_names), 4.0))
    assert plain.session_stats() is None


def test_a_driver_profile_replaces_the_population_prior():
    spec, population = _calibrated_spec()
    profile = population.merge(population)
    stream = PhysioStream(spec, driver_profile=profile)
    assert stream.calibration.prior is profile
    assert PhysioStream(spec).calibration.prior is population


def test_calibration_bad_arguments():
    spec, population = _calibrated_spec("driver_profile")
    with pytest.raises(ValueError, match="calibrated against the driver's profile.*pass "
                                         "driver_profile"):
        PhysioStream(spec)
    with pytest.raises(ValueError, match="driver_profile must be ReferenceStats over the "
                                         "features.json feature_names"):
        PhysioStream(spec, driver_profile=ReferenceStats.empty(("a",)))
    with pytest.raises(ValueError, match="driver_profile was given but the bundle's physio "
                                         "model takes uncalibrated features"):
        PhysioStream(RAW, driver_profile=population)
    no_population = dataclasses.replace(spec, calibration=CalibrationConfig("zscore", 3),
                                        population=None)
    with pytest.raises(ValueError, match="no population statistics: re-export the bundle"):
        PhysioStream(no_population)
