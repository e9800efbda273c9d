"""Multi-Krum: numpy reference, the weighted TFF factory, and inside FedAvg."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.tff_train.toy_regression import TOY_SPEC, toy_client, toy_model
from tff_train.aggregators.krum import MultiKrumFactory, multi_krum_select
from tff_train.learning.fed_avg import build_fed_avg
from tff_train.learning.optimizers import build_tff_optimizer
from tff_train.runtime.tff_runtime import import_tff


def _aggregate(factory, values, weights, value_type):
    tff = import_tff()
    process = factory.create(tff.types.to_type(value_type), tff.TensorType(np.float32))
    return process.next(process.initialize(), values, [np.float32(w) for w in weights])


def _honest_and_attackers(rng, honest=8, attackers=2):
    good = rng.normal(1.0, 0.1, size=(honest, 6))
    bad = -10.0 * rng.normal(1.0, 0.1, size=(attackers, 6))
    return np.concatenate([good, bad]).astype(np.float32)


def test_numpy_reference_drops_the_far_away_updates():
    updates = _honest_and_attackers(np.random.default_rng(0))
    np.testing.assert_array_equal(multi_krum_select(updates, 0.2), np.arange(8))
    np.testing.assert_array_equal(multi_krum_select(updates, 0.0), np.arange(10))
    assert multi_krum_select(np.ones((1, 3)), 0.4).tolist() == [0]
    # Hand-checked: 1-D points 0, 1, 2, 50 with f = 1, 1 neighbour: scores 1, 1, 1, 48^2.
    assert multi_krum_select(np.array([0.0, 1.0, 2.0, 50.0]), 0.25).tolist() == [0, 1, 2]


@pytest.mark.parametrize(("call", "message"), [
    (lambda: multi_krum_select(np.ones((3, 2)), 0.5),
     r"byzantine_fraction must be in \[0, 0.5\); got 0.5"),
    (lambda: multi_krum_select(np.ones((0, 2)), 0.1), r"updates must have shape \[K>=1, ...\]"),
    (lambda: MultiKrumFactory(-0.1), r"byzantine_fraction must be in \[0, 0.5\); got -0.1"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_factory_rejects_integer_values():
    tff = import_tff()
    with pytest.raises(TypeError, match="value_type must be a float tensor type"):
        MultiKrumFactory().create(tff.TensorType(np.int32, [2]), tff.TensorType(np.float32))


def test_factory_is_the_weighted_mean_of_the_reference_selection():
    tff = import_tff()
    factory = MultiKrumFactory(0.2)
    assert isinstance(factory, tff.aggregators.WeightedAggregationFactory)
    rng = np.random.default_rng(1)
    flat = _honest_and_attackers(rng)
    kernels, biases = flat[:, :4].reshape(10, 2, 2), flat[:, 4:]
    weights = rng.integers(1, 50, size=10).astype(np.float32)
    out = _aggregate(factory, list(zip(kernels, biases, strict=True)), weights,
                     [(np.float32, [2, 2]), (np.float32, [2])])
    keep = multi_krum_select(flat, 0.2)
    w = weights[keep] / weights[keep].sum()
    np.testing.assert_allclose(out.result[0], np.tensordot(w, kernels[keep], 1), rtol=1e-5)
    np.testing.assert_allclose(out.result[1], np.tensordot(w, biases[keep], 1), rtol=1e-5)
    assert out.result[0].min() > 0  # the attackers (all negative) are out
    assert out.measurements["num_updates"] == 10 and out.measurements["num_selected"] == 8


def test_without_byzantine_clients_it_is_the_weighted_mean():
    values = [np.float32(v) for v in (1.0, 2.0, 4.0)]
    out = _aggregate(MultiKrumFactory(0.0), values, [1.0, 1.0, 2.0], np.float32)
    assert float(out.result) == pytest.approx((1 + 2 + 8) / 4)


def test_krum_fed_avg_round_drops_a_poisoned_client():
    # One SGD step (lr 0.25) on MSE from w=0 with x=1, y=c gives delta 0.5 c: targets 1, 2, 3 and
    # 200 -> deltas 0.5, 1, 1.5, 100. f = floor(0.25 * 4) = 1: the 100 is dropped and the rest
    # averaged by example count (2, 2, 4 examples): (0.5*2 + 1*2 + 1.5*4) / 8 = 1.125.


    process = build_fed_avg(
        toy_model, client_optimizer=build_tff_optimizer("sgd", 0.25),
        server_optimizer=build_tff_optimizer("sgd", 1.0), weighted=True,
        model_aggregator=MultiKrumFactory(0.25),
        input_spec=TOY_SPEC,
        loss_builder=tf.keras.losses.MeanSquaredError)
    clients = [toy_client(2, 1.0), toy_client(2, 2.0), toy_client(4, 3.0), toy_client(2, 200.0)]
    output = process.next(process.initialize(), clients)
    (kernel,) = process.get_model_weights(output.state).trainable
    assert float(np.asarray(kernel).ravel()[0]) == pytest.approx(1.125, abs=1e-5)
    assert output.metrics["aggregator"]["num_selected"] == 3
