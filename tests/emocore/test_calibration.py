"""Per-driver calibration: causal, label-free, session-start referenced (emocore.calibration)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emocore.calibration import (
    CalibrationConfig,
    ReferenceStats,
    SessionCalibration,
    calibrate_session,
    reference_windows,
)

NAMES = ("a", "b", "c")


def _session(seed: int = 0, n: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(5.0, 2.0, size=(n, 3))
    x[3, 1] = np.nan
    x[7, 0] = np.inf
    x[:, 2] = np.nan  # a feature never seen in this session
    return x


def _prior() -> ReferenceStats:
    return ReferenceStats(NAMES, [50.0, 50.0, 50.0], [1.0, 2.0, 3.0], [200.0, 50.0, 50.0])


def test_reference_stats_are_the_mean_and_population_variance_of_finite_values():
    x = _session()
    stats = ReferenceStats.from_windows(x, NAMES)
    for j in range(2):
        col = x[np.isfinite(x[:, j]), j]
        assert stats.count[j] == col.size
        assert stats.mean[j] == pytest.approx(col.mean(), rel=1e-12)
        assert stats.m2[j] / stats.count[j] == pytest.approx(col.var(), rel=1e-12)
    assert stats.count[2] == 0 and stats.mean[2] == 0 and stats.m2[2] == 0


def test_merge_equals_the_statistics_of_the_union():
    x = _session()
    merged = ReferenceStats.from_windows(x[:15], NAMES).merge(
        ReferenceStats.from_windows(x[15:], NAMES))
    whole = ReferenceStats.from_windows(x, NAMES)
    np.testing.assert_array_equal(merged.count, whole.count)
    np.testing.assert_allclose(merged.mean, whole.mean, rtol=1e-12)
    np.testing.assert_allclose(merged.m2, whole.m2, rtol=1e-10)
    empty = ReferenceStats.empty(NAMES).merge(whole)
    np.testing.assert_array_equal(empty.mean, whole.mean)


def test_zscore_after_a_full_baseline_uses_the_prior_blended_with_the_baseline_windows():
    x = _session()
    config = CalibrationConfig("zscore", baseline_windows=10, prior_weight=4.0)
    out = calibrate_session(x, config, _prior())
    prior_var = _prior().m2 / _prior().count
    for j in range(2):
        base = x[:10, j][np.isfinite(x[:10, j])]
        n, w = base.size, 4.0
        mean = (w * _prior().mean[j] + base.sum()) / (w + n)
        var = (w * prior_var[j] + ((base - base.mean()) ** 2).sum()
               + (base.mean() - _prior().mean[j]) ** 2 * w * n / (w + n)) / (w + n)
        expected = (x[20, j] - mean) / np.sqrt(var)
        assert out[20, j] == pytest.approx(expected, rel=1e-5)
    # Feature c: never finite in the session, so its reference is the prior alone.
    assert np.isnan(out[:, 2]).all()  # NaN input stays NaN
    assert np.isnan(out[3, 1]) and np.isnan(out[7, 0])


def test_the_reference_is_frozen_after_the_baseline_and_running_keeps_updating():
    x = _session()
    frozen = SessionCalibration(CalibrationConfig("center", baseline_windows=5), _prior())
    running = SessionCalibration(CalibrationConfig("center", running=True), _prior())
    offsets_frozen, offsets_running = [], []
    for row in x:
        offsets_frozen.append(row[1] - frozen.apply(row)[1])
        offsets_running.append(row[1] - running.apply(row)[1])
    assert frozen.is_frozen and not running.is_frozen
    assert np.ptp(np.array(offsets_frozen[5:])) < 1e-5  # the same reference mean after window 5
    assert np.ptp(np.array(offsets_running[5:])) > 0.1
    np.testing.assert_array_equal(frozen.session_stats().count, [5.0, 4.0, 0.0])  # x[3,1] NaN


def test_calibration_is_causal_a_future_window_never_changes_a_past_output():
    x = _session()
    for config in (CalibrationConfig("zscore", 10), CalibrationConfig("zscore", running=True),
                   CalibrationConfig("center", 0)):
        before = calibrate_session(x, config, _prior())
        changed = x.copy()
        changed[25:] = changed[25:] * 10.0 + 3.0
        after = calibrate_session(changed, config, _prior())
        np.testing.assert_array_equal(after[:25], before[:25])
        assert not np.array_equal(after[25:], before[25:])


def test_a_session_offset_is_removed_once_the_baseline_is_full():
    """Two drivers whose features differ by a constant map to the same calibrated values."""
    x = _session()
    config = CalibrationConfig("center", baseline_windows=20, prior_weight=1e-9)
    a = calibrate_session(x, config, _prior())
    b = calibrate_session(x + 100.0, config, _prior())
    np.testing.assert_allclose(a[20:, :2], b[20:, :2], atol=1e-4)


def test_without_a_session_baseline_the_prior_is_the_whole_reference():
    x = _session()
    profile = ReferenceStats.from_windows(x, NAMES)
    out = calibrate_session(x, CalibrationConfig("zscore", 0, prior="driver_profile"), profile)
    col = x[np.isfinite(x[:, 0]), 0]
    assert out[0, 0] == pytest.approx((x[0, 0] - col.mean()) / col.std(), rel=1e-5)


def test_none_returns_the_features_and_reference_windows_are_the_session_start():
    x = _session()
    np.testing.assert_array_equal(calibrate_session(x, CalibrationConfig(), _prior()),
                                  x.astype(np.float32))
    assert reference_windows(x, CalibrationConfig("zscore", 7)).shape == (7, 3)
    assert reference_windows(x, CalibrationConfig("zscore", 7, running=True)).shape == (40, 3)


def test_json_round_trips_exactly():
    stats = ReferenceStats.from_windows(_session(), NAMES)
    again = ReferenceStats.from_json_dict(json.loads(json.dumps(stats.to_json_dict())))
    np.testing.assert_array_equal(again.mean, stats.mean)
    np.testing.assert_array_equal(again.m2, stats.m2)
    config = CalibrationConfig("zscore", 12, prior_weight=3)
    assert CalibrationConfig.from_json_dict(json.loads(json.dumps(config.to_json_dict()))) \
        == config


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"method": "rank"}, r"calibration method must be one of \['none', 'center', 'zscore'\]; "
                         r"got 'rank'"),
    ({"baseline_windows": -1}, "calibration baseline_windows must be an int >= 0; got -1"),
    ({"baseline_windows": 2.5}, "calibration baseline_windows must be an int >= 0; got 2.5"),
    ({"prior": "fleet"}, "calibration prior must be one of"),
    ({"prior_weight": 0.0}, "calibration prior_weight must be a finite number > 0; got 0.0"),
    ({"running": 1}, "calibration running must be a bool; got 1"),
])
def test_bad_config_names_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CalibrationConfig(**kwargs)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match=r"features must be float\[N,3\].*got shape \[4, 2\]"):
        ReferenceStats.from_windows(np.zeros((4, 2)), NAMES)
    with pytest.raises(ValueError, match=r"ReferenceStats.mean must be finite float\[3\]"):
        ReferenceStats(NAMES, [1.0, 1.0, 1.0], [0.0, np.nan, 0.0], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="count and m2 must be >= 0"):
        ReferenceStats(NAMES, [1.0, -1.0, 1.0], [0.0] * 3, [0.0] * 3)
    with pytest.raises(ValueError, match=r"other must be ReferenceStats over \['a', 'b', 'c'\]"):
        _prior().merge(ReferenceStats.empty(("a",)))
    with pytest.raises(ValueError, match="config must be a CalibrationConfig with method in"):
        SessionCalibration(CalibrationConfig(), _prior())
    session = SessionCalibration(CalibrationConfig("zscore", 3), _prior())
    with pytest.raises(ValueError, match=r"features must be float\[3\] \(one window\)"):
        session.apply(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="reference statistics must be an object with keys"):
        ReferenceStats.from_json_dict({"mean": []})
    with pytest.raises(ValueError, match="calibration config must be an object with keys"):
        CalibrationConfig.from_json_dict({"method": "zscore"})
