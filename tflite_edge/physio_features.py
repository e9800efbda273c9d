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

Cardiac (source: `cardiac_source`; "auto" = first present of hr, ecg, bvp: a device's HR series
  is usually its own cleaned beat detection, and low-rate ECG such as drivedb's 15.5 Hz has
  1-sample R waves the size of its T waves, so force "ecg"/"bvp" only for >= ~100 Hz waveforms):
  Beats from hr (integrate-and-fire): increments q_i = hr_i / (60 fs) (0 when invalid),
    C = cumsum(q); within each run of valid samples the phase is p1_i = C_i - C_{r-1} and
    p0_i = C_{i-1} - C_{r-1} (r = the run's first sample, C_{-1} = 0), so it starts at 0; a
    beat fires at every integer m with p0_i < m <= p1_i, at t = (i + (m - p0_i) / (p1_i -
    p0_i)) / fs.
  Beats from ecg: x = fill(ecg); d_i = x_{i+1} - x_{i-1} (0 at both ends); energy
    e = ma(d**2, 0.1 s). From bvp: e = max(ma(x, 0.1 s) - ma(x, 1.0 s), 0).
    thr = beat_threshold * median of the maxima of e over 2-s blocks [kB, (k+1)B),
    B = floor(2 fs + 0.5), valid samples only (median = middle of the sorted values, mean of
    the two middle ones for an even count). Candidates: valid i in [1, n-2] with
    e_{i-1} < e_i >= e_{i+1} and e_i > thr, in time order; a candidate closer than
    60 / hr_max_bpm s to the last kept beat replaces it when its e is larger, else is dropped.
    ecg only: the energy envelope is flat-topped, so each beat moves to the first maximum of
    r = |x - ma(x, 0.2 s)| within +-h samples (h of the 0.1-s energy average; indices clipped
    to [1, n-2]) and e := r below.
    Beat time t = (i + delta) / fs, parabolic vertex delta = 0.5 (e_{i-1} - e_{i+1}) /
    (e_{i-1} - 2 e_i + e_{i+1}) clipped to [-0.5, 0.5] (0 if the denominator >= 0).
  RR_k = t_{k+1} - t_k between consecutive beats of one valid run (ecg/bvp: no invalid sample
    between the two beat samples), kept when 60/hr_max_bpm <= RR_k <= 60/hr_min_bpm.
    Fewer than min_rr_intervals RR -> all cardiac features NaN.
  hr_mean_bpm = mean(60 / RR), hr_std_bpm = std(60 / RR), hrv_sdnn_ms = 1000 std(RR),
  hrv_rmssd_ms = 1000 sqrt(mean((RR_{k+1} - RR_k)**2)) over pairs sharing a beat (NaN if none).
  hrv_lf_hf (NaN unless window_s >= lf_hf_min_window_s and the RR series spans
    >= min_valid_fraction * window_s): tachogram points (t_{k+1}, RR_k) resampled by the linear
    interpolation above at u_j = u_0 + j / rr_resample_hz, j = 0..floor((u_last - u_0) fr),
    minus its least-squares line; P_k = (sum x_j cos a_kj)^2 + (sum x_j sin a_kj)^2 with
    a_kj = ((k j) mod N) * (2 pi / N) at bins f_k = k * fr / N, 0 < k <= N/2;
    LF = sum P over 0.04 <= f_k < 0.15 Hz, HF = sum over 0.15 <= f_k < 0.40 Hz; LF/HF
    (NaN when HF = 0). cos/sin are the only transcendental calls (port with StrictMath).

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

Temperature: temp_mean = mean(valid), temp_slope_per_min = slope(t, temp) over valid.

Respiration: y = detrend(ma(fill(resp), resp_smooth_s)); h = resp_hysteresis * std(y[valid])
  (flat signal -> NaN). Hysteresis states: +1 where y > h, -1 where y < -h, else unchanged;
  a breath starts at the first sample k with state +1 after a -1, at
  t = (k - 1 + (h - y_{k-1}) / (y_k - y_{k-1})) / fs. Cycles between consecutive starts with
  no invalid sample in between give resp_rate_per_min = 60 / mean(cycle length) and
  resp_amplitude = mean over those cycles of max(y) - min(y) on the samples [k_j, k_{j+1})
  (peak-to-peak, in input units). Fewer than 1 cycle -> NaN.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

SIGNAL_KINDS: tuple[str, ...] = ("ecg", "bvp", "hr", "eda", "temp", "resp")
CARDIAC_SOURCES: tuple[str, ...] = ("auto", "ecg", "bvp", "hr")
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "cardiac": ("hr_mean_bpm", "hr_std_bpm", "hrv_sdnn_ms", "hrv_rmssd_ms", "hrv_lf_hf"),
    "eda": (
        "eda_tonic_mean",
        "eda_tonic_slope_per_min",
        "eda_scr_count",
        "eda_scr_amp_mean",
        "eda_scr_rise_mean_s",
    ),
    "temp": ("temp_mean", "temp_slope_per_min"),
    "resp": ("resp_rate_per_min", "resp_amplitude"),
}
LF_BAND_HZ = (0.04, 0.15)
HF_BAND_HZ = (0.15, 0.40)
MIN_BEAT_RATE_HZ = 10.0  # ecg/bvp below this cannot place beats to a useful precision
_QRS_ENERGY_S = 0.1
_ECG_BASELINE_S = 0.2
_BVP_SMOOTH_S = 0.1
_BVP_BASELINE_S = 1.0
_BEAT_BLOCK_S = 2.0


