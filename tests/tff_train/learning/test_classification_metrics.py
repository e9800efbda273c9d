from __future__ import annotations

import numpy as np
import pytest

from tff_train.learning.classification_metrics import confusion_matrix, summarize


def test_hand_computed_summary():
    labels = np.array([0, 0, 1, 1, 2, 2])
    preds = np.array([0, 1, 1, 1, 0, 2])
    out = summarize(labels, preds, ["a", "b", "c"])
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert out["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert out["per_class_accuracy"] == {"a": 0.5, "b": 1.0, "c": 0.5}
    # F1: a: p=1/2 r=1/2 -> .5; b: p=2/3 r=1 -> .8; c: p=1 r=1/2 -> 2/3.
    assert out["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)


def test_absent_classes_do_not_enter_macro_f1():
    out = summarize(np.array([0, 0]), np.array([0, 0]), ["a", "b"])
    assert out["macro_f1"] == 1.0


def test_bad_inputs():
    with pytest.raises(ValueError, match="same length"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 2)
    with pytest.raises(ValueError, match=r"predictions must lie in \[0, 2\); got range \[0, 5\]"):
        confusion_matrix(np.array([0, 1]), np.array([0, 5]), 2)
    with pytest.raises(ValueError, match="labels is empty"):
        summarize(np.array([], int), np.array([], int), ["a"])
