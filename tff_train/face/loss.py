"""The face classifier's loss: sparse cross-entropy, optional label smoothing, optional client
label-prior correction.

Prior correction (balanced softmax, as in FedLC-style logit calibration for label-skewed
federated clients): each client trains `softmax(log p + log prior_k)` against its labels, where
`prior_k` is its own label distribution, so the shared model learns scores free of any client's
label prior; the server adds the global prior back once (`logits` bias) before evaluation and
export. Labels then travel with the prior: `y_true: float32[B,1+C]` = (label, log prior).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
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


class PriorCorrectedCrossentropy(tf.keras.losses.SparseCategoricalCrossentropy):
    """Cross-entropy of `y_pred: float32[B,C]` probabilities re-weighted by the client's label
    prior, against `y_true: float32[B,1+C]` = (label, log prior); optional label smoothing."""

    def __init__(self, label_smoothing: float = 0.0,
                 name: str = "prior_corrected_crossentropy", **kwargs: object) -> None:
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1); got {label_smoothing}")
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        y_true = tf.cast(y_true, tf.float32)
        labels = tf.cast(y_true[:, 0], tf.int32)
        logits = tf.math.log(tf.maximum(tf.cast(y_pred, tf.float32), 1e-7)) + y_true[:, 1:]
        one_hot = tf.one_hot(labels, tf.shape(logits)[-1], dtype=tf.float32)
        return tf.keras.losses.categorical_crossentropy(
            one_hot, logits, from_logits=True, label_smoothing=self.label_smoothing)

    def get_config(self) -> dict:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


class LabelColumnAccuracy(tf.keras.metrics.SparseCategoricalAccuracy):
    """Sparse accuracy on the label column of `y_true: float32[B,1+C]` (prior-corrected data)."""

    def __init__(self, name: str = "sparse_categorical_accuracy", **kwargs: object) -> None:
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true: tf.Tensor, y_pred: tf.Tensor,
                     sample_weight: tf.Tensor | None = None) -> None:
        super().update_state(y_true[:, :1], y_pred, sample_weight)


def log_label_prior(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """`float32[C]` log of the add-one smoothed label distribution of `labels: int[N]`."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and (labels.min() < 0 or labels.max() >= num_classes)):
        raise ValueError(f"labels must be int[N] in [0, {num_classes}); got shape "
                         f"{list(labels.shape)}")
    counts = np.bincount(labels.astype(np.int64), minlength=num_classes) + 1.0
    return np.log(counts / counts.sum()).astype(np.float32)


def face_loss_builder(label_smoothing: float = 0.0, prior_correction: bool = False
                      ) -> Callable[[], tf.keras.losses.SparseCategoricalCrossentropy]:
    """A builder of the face loss: plain sparse cross-entropy at 0, else the smoothed one;
    `prior_correction` the balanced-softmax loss on (label, log prior) targets."""
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1); got {label_smoothing}")
    if prior_correction:
        return lambda: PriorCorrectedCrossentropy(label_smoothing)
    if label_smoothing == 0.0:
        return tf.keras.losses.SparseCategoricalCrossentropy
    return lambda: SmoothedSparseCategoricalCrossentropy(label_smoothing)


def face_metrics_builder(prior_correction: bool = False
                         ) -> Callable[[], list[tf.keras.metrics.Metric]]:
    """A builder of the face training metric: sparse categorical accuracy, on the label column
    of the (label, log prior) targets `float32[B,1+C]` when `prior_correction`."""
    if prior_correction:
        return lambda: [LabelColumnAccuracy()]
    return lambda: [tf.keras.metrics.SparseCategoricalAccuracy()]
