"""Centralised baseline: the same CNN trained with plain Keras on all clients' data pooled."""

from __future__ import annotations

import time
from collections.abc import Callable

import ml_collections
import numpy as np
import tensorflow as tf

from tff_train.face.data_loaders import FaceData
from tff_train.face.evaluation import evaluate_faces
from tff_train.face.input_pipeline import make_face_dataset
from tff_train.face.loss import face_loss_builder
from tff_train.learning.learning_rate_schedule import scheduled_learning_rate


def keras_optimizer(name: str, learning_rate: float, momentum: float
                    ) -> tf.keras.optimizers.Optimizer:
    """The Keras twin of `optimizers.build_tff_optimizer` (same name, same hyperparameters)."""
    if name == "sgd":
        return tf.keras.optimizers.SGD(learning_rate)
    if name == "sgdm":
        return tf.keras.optimizers.SGD(learning_rate, momentum=momentum)
    if name == "adam":
        return tf.keras.optimizers.Adam(learning_rate, beta_1=0.9, beta_2=0.99, epsilon=1e-3)
    raise ValueError(f"optimizer must be one of ['sgd', 'sgdm', 'adam']; got {name!r}")


def train_centralised(model_builder: Callable[[], tf.keras.Model],
                      eval_builder: Callable[[], tf.keras.Model], data: FaceData,
                      config: ml_collections.ConfigDict,
                      log: Callable[[str], None] = print) -> dict:
    """Same model, same total passes (rounds x local_epochs / rounds_per_epoch), client
    optimizer, loss and learning-rate schedule (the epochs standing for round r use round r's
    learning rate; with k rounds per epoch, epoch e uses round e*k's).

    Client prior correction is not applied: with one client holding the pooled data it is a
    reparametrisation of the `logits` bias, undone by adding the (same) global prior back.

    Trains `model_builder()` and evaluates its weights in `eval_builder()` (the float32 twin).
    Returns public/private test summaries and per-epoch PublicTest accuracy.
    """
    t = config.train
    epochs = t.rounds * t.local_epochs // t.rounds_per_epoch
    x, y = data.pooled_train()
    model = model_builder()
    optimizer = keras_optimizer(t.client_optimizer, t.client_learning_rate, t.client_momentum)
    model.compile(optimizer, face_loss_builder(t.label_smoothing)())
    evaluated = eval_builder()
    curve, seconds = [], []
    for epoch in range(epochs):
        optimizer.learning_rate.assign(scheduled_learning_rate(
            t.client_learning_rate, epoch * t.rounds_per_epoch // t.local_epochs, t.rounds,
            t.lr_schedule))
        ds = make_face_dataset(x, y, batch_size=t.batch_size, seed=config.seed + 7919 * epoch,
                               augment=t.augment)
        started = time.perf_counter()
        model.fit(ds, epochs=1, verbose=0)
        seconds.append(time.perf_counter() - started)
        if (epoch + 1) % t.eval_every == 0 or epoch + 1 == epochs:
            evaluated.set_weights(model.get_weights())
            acc = evaluate_faces(evaluated, *data.public_test, data.class_names)["accuracy"]
            curve.append({"epoch": epoch + 1, "public_test_accuracy": acc})
            log(f"centralised epoch {epoch + 1}/{epochs}: public_test={acc:.4f}")
    evaluated.set_weights(model.get_weights())
    return {
        "epochs": epochs,
        "public_test": evaluate_faces(evaluated, *data.public_test, data.class_names),
        "private_test": evaluate_faces(evaluated, *data.private_test, data.class_names),
        "curve": curve,
        "epoch_seconds_median": float(np.median(seconds)),
        "model": evaluated,
    }


def time_local_epochs_keras(model_builder: Callable[[], tf.keras.Model],
                            global_weights: list[np.ndarray], datasets: list[tf.data.Dataset],
                            config: ml_collections.ConfigDict) -> float:
    """Seconds plain Keras needs for one round's local work: each client's datasets in turn,
    starting from the global weights, with the client optimizer (no TFF)."""
    t = config.train
    model = model_builder()
    started = time.perf_counter()
    for ds in datasets:
        model.set_weights(global_weights)
        model.compile(keras_optimizer(t.client_optimizer, t.client_learning_rate,
                                      t.client_momentum),
                      face_loss_builder(t.label_smoothing, t.prior_correction)())
        model.fit(ds, epochs=1, verbose=0)
    return time.perf_counter() - started
