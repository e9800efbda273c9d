"""The face classifier's loss: sparse categorical cross-entropy with optional label smoothing."""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf


class SmoothedSparseCategoricalCrossentropy(tf.keras.losses.SparseCategoricalCrossentropy):
    """Cross-entropy of `y_pred: float32[B,C]` probabilities against `y_true: int[B]` labels
    smoothed to `(1 - label_smoothing) * one_hot + label_smoothing / C`."""

    def __init__(self, label_smoothing: float, name: str = "smoothed_sparse_crossentropy",
                 **kwargs: object) -> None:
        if not 0.0 < label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in (0, 1); got {label_smoothing}")
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        labels = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
        one_hot = tf.one_hot(labels, tf.shape(y_pred)[-1], dtype=y_pred.dtype)
        return tf.keras.losses.categorical_crossentropy(
            one_hot, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self) -> dict:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def face_loss_builder(label_smoothing: float = 0.0
                      ) -> Callable[[], tf.keras.losses.SparseCategoricalCrossentropy]:
    """A builder of the face loss: plain sparse cross-entropy at 0, else the smoothed one."""
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1); got {label_smoothing}")
    if label_smoothing == 0.0:
        return tf.keras.losses.SparseCategoricalCrossentropy
    return lambda: SmoothedSparseCategoricalCrossentropy(label_smoothing)