class Signal(NamedTuple):
    """One raw signal: `values: float[N]` (NaN/Inf = dropout) sampled at `rate_hz`."""

    values: np.ndarray
    rate_hz: float


@dataclasses.dataclass(frozen=True)
class PhysioFeatureConfig:
    """Window, stride and detector settings; see the module docstring for their use."""

    window_s: float = 60.0
    stride_s: float = 5.0
    min_valid_fraction: float = 0.6
    strict: bool = False  # True: a signal shorter than window_s raises instead of going NaN
    groups: tuple[str, ...] = ("cardiac", "eda", "temp", "resp")
    cardiac_source: str = "auto"
    hr_min_bpm: float = 30.0
    hr_max_bpm: float = 220.0
    min_rr_intervals: int = 5
    beat_threshold: float = 0.35
    lf_hf_min_window_s: float = 60.0
    rr_resample_hz: float = 4.0
    eda_tonic_s: float = 8.0
    scr_smooth_s: float = 1.0
    scr_threshold: float = 0.05
    scr_onset_slope: float = 0.01
    scr_min_rise_s: float = 0.5
    scr_max_rise_s: float = 8.0
    resp_smooth_s: float = 0.5
    resp_hysteresis: float = 0.3

    def __post_init__(self) -> None:
        positive = (
            "window_s", "stride_s", "hr_min_bpm", "hr_max_bpm", "beat_threshold",
            "lf_hf_min_window_s", "rr_resample_hz", "eda_tonic_s", "scr_smooth_s",
            "scr_threshold", "scr_onset_slope", "scr_min_rise_s", "scr_max_rise_s", "resp_smooth_s",
            "resp_hysteresis",
        )  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"PhysioFeatureConfig.{name} must be a number; got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(
                    f"PhysioFeatureConfig.{name} must be a finite number > 0; got {value!r}"
                )
        if not 0.0 < self.min_valid_fraction <= 1.0:
            raise ValueError(
                "PhysioFeatureConfig.min_valid_fraction must lie in (0, 1]; got "
                f"{self.min_valid_fraction!r}"
            )
        if not isinstance(self.strict, bool):
            raise ValueError(f"PhysioFeatureConfig.strict must be a bool; got {self.strict!r}")
        if (
            not isinstance(self.groups, tuple)
            or not self.groups
            or len(set(self.groups)) != len(self.groups)
            or not set(self.groups) <= set(FEATURE_GROUPS)
        ):
            raise ValueError(
                "PhysioFeatureConfig.groups must be a non-empty tuple of distinct names from "
                f"{list(FEATURE_GROUPS)}; got {self.groups!r}"
            )
        if self.cardiac_source not in CARDIAC_SOURCES:
            raise ValueError(
                f"PhysioFeatureConfig.cardiac_source must be one of {list(CARDIAC_SOURCES)}; "
                f"got {self.cardiac_source!r}"
            )
        if self.hr_min_bpm >= self.hr_max_bpm:
            raise ValueError(
                "PhysioFeatureConfig.hr_min_bpm must be < hr_max_bpm; got "
                f"{self.hr_min_bpm!r} >= {self.hr_max_bpm!r}"
            )
        if self.scr_min_rise_s > self.scr_max_rise_s:
            raise ValueError(
                "PhysioFeatureConfig.scr_min_rise_s must be <= scr_max_rise_s; got "
                f"{self.scr_min_rise_s!r} > {self.scr_max_rise_s!r}"
            )
        if isinstance(self.min_rr_intervals, bool) or not isinstance(self.min_rr_intervals, int):
            raise ValueError(
                "PhysioFeatureConfig.min_rr_intervals must be an int; got "
                f"{self.min_rr_intervals!r}"
            )
        if self.min_rr_intervals < 2:
            raise ValueError(
                "PhysioFeatureConfig.min_rr_intervals must be >= 2; got "
                f"{self.min_rr_intervals!r}"
            )


