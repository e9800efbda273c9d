"""Physiological window features: the ONE implementation shared by training and the head unit.

`extract_window` turns the current window of each raw signal into `float32[F]`;
`extract_recording` slides it over whole recordings. numpy only, float64 internals, and
every step is spelled out below so the Java port can reproduce it operation by operation.

Signals (`signals: Mapping[str, Signal]`, any subset; absent -> that group's features NaN):
  ecg  ECG (any unit, R peaks positive or negative), >= 10 Hz
  bvp  blood-volume pulse / PPG (any unit, systolic peaks positive), >= 10 Hz
  hr   heart-rate series in bpm (device output, e.g. 1-15.5 Hz)
  eda  electrodermal activity (uS on wrist devices, mV in drivedb)
  temp skin temperature (degC)
  resp respiration (belt or impedance, any unit)

Conventions (port these exactly):
  * A window holds the last n = floor(window_s * fs + 0.5) samples of a signal; sample i sits
    at t_i = i / fs seconds from the window start. Arrays longer than n use their last n
    samples (ring buffers); shorter ones are windows that have not filled yet.
  * A sample is valid when finite (NaN/Inf = dropout); hr samples must also lie in
    [hr_min_bpm, hr_max_bpm]. If valid samples < min_valid_fraction * n, the signal's
    features are NaN ("missing"), never guesses.
  * sum(x) is the sequential left-to-right float64 sum (cumsum's last element, NOT numpy's
    pairwise np.sum); mean(x) = sum(x) / len(x); std(x) = sqrt(mean((x - mean(x))**2))
    (population, ddof=0); slope(t, x) = sum((t-mt)(x-mx)) / sum((t-mt)**2) (least squares);
    "per minute" slopes use t_i = i / (60 fs). detrend(x) subtracts
    mean(x) + slope(i, x) (i - mean(i)) fitted on the valid sample indices i.
  * fill(x): invalid samples replaced by linear interpolation between the nearest valid
    neighbours, f0 + (f1 - f0) * ((i - i0) / (i1 - i0)); before the first / after the last
    valid sample the nearest valid value is held.
  * ma(x, w): centred moving average with half-width h = floor(0.5 * w * fs + 0.5) samples,
    y_i = (c[hi] - c[lo]) / (hi - lo), c = [0, cumsum(x)], lo = max(i - h, 0),
    hi = min(i + h + 1, n) (the average shrinks at the edges).

Modules, one per concept (as in the Java port, `org.fedmultiemo.bridge.physio`):
  config       signal kinds, feature groups, `PhysioFeatureConfig`, `feature_names`
  signal_math  the primitives above (sum, mean, std, slope, detrend, fill, ma)
  cardiac / eda / temp / resp   one feature group each (their rules are in their docstrings)
  extraction   `extract_window`, `extract_recording`
  spec         features.json (`PhysioSpec`), which signals feed which group

"""

from emocore.physio.config import (
    CARDIAC_SOURCES,
    DEFAULT_CONFIG,
    FEATURE_GROUPS,
    MIN_BEAT_RATE_HZ,
    SIGNAL_KINDS,
    PhysioFeatureConfig,
    Signal,
    feature_names,
    window_num_samples,
)
from emocore.physio.extraction import extract_recording, extract_window
from emocore.physio.spec import (
    MODES,
    PRECOMPUTED,
    RAW_SIGNALS,
    SIGNAL_NAMES,
    PhysioSpec,
    default_valid_ranges,
    missing_signal_features,
    signals_needed,
)

__all__ = [
    "CARDIAC_SOURCES",
    "DEFAULT_CONFIG",
    "FEATURE_GROUPS",
    "MIN_BEAT_RATE_HZ",
    "MODES",
    "PRECOMPUTED",
    "RAW_SIGNALS",
    "SIGNAL_KINDS",
    "SIGNAL_NAMES",
    "PhysioFeatureConfig",
    "PhysioSpec",
    "Signal",
    "default_valid_ranges",
    "extract_recording",
    "extract_window",
    "feature_names",
    "missing_signal_features",
    "signals_needed",
    "window_num_samples",
]
