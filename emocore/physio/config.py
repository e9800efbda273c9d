"""Physiological feature settings: signal kinds, feature groups, `PhysioFeatureConfig`."""

from __future__ import annotations

import dataclasses
import math
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
MIN_BEAT_RATE_HZ = 10.0  # ecg/bvp below this cannot place beats to a useful precision


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
    check_config(config)
    return tuple(name for group in config.groups for name in FEATURE_GROUPS[group])


def window_num_samples(window_s: float, rate_hz: float) -> int:
    """Samples in a window of `window_s` seconds at `rate_hz`: floor(window_s * rate_hz + 0.5)."""
    return int(math.floor(window_s * rate_hz + 0.5))


def check_config(config: PhysioFeatureConfig) -> None:
    """Raises ValueError naming `config` unless it is a PhysioFeatureConfig."""
    if not isinstance(config, PhysioFeatureConfig):
        raise ValueError(f"config must be a PhysioFeatureConfig; got {type(config).__name__}")
