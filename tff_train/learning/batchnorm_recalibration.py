"""Federated recalibration of BatchNorm moving statistics.

TFF's FedAvg aggregates trainable weights only: BatchNorm moving mean/variance (non-trainable)
stay at their initial values (0 / 1) on the server, which breaks inference. After training, each
client runs the global model over a sample of its local data and reports, per BatchNorm layer,
the per-channel mean and mean of squares of that layer's input; a TFF computation averages them
weighted by example counts (`tff.federated_mean`), and the server sets
`moving_mean = E[x]`, `moving_variance = E[x^2] - E[x]^2`. Layers are calibrated in order, each
with the earlier layers already calibrated, so the statistics are the ones seen at inference.
Only per-channel aggregates leave a client, never images.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from tff_train.runtime.tff_runtime import import_tff


@functools.cache
def _weighted_mean_computation(channels: int):  # noqa: ANN202 (a tff.Computation)
    """TFF computation: weighted federated mean of `float32[2, channels]` client statistics."""
    tff = import_tff()

    @tff.federated_computation(
        tff.FederatedType(tff.TensorType(np.float32, [2, channels]), tff.CLIENTS),
        tff.FederatedType(np.float32, tff.CLIENTS),
    )
    def weighted_mean(stats, weights):  # noqa: ANN001, ANN202
        return tff.federated_mean(stats, weights)

    return weighted_mean


def _client_moments(submodel: tf.keras.Model, images: np.ndarray, bounds: np.ndarray,
                    batch_size: int) -> list[np.ndarray]:
    """Each client's `float32[2, C]`: per-channel E[x] and E[x^2] of `submodel`'s output over
    its images, client k being `images[bounds[k]:bounds[k+1]]`. Every client's sample runs
    through the same batched forward passes (what each car computes on its own is the same
    per-example sums; batching only saves calls here)."""
    per_example = []
    for start in range(0, len(images), batch_size):
        out = submodel(images[start:start + batch_size], training=False)
        axes = list(range(1, len(out.shape) - 1))
        per_example.append(tf.stack([tf.reduce_sum(out, axes),
                                     tf.reduce_sum(tf.square(out), axes)], 1).numpy())
        pixels = int(np.prod(out.shape[1:-1]))
    sums = np.concatenate(per_example).astype(np.float64)  # [N, 2, C]
    return [(sums[lo:hi].sum(0) / ((hi - lo) * pixels)).astype(np.float32)
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]


def recalibrate_batchnorm(model: tf.keras.Model, client_images: list[np.ndarray],
                          batch_size: int = 256) -> int:
    """Sets every BatchNorm layer's moving statistics from federated client moments.

    `client_images: list of float32[n_k,48,48,1]` — each client's local sample (model input).
    Returns the number of BatchNorm layers calibrated. Mutates `model`.
    """
    if not client_images:
        raise ValueError("client_images is empty: need at least one client sample")
    for k, images in enumerate(client_images):
        if len(images) == 0:
            raise ValueError(f"client_images[{k}] is empty")
    bn_layers = [layer for layer in model.layers
                 if isinstance(layer, tf.keras.layers.BatchNormalization)]
    weights = [np.float32(len(images)) for images in client_images]
    images = np.concatenate(client_images)  # once: every layer's passes read the same samples
    bounds = np.cumsum([0] + [len(x) for x in client_images])
    for layer in bn_layers:
        submodel = tf.keras.Model(model.inputs, layer.input)
        stats = _client_moments(submodel, images, bounds, batch_size)
        mean_and_sq = np.asarray(
            _weighted_mean_computation(int(stats[0].shape[1]))(stats, weights))
        mean = mean_and_sq[0]
        var = np.maximum(mean_and_sq[1] - mean**2, 0.0)
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(var)
    return len(bn_layers)
