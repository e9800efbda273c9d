"""The face loss: plain sparse cross-entropy, and label smoothing computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tff_train.face_loss import SmoothedSparseCategoricalCrossentropy, face_loss_builder


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
