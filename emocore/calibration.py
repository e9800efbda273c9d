"""Per-driver calibration of physio features: causal, label-free, session-start referenced.

Physiology differs per person and per session (sensor placement, skin, fitness), so features are
normalised against a reference of the current driver, computed on the head unit from the past
only and without labels:

  reference = `prior` (weight `prior_weight` pseudo-windows) merged with the finite values of
              this session's first `baseline_windows` windows (every window when `running`);
  output    = x - mean (`method="center"`) or (x - mean) / std (`"zscore"`); non-finite x
              and features without any reference value give NaN.

The prior is the population's statistics (`ReferenceStats` over the training drivers'
reference windows, shipped in the bundle) or the driver's own profile, persisted from earlier
sessions (`prior="driver_profile"`; `SessionCalibration.session_stats()` merged into it with
`ReferenceStats.merge` at the end of a session). Before the session's baseline is full the
reference is the prior blended with the windows seen so far; after it is full it is frozen.
Window t's output depends only on windows <= t (the reference includes window t while the
baseline fills). Training runs the same `SessionCalibration`, window by window in session
order (`calibrate_session`), so the forests see exactly what the edge feeds them.

The arithmetic is float64 in a fixed order (Welford updates; Chan's merge), cast to float32 at
the end, so the Java bridge (`org.fedmultiemo.bridge.physio.SessionCalibration`) reproduces it
bit for bit.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

CALIBRATION_METHODS: tuple[str, ...] = ("none", "center", "zscore")
CALIBRATION_PRIORS: tuple[str, ...] = ("population", "driver_profile")


@dataclasses.dataclass(frozen=True)
class CalibrationConfig:
    """How features are referenced to the driver (see the module docstring).

    method: "none" | "center" | "zscore"; baseline_windows: windows at the start of a session
    that form its reference (0 = the prior alone); running: keep updating the reference for the
    whole session instead of freezing it; prior: "population" | "driver_profile";
    prior_weight: pseudo-windows of the prior in the blend (> 0).
    """

    method: str = "none"
    baseline_windows: int = 0
    running: bool = False
    prior: str = "population"
    prior_weight: float = 10.0

    def __post_init__(self) -> None:
        if self.method not in CALIBRATION_METHODS:
            raise ValueError(f"calibration method must be one of {list(CALIBRATION_METHODS)}; "
                             f"got {self.method!r}")
        if self.prior not in CALIBRATION_PRIORS:
            raise ValueError(f"calibration prior must be one of {list(CALIBRATION_PRIORS)}; "
                             f"got {self.prior!r}")
        if (isinstance(self.baseline_windows, bool) or not isinstance(self.baseline_windows, int)
                or self.baseline_windows < 0):
            raise ValueError(f"calibration baseline_windows must be an int >= 0; got "
                             f"{self.baseline_windows!r}")
        if not isinstance(self.running, bool):
            raise ValueError(f"calibration running must be a bool; got {self.running!r}")
        if (isinstance(self.prior_weight, bool) or not isinstance(self.prior_weight, int | float)
                or not (math.isfinite(self.prior_weight) and self.prior_weight > 0)):
            raise ValueError(f"calibration prior_weight must be a finite number > 0; got "
                             f"{self.prior_weight!r}")

    @property
    def enabled(self) -> bool:
        return self.method != "none"

    def to_json_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> CalibrationConfig:
        """Inverse of `to_json_dict`; raises ValueError for missing or unknown keys."""
        keys = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, Mapping) or set(data) != keys:
            raise ValueError(f"calibration config must be an object with keys {sorted(keys)}; "
                             f"got {sorted(data) if isinstance(data, Mapping) else data!r}")
        return cls(**{k: (float(v) if k == "prior_weight" else v) for k, v in data.items()})


@dataclasses.dataclass(frozen=True, eq=False)
class ReferenceStats:
    """Per-feature `count: float64[F]` of finite values, their `mean: float64[F]` and sum of
    squared deviations `m2: float64[F]` (count 0 -> mean 0, m2 0), in `feature_names` order."""

    feature_names: tuple[str, ...]
    count: np.ndarray
    mean: np.ndarray
    m2: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "feature_names", tuple(self.feature_names))
        width = len(self.feature_names)
        for name in ("count", "mean", "m2"):
            value = np.array(getattr(self, name), dtype=np.float64)
            if value.shape != (width,) or not np.isfinite(value).all():
                raise ValueError(f"ReferenceStats.{name} must be finite float[{width}] (one per "
                                 f"feature name); got shape {list(value.shape)}")
            object.__setattr__(self, name, value)
        if (self.count < 0).any() or (self.m2 < 0).any():
            raise ValueError("ReferenceStats.count and m2 must be >= 0; got count "
                             f"{self.count.tolist()}, m2 {self.m2.tolist()}")

    @classmethod
    def empty(cls, feature_names: tuple[str, ...]) -> ReferenceStats:
        width = len(feature_names)
        return cls(tuple(feature_names), np.zeros(width), np.zeros(width), np.zeros(width))

    @classmethod
    def from_windows(cls, features: np.ndarray, feature_names: tuple[str, ...]
                     ) -> ReferenceStats:
        """Welford statistics of `features: float[N,F]`, row by row, over finite values."""
        x = _check_rows("features", features, len(feature_names))
        acc = _Welford(len(feature_names))
        for row in x:
            acc.add(row)
        return acc.stats(tuple(feature_names))

    def merge(self, other: ReferenceStats) -> ReferenceStats:
        """Statistics of the union (Chan et al.'s pairwise merge), e.g. a driver's profile and a
        finished session; `other` must cover the same feature names."""
        if not isinstance(other, ReferenceStats) or other.feature_names != self.feature_names:
            raise ValueError(f"other must be ReferenceStats over {list(self.feature_names)}; "
                             f"got {getattr(other, 'feature_names', type(other).__name__)}")
        count, mean, m2 = _merge(self.count, self.mean, self.m2, other.count, other.mean,
                                 other.m2)
        return ReferenceStats(self.feature_names, count, mean, m2)

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready `{feature_names, count, mean, m2}` (float64 values, exact)."""
        return {"feature_names": list(self.feature_names),
                "count": [float(v) for v in self.count],
                "mean": [float(v) for v in self.mean], "m2": [float(v) for v in self.m2]}

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> ReferenceStats:
        """Inverse of `to_json_dict`; raises ValueError for other keys."""
        keys = {"feature_names", "count", "mean", "m2"}
        if not isinstance(data, Mapping) or set(data) != keys:
            raise ValueError(f"reference statistics must be an object with keys {sorted(keys)};"
                             f" got {sorted(data) if isinstance(data, Mapping) else data!r}")
        return cls(tuple(data["feature_names"]), data["count"], data["mean"], data["m2"])


class SessionCalibration:
    """One driving session's causal calibration; `apply` each window's features in time order.

    config: `CalibrationConfig` (method != "none"); prior: the population statistics or the
    driver's profile, over the model's feature names.
    """

    def __init__(self, config: CalibrationConfig, prior: ReferenceStats) -> None:
        if not isinstance(config, CalibrationConfig) or not config.enabled:
            raise ValueError(f"config must be a CalibrationConfig with method in "
                             f"{list(CALIBRATION_METHODS[1:])}; got {config!r}")
        if not isinstance(prior, ReferenceStats):
            raise ValueError(f"prior must be ReferenceStats; got {type(prior).__name__}")
        self.config = config
        self.prior = prior
        self.windows_seen = 0
        self._session = _Welford(len(prior.feature_names))
        # The prior as `prior_weight` pseudo-windows (features never seen: weight 0).
        seen = prior.count > 0
        self._prior_count = np.where(seen, float(config.prior_weight), 0.0)
        variance = np.divide(prior.m2, prior.count, out=np.zeros_like(prior.m2), where=seen)
        self._prior_m2 = self._prior_count * variance
        self._prior_mean = prior.mean.copy()

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.prior.feature_names

    @property
    def is_frozen(self) -> bool:
        """True once the session's reference stops changing."""
        return not self.config.running and self.windows_seen >= self.config.baseline_windows

    def apply(self, features: np.ndarray) -> np.ndarray:
        """`features: float[F]` of the next window -> calibrated `float32[F]` (non-finite -> NaN;
        NaN also where no reference value exists yet)."""
        x = np.asarray(features, dtype=np.float64)
        if x.shape != (len(self.feature_names),):
            raise ValueError(f"features must be float[{len(self.feature_names)}] (one window); "
                             f"got shape {list(x.shape)}")
        if not self.is_frozen:
            self._session.add(x)
        self.windows_seen += 1
        count, mean, m2 = _merge(self._prior_count, self._prior_mean, self._prior_m2,
                                 self._session.count, self._session.mean, self._session.m2)
        known = count > 0
        out = np.where(known & np.isfinite(x), x - mean, np.nan)
        if self.config.method == "zscore":
            variance = np.divide(m2, count, out=np.zeros_like(m2), where=known)
            scale = np.sqrt(variance)
            out = out / np.where(scale > 0, scale, 1.0)
        return out.astype(np.float32)

    def session_stats(self) -> ReferenceStats:
        """This session's own reference windows (no prior): what a driver profile merges in."""
        return self._session.stats(self.feature_names)


def calibrate_session(features: np.ndarray, config: CalibrationConfig, prior: ReferenceStats
                      ) -> np.ndarray:
    """A whole session `features: float[N,F]` in time order -> `float32[N,F]`, window by window
    with one `SessionCalibration` (identical to what the edge computes); "none" -> unchanged."""
    x = _check_rows("features", features, len(prior.feature_names))
    if not config.enabled:
        return x.astype(np.float32)
    session = SessionCalibration(config, prior)
    return np.stack([session.apply(row) for row in x]) if len(x) else x.astype(np.float32)


def reference_windows(features: np.ndarray, config: CalibrationConfig) -> np.ndarray:
    """The rows of one session `float[N,F]` that its reference is built from: the first
    `baseline_windows` (all when `running`)."""
    x = np.asarray(features)
    return x if config.running else x[:config.baseline_windows]


class _Welford:
    """Running per-feature count/mean/m2 over finite values (float64, fixed operation order)."""

    def __init__(self, width: int) -> None:
        self.count = np.zeros(width)
        self.mean = np.zeros(width)
        self.m2 = np.zeros(width)

    def add(self, x: np.ndarray) -> None:
        finite = np.isfinite(x)
        count = self.count + 1.0
        delta = np.where(finite, x - self.mean, 0.0)
        mean = self.mean + delta / count
        self.m2 = np.where(finite, self.m2 + delta * (np.where(finite, x, 0.0) - mean), self.m2)
        self.mean = np.where(finite, mean, self.mean)
        self.count = np.where(finite, count, self.count)

    def stats(self, feature_names: tuple[str, ...]) -> ReferenceStats:
        return ReferenceStats(feature_names, self.count.copy(), self.mean.copy(), self.m2.copy())


def _merge(n_a: np.ndarray, mean_a: np.ndarray, m2_a: np.ndarray, n_b: np.ndarray,
           mean_b: np.ndarray, m2_b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chan's merge of two (count, mean, m2) summaries; counts 0 on both sides -> zeros."""
    n = n_a + n_b
    safe = np.where(n > 0, n, 1.0)
    delta = mean_b - mean_a
    mean = mean_a + delta * (n_b / safe)
    m2 = m2_a + m2_b + delta * delta * (n_a * n_b / safe)
    return n, np.where(n > 0, mean, 0.0), np.where(n > 0, m2, 0.0)


def _check_rows(name: str, features: np.ndarray, width: int) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != width:
        raise ValueError(f"{name} must be float[N,{width}] (one column per feature name); got "
                         f"shape {list(x.shape)}")
    return x
