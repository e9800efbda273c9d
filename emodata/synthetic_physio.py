"""Simulated in-vehicle physiology whose response follows the driver state (DRIVER_STATE3).

Pure numpy. Streams and rates (STREAM_RATES_HZ): ecg 128 Hz (mV), hr 4 Hz (bpm, device-style:
60 / the last RR, held), eda 4 Hz (uS), temp 4 Hz (degC), resp 32 Hz (belt, arbitrary units).
All are sampled from one 128-Hz master clock: sample i of a stream at rate r sits at i / r s.

Model (per driver: baselines, reactivities and noise from `sample_physiology`):
  * The state acts through first-order lags (tau: cardiac 15 s, EDA 20 s, resp 10 s, temp
    30 s), so windows straddling a state change are genuinely mixed.
  * Heart rate HR(t) = base + reactivity * dHR(state) + LF (~0.1 Hz) + RSA coupled to the
    breathing phase (both scaled by the state's HRV factor) + slow drift; beats come from
    integrate-and-fire on HR(t) with a few ms of beat jitter; the ECG is a P-QRS-T template per
    beat plus breathing baseline wander and noise.
  * EDA = tonic level (base * (1 + reactivity * shift(state)) + drift) + SCRs, a Poisson train
    whose rate and amplitude follow the state, each a bi-exponential (rise ~1 s, decay ~4 s).
  * Skin temperature follows dT/dt = reactivity * slope(state) - (T - base) / 300 s.
  * Respiration: rate base + reactivity * dRate(state), amplitude scaled by the state,
    a sine plus a second harmonic, baseline drift and noise.
  * Every stream gets sensor noise and NaN dropouts (gaps of 1-8 s).
STATE_EFFECTS gives the per-state targets: negative = higher HR, lower HRV, more and larger
SCRs, rising tonic EDA, faster shallower breathing, falling temperature; positive = mild
arousal. Baselines vary more between drivers than the state moves them, as in real cohorts.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from emocore.label_spaces import DRIVER_STATE3
from emocore.physio import Signal

STREAM_RATES_HZ: dict[str, float] = {
    "ecg": 128.0, "hr": 4.0, "eda": 4.0, "temp": 4.0, "resp": 32.0,
}  # fmt: skip
_MASTER_HZ = 128.0
# Per-state effects at reactivity 1, in DRIVER_STATE3 order (neutral, positive, negative).
STATE_EFFECTS: dict[str, tuple[float, float, float]] = {
    "hr_delta_bpm": (0.0, 5.0, 11.0),
    "hrv_factor": (1.0, 0.85, 0.55),
    "scr_rate_factor": (1.0, 2.0, 3.5),
    "scr_amp_factor": (1.0, 0.8, 1.4),
    "eda_tonic_shift": (0.0, 0.10, 0.30),  # relative to the driver's baseline
    "temp_slope_per_min": (0.0, 0.04, -0.15),
    "resp_delta_per_min": (0.0, 2.0, 4.5),
    "resp_amp_factor": (1.0, 1.15, 0.8),
}
_LAG_S = {"cardiac": 15.0, "eda": 20.0, "resp": 10.0, "temp": 30.0}
_TEMP_RECOVERY_S = 300.0


@dataclasses.dataclass(frozen=True)
class DriverPhysiology:
    """One driver's baselines, reactivities and sensor quality."""

    hr_base: float
    hr_lf_amp: float
    hr_rsa_amp: float
    cardiac_reactivity: float
    ecg_amp: float
    eda_base: float
    scr_rate_per_min: float
    scr_amp: float
    eda_reactivity: float
    temp_base: float
    temp_reactivity: float
    resp_base_per_min: float
    resp_amp: float
    resp_reactivity: float
    dropouts_per_min: float


