"""Tree-ensemble inference as TensorFlow ops: shared by TFF computations and the TFLite converter.

Every op used converts to a TFLite builtin (GATHER, GREATER_EQUAL, logical ops, MEAN, ...).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf


def forest_outputs_tf(
    x: tf.Tensor,
    arrays: Mapping[str, tf.Tensor | np.ndarray],
    kind: str,
    num_classes: int,
    depth: int,
    probabilities: bool = True,
) -> tf.Tensor:
    """Evaluates a tensor-form ensemble in TF ops (builtin-convertible).

    x: float32[B,F]; arrays: `TreeEnsemble.to_arrays()` (numpy or tensors, [T,M,...]);
    depth: traversal steps (>= every tree's depth). Returns float32[B,C] probabilities, or with
    `probabilities=False` the 'rf' mean distribution [B,C] / 'gbt' raw scores [B,K].
    """
    if kind not in ("rf", "gbt"):
        raise ValueError(f"kind must be 'rf' or 'gbt'; got {kind!r}")
    feature = tf.convert_to_tensor(arrays["feature"], tf.int32)
    num_trees, num_nodes = tf.shape(feature)[0], tf.shape(feature)[1]
    leaf = feature < 0
    node = tf.range(num_nodes, dtype=tf.int32)[tf.newaxis, :]
    tree_offset = tf.range(num_trees, dtype=tf.int32)[:, tf.newaxis] * num_nodes
    # Flattened node tables; leaves are self-loops so extra steps keep rows on their leaf.
    left = tf.where(leaf, node, tf.convert_to_tensor(arrays["left"], tf.int32)) + tree_offset
    right = tf.where(leaf, node, tf.convert_to_tensor(arrays["right"], tf.int32)) + tree_offset
    children = tf.reshape(tf.stack([left, right], axis=-1), [-1])  # [T*M*2]: left, right
    split_feature = tf.reshape(tf.where(leaf, 0, feature), [-1])
    threshold = tf.reshape(tf.convert_to_tensor(arrays["threshold"], tf.float32), [-1])
    nan_right = tf.reshape(tf.convert_to_tensor(arrays["missing_go_right"], tf.bool), [-1])

    x = tf.convert_to_tensor(x, tf.float32)
    batch, width = tf.shape(x)[0], tf.shape(x)[1]
    x_flat = tf.reshape(x, [-1])
    row_offset = tf.range(batch, dtype=tf.int32)[:, tf.newaxis] * width
    idx = tf.tile(tf.transpose(tree_offset), [batch, 1])  # [B,T] global node ids (roots)
    for _ in range(depth):
        value = tf.gather(x_flat, tf.gather(split_feature, idx) + row_offset)
        is_nan = tf.math.is_nan(value)
        go_right = tf.logical_or(
            tf.logical_and(tf.logical_not(is_nan), value >= tf.gather(threshold, idx)),
            tf.logical_and(is_nan, tf.gather(nan_right, idx)),
        )
        idx = tf.gather(children, idx * 2 + tf.cast(go_right, tf.int32))

    leaf_value = tf.convert_to_tensor(arrays["leaf_value"], tf.float32)
    leaf_value = tf.reshape(leaf_value, [-1, tf.shape(leaf_value)[-1]])  # [T*M,V]
    values = tf.gather(leaf_value, idx)  # [B,T,V]
    if kind == "rf":
        return tf.reduce_mean(values, axis=1)
    num_outputs = 1 if num_classes == 2 else num_classes
    route = tf.one_hot(tf.convert_to_tensor(arrays["output_class"], tf.int32), num_outputs)
    logits = tf.matmul(values[:, :, 0], route) + tf.convert_to_tensor(arrays["bias"], tf.float32)
    if not probabilities:
        return logits
    if num_outputs == 1:
        p = tf.sigmoid(logits)
        return tf.concat([1.0 - p, p], axis=1)
    return tf.nn.softmax(logits, axis=1)
