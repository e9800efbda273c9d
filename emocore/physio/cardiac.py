"""Cardiac window features (`FEATURE_GROUPS["cardiac"]`) from an hr, ecg or bvp window.

Source (`cardiac_source`; "auto" = first present of hr, ecg, bvp: a device's HR series
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
"""

from __future__ import annotations

import math

import numpy as np

from emocore.physio import signal_math as sm
from emocore.physio.config import PhysioFeatureConfig

LF_BAND_HZ = (0.04, 0.15)
HF_BAND_HZ = (0.15, 0.40)
_QRS_ENERGY_S = 0.1
_ECG_BASELINE_S = 0.2
_BVP_SMOOTH_S = 0.1
_BVP_BASELINE_S = 1.0
_BEAT_BLOCK_S = 2.0


def cardiac_features(
    windows: dict[str, tuple[np.ndarray, float, int]], config: PhysioFeatureConfig
) -> np.ndarray:
    """`float64[5]` cardiac features of the chosen source's window (NaN when missing)."""
    source = config.cardiac_source
    if source == "auto":
        source = next((s for s in ("hr", "ecg", "bvp") if s in windows), "hr")
    window = windows.get(source)
    if window is None:
        return sm.nan_features("cardiac")
    if source == "hr":
        x, fs, n = window
        x = np.where((x >= config.hr_min_bpm) & (x <= config.hr_max_bpm), x, np.nan)
        window = (x, fs, n)
    ok = sm.valid_window(window, config)
    if ok is None:
        return sm.nan_features("cardiac")
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
    xf = sm.fill(x, valid)
    if source == "ecg":
        d = np.zeros(n)
        d[1:-1] = xf[2:] - xf[:-2]
        e = sm.moving_average(d * d, sm.half_width(_QRS_ENERGY_S, fs))
    else:
        hp = sm.moving_average(xf, sm.half_width(_BVP_SMOOTH_S, fs)) - sm.moving_average(
            xf, sm.half_width(_BVP_BASELINE_S, fs)
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
        e = np.abs(xf - sm.moving_average(xf, sm.half_width(_ECG_BASELINE_S, fs)))
        h = sm.half_width(_QRS_ENERGY_S, fs)
        offsets = np.arange(-h, h + 1)
        search = np.clip(peaks[:, None] + offsets[None, :], 1, n - 2)
        peaks = search[np.arange(peaks.shape[0]), np.argmax(e[search], axis=1)]
    em, e0, ep = e[peaks - 1], e[peaks], e[peaks + 1]
    den = em - 2.0 * e0 + ep
    delta = np.where(den < 0, 0.5 * (em - ep) / np.where(den < 0, den, -1.0), 0.0)
    times = (peaks + np.clip(delta, -0.5, 0.5)) / fs
    invalid_c = np.concatenate(([0], np.cumsum(~valid)))
    clean = sm.invalid_between(invalid_c, peaks[:-1], peaks[1:]) == 0
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
        return sm.nan_features("cardiac")
    ihr = 60.0 / rr
    successive = start_beat[1:] == start_beat[:-1] + 1
    diffs = (rr[1:] - rr[:-1])[successive]
    rmssd = 1000.0 * math.sqrt(sm.mean(diffs * diffs)) if diffs.shape[0] else math.nan
    return np.array(
        [sm.mean(ihr), sm.std(ihr), 1000.0 * sm.std(rr), rmssd, _lf_hf(rr, rr_end, config)]
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
    tach = sm.detrend(j, sm.interp(grid, rr_end, rr), np.ones(n, dtype=bool))
    k = np.arange(1, n // 2 + 1)
    f = k * fr / n
    lf_k = k[(f >= LF_BAND_HZ[0]) & (f < LF_BAND_HZ[1])]
    hf_k = k[(f >= HF_BAND_HZ[0]) & (f < HF_BAND_HZ[1])]
    if lf_k.shape[0] == 0 or hf_k.shape[0] == 0:
        return math.nan
    power = _dft_power(tach, np.concatenate((lf_k, hf_k)))
    hf = sm.seq_sum(power[lf_k.shape[0] :])
    return sm.seq_sum(power[: lf_k.shape[0]]) / hf if hf > 0 else math.nan


def _dft_power(x: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """|DFT|^2 of `x: float64[N]` at integer `bins: int[K]`, sums taken sequentially."""
    n = x.shape[0]
    angle = ((bins[:, None] * np.arange(n)[None, :]) % n) * (2.0 * math.pi / n)
    re = np.cumsum(x * np.cos(angle), axis=1)[:, -1]
    im = np.cumsum(x * np.sin(angle), axis=1)[:, -1]
    return re * re + im * im