DEFAULT_CONFIG = PhysioFeatureConfig()


def feature_names(config: PhysioFeatureConfig = DEFAULT_CONFIG) -> tuple[str, ...]:
    """The fixed, ordered feature names `str[F]` for `config.groups` (in that order)."""
    _check_config(config)
    return tuple(name for group in config.groups for name in FEATURE_GROUPS[group])


def window_num_samples(window_s: float, rate_hz: float) -> int:
    """Samples in a window of `window_s` seconds at `rate_hz`: floor(window_s * rate_hz + 0.5)."""
    return int(math.floor(window_s * rate_hz + 0.5))


def extract_window(
    signals: Mapping[str, Signal], config: PhysioFeatureConfig = DEFAULT_CONFIG
) -> np.ndarray:
    """Features `float32[F]` (order: `feature_names(config)`) of the last `window_s` of each signal.

    `signals` maps names from SIGNAL_KINDS to `Signal(values: float[N], rate_hz)`; absent
    signals (or None values) give NaN features. With `config.strict`, a signal with fewer
    samples than one window raises.
    """
    _check_config(config)
    prepared = _prepare_all(signals)
    windows = {}
    for name, (values, rate) in prepared.items():
        n = window_num_samples(config.window_s, rate)
        if config.strict and values.shape[0] < n:
            raise ValueError(
                f"signals[{name!r}] must hold at least {n} samples (window_s={config.window_s} s "
                f"at {rate} Hz) because config.strict is set; got {values.shape[0]}"
            )
        windows[name] = (values[max(values.shape[0] - n, 0) :], rate, n)
    return _features(windows, config)


def extract_recording(
    signals: Mapping[str, Signal], config: PhysioFeatureConfig = DEFAULT_CONFIG
) -> tuple[np.ndarray, np.ndarray]:
    """Slide `extract_window` over whole recordings that all start at t = 0.

    Returns `features: float32[W, F]` and window end times `float64[W]` in seconds,
    t_k = window_s + k * stride_s for every t_k <= the longest recording's duration; the window
    of a signal at t_k is its samples [hi - n, hi), hi = floor(t_k * fs + 0.5), as far as they
    exist (a channel that ended or starts late counts the missing samples as invalid).
    """
    _check_config(config)
    prepared = _prepare_all(signals)
    if not prepared:
        raise ValueError(f"signals must hold at least one of {list(SIGNAL_KINDS)}; got none")
    durations = {name: v.shape[0] / rate for name, (v, rate) in prepared.items()}
    if config.strict:
        for name, duration in durations.items():
            if duration < config.window_s:
                raise ValueError(
                    f"signals[{name!r}] lasts {duration:.3f} s, shorter than window_s="
                    f"{config.window_s} s, and config.strict is set"
                )
    duration = max(durations.values())
    ends = []
    k = 0
    while True:
        t_end = config.window_s + k * config.stride_s
        if t_end > duration + 1e-9:
            break
        ends.append(t_end)
        k += 1
    out = np.full((len(ends), len(feature_names(config))), np.nan, dtype=np.float32)
    for row, t_end in enumerate(ends):
        windows = {}
        for name, (values, rate) in prepared.items():
            n = window_num_samples(config.window_s, rate)
            hi = int(math.floor(t_end * rate + 0.5))
            windows[name] = (values[max(hi - n, 0) : min(hi, values.shape[0])], rate, n)
        out[row] = _features(windows, config)
    return out, np.asarray(ends, dtype=np.float64)


