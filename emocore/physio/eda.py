"""Electrodermal window features (`FEATURE_GROUPS["eda"]`): tonic level and SCRs.

EDA: x = fill(eda). Tonic g = ma(x, eda_tonic_s); eda_tonic_mean = mean(g[valid]),
  eda_tonic_slope_per_min = slope(t, g) over valid samples.
  SCRs: s = ma(x, scr_smooth_s), d_i = s_{i+1} - s_i. An onset a is the first index of each
  run of d_i * fs > scr_onset_slope (input units per second; a run starting at index 0 began
  before the window and is skipped); its peak p is the first index > a with d_p <= 0 (none:
  the rise is still going and the next window sees it); onsets sharing a peak keep the first.
  A rise is an SCR when it has no invalid sample in [a, p], amplitude s_p - s_a >=
  scr_threshold (input units) and scr_min_rise_s <= (p - a) / fs <= scr_max_rise_s.
  eda_scr_count = number of SCRs; eda_scr_amp_mean / eda_scr_rise_mean_s = their mean
  amplitude / rise time, 0 when there is none (NaN stays reserved for missing data).
"""

from __future__ import annotations

import numpy as np

from emocore.physio import signal_math as sm
from emocore.physio.config import PhysioFeatureConfig


def eda_features(
    x: np.ndarray, valid: np.ndarray, fs: float, config: PhysioFeatureConfig
) -> np.ndarray:
    """`float64[5]` eda features of a usable window `x: float64[n]` (`valid: bool[n]`, rate
    `fs`; see `signal_math.valid_window`)."""
    n = x.shape[0]
    xf = sm.fill(x, valid)
    tonic = sm.moving_average(xf, sm.half_width(config.eda_tonic_s, fs))
    t_min = np.arange(n) / (60.0 * fs)
    tonic_mean = sm.mean(tonic[valid])
    tonic_slope = sm.slope(t_min[valid], tonic[valid])
    s = sm.moving_average(xf, sm.half_width(config.scr_smooth_s, fs))
    d = s[1:] - s[:-1]
    steep = d * fs > config.scr_onset_slope
    onset = np.flatnonzero(steep & ~np.concatenate(([True], steep[:-1])))
    falls = np.flatnonzero(d <= 0)
    j = np.searchsorted(falls, onset)  # first fall after each onset
    onset = onset[j < falls.shape[0]]
    peak = falls[j[j < falls.shape[0]]]
    peak, first = np.unique(peak, return_index=True)
    onset = onset[first]
    invalid_c = np.concatenate(([0], np.cumsum(~valid)))
    amp = s[peak] - s[onset]
    rise = (peak - onset) / fs
    is_scr = (
        (sm.invalid_between(invalid_c, onset, peak) == 0)
        & (amp >= config.scr_threshold)
        & (rise >= config.scr_min_rise_s)
        & (rise <= config.scr_max_rise_s)
    )
    count = int(np.count_nonzero(is_scr))
    amp_mean = sm.mean(amp[is_scr]) if count else 0.0
    rise_mean = sm.mean(rise[is_scr]) if count else 0.0
    return np.array([tonic_mean, tonic_slope, float(count), amp_mean, rise_mean])
