"""FedAvg with TFF on any Keras model: the TFF model function and the one FedAvg builder.

Client updates are weighted by local example counts (`ClientWeighting.NUM_EXAMPLES`) or
uniformly; `build_fed_avg(..., client_update_multipliers=True)` adds the update attacks of
`tff_train.aggregators.client_faults`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from tff_train.aggregators.client_faults import multiply_client_updates
from tff_train.runtime.tff_runtime import import_tff

# client_loop -> the `tff.learning.LoopImplementation` member
CLIENT_LOOPS = {"iterator": "DATASET_ITERATOR", "reduce": "DATASET_REDUCE"}


def keras_model_fn(model_builder: Callable[[], tf.keras.Model], *, input_spec: Any,
                   loss_builder: Callable[[], tf.keras.losses.Loss] | None = None,
                   metrics_builder: Callable[[], list[tf.keras.metrics.Metric]] | None = None
                   ) -> Callable[[], Any]:
    """A TFF `model_fn` wrapping fresh `model_builder()` Keras models on `input_spec` batches.

    The loss defaults to sparse cross-entropy. `metrics_builder` None gives sparse categorical
    accuracy for sparse cross-entropy losses (subclasses too) and no metric for other losses.
    """
    tff = import_tff()
    if loss_builder is None:
        loss_builder = tf.keras.losses.SparseCategoricalCrossentropy

    def model_fn():  # noqa: ANN202
        loss = loss_builder()
        if metrics_builder is not None:
            metrics = metrics_builder()
        elif isinstance(loss, tf.keras.losses.SparseCategoricalCrossentropy):
            metrics = [tf.keras.metrics.SparseCategoricalAccuracy()]
        else:
            metrics = []
        return tff.learning.models.from_keras_model(
            model_builder(), loss=loss, input_spec=input_spec, metrics=metrics)

    return model_fn


def build_fed_avg(model_builder: Callable[[], tf.keras.Model], *, client_optimizer: Any,
                  server_optimizer: Any, input_spec: Any, model_aggregator: Any = None,
                  weighted: bool = True,
                  loss_builder: Callable[[], tf.keras.losses.Loss] | None = None,
                  metrics_builder: Callable[[], list[tf.keras.metrics.Metric]] | None = None,
                  client_update_multipliers: bool = False,
                  client_loop: str = "reduce") -> Any:
    """A `tff.learning.templates.LearningProcess` running FedAvg on `model_builder()` models.

    Composed as TFF's `build_weighted_fed_avg` is (broadcast, model-delta client work, the
    aggregator on the trainable weights, apply-optimizer finalizer). `weighted=True` weights
    client deltas by example count (FedAvg); `False` is the unweighted variant (uniform weights,
    an unweighted aggregator), which differential-privacy aggregators require. `input_spec`,
    `loss_builder` and `metrics_builder` are `keras_model_fn`'s (e.g. the face CNN's
    `face.input_pipeline.FACE_INPUT_SPEC`). `client_update_multipliers=True` wraps the client
    work in `aggregators.client_faults.multiply_client_updates`: `process.next` then takes
    `aggregators.client_faults.with_update_multipliers(datasets, multipliers)` and each client's
    delta is scaled by its float32 multiplier before the aggregator (all 1: the same FedAvg).
    `client_loop` is the clients' training loop, with identical updates either way (see
    `benchmarks.scale`): "reduce" (TFF's default `DatasetReduce`: it instantiates the training
    step again for every client, a fixed cost per client, but runs each step fastest) or
    "iterator" (dataset iterator ops: a fraction of that per-client cost, each step slower; for
    many small clients, e.g. a fleet of cars with a few dozen examples each).
    """
    if client_loop not in CLIENT_LOOPS:
        raise ValueError(f"client_loop must be one of {sorted(CLIENT_LOOPS)}; got {client_loop!r}")
    tff = import_tff()

    expected = (tff.aggregators.WeightedAggregationFactory if weighted
                else tff.aggregators.UnweightedAggregationFactory)
    if model_aggregator is not None and not isinstance(model_aggregator, expected):
        raise TypeError(f"model_aggregator must be a {expected.__name__} when weighted="
                        f"{weighted}; got {type(model_aggregator).__name__}")
    model_fn = keras_model_fn(model_builder, input_spec=input_spec, loss_builder=loss_builder,
                              metrics_builder=metrics_builder)

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
        model_fn, client_optimizer, client_weighting,
        loop_implementation=getattr(tff.learning.LoopImplementation, CLIENT_LOOPS[client_loop]))
    if client_update_multipliers:
        client_work = multiply_client_updates(client_work)
    return tff.learning.templates.compose_learning_process(
        initial_model_weights_fn,
        tff.learning.templates.build_broadcast_process(weights_type),
        client_work,
        aggregator,
        tff.learning.templates.build_apply_optimizer_finalizer(server_optimizer, weights_type),
    )
