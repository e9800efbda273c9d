import math

import numpy as np
import pytest

from emocore.physio import (
    FEATURE_GROUPS,
    PhysioFeatureConfig,
    Signal,
    extract_recording,
    extract_window,
    feature_names,
    window_num_samples,
)

NAMES = feature_names()


def col(features, name):
    """Feature `name` of one vector (float) or of every row of a matrix (array)."""
    values = features[..., NAMES.index(name)]
    return float(values) if features.ndim == 1 else values


def beats_from_hr(hr_of_t, duration, fs=1000.0):
    """Exact-ish beat times for a continuous HR(t) (integrate-and-fire at 1 kHz)."""
    t = np.arange(int(duration * fs)) / fs
    phase = np.cumsum(hr_of_t(t) / 60.0 / fs)
    return np.flatnonzero(np.diff(np.floor(phase)) > 0) / fs


def ecg_from_beats(beats, duration, fs=128.0, noise=0.02, seed=0):
    t = np.arange(int(duration * fs)) / fs
    x = np.zeros_like(t)
    for b in beats:
        x += np.exp(-0.5 * ((t - b) / 0.012) ** 2)  # R
        x += 0.3 * np.exp(-0.5 * ((t - b - 0.25) / 0.05) ** 2)  # T
        x -= 0.2 * np.exp(-0.5 * ((t - b - 0.03) / 0.01) ** 2)  # S
    return x + noise * np.random.default_rng(seed).standard_normal(t.shape[0])


def bvp_from_beats(beats, duration, fs=64.0):
    t = np.arange(int(duration * fs)) / fs
    x = np.zeros_like(t)
    for b in beats:
        x += np.exp(-0.5 * ((t - b - 0.15) / 0.08) ** 2)
        x += 0.25 * np.exp(-0.5 * ((t - b - 0.45) / 0.06) ** 2)  # dicrotic wave
    return x


def scr(t, onset, amp, tau_r=1.0, tau_d=4.0):
    u = t - onset
    t_peak = math.log(tau_d / tau_r) * tau_r * tau_d / (tau_d - tau_r)
    norm = math.exp(-t_peak / tau_d) - math.exp(-t_peak / tau_r)
    return np.where(u > 0, amp * (np.exp(-u / tau_d) - np.exp(-u / tau_r)) / norm, 0.0)


def eda_trace(onsets, amp, duration=60.0, fs=4.0, noise=0.002, drift_per_s=0.002):
    t = np.arange(int(duration * fs)) / fs
    x = 2.0 + drift_per_s * t + noise * np.random.default_rng(1).standard_normal(t.shape[0])
    for o in onsets:
        x = x + scr(t, o, amp)
    return x


def resp_sine(freq=0.25, amp=0.5, duration=60.0, fs=32.0, drift_per_s=0.005):
    t = np.arange(int(duration * fs)) / fs
    return amp * np.sin(2 * np.pi * freq * t) + drift_per_s * t


def hr_series(mean=72.0, depth=6.0, freq=0.25, duration=60.0, fs=4.0):
    t = np.arange(int(duration * fs)) / fs
    return mean + depth * np.sin(2 * np.pi * freq * t)


def full_signals(duration=60.0):
    return {
        "hr": Signal(hr_series(duration=duration), 4.0),
        "eda": Signal(eda_trace([10, 25, 40], 0.3, duration=duration), 4.0),
        "temp": Signal(33.0 + 0.1 * np.arange(int(duration * 4)) / 240.0, 4.0),
        "resp": Signal(resp_sine(duration=duration), 32.0),
    }


# ------------------------------------------------------------------------------- names/config


def test_feature_names_follow_groups_in_config_order():
    assert len(NAMES) == sum(len(v) for v in FEATURE_GROUPS.values()) == 14
    cfg = PhysioFeatureConfig(groups=("resp", "cardiac"))
    assert feature_names(cfg) == FEATURE_GROUPS["resp"] + FEATURE_GROUPS["cardiac"]
    out = extract_window(full_signals(), cfg)
    assert out.shape == (7,) and out.dtype == np.float32


