"""Personalised FedAvg evaluation: the batched global evaluation equals per-client evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from tff_train.face.evaluation import evaluate_faces
from tff_train.face.model import build_face_cnn
from tff_train.face.personalisation import personalise

CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def _builder():
    return build_face_cnn(width=4, depth=2, dense_units=8, dropout=0.0, seed=1)


def _clients(sizes):
    rng = np.random.default_rng(4)
    return [(rng.integers(0, 255, (n, 48, 48), dtype=np.uint8), rng.integers(0, 7, n))
            for n in sizes]


def test_zero_steps_reports_the_global_model_per_client():
    train, val = _clients((5, 4, 6)), _clients((7, 0, 3))
    model = _builder()
    weights = model.get_weights()
    got = personalise(_builder, weights, train, val, steps=0, learning_rate=0.01, batch_size=4,
                      seed=0, class_names=CLASSES)
    expected = [evaluate_faces(model, x, y, CLASSES)["accuracy"] for x, y in (val[0], val[2])]
    assert [c["global"] for c in got["per_client"]] == pytest.approx(expected)
    assert [c["val_examples"] for c in got["per_client"]] == [7, 3]  # the empty split is skipped
    assert got["personalised_mean_accuracy"] == got["global_mean_accuracy"] == pytest.approx(
        (7 * expected[0] + 3 * expected[1]) / 10)
    tuned = personalise(_builder, weights, train, val, steps=3, learning_rate=0.05,
                        batch_size=4, seed=0, class_names=CLASSES)
    assert [c["global"] for c in tuned["per_client"]] == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"clients_train and clients_val must have one entry "
                                         r"per client; got 3 and 2"):
        personalise(_builder, weights, train, val[:2], steps=0, learning_rate=0.01,
                    batch_size=4, seed=0, class_names=CLASSES)