# ---------------------------------------------------------------------------- validation


def _check_config(config: PhysioFeatureConfig) -> None:
    if not isinstance(config, PhysioFeatureConfig):
        raise ValueError(f"config must be a PhysioFeatureConfig; got {type(config).__name__}")


def _prepare_all(signals: Mapping[str, Signal]) -> dict[str, tuple[np.ndarray, float]]:
    if not isinstance(signals, Mapping):
        raise ValueError(
            f"signals must be a mapping name -> Signal(values, rate_hz); got "
            f"{type(signals).__name__}"
        )
    prepared = {}
    for name, signal in signals.items():
        if name not in SIGNAL_KINDS:
            raise ValueError(
                f"signals has unknown signal {name!r}; expected names from {list(SIGNAL_KINDS)}"
            )
        if signal is None:
            continue
        prepared[name] = _prepare(name, signal)
    return prepared


def _prepare(name: str, signal: Signal) -> tuple[np.ndarray, float]:
    if not isinstance(signal, tuple) or len(signal) != 2:
        raise ValueError(
            f"signals[{name!r}] must be a Signal(values, rate_hz); got {type(signal).__name__}"
        )
    values, rate = signal
    if isinstance(rate, bool) or not isinstance(rate, int | float | np.integer | np.floating):
        raise ValueError(f"signals[{name!r}].rate_hz must be a number; got {rate!r}")
    rate = float(rate)
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"signals[{name!r}].rate_hz must be a finite number > 0; got {rate!r}")
    if name in ("ecg", "bvp") and rate < MIN_BEAT_RATE_HZ:
        raise ValueError(
            f"signals[{name!r}].rate_hz must be >= {MIN_BEAT_RATE_HZ} Hz for beat detection; "
            f"got {rate!r}"
        )
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"signals[{name!r}].values must be 1-D; got shape {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"signals[{name!r}].values must be numeric; got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False), rate


# ---------------------------------------------------------------------------- primitives


def _sum(x: np.ndarray) -> float:
    """Sequential left-to-right float64 sum (portable, unlike numpy's pairwise np.sum)."""
    return float(np.cumsum(x)[-1]) if x.shape[0] else 0.0


def _mean(x: np.ndarray) -> float:
    return _sum(x) / x.shape[0]


def _std(x: np.ndarray) -> float:
    d = x - _mean(x)
    return math.sqrt(_sum(d * d) / x.shape[0])


def _slope(t: np.ndarray, x: np.ndarray) -> float:
    dt = t - _mean(t)
    den = _sum(dt * dt)
    return _sum(dt * (x - _mean(x))) / den if den > 0 else math.nan


