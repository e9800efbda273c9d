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