def sample_physiology(rng: np.random.Generator) -> DriverPhysiology:
    """A random driver physiology drawn from `rng`."""
    return DriverPhysiology(
        hr_base=rng.normal(72.0, 9.0),
        hr_lf_amp=rng.uniform(1.5, 4.0),
        hr_rsa_amp=rng.uniform(2.0, 5.0),
        cardiac_reactivity=rng.uniform(0.4, 1.4),
        ecg_amp=rng.uniform(0.6, 1.5),
        eda_base=float(np.exp(rng.uniform(np.log(0.5), np.log(8.0)))),
        scr_rate_per_min=rng.uniform(0.5, 2.5),
        scr_amp=rng.uniform(0.08, 0.35),
        eda_reactivity=rng.uniform(0.3, 1.4),
        temp_base=rng.normal(33.0, 0.9),
        temp_reactivity=rng.uniform(0.4, 1.4),
        resp_base_per_min=rng.normal(15.0, 2.5),
        resp_amp=rng.uniform(0.5, 1.5),
        resp_reactivity=rng.uniform(0.4, 1.4),
        dropouts_per_min=rng.uniform(0.0, 0.5),
    )


def simulate_streams(
    physiology: DriverPhysiology,
    segments: Sequence[tuple[float, float, int]],
    rng: np.random.Generator,
) -> dict[str, Signal]:
    """Raw streams over consecutive `segments` `(start_s, end_s, state)` starting at 0 s.

    Returns {name: Signal(values float64[N], rate_hz)} for the names in STREAM_RATES_HZ;
    N = duration * rate; NaN marks dropouts.
    """
    _check_segments(segments)
    duration = float(segments[-1][1])
    n = int(round(duration * _MASTER_HZ))
    t = np.arange(n) / _MASTER_HZ
    p = physiology
    lag = {
        name: _lagged(segments, t, values, _LAG_S[_lag_group(name)])
        for name, values in STATE_EFFECTS.items()
    }
    # Respiration phase (drives the belt signal and the RSA).
    resp_rate = p.resp_base_per_min + p.resp_reactivity * lag["resp_delta_per_min"]
    resp_rate = np.maximum(resp_rate + _drift(t, rng, 1.0), 6.0)
    resp_phase = np.cumsum(2.0 * math.pi * resp_rate / 60.0 / _MASTER_HZ)
    # Heart rate and beats.
    hrv = 1.0 + p.cardiac_reactivity * (lag["hrv_factor"] - 1.0)
    f_lf = rng.uniform(0.08, 0.12)
    hr = (
        p.hr_base
        + p.cardiac_reactivity * lag["hr_delta_bpm"]
        + hrv * p.hr_lf_amp * np.sin(2.0 * math.pi * f_lf * t + rng.uniform(0, 2 * math.pi))
        + hrv * p.hr_rsa_amp * np.sin(resp_phase)
        + _drift(t, rng, 2.0)
    )
    hr = np.clip(hr, 40.0, 180.0)
    beats = _beats(hr, rng)
    streams = {
        "ecg": _ecg(beats, resp_phase, t, p, rng),
        "hr": _device_hr(beats, duration),
        "eda": _eda(t, lag, p, rng)[::32],
        "temp": _temp(t, lag, p, rng),
        "resp": _resp(t, resp_phase, lag, p, rng)[::4],
    }
    out = {}
    for name, values in streams.items():
        rate = STREAM_RATES_HZ[name]
        values = values.copy()
        _dropouts(values, rate, p.dropouts_per_min, rng)
        out[name] = Signal(values, rate)
    return out


def _check_segments(segments: Sequence[tuple[float, float, int]]) -> None:
    if len(segments) == 0:
        raise ValueError("segments must hold at least one (start_s, end_s, state); got none")
    expected_start = 0.0
    for i, (start, end, state) in enumerate(segments):
        if start != expected_start or not end > start:
            raise ValueError(
                f"segments[{i}] must start at {expected_start} s and end after it; got "
                f"({start}, {end})"
            )
        if state not in range(DRIVER_STATE3.num_classes):
            raise ValueError(
                f"segments[{i}] state must be a DRIVER_STATE3 id in "
                f"[0, {DRIVER_STATE3.num_classes}); got {state!r}"
            )
        expected_start = end