def test_window_num_samples_rounds_half_up():
    assert window_num_samples(60.0, 15.5) == 930
    assert window_num_samples(5.0, 15.5) == 78  # 77.5 -> 78
    assert window_num_samples(60.0, 4.0) == 240


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"window_s": 0}, "window_s must be a finite number > 0"),
        ({"stride_s": float("nan")}, "stride_s must be a finite number > 0"),
        ({"scr_threshold": "0.1"}, "scr_threshold must be a number"),
        ({"min_valid_fraction": 1.5}, r"min_valid_fraction must lie in \(0, 1\]"),
        ({"groups": ("cardiac", "ppg")}, "groups must be a non-empty tuple"),
        ({"groups": ()}, "groups must be a non-empty tuple"),
        ({"cardiac_source": "ppg"}, "cardiac_source must be one of"),
        ({"hr_min_bpm": 200.0, "hr_max_bpm": 100.0}, "hr_min_bpm must be < hr_max_bpm"),
        ({"scr_min_rise_s": 5.0, "scr_max_rise_s": 1.0}, "scr_min_rise_s must be <="),
        ({"min_rr_intervals": 1}, "min_rr_intervals must be >= 2"),
        ({"strict": 1}, "strict must be a bool"),
    ],
)
def test_config_validation_names_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PhysioFeatureConfig(**kwargs)


# ------------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "signals, match",
    [
        ({"gsr": Signal(np.zeros(240), 4.0)}, r"unknown signal 'gsr'"),
        ({"eda": Signal(np.zeros(240), 0.0)}, r"signals\['eda'\].rate_hz must be a finite"),
        ({"eda": Signal(np.zeros(240), -4.0)}, r"signals\['eda'\].rate_hz must be a finite"),
        ({"temp": Signal(np.zeros(240), float("inf"))}, r"signals\['temp'\].rate_hz"),
        ({"temp": Signal(np.zeros(240), "4")}, r"signals\['temp'\].rate_hz must be a number"),
        ({"resp": Signal(np.zeros((2, 960)), 32.0)}, r"signals\['resp'\].values must be 1-D"),
        ({"resp": Signal(np.array(["a"] * 10), 32.0)}, r"values must be numeric"),
        ({"ecg": Signal(np.zeros(240), 4.0)}, r"signals\['ecg'\].rate_hz must be >= 10"),
        ({"hr": np.zeros(240)}, r"signals\['hr'\] must be a Signal"),
    ],
)
def test_bad_signals_raise_naming_the_signal(signals, match):
    with pytest.raises(ValueError, match=match):
        extract_window(signals)
    with pytest.raises(ValueError, match=match):
        extract_recording(signals)


def test_bad_container_and_config_types():
    with pytest.raises(ValueError, match="signals must be a mapping"):
        extract_window([Signal(np.zeros(4), 4.0)])
    with pytest.raises(ValueError, match="config must be a PhysioFeatureConfig"):
        extract_window(full_signals(), config={"window_s": 60})
    with pytest.raises(ValueError, match="signals must hold at least one"):
        extract_recording({})


def test_strict_rejects_short_windows_non_strict_gives_nan():
    short = {"eda": Signal(eda_trace([5], 0.3, duration=20.0), 4.0)}
    with pytest.raises(ValueError, match=r"signals\['eda'\] must hold at least 240 samples"):
        extract_window(short, PhysioFeatureConfig(strict=True))
    with pytest.raises(ValueError, match=r"signals\['eda'\] lasts 20.000 s, shorter than"):
        extract_recording(short, PhysioFeatureConfig(strict=True))
    assert np.isnan(extract_window(short)).all()  # 80/240 valid < min_valid_fraction
    features, ends = extract_recording(short)
    assert features.shape == (0, len(NAMES)) and ends.shape == (0,)


# ------------------------------------------------------------------------------- cardiac


def test_hr_series_known_mean_and_variability():
    modulated = extract_window({"hr": Signal(hr_series(depth=6.0), 4.0)})
    constant = extract_window({"hr": Signal(hr_series(depth=0.0), 4.0)})
    assert col(constant, "hr_mean_bpm") == pytest.approx(72.0, abs=1e-3)
    assert col(constant, "hrv_sdnn_ms") == pytest.approx(0.0, abs=0.01)
    assert col(constant, "hrv_rmssd_ms") == pytest.approx(0.0, abs=0.01)
    assert col(modulated, "hr_mean_bpm") == pytest.approx(72.0, abs=0.7)
    # A 6-bpm sine at 0.25 Hz: std of the beat-to-beat HR ~ 6 / sqrt(2) (slightly smoothed).
    assert 3.0 < col(modulated, "hr_std_bpm") < 4.5
    assert col(modulated, "hrv_sdnn_ms") > 30.0
    assert col(modulated, "hrv_rmssd_ms") > 30.0


