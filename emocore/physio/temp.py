"""Skin-temperature window features (`FEATURE_GROUPS["temp"]`).

Temperature: temp_mean = mean(valid), temp_slope_per_min = slope(t, temp) over valid.
"""

from __future__ import annotations

import numpy as np

from emocore.physio import signal_math as sm
from emocore.physio.config import PhysioFeatureConfig


def temp_features(
    x: np.ndarray, valid: np.ndarray, fs: float, config: PhysioFeatureConfig
) -> np.ndarray:
    """`float64[2]` temp features of a usable window `x: float64[n]` (`valid: bool[n]`, rate
    `fs`; see `signal_math.valid_window`)."""
    t_min = np.arange(x.shape[0]) / (60.0 * fs)
    return np.array([sm.mean(x[valid]), sm.slope(t_min[valid], x[valid])])
