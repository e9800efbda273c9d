"""FedAvg for the face CNN with TFF: the learning process, client sampling and round inputs.

Client updates are weighted by local example counts (`ClientWeighting.NUM_EXAMPLES`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tff_train.client_faults import multiply_client_updates
from tff_train.face_data import make_face_dataset, with_label_prior
from tff_train.face_loss import LabelColumnAccuracy, PriorCorrectedCrossentropy, log_label_prior
from tff_train.tff_runtime import import_tff

INPUT_SPEC = (
    tf.TensorSpec([None, 48, 48, 1], tf.float32),
    tf.TensorSpec([None], tf.int32),
)


def face_input_spec(prior_correction: bool, num_classes: int = 7) -> tuple:
    """The batches' spec: `INPUT_SPEC`, or (label, log prior) targets `float32[B,1+C]`."""
    if not prior_correction:
        return INPUT_SPEC
    return (INPUT_SPEC[0], tf.TensorSpec([None, 1 + num_classes], tf.float32))


def keras_model_fn(model_builder: Callable[[], tf.keras.Model], *, input_spec: Any = INPUT_SPEC,
                   loss_builder: Callable[[], tf.keras.losses.Loss] | None = None
                   ) -> Callable[[], Any]:
    """A TFF `model_fn` wrapping fresh `model_builder()` Keras models.

    Sparse cross-entropy losses (also the smoothed one) add an accuracy metric; the
    prior-corrected loss adds it on the label column of its targets.
    """
    tff = import_tff()
    if loss_builder is None:
        loss_builder = tf.keras.losses.SparseCategoricalCrossentropy

    def model_fn():  # noqa: ANN202
        loss = loss_builder()
        if isinstance(loss, PriorCorrectedCrossentropy):
            metrics = [LabelColumnAccuracy()]
        elif isinstance(loss, tf.keras.losses.SparseCategoricalCrossentropy):
            metrics = [tf.keras.metrics.SparseCategoricalAccuracy()]
        else:
            metrics = []
        return tff.learning.models.from_keras_model(
            model_builder(), loss=loss, input_spec=input_spec, metrics=metrics)

    return model_fn


def build_fed_avg(model_builder: Callable[[], tf.keras.Model], *, client_optimizer: Any,
                  server_optimizer: Any, model_aggregator: Any = None, weighted: bool = True,
                  input_spec: Any = INPUT_SPEC,
                  loss_builder: Callable[[], tf.keras.losses.Loss] | None = None,
                  client_update_multipliers: bool = False) -> Any:
    """A `tff.learning.templates.LearningProcess` running FedAvg on `model_builder()` models.

    Composed as TFF's `build_weighted_fed_avg` is (broadcast, model-delta client work, the
    aggregator on the trainable weights, apply-optimizer finalizer). `weighted=True` weights
    client deltas by example count (FedAvg); `False` is the unweighted variant (uniform weights,
    an unweighted aggregator), which differential-privacy aggregators require. The default input
    spec and loss are the face classifier's (`float32[B,48,48,1]`, `int32[B]`, sparse
    cross-entropy). `client_update_multipliers=True` wraps the client work in
    `client_faults.multiply_client_updates`: `process.next` then takes
    `client_faults.with_update_multipliers(datasets, multipliers)` and each client's delta is
    scaled by its float32 multiplier before the aggregator (all 1: the same FedAvg).
    """
    tff = import_tff()
    expected = (tff.aggregators.WeightedAggregationFactory if weighted
                else tff.aggregators.UnweightedAggregationFactory)
    if model_aggregator is not None and not isinstance(model_aggregator, expected):
        raise TypeError(f"model_aggregator must be a {expected.__name__} when weighted="
                        f"{weighted}; got {type(model_aggregator).__name__}")
    model_fn = keras_model_fn(model_builder, input_spec=input_spec, loss_builder=loss_builder)

    @tff.tensorflow.computation
    def initial_model_weights_fn():  # noqa: ANN202
        return tff.learning.models.ModelWeights.from_model(model_fn())

    weights_type = initial_model_weights_fn.type_signature.result
    if weighted:
        client_weighting = tff.learning.ClientWeighting.NUM_EXAMPLES
        factory = tff.aggregators.MeanFactory() if model_aggregator is None else model_aggregator
    else:  # as `build_unweighted_fed_avg`: uniform weights, unweighted aggregator
        client_weighting = tff.learning.ClientWeighting.UNIFORM
        factory = tff.aggregators.as_weighted_aggregator(
            tff.aggregators.UnweightedMeanFactory() if model_aggregator is None
            else model_aggregator)
    aggregator = factory.create(weights_type.trainable, tff.TensorType(np.float32))
    client_type = aggregator.next.type_signature.parameter[1].member
    server_type = aggregator.next.type_signature.result[1].member
    if client_type != server_type:  # the check `build_weighted_fed_avg` makes
        raise TypeError(f"model_aggregator must keep the update type; it maps {client_type} to "
                        f"{server_type}")
    client_work = tff.learning.templates.build_model_delta_client_work(
        model_fn, client_optimizer, client_weighting)
    if client_update_multipliers:
        client_work = multiply_client_updates(client_work)
    return tff.learning.templates.compose_learning_process(
        initial_model_weights_fn,
        tff.learning.templates.build_broadcast_process(weights_type),
        client_work,
        aggregator,
        tff.learning.templates.build_apply_optimizer_finalizer(server_optimizer, weights_type),
    )