@pytest.mark.parametrize("source", ["ecg", "bvp"])
def test_waveform_beats_match_the_true_beat_train(source):
    beats = beats_from_hr(lambda t: 72.0 + 6.0 * np.sin(2 * np.pi * 0.25 * t), 60.0)
    fs = 128.0 if source == "ecg" else 64.0
    wave = ecg_from_beats(beats, 60.0, fs) if source == "ecg" else bvp_from_beats(beats, 60.0, fs)
    out = extract_window({source: Signal(wave, fs)})
    rr = np.diff(beats)
    assert col(out, "hr_mean_bpm") == pytest.approx(np.mean(60.0 / rr), rel=0.01)
    assert col(out, "hrv_sdnn_ms") == pytest.approx(1000 * np.std(rr), rel=0.08)
    assert col(out, "hrv_rmssd_ms") == pytest.approx(
        1000 * np.sqrt(np.mean(np.diff(rr) ** 2)), rel=0.1
    )


def test_inverted_ecg_is_detected_too():
    beats = beats_from_hr(lambda t: np.full_like(t, 60.0), 60.0)
    out = extract_window({"ecg": Signal(-ecg_from_beats(beats, 60.0), 128.0)})
    assert col(out, "hr_mean_bpm") == pytest.approx(60.0, abs=0.5)


def test_lf_hf_follows_the_modulation_band_and_needs_a_long_window():
    lf = extract_window({"hr": Signal(hr_series(freq=0.1), 4.0)})
    hf = extract_window({"hr": Signal(hr_series(freq=0.3), 4.0)})
    assert col(lf, "hrv_lf_hf") > 5.0
    assert col(hf, "hrv_lf_hf") < 0.2
    short = extract_window(
        {"hr": Signal(hr_series(freq=0.1, duration=30.0), 4.0)},
        PhysioFeatureConfig(window_s=30.0),
    )
    assert math.isnan(col(short, "hrv_lf_hf")) and np.isfinite(col(short, "hr_mean_bpm"))


def test_cardiac_source_auto_prefers_hr_and_can_be_forced():
    beats = beats_from_hr(lambda t: np.full_like(t, 90.0), 60.0)
    signals = {
        "hr": Signal(np.full(240, 60.0), 4.0),
        "ecg": Signal(ecg_from_beats(beats, 60.0), 128.0),
    }
    assert col(extract_window(signals), "hr_mean_bpm") == pytest.approx(60.0, abs=0.1)
    forced = extract_window(signals, PhysioFeatureConfig(cardiac_source="ecg"))
    assert col(forced, "hr_mean_bpm") == pytest.approx(90.0, abs=0.5)


def test_implausible_hr_samples_are_invalid():
    hr = np.full(240, 70.0)
    hr[:150] = 0.0  # drivedb writes 0 when the device lost the beat
    out = extract_window({"hr": Signal(hr, 4.0)})
    assert np.isnan(out[:5]).all()


# ------------------------------------------------------------------------------- EDA


def test_eda_counts_planted_scrs_with_their_amplitude():
    onsets = [6.0, 16.0, 27.0, 38.0, 48.0]
    out = extract_window({"eda": Signal(eda_trace(onsets, 0.3), 4.0)})
    assert col(out, "eda_scr_count") == 5
    assert col(out, "eda_scr_amp_mean") == pytest.approx(0.3, rel=0.12)
    assert 1.0 <= col(out, "eda_scr_rise_mean_s") <= 3.5
    assert col(out, "eda_tonic_mean") > 2.0


def test_eda_ignores_sub_threshold_responses_and_reports_zero():
    out = extract_window({"eda": Signal(eda_trace([10.0, 30.0], 0.02, drift_per_s=0.0), 4.0)})
    assert col(out, "eda_scr_count") == 0
    assert col(out, "eda_scr_amp_mean") == 0.0 and col(out, "eda_scr_rise_mean_s") == 0.0
    assert col(out, "eda_tonic_mean") == pytest.approx(2.0, abs=0.02)


def test_eda_tonic_slope_per_minute():
    out = extract_window({"eda": Signal(eda_trace([], 0.0, drift_per_s=0.01, noise=0.0), 4.0)})
    assert col(out, "eda_tonic_slope_per_min") == pytest.approx(0.6, rel=0.05)


# ------------------------------------------------------------------------------- temp, resp


def test_temperature_mean_and_linear_slope():
    t = np.arange(240) / 4.0
    out = extract_window({"temp": Signal(33.0 - 0.12 * t / 60.0, 4.0)})
    assert col(out, "temp_slope_per_min") == pytest.approx(-0.12, abs=1e-6)
    assert col(out, "temp_mean") == pytest.approx(33.0 - 0.12 * np.mean(t) / 60.0, abs=1e-5)


