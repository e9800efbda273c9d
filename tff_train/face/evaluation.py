"""Evaluating a face model: class probabilities `float32[N,C]` of uint8 faces and summaries."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tff_train.face.input_pipeline import to_model_input
from tff_train.learning.classification_metrics import summarize


def predict_faces(model: tf.keras.Model, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """`float32[N,C]` class probabilities for `images: uint8[N,48,48]` (inference mode)."""
    outputs = [model(to_model_input(images[i:i + batch_size]), training=False).numpy()
               for i in range(0, len(images), batch_size)]
    return np.concatenate(outputs) if outputs else np.zeros((0, model.output_shape[-1]),
                                                             np.float32)


def evaluate_faces(model: tf.keras.Model, images: np.ndarray, labels: np.ndarray,
                   class_names: Sequence[str]) -> dict:
    """accuracy / macro-F1 / per-class accuracy / confusion matrix of `model` on the faces."""
    probs = predict_faces(model, images)
    return summarize(labels, probs.argmax(axis=1), class_names)