def round_seed(seed: int, round_num: int, client: int = -1) -> int:
    """A 63-bit seed that is a pure function of (seed, round, client)."""
    return int(np.random.SeedSequence([seed, round_num, client + 1]).generate_state(1,
                                                                                    np.uint64)[0]
               >> np.uint64(1))


def sample_clients(num_clients: int, clients_per_round: int, seed: int, round_num: int
                   ) -> np.ndarray:
    """Sorted ids of the clients that take part in round `round_num` (uniform, no replacement)."""
    if not 1 <= clients_per_round <= num_clients:
        raise ValueError(f"clients_per_round must be in [1, {num_clients}]; got "
                         f"{clients_per_round}")
    rng = np.random.default_rng(round_seed(seed, round_num))
    return np.sort(rng.choice(num_clients, size=clients_per_round, replace=False))


def round_datasets(clients: Sequence[tuple[np.ndarray, np.ndarray]], client_ids: np.ndarray, *,
                   seed: int, round_num: int, batch_size: int, local_epochs: int,
                   augment: bool, prior_correction: bool = False, num_classes: int = 7,
                   rounds_per_epoch: int = 1) -> list[tf.data.Dataset]:
    """The tf.data input of each sampled client for one round (deterministic in its arguments).

    `rounds_per_epoch` k > 1 gives each client 1/k of its data per round: rounds
    (c*k+1 .. c*k+k) walk through one permutation of the client's examples drawn for cycle c,
    so every k rounds are one local epoch (fewer local steps per round: less client drift).
    `prior_correction` attaches each client's own log label prior to its targets.
    """
    if rounds_per_epoch < 1:
        raise ValueError(f"rounds_per_epoch must be >= 1; got {rounds_per_epoch}")
    cycle, part = divmod(round_num - 1, rounds_per_epoch)
    datasets = []
    for k in client_ids:
        images, labels = clients[k]
        if rounds_per_epoch > 1:
            # [seed, cycle, client, 0]: a stream apart from round_seed's [seed, round, client+1]
            order = np.random.default_rng([seed, cycle, int(k), 0]).permutation(len(images))
            chunk = np.array_split(order, rounds_per_epoch)[part]
            chunk = chunk if chunk.size else order[:1]  # a client smaller than k: one example
            round_images, round_labels = images[np.sort(chunk)], labels[np.sort(chunk)]
        else:
            round_images, round_labels = images, labels
        ds = make_face_dataset(round_images, round_labels, batch_size=batch_size,
                               epochs=local_epochs, augment=augment,
                               seed=round_seed(seed, round_num, int(k)))
        if prior_correction:
            ds = with_label_prior(ds, log_label_prior(labels, num_classes))
        datasets.append(ds)
    return datasets
