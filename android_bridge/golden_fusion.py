"""Golden fusion vectors: readings and `emocore.fusion` results for every strategy.

`fusion_cases(config, model_readings)` runs `fuse` over scenarios (fresh, stale, low-quality,
NaN/None probs, future and non-finite timestamps, all missing -> "unknown", ties, uniform
vectors, zero learned-pool mass) under every strategy, and `fusion_sequences` runs
`FusionEngine` with temporal smoothing. Configs travel as `FusionConfig.to_json()` text, the same
text as the bundle's fusion.json. Exclusions are compared by kind (`Exclusion.kind`, the
`ExclusionKind` enum both sides share): the prose reasons format numbers with Python's `%g`,
which the port need not imitate.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from emocore.fusion import (
    FusionConfig,
    FusionEngine,
    FusionResult,
    LearnedWeights,
    ModalityReading,
    fuse,
)

_PROBS = (  # DRIVER_STATE3 vectors used by the scenarios (per modality, cycled)
    (0.2, 0.1, 0.7),
    (0.5, 0.3, 0.2),
    (0.1, 0.6, 0.3),
)


def _float_list(values: np.ndarray | Sequence[float] | None) -> list[float] | None:
    return None if values is None else [float(v) for v in np.asarray(values, dtype=np.float64)]


def _reading_json(reading: ModalityReading) -> dict[str, Any]:
    return {"modality": reading.modality, "probs": _float_list(reading.probs),
            "timestamp_s": float(reading.timestamp_s), "quality": float(reading.quality)}


def result_json(result: FusionResult) -> dict[str, Any]:
    """JSON-ready `FusionResult` (exclusions with their kind)."""
    return {
        "label": result.label, "label_index": result.label_index,
        "probs": _float_list(result.probs), "used": list(result.used),
        "weights": [float(w) for w in result.weights],
        "excluded": [{"modality": e.modality, "reason": e.reason, "kind": e.kind.value}
                     for e in result.excluded],
        "smoothed": result.smoothed,
    }


def _strategies(config: FusionConfig) -> dict[str, FusionConfig]:
    mods = config.modalities
    scalar = LearnedWeights(mods, tuple((0.7 if i == 0 else 0.3 / max(len(mods) - 1, 1),)
                                        for i in range(len(mods))), validation_score=-0.5)
    per_class = LearnedWeights(mods, tuple((0.6, 0.2, 0.0) if i == 0 else (0.4, 0.8, 0.0)
                                           for i in range(len(mods))), objective="accuracy")
    replace = dataclasses.replace
    return {
        "bundle": config,
        "confidence_max_prob": replace(config, strategy="confidence_weighted",
                                       confidence_measure="max_prob"),
        "confidence_entropy": replace(config, strategy="confidence_weighted",
                                      confidence_measure="entropy"),
        "majority_vote": replace(config, strategy="majority_vote"),
        "product_of_experts": replace(config, strategy="product_of_experts", epsilon=1e-4),
        "learned_scalar": replace(config, strategy="learned_weights", learned_weights=scalar),
        "learned_per_class": replace(config, strategy="learned_weights",
                                     learned_weights=per_class),
        "learned_log_scalar": replace(config, strategy="learned_log_pool",
                                      learned_weights=scalar, epsilon=1e-4),
        "learned_log_per_class": replace(config, strategy="learned_log_pool",
                                         learned_weights=per_class),
    }


def _scenarios(mods: Sequence[str], model_readings: Mapping[str, tuple[np.ndarray, float]],
               max_age_s: float, min_quality: float
               ) -> dict[str, tuple[float, list[ModalityReading]]]:
    """name -> (now_s, readings); readings of the first two modalities vary, others are fresh."""
    now = 100.0

    def fresh(i: int, probs: Sequence[float] | np.ndarray | None = None, *, age: float = 0.25,
              quality: float = 0.9, missing: bool = False) -> ModalityReading:
        p = _PROBS[i % len(_PROBS)] if probs is None else probs
        return ModalityReading(mods[i], None if missing else np.asarray(p, dtype=np.float64),
                               now - age, quality)

    rest = [fresh(i) for i in range(2, len(mods))]
    first, second = 0, min(1, len(mods) - 1)
    two = second != first
    out: dict[str, tuple[float, list[ModalityReading]]] = {
        "all_fresh": (now, [fresh(i) for i in range(len(mods))]),
        "first_stale": (now, [fresh(first, age=max_age_s + 0.5)] + (
            [fresh(second)] if two else []) + rest),
        "at_max_age_is_fresh": (now, [fresh(first, age=max_age_s)]),
        "first_nan_probs": (now, [fresh(first, (0.2, math.nan, 0.8))] + (
            [fresh(second)] if two else []) + rest),
        "first_none_probs": (now, [fresh(first, missing=True)] + rest),
        "future_timestamp": (now, [fresh(first, age=-0.5)] + ([fresh(second)] if two else [])),
        "non_finite_timestamp": (now, [ModalityReading(mods[first], np.array(_PROBS[0]),
                                                       math.inf, 1.0)]),
        "nan_quality": (now, [fresh(first, quality=math.nan)] + ([fresh(second)] if two else [])),
        "all_missing_unknown": (now, [fresh(i, age=max_age_s + 1.0) for i in range(len(mods))]),
        "no_readings_unknown": (now, []),
        "uniform_vectors": (now, [fresh(i, (1 / 3, 1 / 3, 1 / 3)) for i in range(len(mods))]),
        "zero_probability_class": (now, [fresh(i, (0.0, 0.25, 0.75) if i == first else
                                               (0.6, 0.4, 0.0)) for i in range(len(mods))]),
        "only_negative_evidence": (now, [fresh(first, (0.0, 0.0, 1.0))]),
        "exact_tie": (now, [fresh(i, (0.4, 0.4, 0.2)) for i in range(len(mods))]),
        "model_outputs": (now, [
            fresh(i, model_readings[m][0], quality=model_readings[m][1])
            if m in model_readings else fresh(i) for i, m in enumerate(mods)]),
    }
    if min_quality > 0:
        out["second_low_quality"] = (now, [fresh(first)] + (
            [fresh(second, quality=min_quality / 2)] if two else []) + rest)
    if two:
        out["vote_split_tie_break"] = (now, [fresh(first, (0.1, 0.3, 0.6)),
                                             fresh(second, (0.1, 0.5, 0.4))] + rest)
    return out


def fusion_cases(config: FusionConfig,
                 model_readings: Mapping[str, tuple[np.ndarray, float]]) -> list[dict[str, Any]]:
    """Stateless `fuse` results of every scenario under every strategy.

    `model_readings[modality] = (float64[3] DRIVER_STATE3 probabilities, quality)` from the
    bundle's models (used by the "model_outputs" scenario).
    """
    cases = []
    for strategy_name, cfg in _strategies(config).items():
        scenarios = _scenarios(cfg.modalities, model_readings, cfg.max_age_s, cfg.min_quality)
        for scenario, (now, readings) in scenarios.items():
            cases.append({
                "name": f"{strategy_name}/{scenario}", "config_json": cfg.to_json(),
                "now_s": now, "readings": [_reading_json(r) for r in readings],
                "expected": result_json(fuse(readings, now, cfg)),
            })
    return cases


def fusion_sequences(config: FusionConfig) -> list[dict[str, Any]]:
    """`FusionEngine` runs with smoothing and reading pooling (EMAs, unknown steps, reset after
    a long gap); each step also records every modality's pooled distribution (None if none)."""
    mods = config.modalities
    plan = [  # (now_s, per-modality (probs, age) or None = no reading)
        (0.0, [((0.6, 0.3, 0.1), 0.1)]),
        (0.5, [((0.2, 0.2, 0.6), 0.1), ((0.1, 0.2, 0.7), 0.2)]),
        (1.2, [((0.1, 0.1, 0.8), 0.1)]),
        (4.0, [((0.2, 0.2, 0.6), 3.5)]),  # stale -> unknown, state untouched
        (4.5, [((0.3, 0.4, 0.3), 0.0), ((0.3, 0.3, 0.4), 0.0)]),
        (12.0, [((0.7, 0.2, 0.1), 0.1)]),  # gap > reset -> state restarts
        (12.0, [((0.1, 0.45, 0.45), 0.0)]),  # dt = 0: alpha = 0
        (13.0, [((0.0, 0.5, 0.5), 0.0), ((0.5, 0.0, 0.5), 0.0)]),
    ]
    variants = {
        "confidence_smoothed": dataclasses.replace(
            config, strategy="confidence_weighted", smoothing_half_life_s=2.0,
            smoothing_reset_gap_s=5.0, max_age_s=2.5, min_quality=0.0),
        "majority_vote_smoothed": dataclasses.replace(
            config, strategy="majority_vote", smoothing_half_life_s=1.0,
            smoothing_reset_gap_s=5.0, max_age_s=2.5, min_quality=0.0),
        "no_smoothing": dataclasses.replace(config, smoothing_half_life_s=0.0,
                                            max_age_s=2.5, min_quality=0.0),
        # Reading pooling of the first modality (repeated, stale and reset steps included),
        # alone and with the fused smoothing on top.
        "product_pooled": dataclasses.replace(
            config, strategy="product_of_experts", smoothing_half_life_s=0.0,
            pooling_half_life_s={mods[0]: 1.5}, smoothing_reset_gap_s=5.0, max_age_s=2.5,
            min_quality=0.0, epsilon=1e-4),
        "confidence_pooled_smoothed": dataclasses.replace(
            config, strategy="confidence_weighted", smoothing_half_life_s=2.0,
            pooling_half_life_s={m: 0.7 + i for i, m in enumerate(mods)},
            smoothing_reset_gap_s=5.0, max_age_s=2.5, min_quality=0.0),
    }
    out = []
    for name, cfg in variants.items():
        engine = FusionEngine(cfg)
        steps = []
        for now, per_mod in plan:
            readings = [ModalityReading(mods[i], np.array(p), now - age, 1.0)
                        for i, (p, age) in enumerate(per_mod[:len(mods)])]
            result = engine.update(readings, now)
            steps.append({"now_s": now, "readings": [_reading_json(r) for r in readings],
                          "expected": result_json(result),
                          "pooled": {m: _float_list(engine.pooled_probs(m)) for m in mods}})
        out.append({"name": name, "config_json": cfg.to_json(), "steps": steps})
    return out
