"""Personalised FedAvg: fine-tuning the global face model on each client's own train split."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from tff_train.face.evaluation import evaluate_faces, predict_faces
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
    if len(clients_train) != len(clients_val):
        raise ValueError(f"clients_train and clients_val must have one entry per client; got "
                         f"{len(clients_train)} and {len(clients_val)}")
    model = model_builder()
    model.set_weights(global_weights)
    with_val = [k for k, (x_val, _) in enumerate(clients_val) if len(x_val)]
    # The global model's accuracy on every client's validation split, in batched passes.
    correct = (predict_faces(model, np.concatenate([clients_val[k][0] for k in with_val]))
               .argmax(1) == np.concatenate([clients_val[k][1] for k in with_val])) \
        if with_val else np.zeros(0, bool)
    bounds = np.cumsum([0] + [len(clients_val[k][0]) for k in with_val])
    global_by_client = {k: float(correct[lo:hi].mean())
                        for k, lo, hi in zip(with_val, bounds[:-1], bounds[1:], strict=True)}
    global_acc, personal_acc, sizes = [], [], []
    for k in with_val:
        (x_tr, y_tr), (x_val, y_val) = clients_train[k], clients_val[k]
        global_acc.append(global_by_client[k])
        sizes.append(len(x_val))
        if not steps:
            personal_acc.append(global_by_client[k])
            continue
        model.set_weights(global_weights)
        model.compile(tf.keras.optimizers.SGD(learning_rate, momentum=0.9),
                      tf.keras.losses.SparseCategoricalCrossentropy())
        epochs = max(1, int(np.ceil(steps * batch_size / max(len(x_tr), 1))))
        ds = make_face_dataset(x_tr, y_tr, batch_size=batch_size, epochs=epochs,
                               augment=True, seed=seed + k).take(steps)
        model.fit(ds, epochs=1, verbose=0)
        personal_acc.append(evaluate_faces(model, x_val, y_val, class_names)["accuracy"])
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
