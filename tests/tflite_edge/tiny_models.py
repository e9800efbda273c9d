"""A tiny Keras image model (6x6x1 -> 4 classes) and its TFLite conversion, for edge tests."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def tiny_keras_model() -> tf.keras.Model:
    """Conv 3x3 (3 channels) -> flatten -> softmax over 4 classes; fixed initial weights."""
    inputs = tf.keras.Input((6, 6, 1))
    x = tf.keras.layers.Conv2D(3, 3, kernel_initializer=tf.keras.initializers.HeNormal(0))(inputs)
    x = tf.keras.layers.Flatten()(x)
    outputs = tf.keras.layers.Dense(
        4, activation="softmax", kernel_initializer=tf.keras.initializers.HeNormal(1))(x)
    return tf.keras.Model(inputs, outputs)


def to_tflite(model: tf.keras.Model, *, int8: bool, batch: int | None = 1) -> bytes:
    """`model` as a float32 or full-int8 (int8 I/O) TFLite flatbuffer for `float32[batch,6,6,1]`."""
    spec = tf.TensorSpec((batch, 6, 6, 1), tf.float32)
    fn = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()],
                                                                model)
    if int8:
        rng = np.random.default_rng(0)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (
            [rng.random((1, 6, 6, 1), dtype=np.float32)] for _ in range(30))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return bytes(converter.convert())
