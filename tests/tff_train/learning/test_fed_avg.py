"""The one FedAvg builder: example-count weighting by hand, the same process as TFF's."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.tff_train.toy_regression import TOY_SPEC, toy_client, toy_model
from tff_train.learning.fed_avg import build_fed_avg
from tff_train.learning.optimizers import build_tff_optimizer


@pytest.mark.parametrize(("weighted", "expected"), [(True, 0.875), (False, 0.75)])
def test_aggregate_matches_hand_computation(weighted, expected):
    # MSE gradient at w=0 with x=1, y=c is -2c, so one SGD step (lr 0.25) gives w_k = 0.5 c_k:
    # client A (1 example, c=1) -> 0.5; client B (3 examples, c=2) -> 1.0.
    # Weighted by examples: (1*0.5 + 3*1.0) / 4 = 0.875; unweighted mean: 0.75.
    process = build_fed_avg(
        toy_model, client_optimizer=build_tff_optimizer("sgd", 0.25),
        server_optimizer=build_tff_optimizer("sgd", 1.0), weighted=weighted,
        input_spec=TOY_SPEC,
        loss_builder=tf.keras.losses.MeanSquaredError)
    state = process.initialize()
    state = process.next(state, [toy_client(1, 1.0), toy_client(3, 2.0)]).state
    (kernel,) = process.get_model_weights(state).trainable
    assert float(np.asarray(kernel).ravel()[0]) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("weighted", [True, False])
def test_the_process_is_tffs_fed_avg(weighted):
    from tff_train.learning.fed_avg import keras_model_fn
    from tff_train.runtime.tff_runtime import import_tff

    tff = import_tff()
    kwargs = dict(client_optimizer=build_tff_optimizer("sgd", 0.25),
                  server_optimizer=build_tff_optimizer("sgd", 1.0))
    ours = build_fed_avg(toy_model, weighted=weighted, input_spec=TOY_SPEC,
                         loss_builder=tf.keras.losses.MeanSquaredError, **kwargs)
    model_fn = keras_model_fn(toy_model, input_spec=TOY_SPEC,
                              loss_builder=tf.keras.losses.MeanSquaredError)
    build = (tff.learning.algorithms.build_weighted_fed_avg if weighted
             else tff.learning.algorithms.build_unweighted_fed_avg)
    theirs = build(model_fn, client_optimizer_fn=kwargs["client_optimizer"],
                   server_optimizer_fn=kwargs["server_optimizer"])
    for name in ("initialize", "next", "get_model_weights", "get_hparams", "set_hparams"):
        assert str(getattr(ours, name).type_signature) == str(
            getattr(theirs, name).type_signature), name


def _toy_process(client_loop):
    return build_fed_avg(toy_model, client_optimizer=build_tff_optimizer("sgd", 0.1),
                         server_optimizer=build_tff_optimizer("sgd", 1.0), input_spec=TOY_SPEC,
                         loss_builder=tf.keras.losses.MeanSquaredError, client_loop=client_loop)


def test_iterator_and_reduce_client_loops_train_identically():
    clients = [toy_client(5, 1.0).unbatch().batch(2), toy_client(2, -3.0).unbatch().batch(1)]
    weights = {}
    for loop in ("iterator", "reduce"):
        process = _toy_process(loop)
        state = process.initialize()
        for _ in range(2):
            output = process.next(state, clients)
            state = output.state
        weights[loop] = [np.asarray(w) for w in process.get_model_weights(state).trainable]
        assert output.metrics["client_work"]["train"]["num_examples"] == 7
    for a, b in zip(weights["iterator"], weights["reduce"], strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(weights["iterator"][0], 0.0)  # the rounds really trained


def test_an_unknown_client_loop_is_refused():
    with pytest.raises(ValueError, match=r"client_loop must be one of \['iterator', 'reduce'\]; "
                                         r"got 'while'"):
        _toy_process("while")
