"""Byzantine-robust aggregation of model deltas: coordinate-wise median and trimmed mean in TFF.

`RobustMeanFactory` is a `tff.aggregators.UnweightedAggregationFactory`. Its process stacks the
client deltas on the server (`tff_train.aggregators.stacked`: one row per client, `float[K, ...]`
for every tensor of the delta), then combines them coordinate-wise in a TF computation:

- "median": the median of the K values of every coordinate (mean of the two middle ones, K even);
- "trimmed_mean": sort each coordinate, drop floor(trim_fraction * K) values at each end, average
  the rest (Yin et al. 2018, "Byzantine-Robust Distributed Learning").

Memory: unlike a sum, the server must hold every delta: the accumulator is K * P float32 values
(4 * K * P bytes for P model parameters) and sorting makes one more copy, so peak memory is about
8 * K * P bytes (e.g. 10 clients x 1M parameters = 80 MB). Robust combiners need the individual
updates, so they cannot be combined with secure aggregation. Weights are ignored (pair with
`build_fed_avg(..., weighted=False)`); combine with `tff.aggregators.clipping_factory` to
bound each delta's L2 norm first (see `tff_train.aggregators.options`).

The numpy functions `coordinate_median` / `trimmed_mean` are the reference semantics.
"""

from __future__ import annotations

import collections
import math
from typing import Any

import numpy as np
import tensorflow as tf

from tff_train.aggregators.stacked import stacked_aggregation_process
from tff_train.runtime.tff_runtime import import_tff

COMBINERS = ("median", "trimmed_mean")


def _check_trim_fraction(trim_fraction: float) -> None:
    if not 0 <= trim_fraction < 0.5:
        raise ValueError(f"trim_fraction must be in [0, 0.5); got {trim_fraction}")


def coordinate_median(updates: np.ndarray) -> np.ndarray:
    """Coordinate-wise median of `updates: float[K, ...]` (K >= 1 updates) -> `float[...]`."""
    updates = np.asarray(updates)
    if updates.ndim < 1 or updates.shape[0] < 1:
        raise ValueError(f"updates must have shape [K>=1, ...]; got {updates.shape}")
    return np.median(updates, axis=0)


def trimmed_mean(updates: np.ndarray, trim_fraction: float) -> np.ndarray:
    """Coordinate-wise mean of `updates: float[K, ...]` without the floor(trim_fraction*K) lowest
    and highest values of each coordinate -> `float[...]`."""
    _check_trim_fraction(trim_fraction)
    updates = np.asarray(updates)
    if updates.ndim < 1 or updates.shape[0] < 1:
        raise ValueError(f"updates must have shape [K>=1, ...]; got {updates.shape}")
    k = updates.shape[0]
    cut = math.floor(trim_fraction * k)
    return np.sort(updates, axis=0)[cut:k - cut].mean(axis=0)


def _combine(stacked: tf.Tensor, combiner: str, trim_fraction: float) -> tf.Tensor:
    """Combines `stacked: float[K, ...]` over axis 0 (zeros when K == 0)."""
    k = tf.shape(stacked)[0]
    if combiner == "median":
        low, high = (k - 1) // 2, k // 2 + 1
    else:
        low = tf.cast(tf.floor(trim_fraction * tf.cast(k, tf.float64)), tf.int32)
        high = k - low
    kept = tf.sort(stacked, axis=0)[low:high]
    combined = tf.reduce_mean(kept, axis=0)
    return tf.where(k > 0, combined, tf.zeros_like(combined))


class RobustMeanFactory:
    """A `tff.aggregators.UnweightedAggregationFactory` for a robust per-coordinate mean.

    `create(value_type)` accepts a float tensor type or a structure of float tensor types (a model
    delta) and returns a `tff.templates.AggregationProcess` with empty state whose measurements
    are `num_updates` (K, int32). The class is registered as a virtual subclass of TFF's
    `UnweightedAggregationFactory` on construction, so this module imports TFF lazily.
    """

    def __init__(self, combiner: str = "median", trim_fraction: float = 0.1) -> None:
        if combiner not in COMBINERS:
            raise ValueError(f"combiner must be one of {list(COMBINERS)}; got {combiner!r}")
        _check_trim_fraction(trim_fraction)
        self.combiner = combiner
        self.trim_fraction = float(trim_fraction)
        import_tff().aggregators.UnweightedAggregationFactory.register(RobustMeanFactory)

    def __repr__(self) -> str:
        return f"RobustMeanFactory(combiner={self.combiner!r}, trim_fraction={self.trim_fraction})"

    def create(self, value_type: Any) -> Any:
        """The `tff.templates.AggregationProcess` for client values of type `value_type`."""
        combiner, trim_fraction = self.combiner, self.trim_fraction

        def report(stacked: Any) -> collections.OrderedDict:
            num_updates = tf.shape(tf.nest.flatten(stacked)[0])[0]
            combined = tf.nest.map_structure(
                lambda x: _combine(x, combiner, trim_fraction), stacked)
            return collections.OrderedDict(value=combined, num_updates=num_updates)

        return stacked_aggregation_process(value_type, report, measurement_names=("num_updates",))
