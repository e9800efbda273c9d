"""Face client data kept where the client is: one file per client, read inside the TFF call.

Today's path (`input_pipeline.round_datasets`) builds every sampled client's `tf.data.Dataset`
in the driver, and TFF serialises each one (its images included) into the round's call. Here the
images stay in a per-client store that the worker reads (like a car's own storage):
`write_client_store(directory, clients)` writes `client_000000.bin`, ... once;
`ClientStore.dataset_computation(...)` is a TFF computation from a `ClientRequest` (client index,
the round's example order and augmentation seeds) to that client's batches, and
`ClientStore.compose(process, ...)` is the learning process whose `next` takes one request per
sampled client instead of one dataset (`tff.simulation.compose_dataset_computation_with_
learning_process`). The request holds `input_pipeline.client_round_plans`' draws, so the
batches are identical to `round_datasets`' (tests/tff_train/face/test_client_store.py).

File layout (little-endian): `float32[C]` log label prior | `int32[N]` labels |
`uint8[N,48,48]` images. The directory must be readable by the TFF workers (this machine, or
a shared filesystem).
"""

from __future__ import annotations

import collections
import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tff_train.face.input_pipeline import (
    IMAGE_SIZE,
    client_round_plans,
    planned_batches,
    with_label_prior,
)
from tff_train.face.loss import log_label_prior
from tff_train.runtime.tff_runtime import import_tff

IMAGE_BYTES = IMAGE_SIZE * IMAGE_SIZE
FILE_PATTERN = "client_{:06d}.bin"
MAX_CLIENTS = 10**6  # FILE_PATTERN's six digits

ClientRequest = collections.namedtuple("ClientRequest", ["client", "order", "example_seeds"])
ClientRequest.__doc__ = """What the driver sends one sampled client for a round (no images):
`client: int32`, `order: int32[M]` indices into its examples, `example_seeds: int32[M,2]`."""


@dataclasses.dataclass(frozen=True)
class ClientStore:
    """A directory of per-client face files (see the module docstring)."""

    directory: Path
    sizes: tuple[int, ...]  # examples per client
    num_classes: int

    @property
    def num_clients(self) -> int:
        return len(self.sizes)

    def requests(self, client_ids: np.ndarray, *, seed: int, round_num: int, local_epochs: int,
                 rounds_per_epoch: int = 1) -> list[ClientRequest]:
        """One `ClientRequest` per sampled client: `input_pipeline.client_round_plans`' draws."""
        ids = np.asarray(client_ids)
        if ids.ndim != 1 or ids.size == 0 or ids.min() < 0 or ids.max() >= self.num_clients:
            raise ValueError(f"client_ids must be a non-empty int[K] in [0, {self.num_clients}); "
                             f"got {ids.tolist()[:10]}")
        plans = client_round_plans(self.sizes, ids, seed=seed, round_num=round_num,
                                   local_epochs=local_epochs, rounds_per_epoch=rounds_per_epoch)
        return [ClientRequest(np.int32(k), order.astype(np.int32), example_seeds)
                for k, (order, example_seeds) in zip(ids, plans, strict=True)]

    def dataset_computation(self, *, batch_size: int, augment: bool, prior_correction: bool
                            ) -> Any:
        """TFF computation `ClientRequest -> batches`, equal to `round_datasets`' dataset."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        tff = import_tff()
        request_type = tff.StructWithPythonType(
            [("client", np.int32), ("order", tff.TensorType(np.int32, [None])),
             ("example_seeds", tff.TensorType(np.int32, [None, 2]))], ClientRequest)
        prefix = os.fspath(self.directory) + os.sep
        c = self.num_classes

        @tff.tensorflow.computation(request_type)
        def client_dataset(request):  # noqa: ANN001, ANN202
            name = tf.strings.join(["client_", tf.strings.as_string(request.client, width=6,
                                                                    fill="0"), ".bin"])
            content = tf.io.read_file(tf.strings.join([prefix, name]))
            n = (tf.strings.length(content) - 4 * c) // (4 + IMAGE_BYTES)
            log_prior = tf.reshape(
                tf.io.decode_raw(tf.strings.substr(content, 0, 4 * c), tf.float32), [c])
            labels = tf.io.decode_raw(tf.strings.substr(content, 4 * c, 4 * n), tf.int32)
            images = tf.reshape(
                tf.io.decode_raw(tf.strings.substr(content, 4 * c + 4 * n, IMAGE_BYTES * n),
                                 tf.uint8), [n, IMAGE_SIZE, IMAGE_SIZE])
            ds = planned_batches(tf.gather(images, request.order),
                                 tf.gather(labels, request.order), request.example_seeds,
                                 batch_size=batch_size, augment=augment)
            return with_label_prior(ds, log_prior) if prior_correction else ds

        return client_dataset

    def compose(self, process: Any, *, batch_size: int, augment: bool, prior_correction: bool
                ) -> Any:
        """`process` (its `next` taking one dataset per client) taking `ClientRequest`s."""
        tff = import_tff()
        return tff.simulation.compose_dataset_computation_with_learning_process(
            self.dataset_computation(batch_size=batch_size, augment=augment,
                                     prior_correction=prior_correction), process)


def write_client_store(directory: str | os.PathLike,
                       clients: Sequence[tuple[np.ndarray, np.ndarray]], num_classes: int = 7
                       ) -> ClientStore:
    """Writes `clients` (`(uint8[N,48,48] images, int[N] labels)` each) one file per client."""
    if not 1 <= len(clients) <= MAX_CLIENTS:
        raise ValueError(f"clients must hold 1..{MAX_CLIENTS} clients; got {len(clients)}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sizes = []
    for k, (images, labels) in enumerate(clients):
        images, labels = np.asarray(images), np.asarray(labels)
        if images.dtype != np.uint8 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) \
                or len(images) == 0 or labels.shape != (len(images),):
            raise ValueError(f"clients[{k}] must be (uint8[N,48,48], int[N]) with N >= 1; got "
                             f"{images.dtype}{list(images.shape)} and {list(labels.shape)}")
        blob = (log_label_prior(labels, num_classes).astype("<f4").tobytes()
                + labels.astype("<i4").tobytes() + images.tobytes())
        (directory / FILE_PATTERN.format(k)).write_bytes(blob)
        sizes.append(len(labels))
    return ClientStore(directory, tuple(sizes), num_classes)
