"""The face CNN's tf.data input pipeline: its input spec, deterministic FER augmentation, client
datasets and each FedAvg round's per-client inputs (`round_datasets`).

Images travel as `uint8[N,48,48]`; batches come out as `(float32[B,48,48,1] in [0,1], int32[B])`.
Shuffling and every random augmentation are derived from an explicit integer seed (stateless ops),
so the same (seed, round, client) always yields the same batches — resume after a crash is exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tff_train.face.loss import log_label_prior
from tff_train.learning.client_sampling import round_seed

IMAGE_SIZE = 48
FACE_INPUT_SPEC = (
    tf.TensorSpec([None, 48, 48, 1], tf.float32),
    tf.TensorSpec([None], tf.int32),
)


def face_input_spec(prior_correction: bool, num_classes: int = 7) -> tuple:
    """The batches' spec: `FACE_INPUT_SPEC`, or (label, log prior) targets `float32[B,1+C]`."""
    if not prior_correction:
        return FACE_INPUT_SPEC
    return (FACE_INPUT_SPEC[0], tf.TensorSpec([None, 1 + num_classes], tf.float32))


def _rotation_matrix(angle: tf.Tensor, shift: tf.Tensor) -> tf.Tensor:
    """Projective transform (8 floats) rotating by `angle` about the centre, then shifting."""
    c, s = tf.cos(angle), tf.sin(angle)
    centre = (IMAGE_SIZE - 1) / 2.0
    # Output pixel (x, y) samples input at A @ (x, y) + b (inverse mapping).
    a0, a1 = c, -s
    b0, b1 = s, c
    tx = centre - a0 * centre - a1 * centre - shift[0]
    ty = centre - b0 * centre - b1 * centre - shift[1]
    zero = tf.zeros_like(c)
    return tf.stack([a0, a1, tx, b0, b1, ty, zero, zero])


def augment_face(
    image: tf.Tensor,
    seed: tf.Tensor,
    *,
    max_rotation_deg: float = 10.0,
    max_shift_px: float = 4.0,
    max_brightness: float = 0.15,
    max_contrast: float = 0.2,
) -> tf.Tensor:
    """One random flip / rotation / shift / brightness / contrast of `float32[48,48,1]`.

    `seed: int32[2]` drives every draw (stateless); the output stays in [0, 1].
    """
    seeds = tf.random.experimental.stateless_split(seed, num=5)
    image = tf.image.stateless_random_flip_left_right(image, seeds[0])
    max_angle = max_rotation_deg * math.pi / 180
    angle = tf.random.stateless_uniform([], seeds[1], -max_angle, max_angle)
    shift = tf.random.stateless_uniform([2], seeds[2], -max_shift_px, max_shift_px)
    transform = _rotation_matrix(angle, shift)
    image = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[tf.newaxis], transforms=transform[tf.newaxis],
        output_shape=tf.constant([IMAGE_SIZE, IMAGE_SIZE]), fill_value=0.0,
        interpolation="BILINEAR", fill_mode="REFLECT",
    )[0]
    image = tf.image.stateless_random_brightness(image, max_brightness, seeds[3])
    image = tf.image.stateless_random_contrast(image, 1.0 - max_contrast, 1.0 + max_contrast,
                                               seeds[4])
    return tf.clip_by_value(image, 0.0, 1.0)


def to_model_input(images: np.ndarray | tf.Tensor) -> tf.Tensor:
    """`uint8[B,48,48]` (or `[B,48,48,1]`) → `float32[B,48,48,1]` in [0, 1]."""
    images = tf.convert_to_tensor(images)
    if images.shape.rank == 3:
        images = images[..., tf.newaxis]
    return tf.cast(images, tf.float32) / 255.0


def example_plan(n: int, *, seed: int, epochs: int = 1, shuffle: bool = True
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The random draws of `make_face_dataset` for `n` examples: `(order: int64[E*n]` example
    indices, one fresh permutation per epoch; `example_seeds: int32[E*n,2]` augmentation seeds)."""
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(n) if shuffle else np.arange(n) for _ in range(epochs)])
    example_seeds = rng.integers(0, 2**31 - 1, size=(len(order), 2), dtype=np.int64)
    return order, example_seeds.astype(np.int32)


def planned_batches(images: np.ndarray | tf.Tensor, labels: np.ndarray | tf.Tensor,
                    example_seeds: np.ndarray | tf.Tensor, *, batch_size: int, augment: bool
                    ) -> tf.data.Dataset:
    """Batches `(float32[B,48,48,1], int32[B])` of examples already in training order.

    `images: uint8[M,48,48]`, `labels: int32[M]`, `example_seeds: int32[M,2]` (arrays, or
    tensors inside a TFF computation: `client_store` builds the same batches on the worker).
    """
    ds = tf.data.Dataset.from_tensor_slices((images, labels, example_seeds))

    def _prepare(image: tf.Tensor, label: tf.Tensor, example_seed: tf.Tensor):  # noqa: ANN202
        x = tf.cast(image[..., tf.newaxis], tf.float32) / 255.0
        if augment:
            x = augment_face(x, example_seed)
        return x, label

    # Traced per dataset (~0.1 s per augmented client dataset in the driver; the client store
    # traces it once). A cached tf.function is faster to build but is optimised differently
    # inside TFF computations (1-ulp pixel differences), so the two paths would not match.
    return ds.map(_prepare, num_parallel_calls=1, deterministic=True).batch(batch_size)


def make_face_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int,
    seed: int,
    epochs: int = 1,
    augment: bool = True,
    shuffle: bool = True,
) -> tf.data.Dataset:
    """Batches of `(float32[B,48,48,1], int32[B])` from `images: uint8[N,48,48]`, `labels: int[N]`.

    Each epoch is a fresh permutation drawn from `seed`; augmentation seeds are per example and
    per epoch (`example_plan`), so the dataset is a pure function of its arguments.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or images.dtype != np.uint8:
        raise ValueError(
            f"images must be uint8[N,48,48]; got {images.dtype}{list(images.shape)}")
    if labels.shape != (len(images),):
        raise ValueError(f"labels must have shape [{len(images)}]; got {list(labels.shape)}")
    if len(images) == 0:
        raise ValueError("images is empty: a client needs at least one example")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1; got {epochs}")
    order, example_seeds = example_plan(len(images), seed=seed, epochs=epochs, shuffle=shuffle)
    return planned_batches(images[order], labels[order].astype(np.int32), example_seeds,
                           batch_size=batch_size, augment=augment)


