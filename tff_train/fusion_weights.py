"""Fitting fusion weights on validation data (training side): `fit_learned_weights`."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import numpy as np

from emocore.fusion import (
    FUSED_SPACE,
    LEARNED_POOLS,
    OBJECTIVES,
    SUM_TOLERANCE,
    LearnedWeights,
    finite_number,
)


def _simplex_grid(num_modalities: int, steps: int) -> np.ndarray:
    """`float64[G, M]`: every weight vector with entries in {0, 1/steps, ..., 1} summing to 1,
    in lexicographic order of the integer compositions (the first best point wins ties)."""
    points = [c for c in itertools.product(range(steps + 1), repeat=num_modalities)
              if sum(c) == steps]
    return np.array(points, dtype=np.float64) / steps


POOLS = tuple(LEARNED_POOLS.values())  # ("linear", "log")


def _pool_scores(stack: np.ndarray, mask: np.ndarray, labels: np.ndarray,
                 weight_matrix: np.ndarray, objective: str, epsilon: float,
                 pool: str = "linear") -> float:
    """Mean validation score of the linear or log pool `weight_matrix: float64[M,K]` (the
    vectorised `emocore.fusion.combine` of `learned_weights` / `learned_log_pool`); `stack`
    holds the probabilities (linear) or their floored logarithms (log; taken once by the
    caller)."""
    rows = np.arange(len(labels))
    pooled = (mask[:, :, None] * weight_matrix[None] * stack).sum(axis=1)  # [N, K]
    if pool == "log":
        fused = np.exp(pooled - pooled.max(axis=1, keepdims=True))
        fused = fused / fused.sum(axis=1, keepdims=True)
        total = np.ones(len(labels))
    else:
        total = pooled.sum(axis=1)
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
    pool: str = "linear",
) -> LearnedWeights:
    """Fits pooling weights on validation data by grid search over the weight simplex.

    `pool`: "linear" (for the `learned_weights` strategy) or "log" (`learned_log_pool`, whose
    probabilities are floored at `epsilon` as at run time: pass the FusionConfig's epsilon).

    `probs[modality]: float[N,3]` (DRIVER_STATE3; an all-NaN row = modality missing for that
    sample, excluded exactly as at run time), `labels: int[N]` DRIVER_STATE3 ids. Per-modality
    weights: the simplex grid with step `grid_step` is searched exhaustively for the best mean
    `objective` ("log_likelihood" = mean ln max(p_fused[y], epsilon), or "accuracy"); ties keep
    the first grid point. `per_class`: starting from that optimum, `rounds` of coordinate ascent
    re-search each class's weight column on the simplex (only strict improvements are kept).
    Samples with no modality present are skipped.
    """
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {list(POOLS)}; got {pool!r}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {list(OBJECTIVES)}; got {objective!r}")
    steps = round(1.0 / finite_number(grid_step, "grid_step", low=0.0, high=1.0, low_open=True))
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
                               | (np.abs(p.sum(axis=1) - 1) > SUM_TOLERANCE))
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
    if pool == "log":  # the floored logarithms once, not once per grid point
        data = np.log(np.maximum(data, epsilon))

    grid = _simplex_grid(len(names), steps)
    scores = [_pool_scores(data, mask, labels, np.repeat(w[:, None], k, axis=1), objective,
                           epsilon, pool) for w in grid]
    best = int(np.argmax(scores))
    best_score, weights = scores[best], np.repeat(grid[best][:, None], k, axis=1)
    if per_class:
        for _ in range(rounds):
            improved = False
            for c in range(k):
                for w in grid:
                    trial = weights.copy()
                    trial[:, c] = w
                    score = _pool_scores(data, mask, labels, trial, objective, epsilon, pool)
                    if score > best_score:
                        best_score, weights, improved = score, trial, True
            if not improved:
                break
        rows = tuple(tuple(float(v) for v in row) for row in weights)
    else:
        rows = tuple((float(v),) for v in weights[:, 0])
    return LearnedWeights(modalities=names, weights=rows, objective=objective,
                          validation_score=best_score)
