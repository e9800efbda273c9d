"""Classification metrics in numpy: accuracy, per-class accuracy, macro-F1, confusion matrix."""

from __future__ import annotations

import numpy as np


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """`int64[C,C]` counts; row = true class, column = predicted class."""
    labels = np.asarray(labels).astype(np.int64).ravel()
    predictions = np.asarray(predictions).astype(np.int64).ravel()
    if labels.shape != predictions.shape:
        raise ValueError(f"labels and predictions must have the same length; got {labels.shape} "
                         f"and {predictions.shape}")
    for name, arr in (("labels", labels), ("predictions", predictions)):
        if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
            raise ValueError(f"{name} must lie in [0, {num_classes}); got range "
                             f"[{arr.min()}, {arr.max()}]")
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def summarize(labels: np.ndarray, predictions: np.ndarray, class_names: list[str] | tuple[str, ...]
              ) -> dict:
    """accuracy, macro_f1, per-class accuracy (recall) and the confusion matrix as lists."""
    num_classes = len(class_names)
    matrix = confusion_matrix(labels, predictions, num_classes)
    total = matrix.sum()
    if total == 0:
        raise ValueError("labels is empty: nothing to evaluate")
    tp = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    present = support > 0
    return {
        "accuracy": float(tp.sum() / total),
        "macro_f1": float(f1[present].mean()),
        "per_class_accuracy": {c: float(r) for c, r in zip(class_names, recall, strict=True)},
        "confusion_matrix": matrix.tolist(),
        "num_examples": int(total),
    }