def _detrend(t: np.ndarray, x: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """x minus the least-squares line fitted on the samples where `fit` is True."""
    tf, xf = t[fit], x[fit]
    slope = _slope(tf, xf)
    if not math.isfinite(slope):
        slope = 0.0
    return x - (_mean(xf) + slope * (t - _mean(tf)))


def _interp(xq: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Linear interpolation f0 + (f1 - f0) * ((x - x0) / (x1 - x0)), ends held; xp increasing."""
    if xp.shape[0] == 1:
        return np.full(xq.shape, fp[0])
    j = np.clip(np.searchsorted(xp, xq, side="right"), 1, xp.shape[0] - 1)
    x0, x1, f0, f1 = xp[j - 1], xp[j], fp[j - 1], fp[j]
    out = f0 + (f1 - f0) * ((xq - x0) / (x1 - x0))
    out = np.where(xq <= xp[0], fp[0], out)
    return np.where(xq >= xp[-1], fp[-1], out)


def _fill(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    if valid.all():
        return x
    idx = np.arange(x.shape[0], dtype=np.float64)
    out = x.copy()
    out[~valid] = _interp(idx[~valid], idx[valid], x[valid])
    return out


def _half_width(width_s: float, rate: float) -> int:
    return int(math.floor(0.5 * width_s * rate + 0.5))


def _moving_average(x: np.ndarray, half: int) -> np.ndarray:
    n = x.shape[0]
    c = np.concatenate(([0.0], np.cumsum(x)))
    i = np.arange(n)
    lo = np.maximum(i - half, 0)
    hi = np.minimum(i + half + 1, n)
    return (c[hi] - c[lo]) / (hi - lo)


def _invalid_between(invalid_cumsum: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Number of invalid samples in [a, b] given c = [0, cumsum(~valid)]."""
    return invalid_cumsum[b + 1] - invalid_cumsum[a]


# ---------------------------------------------------------------------------- features


def _features(
    windows: dict[str, tuple[np.ndarray, float, int]], config: PhysioFeatureConfig
) -> np.ndarray:
    parts = []
    for group in config.groups:
        if group == "cardiac":
            parts.append(_cardiac(windows, config))
        elif group == "eda":
            parts.append(_eda(windows.get("eda"), config))
        elif group == "temp":
            parts.append(_temp(windows.get("temp"), config))
        else:
            parts.append(_resp(windows.get("resp"), config))
    return np.concatenate(parts).astype(np.float32)


def _valid_window(
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


def _nan(group: str) -> np.ndarray:
    return np.full(len(FEATURE_GROUPS[group]), np.nan)


def _cardiac(
    windows: dict[str, tuple[np.ndarray, float, int]], config: PhysioFeatureConfig
) -> np.ndarray:
    source = config.cardiac_source
    if source == "auto":
        source = next((s for s in ("hr", "ecg", "bvp") if s in windows), "hr")
    window = windows.get(source)
    if window is None:
        return _nan("cardiac")
    if source == "hr":
        x, fs, n = window
        x = np.where((x >= config.hr_min_bpm) & (x <= config.hr_max_bpm), x, np.nan)
        window = (x, fs, n)
    ok = _valid_window(window, config)
    if ok is None:
        return _nan("cardiac")
    x, valid, fs = ok
    if source == "hr":
        rr, rr_end, rr_start_beat = _rr_from_hr(x, valid, fs, config)
    else:
        rr, rr_end, rr_start_beat = _rr_from_waveform(x, valid, fs, source, config)
    return _cardiac_from_rr(rr, rr_end, rr_start_beat, config)


def _rr_from_hr(
    x: np.ndarray, valid: np.ndarray, fs: float, config: PhysioFeatureConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integrate-and-fire beats from an HR series -> (RR s, RR end time s, start-beat index)."""
    inc = np.where(valid, x / (60.0 * fs), 0.0)
    c_end = np.cumsum(inc)
    c_start = np.concatenate(([0.0], c_end[:-1]))
    prev_valid = np.concatenate(([False], valid[:-1]))
    run_start = valid & ~prev_valid
    run_id = np.cumsum(run_start)  # 1-based id of the run each sample belongs to
    base = c_start[run_start][np.maximum(run_id - 1, 0)]
    p0 = c_start - base
    p1 = c_end - base
    counts = np.where(valid, np.floor(p1) - np.floor(p0), 0.0).astype(np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64)
    sample = np.repeat(np.arange(x.shape[0]), counts)
    rank = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    m = np.floor(p0[sample]) + 1.0 + rank
    times = (sample + (m - p0[sample]) / (p1[sample] - p0[sample])) / fs
    beat_run = run_id[sample]
    same_run = beat_run[1:] == beat_run[:-1]
    return _rr_select(times, same_run, config)


def _rr_from_waveform(
    x: np.ndarray, valid: np.ndarray, fs: float, source: str, config: PhysioFeatureConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Peak-detected beats from ECG/BVP -> (RR s, RR end time s, start-beat index)."""
    n = x.shape[0]
    xf = _fill(x, valid)
    if source == "ecg":
        d = np.zeros(n)
        d[1:-1] = xf[2:] - xf[:-2]
        e = _moving_average(d * d, _half_width(_QRS_ENERGY_S, fs))
    else:
        hp = _moving_average(xf, _half_width(_BVP_SMOOTH_S, fs)) - _moving_average(
            xf, _half_width(_BVP_BASELINE_S, fs)
        )
        e = np.maximum(hp, 0.0)
    block = max(int(math.floor(_BEAT_BLOCK_S * fs + 0.5)), 1)
    maxima = np.maximum.reduceat(np.where(valid, e, -np.inf), np.arange(0, n, block))
    maxima = np.sort(maxima[np.isfinite(maxima)])
    if maxima.shape[0] == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64)
    mid = maxima.shape[0] // 2
    median = maxima[mid] if maxima.shape[0] % 2 else 0.5 * (maxima[mid - 1] + maxima[mid])
    thr = config.beat_threshold * median
    inner = np.arange(1, n - 1)
    cand = inner[
        (e[inner] > e[inner - 1]) & (e[inner] >= e[inner + 1]) & (e[inner] > thr) & valid[inner]
    ]
    refractory = 60.0 / config.hr_max_bpm * fs  # in samples
    kept: list[int] = []
    for i in cand.tolist():
        if kept and i - kept[-1] < refractory:
            if e[i] > e[kept[-1]]:
                kept[-1] = i
        else:
            kept.append(i)
    peaks = np.asarray(kept, dtype=np.int64)
    if peaks.shape[0] < 2:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64)
    if source == "ecg":
        # The energy envelope is flat-topped: place the beat on the R extremum instead.
        e = np.abs(xf - _moving_average(xf, _half_width(_ECG_BASELINE_S, fs)))
        h = _half_width(_QRS_ENERGY_S, fs)
        offsets = np.arange(-h, h + 1)
        search = np.clip(peaks[:, None] + offsets[None, :], 1, n - 2)
        peaks = search[np.arange(peaks.shape[0]), np.argmax(e[search], axis=1)]
    em, e0, ep = e[peaks - 1], e[peaks], e[peaks + 1]
    den = em - 2.0 * e0 + ep
    delta = np.where(den < 0, 0.5 * (em - ep) / np.where(den < 0, den, -1.0), 0.0)
    times = (peaks + np.clip(delta, -0.5, 0.5)) / fs
    invalid_c = np.concatenate(([0], np.cumsum(~valid)))
    clean = _invalid_between(invalid_c, peaks[:-1], peaks[1:]) == 0
    return _rr_select(times, clean, config)


def _rr_select(
    times: np.ndarray, linked: np.ndarray, config: PhysioFeatureConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RR between linked consecutive beats within the plausible HR range."""
    rr = times[1:] - times[:-1]
    keep = linked & (rr >= 60.0 / config.hr_max_bpm) & (rr <= 60.0 / config.hr_min_bpm)
    start = np.flatnonzero(keep)
    return rr[keep], times[1:][keep], start


def _cardiac_from_rr(
    rr: np.ndarray, rr_end: np.ndarray, start_beat: np.ndarray, config: PhysioFeatureConfig
) -> np.ndarray:
    if rr.shape[0] < config.min_rr_intervals:
        return _nan("cardiac")
    ihr = 60.0 / rr
    successive = start_beat[1:] == start_beat[:-1] + 1
    diffs = (rr[1:] - rr[:-1])[successive]
    rmssd = 1000.0 * math.sqrt(_mean(diffs * diffs)) if diffs.shape[0] else math.nan
    return np.array(
        [_mean(ihr), _std(ihr), 1000.0 * _std(rr), rmssd, _lf_hf(rr, rr_end, config)]
    )


def _lf_hf(rr: np.ndarray, rr_end: np.ndarray, config: PhysioFeatureConfig) -> float:
    span = rr_end[-1] - rr_end[0]
    if config.window_s < config.lf_hf_min_window_s or span < (
        config.min_valid_fraction * config.window_s
    ):
        return math.nan
    fr = config.rr_resample_hz
    n = int(math.floor(span * fr)) + 1
    j = np.arange(n, dtype=np.float64)
    grid = rr_end[0] + j / fr
    tach = _detrend(j, _interp(grid, rr_end, rr), np.ones(n, dtype=bool))
    k = np.arange(1, n // 2 + 1)
    f = k * fr / n
    lf_k = k[(f >= LF_BAND_HZ[0]) & (f < LF_BAND_HZ[1])]
    hf_k = k[(f >= HF_BAND_HZ[0]) & (f < HF_BAND_HZ[1])]
    if lf_k.shape[0] == 0 or hf_k.shape[0] == 0:
        return math.nan
    power = _dft_power(tach, np.concatenate((lf_k, hf_k)))
    hf = _sum(power[lf_k.shape[0] :])
    return _sum(power[: lf_k.shape[0]]) / hf if hf > 0 else math.nan


def _dft_power(x: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """|DFT|^2 of `x: float64[N]` at integer `bins: int[K]`, sums taken sequentially."""
    n = x.shape[0]
    angle = ((bins[:, None] * np.arange(n)[None, :]) % n) * (2.0 * math.pi / n)
    re = np.cumsum(x * np.cos(angle), axis=1)[:, -1]
    im = np.cumsum(x * np.sin(angle), axis=1)[:, -1]
    return re * re + im * im


def _eda(window: tuple[np.ndarray, float, int] | None, config: PhysioFeatureConfig) -> np.ndarray:
    ok = _valid_window(window, config)
    if ok is None:
        return _nan("eda")
    x, valid, fs = ok
    n = x.shape[0]
    xf = _fill(x, valid)
    tonic = _moving_average(xf, _half_width(config.eda_tonic_s, fs))
    t_min = np.arange(n) / (60.0 * fs)
    tonic_mean = _mean(tonic[valid])
    tonic_slope = _slope(t_min[valid], tonic[valid])
    s = _moving_average(xf, _half_width(config.scr_smooth_s, fs))
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
        (_invalid_between(invalid_c, onset, peak) == 0)
        & (amp >= config.scr_threshold)
        & (rise >= config.scr_min_rise_s)
        & (rise <= config.scr_max_rise_s)
    )
    count = int(np.count_nonzero(is_scr))
    amp_mean = _mean(amp[is_scr]) if count else 0.0
    rise_mean = _mean(rise[is_scr]) if count else 0.0
    return np.array([tonic_mean, tonic_slope, float(count), amp_mean, rise_mean])


def _temp(window: tuple[np.ndarray, float, int] | None, config: PhysioFeatureConfig) -> np.ndarray:
    ok = _valid_window(window, config)
    if ok is None:
        return _nan("temp")
    x, valid, fs = ok
    t_min = np.arange(x.shape[0]) / (60.0 * fs)
    return np.array([_mean(x[valid]), _slope(t_min[valid], x[valid])])


def _resp(window: tuple[np.ndarray, float, int] | None, config: PhysioFeatureConfig) -> np.ndarray:
    ok = _valid_window(window, config)
    if ok is None:
        return _nan("resp")
    x, valid, fs = ok
    n = x.shape[0]
    smooth = _moving_average(_fill(x, valid), _half_width(config.resp_smooth_s, fs))
    y = _detrend(np.arange(n, dtype=np.float64), smooth, valid)
    sd = _std(y[valid])
    if not sd > 0:
        return _nan("resp")
    h = config.resp_hysteresis * sd
    marks = np.where(y > h, 1, np.where(y < -h, -1, 0))
    idx = np.flatnonzero(marks)
    seq = marks[idx]
    up = idx[1:][(seq[1:] == 1) & (seq[:-1] == -1)]
    if up.shape[0] < 2:
        return _nan("resp")
    y0, y1 = y[up - 1], y[up]
    times = (up - 1 + (h - y0) / (y1 - y0)) / fs
    invalid_c = np.concatenate(([0], np.cumsum(~valid)))
    clean = _invalid_between(invalid_c, up[:-1], up[1:]) == 0
    if not clean.any():
        return _nan("resp")
    cycles = (times[1:] - times[:-1])[clean]
    peak_to_peak = np.maximum.reduceat(y, up)[:-1] - np.minimum.reduceat(y, up)[:-1]
    return np.array([60.0 / _mean(cycles), _mean(peak_to_peak[clean])])