def _lag_group(effect: str) -> str:
    if effect.startswith(("hr", "hrv")):
        return "cardiac"
    if effect.startswith(("scr", "eda")):
        return "eda"
    if effect.startswith("temp"):
        return "temp"
    return "resp"


def _lagged(
    segments: Sequence[tuple[float, float, int]],
    t: np.ndarray,
    values: Sequence[float],
    tau: float,
) -> np.ndarray:
    """First-order lag (time constant `tau`) of the piecewise-constant per-state `values`."""
    out = np.empty(t.shape[0])
    y = values[segments[0][2]]
    for start, end, state in segments:
        target = values[state]
        lo, hi = np.searchsorted(t, [start, end])
        out[lo:hi] = target + (y - target) * np.exp(-(t[lo:hi] - start) / tau)
        y = target + (y - target) * math.exp(-(end - start) / tau)
    return out


def _drift(
    t: np.ndarray,
    rng: np.random.Generator,
    scale: float,
    band_hz: tuple[float, float] = (0.002, 0.02),
) -> np.ndarray:
    """Slow wandering: three random sinusoids in `band_hz` with total amplitude ~`scale`."""
    out = np.zeros(t.shape[0])
    for _ in range(3):
        f = rng.uniform(*band_hz)
        out += rng.normal(0.0, scale / 2.0) * np.sin(2 * math.pi * f * t + rng.uniform(0, 6.3))
    return out


