"""Coordinate-wise median / trimmed mean: numpy reference, TFF factory, and inside FedAvg."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.tff_train.toy_regression import TOY_SPEC, toy_client, toy_model
from tff_train.aggregators.robust import RobustMeanFactory, coordinate_median, trimmed_mean
from tff_train.learning.fed_avg import build_fed_avg
from tff_train.learning.optimizers import build_tff_optimizer
from tff_train.runtime.tff_runtime import import_tff


def _aggregate(factory, values, value_type):
    process = factory.create(import_tff().types.to_type(value_type))
    return process.next(process.initialize(), values)


def test_numpy_reference_ignores_the_outlier():
    updates = np.array([1.0, 2.0, 3.0, 1000.0])
    assert np.mean(updates) == 251.5
    assert coordinate_median(updates) == 2.5
    assert trimmed_mean(updates, 0.25) == 2.5  # drops 1 and 1000
    assert trimmed_mean(updates, 0.2) == 251.5  # floor(0.2 * 4) = 0: nothing trimmed
    assert coordinate_median(np.array([1.0, 1000.0, 2.0])) == 2.0
    np.testing.assert_array_equal(
        coordinate_median(np.array([[1.0, -5.0], [2.0, 9.0], [1e6, 0.0]])), [2.0, 0.0])


@pytest.mark.parametrize(("call", "message"), [
    (lambda: trimmed_mean(np.ones(3), 0.5), r"trim_fraction must be in \[0, 0.5\); got 0.5"),
    (lambda: coordinate_median(np.ones((0, 2))), r"updates must have shape \[K>=1, ...\]"),
    (lambda: RobustMeanFactory("mean"), r"combiner must be one of \['median', 'trimmed_mean'\]"),
    (lambda: RobustMeanFactory("trimmed_mean", -0.1), r"trim_fraction must be in \[0, 0.5\)"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_factory_rejects_integer_values():
    with pytest.raises(TypeError, match="value_type must be a float tensor type"):
        RobustMeanFactory().create(import_tff().TensorType(np.int32, [2]))


@pytest.mark.parametrize(("combiner", "trim", "expected"), [
    ("median", 0.0, 2.5), ("trimmed_mean", 0.25, 2.5)])
def test_factory_ignores_the_outlier(combiner, trim, expected):
    factory = RobustMeanFactory(combiner, trim)
    tff = import_tff()
    assert isinstance(factory, tff.aggregators.UnweightedAggregationFactory)
    values = [(np.float32(v), np.array([v, -v, 7.0], np.float32)) for v in (1, 2, 3, 1000)]
    out = _aggregate(factory, values, (np.float32, (np.float32, [3])))
    assert float(out.result[0]) == pytest.approx(expected)
    np.testing.assert_allclose(out.result[1], [expected, -expected, 7.0])
    assert out.measurements["num_updates"] == 4


def test_factory_accepts_a_single_tensor_type():
    out = _aggregate(RobustMeanFactory("median"), [np.float32(v) for v in (5, -1, 2)], np.float32)
    assert float(out.result) == 2.0


@pytest.mark.parametrize(("combiner", "trim"), [("median", 0.0), ("trimmed_mean", 0.2)])
def test_factory_matches_the_numpy_reference(combiner, trim):
    rng = np.random.default_rng(0)
    kernels = rng.normal(size=(5, 2, 3)).astype(np.float32)
    biases = rng.normal(size=(5, 3)).astype(np.float32)
    out = _aggregate(RobustMeanFactory(combiner, trim), list(zip(kernels, biases, strict=True)),
                     [(np.float32, [2, 3]), (np.float32, [3])])
    reference = ((lambda u: coordinate_median(u)) if combiner == "median"
                 else (lambda u: trimmed_mean(u, trim)))
    np.testing.assert_allclose(out.result[0], reference(kernels), rtol=1e-6)
    np.testing.assert_allclose(out.result[1], reference(biases), rtol=1e-6)


def test_median_fed_avg_round_ignores_a_poisoned_client():
    # One SGD step (lr 0.25) on MSE from w=0 with x=1, y=c gives delta 0.5 c (test_face_fed_avg):
    # targets 1, 2 and 100 -> deltas 0.5, 1.0, 50; the median is 1.0 (the mean would be 17.17).


    process = build_fed_avg(
        toy_model, client_optimizer=build_tff_optimizer("sgd", 0.25),
        server_optimizer=build_tff_optimizer("sgd", 1.0), weighted=False,
        model_aggregator=RobustMeanFactory("median"),
        input_spec=TOY_SPEC,
        loss_builder=tf.keras.losses.MeanSquaredError)
    output = process.next(process.initialize(), [toy_client(2, 1.0), toy_client(2, 2.0),
                                                 toy_client(2, 100.0)])
    (kernel,) = process.get_model_weights(output.state).trainable
    assert float(np.asarray(kernel).ravel()[0]) == pytest.approx(1.0, abs=1e-6)
    assert output.metrics["aggregator"]["num_updates"] == 3
