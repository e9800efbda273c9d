"""Golden physiological windows: raw signals and `emocore.physio.extract_window`.

`physio_cases(config, seed)` returns JSON-ready cases `{name, config, signals, feature_names,
features}` covering the synthetic cohort's streams (emodata.synthetic_cohort) and hand-made
signals: every cardiac source (hr, ecg, bvp), NaN gaps and Inf samples, missing channels, windows
that have not filled, out-of-range heart rates, flat signals, SCR edge cases and a long window
with LF/HF. Inputs are rounded to 4 decimals so the file stays small; expected features are
computed from exactly the stored values. NaN/Inf are written as Python's json writes them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from emocore.physio import (
    PhysioFeatureConfig,
    Signal,
    extract_window,
    feature_names,
    window_num_samples,
)
from emodata.synthetic_cohort import CohortConfig, generate_cohort

_DECIMALS = 4
_EXTRA_LEAD_S = 2.0  # stored samples before the window start (the port must take the last n)
# The gaps and Inf samples of the "synthetic_ecg_auto_with_gaps" case are placed for a 60-s
# window and scaled to the configured one, so they always fall inside the stored window.
_REFERENCE_KEEP_S = 60.0 + _EXTRA_LEAD_S


def config_to_json(config: PhysioFeatureConfig) -> dict[str, Any]:
    """`PhysioFeatureConfig` -> JSON-ready dict of every field (`groups` as a list)."""
    data = dataclasses.asdict(config)
    data["groups"] = list(config.groups)
    return data


def _signal(values: np.ndarray, rate_hz: float) -> Signal:
    return Signal(np.round(np.asarray(values, dtype=np.float64), _DECIMALS), float(rate_hz))


def _tail(signal: Signal, end_s: float, keep_s: float) -> Signal:
    """The samples of `signal` in [end_s - keep_s, end_s) (a ring buffer at time end_s)."""
    hi = int(math.floor(end_s * signal.rate_hz + 0.5))
    lo = max(hi - window_num_samples(keep_s, signal.rate_hz), 0)
    return _signal(signal.values[lo:hi], signal.rate_hz)


def _beats(mean_bpm: float, depth_bpm: float, freq_hz: float, duration_s: float) -> np.ndarray:
    """Beat times (s) of a heart rate mean + depth * sin(2 pi f t) (integrate-and-fire)."""
    fs = 1000.0
    t = np.arange(int(duration_s * fs)) / fs
    phase = np.cumsum((mean_bpm + depth_bpm * np.sin(2 * np.pi * freq_hz * t)) / 60.0 / fs)
    return np.flatnonzero(np.diff(np.floor(phase)) > 0) / fs


def _ecg(beats: np.ndarray, duration_s: float, fs: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(duration_s * fs)) / fs
    x = 0.05 * np.sin(2 * np.pi * 0.2 * t)
    for b in beats:
        x = x + np.exp(-0.5 * ((t - b) / 0.012) ** 2) - 0.2 * np.exp(
            -0.5 * ((t - b - 0.03) / 0.01) ** 2) + 0.3 * np.exp(-0.5 * ((t - b - 0.25) / 0.05) ** 2)
    return x + 0.02 * rng.standard_normal(t.shape[0])


def _bvp(beats: np.ndarray, duration_s: float, fs: float) -> np.ndarray:
    t = np.arange(int(duration_s * fs)) / fs
    x = np.zeros_like(t)
    for b in beats:
        x += np.exp(-0.5 * ((t - b - 0.15) / 0.08) ** 2)
        x += 0.25 * np.exp(-0.5 * ((t - b - 0.45) / 0.06) ** 2)
    return x


def _scr(t: np.ndarray, onset: float, amp: float) -> np.ndarray:
    u = t - onset
    return np.where(u > 0, amp * 1.8 * (np.exp(-u / 4.0) - np.exp(-u / 1.0)), 0.0)


def _hand_made(rng: np.random.Generator) -> dict[str, Any]:
    """Hand-made signals on a 60 s (or 100 s) clock."""
    t4 = np.arange(240) / 4.0
    t32 = np.arange(1920) / 32.0
    eda = 2.0 + 0.002 * t4 + 0.002 * rng.standard_normal(240)
    for onset, amp in ((8.0, 0.3), (25.0, 0.5), (41.0, 0.25)):
        eda = eda + _scr(t4, onset, amp)
    resp = 0.5 * np.sin(2 * np.pi * 0.25 * t32) + 0.005 * t32 + 0.01 * rng.standard_normal(1920)
    return {
        "bvp": _bvp(_beats(68.0, 5.0, 0.1, 60.0), 60.0, 64.0),
        "eda": eda,
        "resp": resp,
        "temp": 33.0 + 0.1 * t4 / 60.0 + 0.01 * rng.standard_normal(240),
        "hr_long": 70.0 + 4.0 * np.sin(2 * np.pi * 0.1 * np.arange(400) / 4.0)
        + 3.0 * np.sin(2 * np.pi * 0.25 * np.arange(400) / 4.0),
        "ecg_fast": -_ecg(_beats(80.0, 4.0, 0.2, 20.0), 20.0, 200.0, rng),
    }


def _with_gaps(values: np.ndarray, rate_hz: float, gaps_s: tuple[tuple[float, float], ...],
               inf_at: tuple[int, ...] = ()) -> np.ndarray:
    out = np.array(values, dtype=np.float64)
    for start, length in gaps_s:
        lo = int(start * rate_hz)
        out[lo:lo + int(length * rate_hz)] = np.nan
    for i in inf_at:
        out[i] = np.inf if i % 2 else -np.inf
    return out


def _cases(config: PhysioFeatureConfig, seed: int
           ) -> list[tuple[str, PhysioFeatureConfig, dict[str, Signal]]]:
    rng = np.random.default_rng(seed)
    cohort = generate_cohort(1, seed, CohortConfig(faces_per_class=1, episodes_per_driver=1,
                                                   segment_s=(25, 30), frame_fps=0.0))
    streams = cohort.drivers[0].episodes[0].streams
    end = min(70.0, cohort.drivers[0].episodes[0].duration_s)
    keep = config.window_s + _EXTRA_LEAD_S
    synthetic = {name: _tail(s, end, keep) for name, s in streams.items()}
    hand = _hand_made(rng)
    scale = min(keep, end) / _REFERENCE_KEEP_S  # 1.0 for the default 60-s window

    def at(seconds: float) -> float:
        return seconds * scale

    first_inf = int(round(3000 * scale))
    gap_ecg = _signal(_with_gaps(synthetic["ecg"].values, 128.0,
                                 ((at(10.0), 1.5 * min(scale, 1.0)), (at(40.0), 0.3)),
                                 inf_at=(first_inf, first_inf + 1, int(round(5001 * scale)))),
                      128.0)
    hr_bad = 72.0 + 5.0 * np.sin(2 * np.pi * 0.2 * np.arange(160) / 4.0)
    hr_bad[[5, 50, 51]] = (25.0, 250.0, 221.0)
    hr_bad[90:100] = np.nan
    eda_edges = 3.0 + 0.4 * np.clip(np.arange(240) / 4.0, 0, 2.0) + _scr(np.arange(240) / 4.0, 20.0,
                                                                          0.4)
    eda_edges = eda_edges + _scr(np.arange(240) / 4.0, 35.0, 0.6) + np.where(
        np.arange(240) >= 228, 0.05 * (np.arange(240) - 228), 0.0)
    eda_edges[150] = np.nan  # inside the second SCR's rise: that SCR is rejected
    short = dataclasses.replace(config, window_s=30.0, groups=("resp", "cardiac", "temp"))
    long = dataclasses.replace(config, window_s=90.0, groups=("cardiac",))
    ecg_short = dataclasses.replace(config, window_s=15.0, cardiac_source="ecg",
                                    min_rr_intervals=3, groups=("cardiac",))
    few_valid = 0.6 * 240
    sparse_hr = np.full(240, np.nan)
    sparse_hr[: int(math.ceil(few_valid)) - 1] = 75.0
    return [
        ("synthetic_all_channels", config, synthetic),
        ("synthetic_ecg_source", dataclasses.replace(config, cardiac_source="ecg"), synthetic),
        ("synthetic_ecg_auto_with_gaps", config, {
            "ecg": gap_ecg, "hr": None,
            "eda": _signal(_with_gaps(synthetic["eda"].values, 4.0, ((at(20.0), 3.0),)), 4.0),
            "temp": synthetic["temp"],
            "resp": _signal(_with_gaps(synthetic["resp"].values, 32.0, ((at(30.0), 2.0),),
                                       inf_at=(100,)), 32.0)}),
        ("bvp_resp_inf_no_eda", config, {
            "bvp": _signal(hand["bvp"], 64.0),
            "resp": _signal(_with_gaps(hand["resp"], 32.0, (), inf_at=(700, 1301)), 32.0),
            "temp": _signal(hand["temp"], 4.0)}),
        ("temp_only", config, {"temp": _signal(hand["temp"], 4.0)}),
        ("insufficient_valid", config, {
            "hr": _signal(sparse_hr, 4.0), "eda": _signal(np.full(240, np.nan), 4.0),
            "resp": _signal(hand["resp"][:960], 32.0), "temp": _signal(hand["temp"][80:], 4.0)}),
        ("hr_out_of_range_short_window", short, {
            "hr": _signal(hr_bad, 4.0), "resp": _signal(hand["resp"][-960:], 32.0),
            "temp": _signal(hand["temp"][-120:], 4.0)}),
        ("flat_signals", config, {
            "eda": _signal(np.full(240, 2.5), 4.0), "temp": _signal(np.full(240, 34.0), 4.0),
            "resp": _signal(np.full(1920, 0.2), 32.0)}),
        ("no_signals", config, {}),
        ("eda_scr_edges", config, {"eda": _signal(eda_edges, 4.0)}),
        ("hand_eda_hr_long_lf_hf", long, {"hr": _signal(hand["hr_long"], 4.0)}),
        ("ecg_inverted_200hz", ecg_short, {"ecg": _signal(hand["ecg_fast"], 200.0)}),
        ("hand_all_channels", config, {
            "hr": synthetic["hr"], "eda": _signal(hand["eda"], 4.0),
            "temp": _signal(hand["temp"], 4.0), "resp": _signal(hand["resp"], 32.0)}),
    ]


def physio_cases(config: PhysioFeatureConfig, seed: int = 0) -> list[dict[str, Any]]:
    """JSON-ready golden cases for `config` (plus variants of it) built from `seed`."""
    if not isinstance(config, PhysioFeatureConfig):
        raise ValueError(f"config must be a PhysioFeatureConfig; got {type(config).__name__}")
    out = []
    for name, case_config, signals in _cases(config, seed):
        features = extract_window(signals, case_config)
        out.append({
            "name": name,
            "config": config_to_json(case_config),
            "feature_names": list(feature_names(case_config)),
            "signals": {key: None if s is None else {
                "rate_hz": s.rate_hz, "values": [float(v) for v in s.values]}
                for key, s in signals.items()},
            "features": [float(v) for v in features],
        })
    return out
