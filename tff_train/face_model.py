"""The face-expression CNN family: 48x48x1 grayscale in, class probabilities out.

Only Edge-TPU/int8-friendly layers: Conv2D (+ folded BatchNorm), ReLU, MaxPool, global average
pooling, Dense, Softmax. Input `float32[B,48,48,1]` scaled to [0, 1]; output `float32[B,C]`.
"""

from __future__ import annotations

import tensorflow as tf

INPUT_SHAPE = (48, 48, 1)


def build_face_cnn(
    *,
    width: int = 32,
    depth: int = 4,
    convs_per_block: int = 2,
    dense_units: int = 128,
    dropout: float = 0.3,
    num_classes: int = 7,
    input_pool: int = 1,
    seed: int = 0,
) -> tf.keras.Model:
    """A VGG-style CNN: `depth` blocks of `convs_per_block` 3x3 convs, channel width doubling.

    `input_pool > 1` first average-pools the face by that factor (FER2013 faces carry little
    detail above ~24x24, so this trades almost no accuracy for ~input_pool**2 less compute).
    Block i has `width * 2**i` channels and ends with 2x2 max pooling; then global average
    pooling, a Dense+ReLU layer of `dense_units`, dropout and a softmax over `num_classes`.
    """
    if width < 1:
        raise ValueError(f"width must be >= 1; got {width}")
    if not 1 <= depth <= 5:
        raise ValueError(f"depth must be in [1, 5] (48x48 input halves per block); got {depth}")
    if convs_per_block < 1:
        raise ValueError(f"convs_per_block must be >= 1; got {convs_per_block}")
    if dense_units < 0:
        raise ValueError(f"dense_units must be >= 0; got {dense_units}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1); got {dropout}")
    if input_pool not in (1, 2, 4):
        raise ValueError(f"input_pool must be 1, 2 or 4; got {input_pool}")
    if (INPUT_SHAPE[0] // input_pool) < 2**depth:
        raise ValueError(f"depth={depth} halves a {INPUT_SHAPE[0] // input_pool}px input to "
                         f"nothing: lower depth or input_pool")
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2; got {num_classes}")

    init = tf.keras.initializers.HeNormal(seed=seed)
    inputs = tf.keras.Input(shape=INPUT_SHAPE, name="face")
    x = inputs
    if input_pool > 1:
        x = tf.keras.layers.AveragePooling2D(input_pool, name="input_pool")(x)
    for block in range(depth):
        channels = width * 2**block
        for conv in range(convs_per_block):
            x = tf.keras.layers.Conv2D(
                channels, 3, padding="same", use_bias=False, kernel_initializer=init,
                name=f"block{block}_conv{conv}",
            )(x)
            x = tf.keras.layers.BatchNormalization(name=f"block{block}_bn{conv}")(x)
            x = tf.keras.layers.ReLU(name=f"block{block}_relu{conv}")(x)
        x = tf.keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    x = tf.keras.layers.GlobalAveragePooling2D(name="gap")(x)
    if dense_units:
        x = tf.keras.layers.Dense(dense_units, kernel_initializer=init, name="fc")(x)
        x = tf.keras.layers.ReLU(name="fc_relu")(x)
    if dropout:
        x = tf.keras.layers.Dropout(dropout, seed=seed, name="dropout")(x)
    logits = tf.keras.layers.Dense(
        num_classes, kernel_initializer=tf.keras.initializers.GlorotUniform(seed=seed + 1),
        name="logits")(x)
    probs = tf.keras.layers.Softmax(name="probs")(logits)
    return tf.keras.Model(inputs, probs, name=f"face_cnn_w{width}_d{depth}")
