"""Faulty clients in FedAvg simulations: malicious clients (update and label attacks) and dropout.

Malicious clients are a fixed set chosen once from a seed (`malicious_clients`). Attacks:

- "label_flip": a data attack; the malicious clients train honestly on labels y -> (C-1) - y
  (`poison_labels` on the numpy client data, before building datasets).
- "sign_flip" / "scale": update attacks; the client's model delta is multiplied by -scale or
  +scale after honest local training, inside TFF. Values placed at CLIENTS are anonymous, so the
  multiplier travels with each client's data: the learning process from
  `build_fed_avg(..., client_update_multipliers=True)` takes per-client data
  `OrderedDict(examples=<tf.data.Dataset>, update_multiplier=<one-element float32 dataset>)`
  (see `with_update_multipliers`) and its client work (TFF's model-delta client work wrapped by
  `multiply_client_updates`) scales the update by that client's multiplier before the model
  aggregator sees it (so clipping / robust aggregators face the attack as a real server would).
  The aggregation weight (example count) is left unchanged. With all multipliers 1 the process
  is exactly `build_fed_avg`'s plain FedAvg.

Dropout (`surviving_clients`) removes a seeded fraction of the sampled clients each round; the
round runs with the others (pass only their datasets to `process.next`).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tff_train.runtime.tff_runtime import import_tff

ATTACKS = ("sign_flip", "scale", "label_flip")
# Domain tags keep these random streams independent of `sample_clients` for the same seed.
_MALICIOUS_STREAM = 0x6D616C
_DROPOUT_STREAM = 0x64726F70


def _check_fraction(name: str, value: float) -> None:
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must be in [0, 1]; got {value}")


def malicious_clients(num_clients: int, fraction: float, seed: int) -> np.ndarray:
    """Sorted ids (int64) of round(fraction * num_clients) malicious clients, fixed by `seed`."""
    if num_clients < 1:
        raise ValueError(f"num_clients must be >= 1; got {num_clients}")
    _check_fraction("fraction", fraction)
    count = math.floor(fraction * num_clients + 0.5)
    rng = np.random.default_rng([seed, _MALICIOUS_STREAM])
    return np.sort(rng.choice(num_clients, size=count, replace=False)).astype(np.int64)


def flip_labels(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Labels `int[N]` in [0, num_classes) mapped to (num_classes - 1) - y (same dtype)."""
    labels = np.asarray(labels)
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2; got {num_classes}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must be in [0, {num_classes}); got range "
                         f"[{labels.min()}, {labels.max()}]")
    return ((num_classes - 1) - labels).astype(labels.dtype)


def poison_labels(clients: Sequence[tuple[np.ndarray, np.ndarray]], malicious_ids: np.ndarray,
                  num_classes: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The per-client `(x, y)` data with `flip_labels` applied to the malicious clients' `y`."""
    malicious = {int(k) for k in np.asarray(malicious_ids).ravel()}
    if any(not 0 <= k < len(clients) for k in malicious):
        raise ValueError(f"malicious_ids must be in [0, {len(clients)}); got {sorted(malicious)}")
    return [(x, flip_labels(y, num_classes)) if k in malicious else (x, y)
            for k, (x, y) in enumerate(clients)]


def update_multipliers(client_ids: Sequence[int], malicious_ids: np.ndarray, attack: str,
                       scale: float = 1.0) -> np.ndarray:
    """float32[len(client_ids)]: 1 for honest clients; -scale ("sign_flip") or +scale ("scale")
    for malicious ones; all 1 for "label_flip" (a data attack)."""
    if attack not in ATTACKS:
        raise ValueError(f"attack must be one of {list(ATTACKS)}; got {attack!r}")
    if not scale > 0:
        raise ValueError(f"scale must be > 0; got {scale}")
    bad = -scale if attack == "sign_flip" else scale if attack == "scale" else 1.0
    malicious = np.isin(np.asarray(client_ids), np.asarray(malicious_ids))
    return np.where(malicious, bad, 1.0).astype(np.float32)


def with_update_multipliers(datasets: Sequence[tf.data.Dataset], multipliers: Sequence[float]
                            ) -> list[collections.OrderedDict]:
    """Per-client data for `build_fed_avg(..., client_update_multipliers=True)`: examples plus
    the `float32` multiplier (a one-element dataset)."""
    if len(datasets) != len(multipliers):
        raise ValueError(f"multipliers must have one value per dataset ({len(datasets)}); got "
                         f"{len(multipliers)}")
    return [collections.OrderedDict(
        examples=ds, update_multiplier=tf.data.Dataset.from_tensors(np.float32(m)))
        for ds, m in zip(datasets, multipliers, strict=True)]


def multiply_client_updates(client_work: Any) -> Any:
    """Wraps a `tff.learning.templates.ClientWorkProcess` so each client's update is multiplied.

    The wrapped process takes client data `<examples=D, update_multiplier=float32*>` (D: the
    inner data type) and returns `ClientResult(update * multiplier, update_weight)`; state,
    hyperparameters and measurements are the inner process's.
    """
    tff = import_tff()
    state_type, weights_type, data_type = client_work.next.type_signature.parameter
    result_type = client_work.next.type_signature.result.result.member
    multiplier_type = tff.SequenceType(np.float32)
    attacked_data_type = tff.FederatedType(tff.StructWithPythonType(
        [("examples", data_type.member), ("update_multiplier", multiplier_type)],
        collections.OrderedDict), tff.CLIENTS)

    @tff.tensorflow.computation(multiplier_type)
    def read_multiplier(multiplier):  # noqa: ANN001, ANN202
        return multiplier.reduce(tf.constant(0.0, tf.float32), lambda total, m: total + m)

    @tff.tensorflow.computation(result_type, np.float32)
    def multiply(result, multiplier):  # noqa: ANN001, ANN202
        update = tf.nest.map_structure(lambda u: u * tf.cast(multiplier, u.dtype), result.update)
        return tff.learning.templates.ClientResult(update=update,
                                                   update_weight=result.update_weight)

    @tff.federated_computation(state_type, weights_type, attacked_data_type)
    def next_fn(state, weights, data):  # noqa: ANN001, ANN202
        output = client_work.next(state, weights, data.examples)
        multiplier = tff.federated_map(read_multiplier, data.update_multiplier)
        result = tff.federated_map(multiply, (output.result, multiplier))
        return tff.templates.MeasuredProcessOutput(output.state, result, output.measurements)

    return tff.learning.templates.ClientWorkProcess(
        client_work.initialize, next_fn, get_hparams_fn=client_work.get_hparams,
        set_hparams_fn=client_work.set_hparams)


def surviving_clients(client_ids: Sequence[int], dropout_fraction: float, seed: int,
                      round_num: int) -> np.ndarray:
    """The sampled clients that do not drop out in round `round_num` (order kept).

    floor(dropout_fraction * len(client_ids)) clients fail, chosen uniformly by (seed, round);
    at least one client always survives.
    """
    ids = np.asarray(client_ids)
    if ids.ndim != 1 or ids.size < 1:
        raise ValueError(f"client_ids must be a non-empty 1-D sequence; got shape {ids.shape}")
    _check_fraction("dropout_fraction", dropout_fraction)
    num_failed = min(math.floor(dropout_fraction * ids.size), ids.size - 1)
    rng = np.random.default_rng([seed, round_num, _DROPOUT_STREAM])
    failed = rng.choice(ids.size, size=num_failed, replace=False)
    return ids[np.setdiff1d(np.arange(ids.size), failed)]
