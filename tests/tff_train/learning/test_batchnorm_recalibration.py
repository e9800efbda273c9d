from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tff_train.learning.batchnorm_recalibration import recalibrate_batchnorm


def _model() -> tf.keras.Model:
    inputs = tf.keras.Input((48, 48, 1))
    x = tf.keras.layers.Conv2D(3, 3, use_bias=False)(inputs)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.ReLU()(x)
    x = tf.keras.layers.Conv2D(2, 3, use_bias=False)(x)
    x = tf.keras.layers.BatchNormalization()(x)
    return tf.keras.Model(inputs, x)


def test_statistics_equal_pooled_moments_of_every_client():
    rng = np.random.default_rng(0)
    clients = [rng.random((n, 48, 48, 1), dtype=np.float32) * s for n, s in ((5, 1.0), (15, 3.0))]
    model = _model()
    assert recalibrate_batchnorm(model, clients, batch_size=4) == 2
    pooled = np.concatenate(clients)
    bn1, bn2 = (layer for layer in model.layers
                if isinstance(layer, tf.keras.layers.BatchNormalization))
    first = tf.keras.Model(model.inputs, bn1.input)(pooled).numpy().reshape(-1, 3)
    np.testing.assert_allclose(bn1.moving_mean.numpy(), first.mean(0), rtol=1e-4)
    np.testing.assert_allclose(bn1.moving_variance.numpy(), first.var(0), rtol=1e-3)
    # The second layer sees the first one already calibrated (inference-mode statistics).
    second = tf.keras.Model(model.inputs, bn2.input)(pooled, training=False).numpy().reshape(-1, 2)
    np.testing.assert_allclose(bn2.moving_mean.numpy(), second.mean(0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bn2.moving_variance.numpy(), second.var(0), rtol=1e-3)


def test_bad_inputs():
    with pytest.raises(ValueError, match="client_images is empty"):
        recalibrate_batchnorm(_model(), [])
    with pytest.raises(ValueError, match=r"client_images\[1\] is empty"):
        recalibrate_batchnorm(_model(), [np.zeros((1, 48, 48, 1), np.float32),
                                         np.zeros((0, 48, 48, 1), np.float32)])
