"""The face loss: plain sparse cross-entropy, label smoothing and the client label-prior
correction, each computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tff_train.face.loss import (
    LabelColumnAccuracy,
    PriorCorrectedCrossentropy,
    SmoothedSparseCategoricalCrossentropy,
    face_loss_builder,
    face_metrics_builder,
    log_label_prior,
)


def test_zero_smoothing_is_keras_sparse_crossentropy():
    assert face_loss_builder(0.0) is tf.keras.losses.SparseCategoricalCrossentropy


def test_smoothed_loss_matches_the_formula():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    labels = np.array([0, 1])
    eps = 0.3
    targets = (1 - eps) * np.eye(3)[labels] + eps / 3
    expected = -(targets * np.log(probs)).sum(axis=1).mean()
    loss = face_loss_builder(eps)()
    assert isinstance(loss, tf.keras.losses.SparseCategoricalCrossentropy)  # accuracy metric
    np.testing.assert_allclose(float(loss(labels, probs)), expected, rtol=1e-5)
    plain = float(tf.keras.losses.SparseCategoricalCrossentropy()(labels, probs))
    assert abs(float(loss(labels, probs)) - plain) > 0.05


@pytest.mark.parametrize("value", [-0.1, 1.0])
def test_bad_smoothing_is_refused(value):
    with pytest.raises(ValueError, match=rf"label_smoothing must be in \[0, 1\); got {value}"):
        face_loss_builder(value)
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        SmoothedSparseCategoricalCrossentropy(value)


def _targets(labels: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
    return np.concatenate([labels[:, None].astype(np.float32),
                           np.tile(log_prior, (len(labels), 1))], axis=1)


def test_prior_corrected_loss_is_crossentropy_of_prior_weighted_probabilities():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    labels = np.array([0, 1])
    prior = np.array([0.6, 0.3, 0.1], np.float32)
    adjusted = probs * prior / (probs * prior).sum(axis=1, keepdims=True)
    expected = -np.log(adjusted[np.arange(2), labels]).mean()
    loss = face_loss_builder(0.0, prior_correction=True)()
    assert isinstance(loss, PriorCorrectedCrossentropy)
    np.testing.assert_allclose(float(loss(_targets(labels, np.log(prior)), probs)), expected,
                               rtol=1e-5)


def test_prior_corrected_loss_with_a_uniform_prior_is_plain_crossentropy():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    labels = np.array([2, 1])
    uniform = np.log(np.full(3, 1 / 3, np.float32))
    plain = float(tf.keras.losses.SparseCategoricalCrossentropy()(labels, probs))
    np.testing.assert_allclose(float(PriorCorrectedCrossentropy()(_targets(labels, uniform),
                                                                  probs)), plain, rtol=1e-5)


def test_label_column_accuracy_reads_the_label_column():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.1, 0.8, 0.1]], np.float32)
    labels = np.array([0, 1, 1])
    metric = LabelColumnAccuracy()
    metric.update_state(_targets(labels, np.log(np.full(3, 1 / 3))), probs)
    assert metric.name == "sparse_categorical_accuracy"  # the trainer reads this name
    assert float(metric.result()) == pytest.approx(2 / 3)


@pytest.mark.parametrize("prior_correction", [False, True])
def test_the_training_metric_matches_the_targets(prior_correction):
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.1, 0.8, 0.1]], np.float32)
    labels = np.array([0, 1, 1])
    (metric,) = face_metrics_builder(prior_correction)()
    assert isinstance(metric, LabelColumnAccuracy) == prior_correction
    assert metric.name == "sparse_categorical_accuracy"
    targets = _targets(labels, np.log(np.full(3, 1 / 3))) if prior_correction else labels
    metric.update_state(targets, probs)
    assert float(metric.result()) == pytest.approx(2 / 3)


def test_log_label_prior_is_add_one_smoothed():
    np.testing.assert_allclose(log_label_prior(np.array([0, 0, 1]), 3),
                               np.log(np.array([3, 2, 1]) / 6), rtol=1e-6)
    with pytest.raises(ValueError, match=r"labels must be int\[N\] in \[0, 3\); got shape \[3\]"):
        log_label_prior(np.array([0, 3, 1]), 3)
