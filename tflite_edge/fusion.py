"""The ONE implementation of decision-level fusion of per-modality driver-state probabilities.

Every modality (face CNN, physiological forest, ...) delivers a `ModalityReading`: a probability
vector `float[3]` over DRIVER_STATE3 = (neutral, positive, negative) — map model outputs with
`to_driver_state` — plus its timestamp and a quality/confidence in [0, 1].

Gating (never guessed): a reading is EXCLUDED when its probs are None or contain NaN
("missing"), its timestamp is not finite or lies in the future, its age `now_s - timestamp_s`
exceeds `max_age_s` ("stale"), or its quality is NaN or below `min_quality` ("low quality").
When every modality is excluded the result is explicitly "unknown" (label_index -1, probs None).

Strategies over the K=3 vectors `p_m` of the M remaining modalities (float64 arithmetic):
- `confidence_weighted` (default): `sum_m w_m p_m / sum_m w_m` with `w_m = max_c p_m[c]`
  (`confidence_measure="max_prob"`) or `w_m = 1 - H(p_m) / ln K` with `H = -sum p ln p`,
  `0 ln 0 = 0` ("entropy"); if every `w_m` is 0 (all uniform) the weights are equal.
- `majority_vote`: each modality votes its argmax (first class on a within-modality tie); the
  distribution is the vote share; the label is the most-voted class, ties broken by the summed
  probability over modalities, then by the fixed class order (neutral < positive < negative).
- `product_of_experts`: `prod_m max(p_m, epsilon)` normalised (computed in log space).
- `learned_weights`: the linear pool `sum_m W[m] * p_m` normalised, with per-modality scalar or
  per-class weights `W` fitted by `fit_learned_weights` (see there); a zero pool is "unknown".
The label is the argmax of the (smoothed) distribution; ties go to the higher tie-break score
(summed probability for votes, none otherwise), then to the lower class index.

Temporal smoothing (`FusionEngine`, `smoothing_half_life_s > 0`): an exponential moving
average over fused distributions, `s <- (1 - a) s + a p` with `a = 1 - 2^(-dt / half_life)` and
`dt` the time since the last known result; the state resets to `p` after a gap longer than
`smoothing_reset_gap_s`. "unknown" steps are reported as unknown and leave the state untouched.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from emodata.label_spaces import DRIVER_STATE3, mapping_matrix

FUSED_SPACE = DRIVER_STATE3
UNKNOWN = "unknown"
STRATEGIES = ("confidence_weighted", "majority_vote", "product_of_experts", "learned_weights")
CONFIDENCE_MEASURES = ("max_prob", "entropy")
OBJECTIVES = ("log_likelihood", "accuracy")
FUSION_JSON_VERSION = 1
_SUM_TOLERANCE = 1e-3  # a probability vector must sum to 1 within this


def to_driver_state(probs: np.ndarray, source: str) -> np.ndarray:
    """`probs: float[..., S]` over label space `source` (fer7, wesad3, drivedb3, ...) ->
    `float64[..., 3]` over DRIVER_STATE3 (probabilities of merged classes add; NaN stays NaN)."""
    matrix = mapping_matrix(source, FUSED_SPACE.name).astype(np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 0 or probs.shape[-1] != matrix.shape[0]:
        raise ValueError(
            f"probs must have last dim {matrix.shape[0]} for label space {source!r}; got shape "
            f"{list(probs.shape)}"
        )
    return probs @ matrix


def _finite(value: object, name: str, *, low: float | None = None, high: float | None = None,
            low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise ValueError(f"{name} must be a number; got {value!r}")
    value = float(value)
    bad = not math.isfinite(value) or (low is not None and (
        value <= low if low_open else value < low)) or (high is not None and value > high)
    if bad:
        interval = ("(" if low_open else "[") + f"{'-inf' if low is None else low}, " + (
            "inf)" if high is None else f"{high}]")
        raise ValueError(f"{name} must be finite and in {interval}; got {value}")
    return value


@dataclasses.dataclass(frozen=True)
class LearnedWeights:
    """Fitted linear-pool weights: `weights[m]` has 1 (per modality) or K (per class) entries."""

    modalities: tuple[str, ...]
    weights: tuple[tuple[float, ...], ...]
    objective: str = "log_likelihood"
    validation_score: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "modalities", tuple(self.modalities))
        object.__setattr__(self, "weights", tuple(tuple(float(v) for v in w)
                                                  for w in self.weights))
        if not self.modalities or len(set(self.modalities)) != len(self.modalities):
            raise ValueError(f"modalities must be unique and non-empty; got {self.modalities}")
        if len(self.weights) != len(self.modalities):
            raise ValueError(f"weights must have one row per modality ({len(self.modalities)}); "
                             f"got {len(self.weights)}")
        widths = {len(w) for w in self.weights}
        if widths not in ({1}, {FUSED_SPACE.num_classes}):
            raise ValueError(f"each weights row must have 1 or {FUSED_SPACE.num_classes} entries "
                             f"(all alike); got lengths {[len(w) for w in self.weights]}")
        if any(not math.isfinite(v) or v < 0 for w in self.weights for v in w):
            raise ValueError(f"weights must be finite and >= 0; got {self.weights}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {list(OBJECTIVES)}; got {self.objective!r}")

    @property
    def per_class(self) -> bool:
        return len(self.weights[0]) > 1

    def matrix(self, modalities: Sequence[str]) -> np.ndarray:
        """`float64[len(modalities), K]` weights of `modalities` (scalars broadcast over K)."""
        rows = []
        for name in modalities:
            if name not in self.modalities:
                raise ValueError(f"no learned weight for modality {name!r}; have "
                                 f"{list(self.modalities)}")
            rows.append(np.broadcast_to(self.weights[self.modalities.index(name)],
                                        (FUSED_SPACE.num_classes,)))
        return np.array(rows, dtype=np.float64).reshape(len(rows), FUSED_SPACE.num_classes)

    def to_dict(self) -> dict[str, Any]:
        return {"modalities": list(self.modalities), "weights": [list(w) for w in self.weights],
                "objective": self.objective, "validation_score": self.validation_score}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LearnedWeights:
        _check_keys(data, {"modalities", "weights", "objective", "validation_score"},
                    "learned_weights")
        return cls(modalities=tuple(data["modalities"]), weights=tuple(data["weights"]),
                   objective=data["objective"], validation_score=data["validation_score"])


def _check_keys(data: Mapping[str, Any], expected: set[str], where: str) -> None:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} must be a JSON object; got {type(data).__name__}")
    unknown, missing = sorted(set(data) - expected), sorted(expected - set(data))
    if unknown or missing:
        raise ValueError(f"{where}: unknown keys {unknown}, missing keys {missing}")


@dataclasses.dataclass(frozen=True)
class FusionConfig:
    """Fusion settings; `to_json`/`from_json` is the `fusion.json` read by the Android bridge.

    `modality_label_spaces` maps each modality name to the label space of its model output
    (a dict or pairs; stored as `(name, space)` pairs sorted by name).
    """

    strategy: str = "confidence_weighted"
    confidence_measure: str = "max_prob"
    max_age_s: float = 2.0
    min_quality: float = 0.5
    epsilon: float = 1e-6
    smoothing_half_life_s: float = 0.0
    smoothing_reset_gap_s: float = 5.0
    modality_label_spaces: tuple[tuple[str, str], ...] = (("face", "fer7"), ("physio", "wesad3"))
    learned_weights: LearnedWeights | None = None

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {list(STRATEGIES)}; got {self.strategy!r}")
        if self.confidence_measure not in CONFIDENCE_MEASURES:
            raise ValueError(f"confidence_measure must be one of {list(CONFIDENCE_MEASURES)}; "
                             f"got {self.confidence_measure!r}")
        _finite(self.max_age_s, "max_age_s", low=0.0, low_open=True)
        _finite(self.min_quality, "min_quality", low=0.0, high=1.0)
        _finite(self.epsilon, "epsilon", low=0.0, high=0.01, low_open=True)
        _finite(self.smoothing_half_life_s, "smoothing_half_life_s", low=0.0)
        _finite(self.smoothing_reset_gap_s, "smoothing_reset_gap_s", low=0.0, low_open=True)
        spaces = self.modality_label_spaces
        pairs = sorted(spaces.items() if isinstance(spaces, Mapping)
                       else (tuple(pair) for pair in spaces))
        object.__setattr__(self, "modality_label_spaces", tuple(pairs))
        names = [name for name, _ in pairs]
        if not names or len(set(names)) != len(names) or not all(
                isinstance(n, str) and n for n in names):
            raise ValueError(f"modality_label_spaces must name unique, non-empty modalities; "
                             f"got {names}")
        for _, space in pairs:
            mapping_matrix(space, FUSED_SPACE.name)  # raises for spaces without a mapping
        if self.learned_weights is not None and set(self.learned_weights.modalities) != set(names):
            raise ValueError(f"learned_weights must cover exactly the modalities {sorted(names)}; "
                             f"got {sorted(self.learned_weights.modalities)}")
        if self.strategy == "learned_weights" and self.learned_weights is None:
            raise ValueError("strategy 'learned_weights' needs learned_weights "
                             "(fit them with fit_learned_weights); got None")

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.modality_label_spaces)

    def to_json(self) -> str:
        """Indented JSON with `version` and the fused `labels` (checked again by `from_json`)."""
        data: dict[str, Any] = {"version": FUSION_JSON_VERSION, "labels": list(FUSED_SPACE.labels)}
        for field in dataclasses.fields(self):
            data[field.name] = getattr(self, field.name)
        data["modality_label_spaces"] = dict(self.modality_label_spaces)
        if self.learned_weights is not None:
            data["learned_weights"] = self.learned_weights.to_dict()
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> FusionConfig:
        """Inverse of `to_json`; rejects other versions, other label orders, unknown keys."""
        data = json.loads(text)
        fields = {f.name for f in dataclasses.fields(cls)}
        _check_keys(data, fields | {"version", "labels"}, "fusion config")
        if data["version"] != FUSION_JSON_VERSION:
            raise ValueError(f"fusion config version must be {FUSION_JSON_VERSION}; "
                             f"got {data['version']!r}")
        if data["labels"] != list(FUSED_SPACE.labels):
            raise ValueError(f"fusion config labels must be {list(FUSED_SPACE.labels)}; "
                             f"got {data['labels']}")
        kwargs = {k: data[k] for k in fields}
        if kwargs["learned_weights"] is not None:
            kwargs["learned_weights"] = LearnedWeights.from_dict(kwargs["learned_weights"])
        return cls(**kwargs)


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
    excluded: tuple[tuple[str, str], ...]
    smoothed: bool = False

    @property
    def is_unknown(self) -> bool:
        return self.label_index < 0


def _exclusion_reason(reading: ModalityReading, now_s: float, config: FusionConfig) -> str | None:
    """Why `reading` must not be fused (None when usable); raises for malformed probs."""
    if reading.probs is None:
        return "missing"
    probs = np.asarray(reading.probs, dtype=np.float64)
    if probs.shape != (FUSED_SPACE.num_classes,):
        raise ValueError(f"reading {reading.modality!r}: probs must have shape "
                         f"[{FUSED_SPACE.num_classes}] (DRIVER_STATE3; map with "
                         f"to_driver_state); got {list(probs.shape)}")
    if np.isnan(probs).any():
        return "missing (NaN probs)"
    if not np.isfinite(probs).all() or (probs < 0).any() or abs(probs.sum() - 1) > _SUM_TOLERANCE:
        raise ValueError(f"reading {reading.modality!r}: probs must be non-negative and sum to 1; "
                         f"got {probs.tolist()}")
    timestamp, quality = float(reading.timestamp_s), float(reading.quality)
    if not math.isfinite(timestamp):
        return f"timestamp is not finite ({timestamp})"
    age = now_s - timestamp
    if age < 0:
        return f"timestamp in the future ({timestamp} > now {now_s})"
    if age > config.max_age_s:
        return f"stale (age {age:.3g} s > max_age_s {config.max_age_s:g} s)"
    if math.isnan(quality) or quality < config.min_quality:
        return f"low quality ({quality:.3g} < min_quality {config.min_quality:g})"
    return None


def _decide(probs: np.ndarray, tie_scores: np.ndarray | None) -> int:
    """argmax of `probs`; ties -> higher `tie_scores`, then the lower class index."""
    candidates = np.flatnonzero(probs == probs.max())
    if tie_scores is not None and len(candidates) > 1:
        scores = tie_scores[candidates]
        candidates = candidates[scores == scores.max()]
    return int(candidates[0])


def _confidence(probs: np.ndarray, measure: str) -> np.ndarray:
    """`float64[M]` confidence of each row of `probs: float64[M,K]`."""
    if measure == "max_prob":
        return probs.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(probs > 0, probs * np.log(probs), 0.0)
    # Clipped: rounding can put 1 - H/ln K a hair below 0 for a uniform vector.
    return np.clip(1.0 - (-terms.sum(axis=1)) / math.log(probs.shape[1]), 0.0, 1.0)


def combine(probs: np.ndarray, modalities: Sequence[str], config: FusionConfig
            ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray]:
    """Fuses `probs: float64[M,K]` (M >= 1 usable modalities) with `config.strategy`.

    Returns `(fused float64[K] or None when the learned pool has no mass, tie-break scores
    float64[K] or None, per-modality weights float64[M])`.
    """
    m, k = probs.shape
    if config.strategy == "confidence_weighted":
        weights = _confidence(probs, config.confidence_measure)
        weights = np.ones(m) if weights.sum() <= 0 else weights
        weights = weights / weights.sum()
        return weights @ probs, None, weights
    if config.strategy == "majority_vote":
        votes = np.bincount(probs.argmax(axis=1), minlength=k).astype(np.float64)
        return votes / m, probs.sum(axis=0), np.ones(m)
    if config.strategy == "product_of_experts":
        log_p = np.log(np.maximum(probs, config.epsilon)).sum(axis=0)
        fused = np.exp(log_p - log_p.max())
        return fused / fused.sum(), None, np.ones(m)
    assert config.learned_weights is not None  # guaranteed by FusionConfig
    weight_matrix = config.learned_weights.matrix(modalities)
    pooled = (weight_matrix * probs).sum(axis=0)
    total = pooled.sum()
    return (pooled / total if total > 0 else None), None, weight_matrix.mean(axis=1)


def _fuse_step(readings: Sequence[ModalityReading], now_s: float, config: FusionConfig
               ) -> tuple[FusionResult, np.ndarray | None]:
    now_s = _finite(now_s, "now_s")
    seen: set[str] = set()
    used: list[ModalityReading] = []
    excluded: list[tuple[str, str]] = []
    for reading in readings:
        if not isinstance(reading, ModalityReading):
            raise ValueError(f"readings must hold ModalityReading; got {type(reading).__name__}")
        if reading.modality not in config.modalities:
            raise ValueError(f"reading modality {reading.modality!r} is not configured; expected "
                             f"one of {list(config.modalities)}")
        if reading.modality in seen:
            raise ValueError(f"readings hold modality {reading.modality!r} twice")
        seen.add(reading.modality)
        reason = _exclusion_reason(reading, now_s, config)
        if reason is None:
            used.append(reading)
        else:
            excluded.append((reading.modality, reason))
    excluded.extend((name, "missing (no reading)") for name in config.modalities
                    if name not in seen)
    unknown = FusionResult(UNKNOWN, -1, None, (), (), tuple(excluded))
    if not used:
        return unknown, None
    names = tuple(r.modality for r in used)
    probs = np.array([np.asarray(r.probs, dtype=np.float64) for r in used])
    fused, tie_scores, weights = combine(probs, names, config)
    if fused is None:
        reason = "learned weights give this combination zero probability mass"
        return dataclasses.replace(unknown, excluded=tuple(excluded) + tuple(
            (name, reason) for name in names)), None
    index = _decide(fused, tie_scores)
    result = FusionResult(FUSED_SPACE.labels[index], index, fused, names,
                          tuple(float(w) for w in weights), tuple(excluded))
    return result, tie_scores


def fuse(readings: Sequence[ModalityReading], now_s: float, config: FusionConfig
         ) -> FusionResult:
    """One stateless fusion step at time `now_s` (seconds, same clock as the timestamps)."""
    return _fuse_step(readings, now_s, config)[0]


class FusionEngine:
    """Stateful fusion: `fuse` plus the optional EMA smoothing of the module docstring."""

    def __init__(self, config: FusionConfig) -> None:
        if not isinstance(config, FusionConfig):
            raise ValueError(f"config must be a FusionConfig; got {type(config).__name__}")
        self.config = config
        self.reset()

    def reset(self) -> None:
        """Forgets the smoothing state and the clock."""
        self._state: np.ndarray | None = None
        self._state_time: float | None = None
        self._last_now: float | None = None

    def update(self, readings: Sequence[ModalityReading], now_s: float) -> FusionResult:
        """Fuses `readings` at `now_s` (which must not decrease between calls)."""
        now_s = _finite(now_s, "now_s")
        if self._last_now is not None and now_s < self._last_now:
            raise ValueError(f"now_s must not decrease; got {now_s} after {self._last_now}")
        self._last_now = now_s
        result, tie_scores = _fuse_step(readings, now_s, self.config)
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
        index = _decide(self._state, tie_scores)
        return dataclasses.replace(result, label=FUSED_SPACE.labels[index], label_index=index,
                                   probs=self._state.copy(), smoothed=True)


def _simplex_grid(num_modalities: int, steps: int) -> np.ndarray:
    """`float64[G, M]`: every weight vector with entries in {0, 1/steps, ..., 1} summing to 1,
    in lexicographic order of the integer compositions (the first best point wins ties)."""
    points = [c for c in itertools.product(range(steps + 1), repeat=num_modalities)
              if sum(c) == steps]
    return np.array(points, dtype=np.float64) / steps


def _pool_scores(stack: np.ndarray, mask: np.ndarray, labels: np.ndarray,
                 weight_matrix: np.ndarray, objective: str, epsilon: float) -> float:
    """Mean validation score of the linear pool `weight_matrix: float64[M,K]`."""
    pooled = (mask[:, :, None] * weight_matrix[None] * stack).sum(axis=1)  # [N, K]
    total = pooled.sum(axis=1)
    rows = np.arange(len(labels))
    with np.errstate(divide="ignore", invalid="ignore"):
        fused = np.where(total[:, None] > 0, pooled / total[:, None], 0.0)
    if objective == "accuracy":
        return float(np.mean((total > 0) & (fused.argmax(axis=1) == labels)))
    return float(np.mean(np.log(np.maximum(fused[rows, labels], epsilon))))


def fit_learned_weights(
    probs: Mapping[str, np.ndarray],
    labels: np.ndarray,
    *,
    per_class: bool = False,
    objective: str = "log_likelihood",
    grid_step: float = 0.05,
    rounds: int = 3,
    epsilon: float = 1e-6,
) -> LearnedWeights:
    """Fits linear-pool weights on validation data by grid search over the weight simplex.

    `probs[modality]: float[N,3]` (DRIVER_STATE3; an all-NaN row = modality missing for that
    sample, excluded exactly as at run time), `labels: int[N]` DRIVER_STATE3 ids. Per-modality
    weights: the simplex grid with step `grid_step` is searched exhaustively for the best mean
    `objective` ("log_likelihood" = mean ln max(p_fused[y], epsilon), or "accuracy"); ties keep
    the first grid point. `per_class`: starting from that optimum, `rounds` of coordinate ascent
    re-search each class's weight column on the simplex (only strict improvements are kept).
    Samples with no modality present are skipped.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {list(OBJECTIVES)}; got {objective!r}")
    steps = round(1.0 / _finite(grid_step, "grid_step", low=0.0, high=1.0, low_open=True))
    if not math.isclose(steps * grid_step, 1.0, rel_tol=1e-9):
        raise ValueError(f"grid_step must divide 1 evenly (e.g. 0.05, 0.1); got {grid_step}")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be an integer >= 1; got {rounds!r}")
    if not probs:
        raise ValueError("probs must hold at least one modality; got none")
    k = FUSED_SPACE.num_classes
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or (
            labels.size and (labels.min() < 0 or labels.max() >= k)):
        raise ValueError(f"labels must be int[N] in [0, {k}); got {labels.dtype}"
                         f"{list(labels.shape)}")
    names = tuple(probs)
    stack = []
    for name in names:
        p = np.asarray(probs[name], dtype=np.float64)
        if p.shape != (len(labels), k):
            raise ValueError(f"probs[{name!r}] must have shape [{len(labels)}, {k}]; got "
                             f"{list(p.shape)}")
        nan_rows = np.isnan(p).any(axis=1)
        if (np.isnan(p[nan_rows]).sum(axis=1) != k).any():
            raise ValueError(f"probs[{name!r}]: a row must be all NaN (missing) or all finite")
        with np.errstate(invalid="ignore"):
            bad = ~nan_rows & (~np.isfinite(p).all(axis=1) | (p < 0).any(axis=1)
                               | (np.abs(p.sum(axis=1) - 1) > _SUM_TOLERANCE))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"probs[{name!r}]: rows must be probability vectors summing to 1; "
                             f"row {row} is {p[row].tolist()}")
        stack.append(p)
    data = np.stack(stack, axis=1)  # [N, M, K]
    mask = ~np.isnan(data).any(axis=2)
    keep = mask.any(axis=1)
    if not keep.any():
        raise ValueError("no validation sample has any modality present")
    data, mask, labels = np.nan_to_num(data[keep]), mask[keep].astype(np.float64), labels[keep]

    grid = _simplex_grid(len(names), steps)
    scores = [_pool_scores(data, mask, labels, np.repeat(w[:, None], k, axis=1), objective,
                           epsilon) for w in grid]
    best = int(np.argmax(scores))
    best_score, weights = scores[best], np.repeat(grid[best][:, None], k, axis=1)
    if per_class:
        for _ in range(rounds):
            improved = False
            for c in range(k):
                for w in grid:
                    trial = weights.copy()
                    trial[:, c] = w
                    score = _pool_scores(data, mask, labels, trial, objective, epsilon)
                    if score > best_score:
                        best_score, weights, improved = score, trial, True
            if not improved:
                break
        rows = tuple(tuple(float(v) for v in row) for row in weights)
    else:
        rows = tuple((float(v),) for v in weights[:, 0])
    return LearnedWeights(modalities=names, weights=rows, objective=objective,
                          validation_score=best_score)
