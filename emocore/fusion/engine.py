"""Fusion steps: gating of `ModalityReading`s (structured `Exclusion`s), `fuse`, `FusionEngine`."""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable, Sequence

import numpy as np

from emocore.fusion.config import (
    FUSED_SPACE,
    SUM_TOLERANCE,
    UNKNOWN,
    FusionConfig,
    finite_number,
)
from emocore.fusion.strategies import _normalised_exp, combine, decide


class ExclusionKind(enum.Enum):
    """Why a modality was not fused; values are the kinds' names in golden vectors (Java's
    `org.fedmultiemo.bridge.fusion.ExclusionKind`)."""

    MISSING = "missing"  # probs is None
    NAN_PROBS = "nan_probs"  # probs contain NaN
    NO_READING = "no_reading"  # no reading for a configured modality
    NON_FINITE_TIMESTAMP = "non_finite_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    STALE = "stale"  # age > max_age_s
    LOW_QUALITY = "low_quality"  # quality NaN or < min_quality
    ZERO_MASS = "zero_mass"  # learned weights give the combination zero probability mass


@dataclasses.dataclass(frozen=True)
class Exclusion:
    """One excluded modality: its `kind` and a human-readable `reason` (prose, for logs)."""

    modality: str
    kind: ExclusionKind
    reason: str


@dataclasses.dataclass(frozen=True)
class ModalityReading:
    """One modality's latest output: `probs: float[3]` over DRIVER_STATE3 (None/NaN = missing)."""

    modality: str
    probs: np.ndarray | None
    timestamp_s: float
    quality: float = 1.0


@dataclasses.dataclass(frozen=True)
class FusionResult:
    """A fused decision: a DRIVER_STATE3 label, or "unknown" (index -1, probs None)."""

    label: str
    label_index: int
    probs: np.ndarray | None
    used: tuple[str, ...]
    weights: tuple[float, ...]
    excluded: tuple[Exclusion, ...]
    smoothed: bool = False

    @property
    def is_unknown(self) -> bool:
        """True when no modality could be fused (label "unknown", index -1)."""
        return self.label_index < 0

    @property
    def reasons(self) -> dict[str, str]:
        """{excluded modality: its prose reason}, in exclusion order."""
        return {e.modality: e.reason for e in self.excluded}

    @property
    def kinds(self) -> dict[str, ExclusionKind]:
        """{excluded modality: its ExclusionKind}, in exclusion order."""
        return {e.modality: e.kind for e in self.excluded}


def _exclusion(reading: ModalityReading, now_s: float, config: FusionConfig
               ) -> tuple[ExclusionKind, str] | None:
    """Why `reading` must not be fused, as (kind, reason) (None when usable); raises for
    malformed probs."""
    if reading.probs is None:
        return ExclusionKind.MISSING, "missing"
    probs = np.asarray(reading.probs, dtype=np.float64)
    if probs.shape != (FUSED_SPACE.num_classes,):
        raise ValueError(f"reading {reading.modality!r}: probs must have shape "
                         f"[{FUSED_SPACE.num_classes}] (DRIVER_STATE3; map with "
                         f"to_driver_state); got {list(probs.shape)}")
    if np.isnan(probs).any():
        return ExclusionKind.NAN_PROBS, "missing (NaN probs)"
    if not np.isfinite(probs).all() or (probs < 0).any() or abs(probs.sum() - 1) > SUM_TOLERANCE:
        raise ValueError(f"reading {reading.modality!r}: probs must be non-negative and sum to 1; "
                         f"got {probs.tolist()}")
    timestamp, quality = float(reading.timestamp_s), float(reading.quality)
    if not math.isfinite(timestamp):
        return ExclusionKind.NON_FINITE_TIMESTAMP, f"timestamp is not finite ({timestamp})"
    age = now_s - timestamp
    if age < 0:
        return (ExclusionKind.FUTURE_TIMESTAMP,
                f"timestamp in the future ({timestamp} > now {now_s})")
    if age > config.max_age_s:
        return (ExclusionKind.STALE,
                f"stale (age {age:.3g} s > max_age_s {config.max_age_s:g} s)")
    if math.isnan(quality) or quality < config.min_quality:
        return (ExclusionKind.LOW_QUALITY,
                f"low quality ({quality:.3g} < min_quality {config.min_quality:g})")
    return None


