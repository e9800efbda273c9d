"""Fusion strategies over per-modality DRIVER_STATE3 vectors, and `to_driver_state`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from emocore.fusion.config import FUSED_SPACE, FusionConfig
from emocore.label_spaces import mapping_matrix


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


def model_output_probs(output: np.ndarray, label_space: str, what: str
                       ) -> tuple[np.ndarray, np.ndarray]:
    """A model's (dequantized) output `float[1, C]` or `float[C]` over `label_space` ->
    (`probs: float64[C]` clipped at 0 and renormalised to sum 1, `float64[3]` DRIVER_STATE3);
    raises ValueError naming the `what` model when no probability mass is left."""
    probs = np.maximum(np.asarray(output, dtype=np.float64).reshape(-1), 0.0)
    total = probs.sum()
    if not (math.isfinite(total) and total > 0):
        raise ValueError(f"{what} model output is not a probability vector: {probs.tolist()}")
    probs = probs / total
    return probs, to_driver_state(probs, label_space)


def decide(probs: np.ndarray, tie_scores: np.ndarray | None) -> int:
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


def _normalised_exp(log_p: np.ndarray) -> np.ndarray:
    """`exp(log_p - max) / sum`: the distribution of unnormalised log-probabilities `float64[K]`."""
    fused = np.exp(log_p - log_p.max())
    return fused / fused.sum()


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
        return _normalised_exp(log_p), None, np.ones(m)
    assert config.learned_weights is not None  # guaranteed by FusionConfig
    weight_matrix = config.learned_weights.matrix(modalities)
    if config.strategy == "learned_log_pool":
        log_p = (weight_matrix * np.log(np.maximum(probs, config.epsilon))).sum(axis=0)
        return _normalised_exp(log_p), None, weight_matrix.mean(axis=1)
    pooled = (weight_matrix * probs).sum(axis=0)
    total = pooled.sum()
    return (pooled / total if total > 0 else None), None, weight_matrix.mean(axis=1)
