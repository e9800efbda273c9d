"""`extract_window` / `extract_recording`: raw signals -> `float32[F]` window features."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from emocore.physio import signal_math as sm
from emocore.physio.cardiac import cardiac_features
from emocore.physio.config import (
    DEFAULT_CONFIG,
    MIN_BEAT_RATE_HZ,
    SIGNAL_KINDS,
    PhysioFeatureConfig,
    Signal,
    check_config,
    feature_names,
    window_num_samples,
)
from emocore.physio.eda import eda_features
from emocore.physio.resp import resp_features
from emocore.physio.temp import temp_features


def extract_window(
    signals: Mapping[str, Signal], config: PhysioFeatureConfig = DEFAULT_CONFIG
) -> np.ndarray:
    """Features `float32[F]` (order: `feature_names(config)`) of the last `window_s` of each signal.

    `signals` maps names from SIGNAL_KINDS to `Signal(values: float[N], rate_hz)`; absent
    signals (or None values) give NaN features. With `config.strict`, a signal with fewer
    samples than one window raises.
    """
    check_config(config)
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
    check_config(config)
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


# One-signal groups: their features of a usable window (signal_math.valid_window), else NaN.
_SIGNAL_GROUPS = {"eda": eda_features, "temp": temp_features, "resp": resp_features}


def _features(
    windows: dict[str, tuple[np.ndarray, float, int]], config: PhysioFeatureConfig
) -> np.ndarray:
    """`float32[F]` features of `windows` (signal -> (values, fs, n)) in `config.groups` order."""
    parts = []
    for group in config.groups:
        if group == "cardiac":
            parts.append(cardiac_features(windows, config))
            continue
        ok = sm.valid_window(windows.get(group), config)
        parts.append(sm.nan_features(group) if ok is None else _SIGNAL_GROUPS[group](*ok, config))
    return np.concatenate(parts).astype(np.float32)