def _beats(hr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Beat times (s) by integrate-and-fire on `hr` (master clock) plus 3-ms jitter."""
    phase = np.cumsum(hr / 60.0 / _MASTER_HZ)
    k = np.arange(1, int(phase[-1]) + 1)
    idx = np.searchsorted(phase, k)
    prev = np.where(idx > 0, phase[np.maximum(idx - 1, 0)], 0.0)
    frac = (k - prev) / (phase[idx] - prev)
    times = (idx + frac) / _MASTER_HZ
    return np.sort(times + rng.normal(0.0, 0.003, times.shape[0]))


def _ecg(
    beats: np.ndarray,
    resp_phase: np.ndarray,
    t: np.ndarray,
    p: DriverPhysiology,
    rng: np.random.Generator,
) -> np.ndarray:
    # (offset s, amplitude, width s) of P, Q, R, S, T relative to the R peak.
    waves = ((-0.20, 0.12, 0.025), (-0.03, -0.12, 0.010), (0.0, 1.0, 0.011),
             (0.03, -0.25, 0.011), (0.25, 0.30, 0.045))  # fmt: skip
    n = t.shape[0]
    span = np.arange(int(-0.35 * _MASTER_HZ), int(0.55 * _MASTER_HZ))
    centre = np.rint(beats * _MASTER_HZ).astype(np.int64)
    idx = centre[:, None] + span[None, :]
    dt = idx / _MASTER_HZ - beats[:, None]
    amp = p.ecg_amp * rng.uniform(0.9, 1.1, beats.shape[0])[:, None]
    shape = sum(a * np.exp(-0.5 * ((dt - o) / w) ** 2) for o, a, w in waves)
    ok = (idx >= 0) & (idx < n)
    ecg = np.bincount(idx[ok], weights=(amp * shape)[ok], minlength=n)
    ecg += 0.08 * p.ecg_amp * np.sin(resp_phase) + _drift(t, rng, 0.1)
    return ecg + rng.normal(0.0, 0.02, n)


def _device_hr(beats: np.ndarray, duration: float) -> np.ndarray:
    """Device-style HR at 4 Hz: 60 / the last completed RR, NaN before the second beat."""
    rate = STREAM_RATES_HZ["hr"]
    ts = np.arange(int(round(duration * rate))) / rate
    rr_hr = 60.0 / np.diff(beats)
    last = np.searchsorted(beats[1:], ts, side="right") - 1
    out = np.where(last >= 0, rr_hr[np.maximum(last, 0)], np.nan)
    return np.round(out, 1)


def _eda(
    t: np.ndarray, lag: dict[str, np.ndarray], p: DriverPhysiology, rng: np.random.Generator
) -> np.ndarray:
    tonic = p.eda_base * (1.0 + p.eda_reactivity * lag["eda_tonic_shift"])
    tonic = tonic * (1.0 + _drift(t, rng, 0.05, (0.001, 0.01)))
    rate = p.scr_rate_per_min / 60.0 * (1.0 + p.eda_reactivity * (lag["scr_rate_factor"] - 1.0))
    # Inhomogeneous Poisson events by thinning on the master clock.
    rate_max = float(rate.max())
    duration = t[-1] + 1.0 / _MASTER_HZ
    cand = np.sort(rng.uniform(0.0, duration, rng.poisson(rate_max * duration)))
    at = np.minimum((cand * _MASTER_HZ).astype(np.int64), t.shape[0] - 1)
    keep = rng.uniform(size=cand.shape[0]) * rate_max < rate[at]
    onsets = cand[keep]
    amp_factor = 1.0 + p.eda_reactivity * (lag["scr_amp_factor"] - 1.0)
    amps = (
        p.scr_amp
        * amp_factor[at[keep]]
        * np.exp(rng.normal(0.0, 0.4, onsets.shape[0]))
    )
    tau_r = rng.uniform(0.7, 1.3, onsets.shape[0])[:, None]
    tau_d = rng.uniform(3.0, 5.0, onsets.shape[0])[:, None]
    t_peak = np.log(tau_d / tau_r) * tau_r * tau_d / (tau_d - tau_r)
    norm = np.exp(-t_peak / tau_d) - np.exp(-t_peak / tau_r)
    span = np.arange(int(30 * _MASTER_HZ))
    start = np.ceil(onsets * _MASTER_HZ).astype(np.int64)
    idx = start[:, None] + span[None, :]
    u = idx / _MASTER_HZ - onsets[:, None]
    shape = amps[:, None] * (np.exp(-u / tau_d) - np.exp(-u / tau_r)) / norm
    ok = idx < t.shape[0]
    phasic = np.bincount(idx[ok], weights=shape[ok], minlength=t.shape[0])
    eda = tonic + phasic + rng.normal(0.0, 0.004, t.shape[0])
    return np.maximum(eda, 0.01)


def _temp(
    t: np.ndarray, lag: dict[str, np.ndarray], p: DriverPhysiology, rng: np.random.Generator
) -> np.ndarray:
    rate = STREAM_RATES_HZ["temp"]
    step = int(_MASTER_HZ / rate)
    slope = p.temp_reactivity * lag["temp_slope_per_min"][::step] / 60.0  # degC per s
    dt = 1.0 / rate
    out = np.empty(slope.shape[0])
    excess = 0.0
    for i in range(slope.shape[0]):
        out[i] = excess
        excess += (slope[i] - excess / _TEMP_RECOVERY_S) * dt
    base = p.temp_base + _drift(t[::step], rng, 0.1, (0.0005, 0.003))
    return base + out + rng.normal(0.0, 0.01, out.shape[0])


def _resp(
    t: np.ndarray,
    resp_phase: np.ndarray,
    lag: dict[str, np.ndarray],
    p: DriverPhysiology,
    rng: np.random.Generator,
) -> np.ndarray:
    amp = p.resp_amp * (1.0 + p.resp_reactivity * (lag["resp_amp_factor"] - 1.0))
    amp = amp * (1.0 + _drift(t, rng, 0.1))
    wave = np.sin(resp_phase) + 0.15 * np.sin(2.0 * resp_phase + rng.uniform(0, 6.3))
    return amp * wave + _drift(t, rng, 0.3 * p.resp_amp) + rng.normal(0.0, 0.03, t.shape[0])


def _dropouts(values: np.ndarray, rate: float, per_min: float, rng: np.random.Generator) -> None:
    """Blank Poisson(per_min * minutes) gaps of 1-8 s with NaN, in place."""
    duration = values.shape[0] / rate
    for _ in range(rng.poisson(per_min * duration / 60.0)):
        start = rng.uniform(0.0, duration)
        length = rng.uniform(1.0, 8.0)
        values[int(start * rate) : int((start + length) * rate)] = np.nan