@pytest.mark.parametrize("freq, expected", [(0.25, 15.0), (0.2, 12.0), (0.4, 24.0)])
def test_respiration_rate_of_a_sine(freq, expected):
    out = extract_window({"resp": Signal(resp_sine(freq=freq, amp=0.5), 32.0)})
    assert col(out, "resp_rate_per_min") == pytest.approx(expected, abs=0.1)
    # Peak-to-peak 1.0 times the gain of the 17-sample (0.5 s at 32 Hz) moving average.
    gain = math.sin(math.pi * freq * 17 / 32.0) / (17 * math.sin(math.pi * freq / 32.0))
    assert col(out, "resp_amplitude") == pytest.approx(gain, rel=0.02)


def test_flat_respiration_is_missing_not_zero():
    out = extract_window({"resp": Signal(np.full(1920, 3.0), 32.0)})
    assert np.isnan([col(out, "resp_rate_per_min"), col(out, "resp_amplitude")]).all()


# ------------------------------------------------------------------------------- NaN handling


def test_nan_and_inf_gaps_are_ignored():
    clean = full_signals()
    gappy = {}
    for name, (values, rate) in clean.items():
        v = values.copy()
        v[int(50 * rate) : int(53 * rate)] = np.nan  # 3-s gap away from the SCRs
        v[int(2 * rate)] = np.inf
        gappy[name] = Signal(v, rate)
    a, b = extract_window(clean), extract_window(gappy)
    assert np.isfinite(b).all()
    # The gap is bridged linearly in the RR tachogram: LF/HF moves but stays HF-dominated.
    lf_hf = NAMES.index("hrv_lf_hf")
    assert b[lf_hf] < 0.2
    np.testing.assert_allclose(np.delete(b, lf_hf), np.delete(a, lf_hf), rtol=0.1, atol=0.02)


def test_too_few_valid_samples_gives_nan_for_that_signal_only():
    signals = full_signals()
    eda = signals["eda"].values.copy()
    eda[::2] = np.nan  # 50 % valid < min_valid_fraction 0.6
    signals["eda"] = Signal(eda, 4.0)
    del signals["temp"]  # absent channel
    out = extract_window(signals)
    missing = FEATURE_GROUPS["eda"] + FEATURE_GROUPS["temp"]
    for name in NAMES:
        assert np.isnan(col(out, name)) == (name in missing), name
    ok = extract_window(signals, PhysioFeatureConfig(min_valid_fraction=0.4))
    assert np.isfinite(col(ok, "eda_tonic_mean"))


# ------------------------------------------------------------------------------- streaming


def test_ring_buffer_longer_than_the_window_uses_its_last_window():
    long = full_signals(duration=90.0)
    last = {
        name: Signal(values[-window_num_samples(60.0, rate) :], rate)
        for name, (values, rate) in long.items()
    }
    np.testing.assert_array_equal(extract_window(long), extract_window(last))


def test_extract_recording_slides_the_window_function():
    signals = full_signals(duration=80.0)
    cfg = PhysioFeatureConfig(stride_s=5.0)
    features, ends = extract_recording(signals, cfg)
    np.testing.assert_allclose(ends, [60.0, 65.0, 70.0, 75.0, 80.0])
    assert features.shape == (5, len(NAMES)) and features.dtype == np.float32
    for row, t_end in enumerate(ends):
        window = {
            name: Signal(values[: int(math.floor(t_end * rate + 0.5))], rate)
            for name, (values, rate) in signals.items()
        }
        np.testing.assert_array_equal(features[row], extract_window(window, cfg))


def test_recording_with_a_shorter_channel_goes_missing_at_its_end():
    signals = full_signals(duration=120.0)
    signals["temp"] = Signal(signals["temp"].values[: 4 * 70], 4.0)  # stops after 70 s
    features, ends = extract_recording(signals, PhysioFeatureConfig(stride_s=10.0))
    temp = col(features, "temp_mean")
    assert np.isfinite(temp[ends <= 70.0]).all()
    assert np.isnan(temp[ends >= 110.0]).all()
    assert np.isfinite(col(features, "resp_rate_per_min")).all()


def test_drivedb_rate_window_alignment():
    fs = 15.5
    hr = np.full(int(100 * fs), 75.0)
    features, ends = extract_recording({"hr": Signal(hr, fs)}, PhysioFeatureConfig(stride_s=5))
    assert ends[-1] <= hr.shape[0] / fs
    np.testing.assert_allclose(col(features, "hr_mean_bpm"), 75.0, atol=1e-3)
