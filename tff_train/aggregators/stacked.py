"""The skeleton shared by the robust aggregators: stack every client value on the server, then
combine the stack in one TF computation (Flower's pattern: the maths apart, a thin factory).

`stacked_aggregation_process(value_type, report, ...)` gathers the client values (and, for a
weighted aggregator, their weights) with `tff.federated_aggregate` into a stacked accumulator:
one row per client, `float[K, ...]` for every tensor of the value and `float[K]` for the weights,
grown by concatenation like TFF's own reservoir sampler. `report(stacked)` (a TF function of the
stack; `(values, weights)` when weighted) returns `OrderedDict(value=..., <measurements>)`. The
process has empty state; its measurements are the `measurement_names` entries of the report.
Memory: the server holds every value (K * P float32 numbers for P parameters), so these
aggregators cannot be combined with secure aggregation.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import tensorflow as tf

from tff_train.runtime.tff_runtime import import_tff


def _stacked_spec(spec: tf.TensorSpec) -> tf.TensorSpec:
    return tf.TensorSpec([None, *spec.shape], spec.dtype)


def stacked_aggregation_process(
    value_type: Any,
    report: Callable[[Any], Mapping[str, Any]],
    *,
    measurement_names: Sequence[str],
    weight_type: Any | None = None,
) -> Any:
    """A `tff.templates.AggregationProcess` that stacks the client values (`value_type`: a float
    tensor type or a structure of them; `weight_type`: a float weight, or None = unweighted) and
    reports `report(stacked)["value"]` with the measurements `measurement_names`."""
    tff = import_tff()
    if not tff.types.is_structure_of_floats(value_type):
        raise TypeError(f"value_type must be a float tensor type or a structure of them; got "
                        f"{value_type}")
    if weight_type is not None and not tff.types.is_structure_of_floats(weight_type):
        raise TypeError(f"weight_type must be a float tensor type; got {weight_type}")
    specs: Any = tff.types.type_to_tf_tensor_specs(value_type)
    item_type: Any = value_type
    if weight_type is not None:
        specs = (specs, tff.types.type_to_tf_tensor_specs(weight_type))
        item_type = (value_type, weight_type)
    stacked_type = tff.types.tensorflow_to_type(tf.nest.map_structure(_stacked_spec, specs))
    names = tuple(measurement_names)

    @tff.tensorflow.computation
    def zero_fn():  # noqa: ANN202
        return tf.nest.map_structure(lambda s: tf.zeros([0, *s.shape], s.dtype), specs)

    @tff.tensorflow.computation(stacked_type, item_type)
    def accumulate_fn(stacked, item):  # noqa: ANN001, ANN202
        return tf.nest.map_structure(lambda a, v: tf.concat([a, v[tf.newaxis]], axis=0),
                                     stacked, item)

    @tff.tensorflow.computation(stacked_type, stacked_type)
    def merge_fn(a, b):  # noqa: ANN001, ANN202
        return tf.nest.map_structure(lambda x, y: tf.concat([x, y], axis=0), a, b)

    @tff.tensorflow.computation(stacked_type)
    def report_fn(stacked):  # noqa: ANN001, ANN202
        return collections.OrderedDict(report(stacked))

    @tff.federated_computation
    def init_fn():  # noqa: ANN202
        return tff.federated_value((), tff.SERVER)

    def _output(state: Any, items: Any) -> Any:
        result = tff.federated_aggregate(items, zero_fn(), accumulate_fn, merge_fn, report_fn)
        measurements = tff.federated_zip(collections.OrderedDict(
            (name, getattr(result, name)) for name in names))
        return tff.templates.MeasuredProcessOutput(state, result.value, measurements)

    if weight_type is None:
        @tff.federated_computation(init_fn.type_signature.result,
                                   tff.FederatedType(value_type, tff.CLIENTS))
        def next_fn(state, value):  # noqa: ANN001, ANN202
            return _output(state, value)
    else:
        @tff.federated_computation(init_fn.type_signature.result,
                                   tff.FederatedType(value_type, tff.CLIENTS),
                                   tff.FederatedType(weight_type, tff.CLIENTS))
        def next_fn(state, value, weight):  # noqa: ANN001, ANN202
            return _output(state, tff.federated_zip((value, weight)))

    return tff.templates.AggregationProcess(init_fn, next_fn)
