"""The primitives of the physiological features, operation by operation (Java: SignalMath).

See `emocore.physio` for the conventions (sequential sums, population std, fill, ma).
"""

from __future__ import annotations

import math

import numpy as np

from emocore.physio.config import FEATURE_GROUPS, PhysioFeatureConfig


def seq_sum(x: np.ndarray) -> float:
    """Sequential left-to-right float64 sum (portable, unlike numpy's pairwise np.sum)."""
    return float(np.cumsum(x)[-1]) if x.shape[0] else 0.0


def mean(x: np.ndarray) -> float:
    """seq_sum(x) / len(x) of `x: float64[N]`, N >= 1."""
    return seq_sum(x) / x.shape[0]


def std(x: np.ndarray) -> float:
    """Population std (ddof=0) of `x: float64[N]` with sequential sums."""
    d = x - mean(x)
    return math.sqrt(seq_sum(d * d) / x.shape[0])


def slope(t: np.ndarray, x: np.ndarray) -> float:
    """Least-squares slope of `x: float64[N]` over `t: float64[N]` (NaN when t is constant)."""
    dt = t - mean(t)
    den = seq_sum(dt * dt)
    return seq_sum(dt * (x - mean(x))) / den if den > 0 else math.nan


def detrend(t: np.ndarray, x: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """x minus the least-squares line fitted on the samples where `fit` is True."""
    tf, xf = t[fit], x[fit]
    fitted = slope(tf, xf)
    if not math.isfinite(fitted):
        fitted = 0.0
    return x - (mean(xf) + fitted * (t - mean(tf)))


def interp(xq: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Linear interpolation f0 + (f1 - f0) * ((x - x0) / (x1 - x0)), ends held; xp increasing."""
    if xp.shape[0] == 1:
        return np.full(xq.shape, fp[0])
    j = np.clip(np.searchsorted(xp, xq, side="right"), 1, xp.shape[0] - 1)
    x0, x1, f0, f1 = xp[j - 1], xp[j], fp[j - 1], fp[j]
    out = f0 + (f1 - f0) * ((xq - x0) / (x1 - x0))
    out = np.where(xq <= xp[0], fp[0], out)
    return np.where(xq >= xp[-1], fp[-1], out)


def fill(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """`x: float64[N]` with invalid samples linearly interpolated (ends held); `valid: bool[N]`."""
    if valid.all():
        return x
    idx = np.arange(x.shape[0], dtype=np.float64)
    out = x.copy()
    out[~valid] = interp(idx[~valid], idx[valid], x[valid])
    return out


def half_width(width_s: float, rate: float) -> int:
    """Half-width floor(0.5 * width_s * rate + 0.5) in samples of a `width_s`-second average."""
    return int(math.floor(0.5 * width_s * rate + 0.5))


def moving_average(x: np.ndarray, half: int) -> np.ndarray:
    """Centred moving average `float64[N]` of `x: float64[N]`, shrinking at the edges."""
    n = x.shape[0]
    c = np.concatenate(([0.0], np.cumsum(x)))
    i = np.arange(n)
    lo = np.maximum(i - half, 0)
    hi = np.minimum(i + half + 1, n)
    return (c[hi] - c[lo]) / (hi - lo)


def invalid_between(invalid_cumsum: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Number of invalid samples in [a, b] given c = [0, cumsum(~valid)]."""
    return invalid_cumsum[b + 1] - invalid_cumsum[a]


def valid_window(
    window: tuple[np.ndarray, float, int] | None, config: PhysioFeatureConfig
) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(x, valid mask, fs) when the window holds enough valid samples, else None."""
    if window is None:
        return None
    x, fs, n = window
    valid = np.isfinite(x)
    if x.shape[0] < 2 or int(np.count_nonzero(valid)) < config.min_valid_fraction * n:
        return None
    return x, valid, fs


def nan_features(group: str) -> np.ndarray:
    """`float64[len(FEATURE_GROUPS[group])]` of NaN: the group's features are missing."""
    return np.full(len(FEATURE_GROUPS[group]), np.nan)
