"""A 1-weight linear regression whose FedAvg rounds can be computed by hand (shared test fixture).

MSE gradient at w=0 with x=1, y=c is -2c, so one SGD step with learning rate 0.25 moves a client
from w=0 to w=0.5c: client deltas are 0.5 * target.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

TOY_SPEC = (tf.TensorSpec([None, 1], tf.float32), tf.TensorSpec([None, 1], tf.float32))


def toy_client(n: int, target: float) -> tf.data.Dataset:
    """`n` examples x=1, y=target in one batch (one local SGD step per epoch)."""
    x = np.ones((n, 1), np.float32)
    y = np.full((n, 1), target, np.float32)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(n)


def toy_model() -> tf.keras.Model:
    """Dense(1) without bias, weight initialised to 0."""
    dense = tf.keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")
    return tf.keras.Sequential([tf.keras.Input((1,)), dense])
