"""Personalised FedAvg: fine-tuning the global face model on each client's own train split."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from tff_train.face.evaluation import evaluate_faces
from tff_train.face.input_pipeline import make_face_dataset


def personalise(model_builder: Callable[[], tf.keras.Model], global_weights: list[np.ndarray],
                clients_train: Sequence[tuple[np.ndarray, np.ndarray]],
                clients_val: Sequence[tuple[np.ndarray, np.ndarray]], *, steps: int,
                learning_rate: float, batch_size: int, seed: int,
                class_names: Sequence[str]) -> dict:
    """Fine-tunes the global model on each client's train split for `steps` SGD steps.

    Returns global vs personalised accuracy on every client's local validation split, with the
    mean (weighted by validation size) and the worst client.
    """
    if steps < 0:
        raise ValueError(f"personalization.steps must be >= 0; got {steps}")
    model = model_builder()
    global_acc, personal_acc, sizes = [], [], []
    for k, ((x_tr, y_tr), (x_val, y_val)) in enumerate(zip(clients_train, clients_val,
                                                           strict=True)):
        if len(x_val) == 0:
            continue
        model.set_weights(global_weights)
        global_acc.append(evaluate_faces(model, x_val, y_val, class_names)["accuracy"])
        if steps:
            model.compile(tf.keras.optimizers.SGD(learning_rate, momentum=0.9),
                          tf.keras.losses.SparseCategoricalCrossentropy())
            epochs = max(1, int(np.ceil(steps * batch_size / max(len(x_tr), 1))))
            ds = make_face_dataset(x_tr, y_tr, batch_size=batch_size, epochs=epochs,
                                   augment=True, seed=seed + k).take(steps)
            model.fit(ds, epochs=1, verbose=0)
        personal_acc.append(evaluate_faces(model, x_val, y_val, class_names)["accuracy"])
        sizes.append(len(x_val))
    if not sizes:
        raise ValueError("no client has a validation split: set partition.val_fraction > 0")
    w = np.asarray(sizes, np.float64) / np.sum(sizes)
    return {
        "global_mean_accuracy": float(np.dot(w, global_acc)),
        "global_worst_accuracy": float(np.min(global_acc)),
        "personalised_mean_accuracy": float(np.dot(w, personal_acc)),
        "personalised_worst_accuracy": float(np.min(personal_acc)),
        "per_client": [{"global": g, "personalised": p, "val_examples": n}
                       for g, p, n in zip(global_acc, personal_acc, sizes, strict=True)],
    }
