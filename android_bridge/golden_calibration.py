"""Golden per-driver calibration sessions: `emocore.calibration.SessionCalibration` per window.

`calibration_sessions(spec, seed)` returns JSON-ready sessions `{name, source, config, prior,
input_dtype, inputs, outputs, frozen, session_stats, merged}`: ~15 feature rows over
`spec.feature_names` (one per window, in time order) fed through one `SessionCalibration` each,
with the calibrated float32 outputs (as float64 JSON numbers), `is_frozen` after every window, the
final `session_stats()` and `prior.merge(session_stats())` (the end-of-session driver-profile
update; float64, so it pins the merge's operation order, which the float32 outputs may hide).
The rows mix plain values, large offsets (1e6 + small noise, -4.2e4), a constant feature (zero
variance), features that are never finite (NaN/+inf/-inf), scattered NaN/+inf/-inf, an all-NaN
window and a last value beyond float32's range.

Sessions (source "bundle" only when features.json has a calibration):
  bundle                   the bundle's own calibration; prior = its population, or a synthetic
                           driver profile when its prior is "driver_profile"
  zscore_baseline4         z-score, 4 baseline windows, population-like prior of weight 3
  center_running           centering, running reference (never frozen), prior weight 1
  zscore_prior_only        z-score, baseline 0: the prior alone (session stats stay empty)
  center_prior_zero_count  centering, baseline 0, a driver profile with a zero-count feature
                           (NaN for the whole session) and a zero-variance feature
  zscore_running_float32   z-score, running, float32 inputs (the `PhysioStream.predict` path)
  zscore_baseline_beyond   z-score, 40 baseline windows (> the session: never frozen), tiny prior
The inputs are float64 (float32-representable for `input_dtype` "float32"); JSON round-trips them
exactly, NaN/Infinity use Python json's tokens.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from emocore.calibration import CalibrationConfig, ReferenceStats, SessionCalibration
from emocore.physio import PhysioSpec

NUM_WINDOWS = 15
# Per column (index % 6): centre and spread of its values; role 3 is never finite.
_CENTRES = (0.0, 1e6, 70.0, 0.0, 3.25, -4.2e4)
_SPREADS = (1.0, 0.01, 8.0, 1.0, 0.0, 3.0)
_NEVER_FINITE = 3


def session_rows(width: int, seed: int) -> np.ndarray:
    """`float64[NUM_WINDOWS, width]` golden feature rows (see the module docstring)."""
    rng = np.random.default_rng(seed)
    roles = np.arange(width) % len(_CENTRES)
    centres = np.array(_CENTRES)[roles]
    spreads = np.array(_SPREADS)[roles]
    x = centres + spreads * rng.normal(size=(NUM_WINDOWS, width))
    never = roles == _NEVER_FINITE
    x[:, never] = np.resize([np.nan, np.inf, -np.inf], NUM_WINDOWS)[:, None]
    x[1, 0] = np.nan
    x[0, width - 1] = np.nan  # the first window of a feature is missing
    if width > 2:
        x[2, 2] = np.inf
    if width > 1:
        x[5, 1] = -np.inf
    x[7, :] = np.nan  # a window without any finite feature
    x[NUM_WINDOWS - 1, 0] = 1e39  # finite, but beyond float32 once centred
    return x


def synthetic_prior(feature_names: tuple[str, ...], seed: int) -> ReferenceStats:
    """A deterministic population-like prior around the rows' centres (every count > 0)."""
    rng = np.random.default_rng(seed + 1)
    width = len(feature_names)
    roles = np.arange(width) % len(_CENTRES)
    spreads = np.maximum(np.array(_SPREADS)[roles], 0.5)
    count = rng.integers(20, 300, width).astype(np.float64)
    mean = np.array(_CENTRES)[roles] + spreads * rng.normal(size=width)
    m2 = count * (spreads * rng.uniform(0.5, 2.0, width)) ** 2
    return ReferenceStats(feature_names, count, mean, m2)


def _zero_count_prior(feature_names: tuple[str, ...], seed: int) -> ReferenceStats:
    """`synthetic_prior` whose first feature was never seen and whose last has zero variance."""
    prior = synthetic_prior(feature_names, seed + 10)
    count, mean, m2 = prior.count.copy(), prior.mean.copy(), prior.m2.copy()
    count[0], mean[0], m2[0] = 0.0, 0.0, 0.0
    if len(feature_names) > 1:
        m2[-1] = 0.0
    return ReferenceStats(feature_names, count, mean, m2)


def _floats(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]


def run_session(config: CalibrationConfig, prior: ReferenceStats, rows: np.ndarray
                ) -> tuple[np.ndarray, list[bool], ReferenceStats]:
    """`rows` through one `SessionCalibration`: outputs `float32[N,F]`, `is_frozen` after each
    window, the final `session_stats()`."""
    session = SessionCalibration(config, prior)
    outputs, frozen = [], []
    for row in rows:
        outputs.append(session.apply(row))
        frozen.append(session.is_frozen)
    return np.stack(outputs), frozen, session.session_stats()


def calibration_sessions(spec: PhysioSpec, seed: int) -> list[dict[str, Any]]:
    """Every golden calibration session over `spec.feature_names` (see the module docstring)."""
    names = spec.feature_names
    rows = session_rows(len(names), seed)
    population = synthetic_prior(names, seed)
    profile = _zero_count_prior(names, seed)
    plans: list[tuple[str, str, CalibrationConfig, ReferenceStats, str]] = []
    if spec.calibration is not None:
        prior = (spec.require_population() if spec.calibration.prior == "population"
                 else synthetic_prior(names, seed + 20))
        plans.append(("bundle", "bundle", spec.calibration, prior, "float64"))
    plans += [
        ("zscore_baseline4", "fixed", CalibrationConfig("zscore", 4, prior_weight=3.0),
         population, "float64"),
        ("center_running", "fixed", CalibrationConfig("center", 2, running=True, prior_weight=1.0),
         population, "float64"),
        ("zscore_prior_only", "fixed", CalibrationConfig("zscore", 0), population, "float64"),
        ("center_prior_zero_count", "fixed",
         CalibrationConfig("center", 0, prior="driver_profile", prior_weight=2.5), profile,
         "float64"),
        ("zscore_running_float32", "fixed",
         CalibrationConfig("zscore", 0, running=True, prior_weight=0.5), population, "float32"),
        ("zscore_baseline_beyond", "fixed",
         CalibrationConfig("zscore", 40, prior="driver_profile", prior_weight=1e-3), profile,
         "float64"),
    ]
    sessions = []
    for name, source, config, prior, dtype in plans:
        with np.errstate(over="ignore"):  # 1e39 -> float32 inf (the golden edge case)
            inputs = rows.astype(np.float32) if dtype == "float32" else rows
            outputs, frozen, stats = run_session(config, prior, inputs)
        sessions.append({
            "name": name, "source": source, "config": config.to_json_dict(),
            "prior": prior.to_json_dict(), "input_dtype": dtype,
            "inputs": [_floats(row) for row in inputs],
            "outputs": [_floats(row) for row in outputs], "frozen": frozen,
            "session_stats": stats.to_json_dict(),
            "merged": prior.merge(stats).to_json_dict()})
    return sessions