def _fuse_step(readings: Sequence[ModalityReading], now_s: float, config: FusionConfig,
               pool: Callable[[ModalityReading], np.ndarray] | None = None
               ) -> tuple[FusionResult, np.ndarray | None]:
    """One fusion step: the result and the tie-break scores `float64[K]` (or None). `pool`
    maps each usable reading to the probs fused in its place (`FusionEngine`'s reading
    pooling); None fuses the readings' own."""
    now_s = finite_number(now_s, "now_s")
    seen: set[str] = set()
    used: list[ModalityReading] = []
    excluded: list[Exclusion] = []
    for reading in readings:
        if not isinstance(reading, ModalityReading):
            raise ValueError(f"readings must hold ModalityReading; got {type(reading).__name__}")
        if reading.modality not in config.modalities:
            raise ValueError(f"reading modality {reading.modality!r} is not configured; expected "
                             f"one of {list(config.modalities)}")
        if reading.modality in seen:
            raise ValueError(f"readings hold modality {reading.modality!r} twice")
        seen.add(reading.modality)
        why = _exclusion(reading, now_s, config)
        if why is None:
            used.append(reading)
        else:
            excluded.append(Exclusion(reading.modality, *why))
    excluded.extend(Exclusion(name, ExclusionKind.NO_READING, "missing (no reading)")
                    for name in config.modalities if name not in seen)
    unknown = FusionResult(UNKNOWN, -1, None, (), (), tuple(excluded))
    if not used:
        return unknown, None
    names = tuple(r.modality for r in used)
    probs = np.array([np.asarray(r.probs if pool is None else pool(r), dtype=np.float64)
                      for r in used])
    fused, tie_scores, weights = combine(probs, names, config)
    if fused is None:
        reason = "learned weights give this combination zero probability mass"
        return dataclasses.replace(unknown, excluded=tuple(excluded) + tuple(
            Exclusion(name, ExclusionKind.ZERO_MASS, reason) for name in names)), None
    index = decide(fused, tie_scores)
    result = FusionResult(FUSED_SPACE.labels[index], index, fused, names,
                          tuple(float(w) for w in weights), tuple(excluded))
    return result, tie_scores


def fuse(readings: Sequence[ModalityReading], now_s: float, config: FusionConfig
         ) -> FusionResult:
    """One stateless fusion step at time `now_s` (seconds, same clock as the timestamps)."""
    return _fuse_step(readings, now_s, config)[0]


class FusionEngine:
    """Stateful fusion: `fuse` plus the optional reading pooling and EMA smoothing of the
    module docstring."""

    def __init__(self, config: FusionConfig) -> None:
        if not isinstance(config, FusionConfig):
            raise ValueError(f"config must be a FusionConfig; got {type(config).__name__}")
        self.config = config
        self.reset()

    def reset(self) -> None:
        """Forgets the pooling and smoothing states and the clock."""
        self._state: np.ndarray | None = None
        self._state_time: float | None = None
        self._last_now: float | None = None
        # modality -> (pooled log-probabilities float64[K], timestamp of the last reading in,
        # the pooled distribution float64[K])
        self._pools: dict[str, tuple[np.ndarray, float, np.ndarray]] = {}

    def pooled_probs(self, modality: str) -> np.ndarray | None:
        """The pooled distribution `float64[3]` of `modality`'s readings so far (None when it is
        not pooled or no usable reading came in since the last reset)."""
        pool = self._pools.get(modality)
        return None if pool is None else pool[2].copy()

    def _pool(self, reading: ModalityReading) -> np.ndarray:
        """The probs fused for the usable `reading`: its modality's pooled distribution after
        taking the reading in, or the reading's own when the modality is not pooled."""
        half_life = self.config.pooling_half_life(reading.modality)
        if half_life == 0:
            return reading.probs
        log_p = np.log(np.maximum(np.asarray(reading.probs, dtype=np.float64),
                                  self.config.epsilon))
        timestamp = float(reading.timestamp_s)
        pool = self._pools.get(reading.modality)
        if pool is None or timestamp - pool[1] > self.config.smoothing_reset_gap_s:
            pool = (log_p, timestamp, _normalised_exp(log_p))
        elif timestamp > pool[1]:  # a new reading (a repeated or older one is already in)
            alpha = 1.0 - 2.0 ** (-(timestamp - pool[1]) / half_life)
            log_p = (1.0 - alpha) * pool[0] + alpha * log_p
            pool = (log_p, timestamp, _normalised_exp(log_p))
        self._pools[reading.modality] = pool
        return pool[2]

    def update(self, readings: Sequence[ModalityReading], now_s: float) -> FusionResult:
        """Fuses `readings` at `now_s` (which must not decrease between calls)."""
        now_s = finite_number(now_s, "now_s")
        if self._last_now is not None and now_s < self._last_now:
            raise ValueError(f"now_s must not decrease; got {now_s} after {self._last_now}")
        self._last_now = now_s
        result, tie_scores = _fuse_step(readings, now_s, self.config,
                                        self._pool if self.config.pooling_half_life_s else None)
        half_life = self.config.smoothing_half_life_s
        if result.is_unknown or half_life == 0:
            return result
        assert result.probs is not None
        gap = None if self._state_time is None else now_s - self._state_time
        if self._state is None or gap is None or gap > self.config.smoothing_reset_gap_s:
            self._state = result.probs.copy()
        else:
            alpha = 1.0 - 2.0 ** (-gap / half_life)
            self._state = (1.0 - alpha) * self._state + alpha * result.probs
        self._state_time = now_s
        index = decide(self._state, tie_scores)
        return dataclasses.replace(result, label=FUSED_SPACE.labels[index], label_index=index,
                                   probs=self._state.copy(), smoothed=True)
