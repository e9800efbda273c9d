import dataclasses

import numpy as np
import pytest

from emocore.label_spaces import DRIVER_STATE3
from emocore.physio import Signal, extract_window, feature_names
from emodata.synthetic_physio import (
    STREAM_RATES_HZ,
    sample_physiology,
    simulate_streams,
)

NEUTRAL, POSITIVE, NEGATIVE = (DRIVER_STATE3.index(s) for s in DRIVER_STATE3.labels)
SEGMENTS = [(0.0, 120.0, NEUTRAL), (120.0, 240.0, NEGATIVE), (240.0, 300.0, POSITIVE)]


def simulate(seed=0, segments=SEGMENTS, **overrides):
    rng = np.random.default_rng(seed)
    physiology = dataclasses.replace(sample_physiology(rng), **overrides)
    return simulate_streams(physiology, segments, rng)


def test_streams_have_the_documented_rates_and_lengths():
    streams = simulate()
    assert set(streams) == set(STREAM_RATES_HZ)
    for name, (values, rate) in streams.items():
        assert rate == STREAM_RATES_HZ[name]
        assert values.dtype == np.float64 and values.shape == (int(300 * rate),), name
        assert np.isfinite(values).mean() > 0.8, name


def test_deterministic_for_a_seed():
    a, b, c = simulate(seed=5), simulate(seed=5), simulate(seed=6)
    for name in STREAM_RATES_HZ:
        np.testing.assert_array_equal(a[name].values, b[name].values)
        assert not np.array_equal(a[name].values, c[name].values, equal_nan=True)


def test_negative_state_raises_heart_and_breathing_rate_and_cools_the_skin():
    # A reactive driver without dropouts; compare the last minute of each 2-min segment.
    streams = simulate(seed=1, cardiac_reactivity=1.0, eda_reactivity=1.0, resp_reactivity=1.0,
                       temp_reactivity=1.0, dropouts_per_min=0.0)  # fmt: skip

    def last_minute(end_s):
        return {
            name: Signal(values[: int(end_s * rate)], rate)
            for name, (values, rate) in streams.items()
        }

    neutral, negative = extract_window(last_minute(120.0)), extract_window(last_minute(240.0))
    names = feature_names()
    assert negative[names.index("hr_mean_bpm")] > neutral[names.index("hr_mean_bpm")] + 5.0
    assert negative[names.index("hrv_rmssd_ms")] < neutral[names.index("hrv_rmssd_ms")]
    rate = names.index("resp_rate_per_min")
    assert negative[rate] > neutral[rate] + 2.0
    assert negative[names.index("temp_slope_per_min")] < -0.05
    temp = streams["temp"].values
    assert temp[4 * 239] < temp[4 * 121] - 0.1


def test_dropouts_are_nan_gaps():
    streams = simulate(seed=2, dropouts_per_min=3.0)
    for name, (values, _) in streams.items():
        assert 0.5 < np.isfinite(values).mean() < 1.0, name
    clean = simulate(seed=2, dropouts_per_min=0.0)
    for name in ("eda", "temp", "resp", "ecg"):
        assert np.isfinite(clean[name].values).all(), name


@pytest.mark.parametrize(
    "segments, match",
    [
        ([], "segments must hold at least one"),
        ([(5.0, 60.0, 0)], r"segments\[0\] must start at 0.0 s"),
        ([(0.0, 60.0, 0), (61.0, 90.0, 1)], r"segments\[1\] must start at 60.0 s"),
        ([(0.0, 0.0, 0)], r"segments\[0\] must start at 0.0 s and end after it"),
        ([(0.0, 60.0, 3)], r"segments\[0\] state must be a DRIVER_STATE3 id"),
    ],
)
def test_bad_segments_raise(segments, match):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=match):
        simulate_streams(sample_physiology(rng), segments, rng)
