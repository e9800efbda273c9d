"""Multi-Krum: a weighted FedAvg mean over the client deltas that look least like outliers.

Blanchard et al. 2017 ("Machine Learning with Adversaries: Byzantine Tolerant Gradient Descent")
and El Mhamdi et al. 2018 (multi-Krum). With K deltas of which at most f are assumed malicious,
each delta's score is the sum of squared L2 distances to its K - f - 2 nearest other deltas (at
least 1, at most K - 1); the K - f deltas with the lowest scores are averaged with their
aggregation weights (example counts), as FedAvg would average them. Unlike the coordinate-wise
median / trimmed mean (`tff_train.aggregators.robust`) it keeps whole, weighted honest updates,
so on label-skewed clients it costs about as much as dropping f clients from the round.

`MultiKrumFactory(byzantine_fraction)` is a `tff.aggregators.WeightedAggregationFactory` with
f = floor(byzantine_fraction * K) for the K clients of each round. Like the other robust
combiners it stacks every delta on the server (`tff_train.aggregators.stacked`: K * P float32
values) and cannot be combined with secure aggregation. `multi_krum_select` is the numpy
reference of the selection.
"""

from __future__ import annotations

import collections
import math
from typing import Any

import numpy as np
import tensorflow as tf

from tff_train.aggregators.stacked import stacked_aggregation_process
from tff_train.runtime.tff_runtime import import_tff


def _check_fraction(byzantine_fraction: float) -> None:
    if not 0 <= byzantine_fraction < 0.5:
        raise ValueError(f"byzantine_fraction must be in [0, 0.5); got {byzantine_fraction}")


def _neighbours(k: int, f: int) -> int:
    return min(max(k - f - 2, 1), max(k - 1, 0))


def multi_krum_select(updates: np.ndarray, byzantine_fraction: float) -> np.ndarray:
    """Sorted indices (int64[K - f]) of the selected rows of `updates: float[K, ...]`."""
    _check_fraction(byzantine_fraction)
    updates = np.asarray(updates, np.float64)
    if updates.ndim < 1 or updates.shape[0] < 1:
        raise ValueError(f"updates must have shape [K>=1, ...]; got {updates.shape}")
    k = updates.shape[0]
    f = math.floor(byzantine_fraction * k)
    flat = updates.reshape(k, -1)
    distances = ((flat[:, None, :] - flat[None, :, :]) ** 2).sum(axis=-1)
    np.fill_diagonal(distances, np.inf)
    scores = np.sort(distances, axis=1)[:, :_neighbours(k, f)].sum(axis=1)
    return np.sort(np.argsort(scores, kind="stable")[:k - f]).astype(np.int64)


def _select_and_average(stacked: Any, weights: tf.Tensor, byzantine_fraction: float
                        ) -> tuple[Any, tf.Tensor]:
    """Weighted mean of the multi-Krum selection of `stacked` (structure of float[K, ...])."""
    k = tf.shape(weights)[0]
    f = tf.cast(tf.floor(byzantine_fraction * tf.cast(k, tf.float64)), tf.int32)
    flat = tf.concat([tf.reshape(tf.cast(x, tf.float64), [k, -1])
                      for x in tf.nest.flatten(stacked)], axis=1)
    sq = tf.reduce_sum(flat * flat, axis=1)
    distances = tf.maximum(sq[:, None] + sq[None, :] - 2.0 * tf.matmul(flat, flat,
                                                                        transpose_b=True), 0.0)
    distances = tf.linalg.set_diag(distances, tf.fill([k], tf.constant(np.inf, tf.float64)))
    neighbours = tf.minimum(tf.maximum(k - f - 2, 1), tf.maximum(k - 1, 0))
    scores = tf.reduce_sum(tf.sort(distances, axis=1)[:, :neighbours], axis=1)
    selected = tf.argsort(scores, stable=True)[:k - f]
    w = tf.gather(tf.cast(weights, tf.float64), selected)
    total = tf.reduce_sum(w)

    def average(x: tf.Tensor) -> tf.Tensor:
        rows = tf.cast(tf.gather(x, selected), tf.float64)
        w_shaped = tf.reshape(w, tf.concat([[-1], tf.ones([tf.rank(x) - 1], tf.int32)], 0))
        mean = tf.math.divide_no_nan(tf.reduce_sum(rows * w_shaped, axis=0), total)
        return tf.cast(mean, x.dtype)

    return tf.nest.map_structure(average, stacked), tf.size(selected)


class MultiKrumFactory:
    """A `tff.aggregators.WeightedAggregationFactory`: multi-Krum selection, weighted mean.

    `create(value_type, weight_type)` accepts float tensor types or a structure of them and a
    float weight; its process has empty state and measurements `num_updates` (K) and
    `num_selected` (K - f), both int32. Registered as a virtual subclass of TFF's
    `WeightedAggregationFactory` on construction (TFF is imported lazily).
    """

    def __init__(self, byzantine_fraction: float = 0.2) -> None:
        _check_fraction(byzantine_fraction)
        self.byzantine_fraction = float(byzantine_fraction)
        import_tff().aggregators.WeightedAggregationFactory.register(MultiKrumFactory)

    def __repr__(self) -> str:
        return f"MultiKrumFactory(byzantine_fraction={self.byzantine_fraction})"

    def create(self, value_type: Any, weight_type: Any) -> Any:
        """The `tff.templates.AggregationProcess` for these client value and weight types."""
        fraction = self.byzantine_fraction

        def report(stacked: Any) -> collections.OrderedDict:
            values, weights = stacked
            mean, num_selected = _select_and_average(values, weights, fraction)
            return collections.OrderedDict(value=mean, num_updates=tf.shape(weights)[0],
                                           num_selected=num_selected)

        return stacked_aggregation_process(value_type, report, weight_type=weight_type,
                                           measurement_names=("num_updates", "num_selected"))
