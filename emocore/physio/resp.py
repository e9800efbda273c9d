"""Respiration window features (`FEATURE_GROUPS["resp"]`): breathing rate and amplitude.

Respiration: y = detrend(ma(fill(resp), resp_smooth_s)); h = resp_hysteresis * std(y[valid])
  (flat signal -> NaN). Hysteresis states: +1 where y > h, -1 where y < -h, else unchanged;
  a breath starts at the first sample k with state +1 after a -1, at
  t = (k - 1 + (h - y_{k-1}) / (y_k - y_{k-1})) / fs. Cycles between consecutive starts with
  no invalid sample in between give resp_rate_per_min = 60 / mean(cycle length) and
  resp_amplitude = mean over those cycles of max(y) - min(y) on the samples [k_j, k_{j+1})
  (peak-to-peak, in input units). Fewer than 1 cycle -> NaN.
"""

from __future__ import annotations

import numpy as np

from emocore.physio import signal_math as sm
from emocore.physio.config import PhysioFeatureConfig


def resp_features(
    x: np.ndarray, valid: np.ndarray, fs: float, config: PhysioFeatureConfig
) -> np.ndarray:
    """`float64[2]` resp features of a usable window `x: float64[n]` (`valid: bool[n]`, rate
    `fs`; see `signal_math.valid_window`)."""
    n = x.shape[0]
    smooth = sm.moving_average(sm.fill(x, valid), sm.half_width(config.resp_smooth_s, fs))
    y = sm.detrend(np.arange(n, dtype=np.float64), smooth, valid)
    sd = sm.std(y[valid])
    if not sd > 0:
        return sm.nan_features("resp")
    h = config.resp_hysteresis * sd
    marks = np.where(y > h, 1, np.where(y < -h, -1, 0))
    idx = np.flatnonzero(marks)
    seq = marks[idx]
    up = idx[1:][(seq[1:] == 1) & (seq[:-1] == -1)]
    if up.shape[0] < 2:
        return sm.nan_features("resp")
    y0, y1 = y[up - 1], y[up]
    times = (up - 1 + (h - y0) / (y1 - y0)) / fs
    invalid_c = np.concatenate(([0], np.cumsum(~valid)))
    clean = sm.invalid_between(invalid_c, up[:-1], up[1:]) == 0
    if not clean.any():
        return sm.nan_features("resp")
    cycles = (times[1:] - times[:-1])[clean]
    peak_to_peak = np.maximum.reduceat(y, up)[:-1] - np.minimum.reduceat(y, up)[:-1]
    return np.array([60.0 / sm.mean(cycles), sm.mean(peak_to_peak[clean])])