def with_label_prior(dataset: tf.data.Dataset, log_prior: np.ndarray | tf.Tensor
                     ) -> tf.data.Dataset:
    """Batches `(x, int32[B])` → `(x, float32[B,1+C])`: each label followed by `log_prior:
    float32[C]` (the targets of the prior-corrected loss)."""
    if isinstance(log_prior, tf.Tensor):  # inside a TFF computation (`client_store`)
        prior = tf.reshape(tf.cast(log_prior, tf.float32), [1, -1])
    else:
        log_prior = np.asarray(log_prior, np.float32)
        if log_prior.ndim != 1 or not np.all(np.isfinite(log_prior)):
            raise ValueError(f"log_prior must be finite float32[C]; got shape "
                             f"{list(log_prior.shape)}")
        prior = tf.constant(log_prior[np.newaxis])

    def _attach(x: tf.Tensor, y: tf.Tensor):  # noqa: ANN202
        tiled = tf.tile(prior, [tf.shape(y)[0], 1])
        return x, tf.concat([tf.cast(y, tf.float32)[:, tf.newaxis], tiled], axis=1)

    return dataset.map(_attach)


def client_round_plans(client_sizes: Sequence[int], client_ids: np.ndarray, *, seed: int,
                       round_num: int, local_epochs: int, rounds_per_epoch: int = 1
                       ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each sampled client's `(order: int64[M]` indices into its own examples, `example_seeds:
    int32[M,2])` for round `round_num` (deterministic in its arguments).

    `rounds_per_epoch` k > 1 gives each client 1/k of its data per round: rounds
    (c*k+1 .. c*k+k) walk through one permutation of the client's examples drawn for cycle c,
    so every k rounds are one local epoch (fewer local steps per round: less client drift).
    """
    if rounds_per_epoch < 1:
        raise ValueError(f"rounds_per_epoch must be >= 1; got {rounds_per_epoch}")
    if local_epochs < 1:
        raise ValueError(f"local_epochs must be >= 1; got {local_epochs}")
    cycle, part = divmod(round_num - 1, rounds_per_epoch)
    plans = []
    for k in client_ids:
        n = int(client_sizes[k])
        if n < 1:
            raise ValueError(f"client {int(k)} has no examples: a client needs at least one")
        if rounds_per_epoch > 1:
            # [seed, cycle, client, 0]: a stream apart from round_seed's [seed, round, client+1]
            order = np.random.default_rng([seed, cycle, int(k), 0]).permutation(n)
            chunk = np.array_split(order, rounds_per_epoch)[part]
            chunk = np.sort(chunk if chunk.size else order[:1])  # fewer examples than k: one
        else:
            chunk = np.arange(n)
        local, example_seeds = example_plan(len(chunk), seed=round_seed(seed, round_num, int(k)),
                                            epochs=local_epochs)
        plans.append((chunk[local], example_seeds))
    return plans


def round_datasets(clients: Sequence[tuple[np.ndarray, np.ndarray]], client_ids: np.ndarray, *,
                   seed: int, round_num: int, batch_size: int, local_epochs: int,
                   augment: bool, prior_correction: bool = False, num_classes: int = 7,
                   rounds_per_epoch: int = 1) -> list[tf.data.Dataset]:
    """The tf.data input of each sampled client for one round, built in the driver (its images
    travel into the TFF call); `client_store` builds the same batches on the worker instead.

    The examples and augmentation seeds are `client_round_plans`'. `prior_correction` attaches
    each client's own log label prior to its targets.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    plans = client_round_plans([len(y) for _, y in clients], client_ids, seed=seed,
                               round_num=round_num, local_epochs=local_epochs,
                               rounds_per_epoch=rounds_per_epoch)
    datasets = []
    for k, (order, example_seeds) in zip(client_ids, plans, strict=True):
        images, labels = clients[k]
        ds = planned_batches(images[order], np.asarray(labels)[order].astype(np.int32),
                             example_seeds, batch_size=batch_size, augment=augment)
        if prior_correction:
            ds = with_label_prior(ds, log_label_prior(labels, num_classes))
        datasets.append(ds)
    return datasets
