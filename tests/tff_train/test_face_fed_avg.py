"""FedAvg through TFF: example-count weighting by hand, client sampling, round inputs."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.tff_train.toy_regression import TOY_SPEC, toy_client, toy_model
from tff_train.face_fed_avg import build_face_fed_avg, round_datasets, sample_clients
from tff_train.optimizers import build_tff_optimizer


@pytest.mark.parametrize(("weighted", "expected"), [(True, 0.875), (False, 0.75)])
def test_aggregate_matches_hand_computation(weighted, expected):
    # MSE gradient at w=0 with x=1, y=c is -2c, so one SGD step (lr 0.25) gives w_k = 0.5 c_k:
    # client A (1 example, c=1) -> 0.5; client B (3 examples, c=2) -> 1.0.
    # Weighted by examples: (1*0.5 + 3*1.0) / 4 = 0.875; unweighted mean: 0.75.
    process = build_face_fed_avg(
        toy_model, client_optimizer=build_tff_optimizer("sgd", 0.25),
        server_optimizer=build_tff_optimizer("sgd", 1.0), weighted=weighted,
        input_spec=TOY_SPEC,
        loss_builder=tf.keras.losses.MeanSquaredError)
    state = process.initialize()
    state = process.next(state, [toy_client(1, 1.0), toy_client(3, 2.0)]).state
    (kernel,) = process.get_model_weights(state).trainable
    assert float(np.asarray(kernel).ravel()[0]) == pytest.approx(expected, abs=1e-6)


def test_sample_clients_is_deterministic_and_validated():
    a = sample_clients(10, 4, seed=3, round_num=5)
    assert list(a) == list(sample_clients(10, 4, seed=3, round_num=5))
    assert len(set(a)) == 4 and list(a) == sorted(a)
    assert any(list(sample_clients(10, 4, 3, r)) != list(a) for r in range(6, 12))
    with pytest.raises(ValueError, match=r"clients_per_round must be in \[1, 10\]; got 11"):
        sample_clients(10, 11, seed=0, round_num=1)


def test_round_datasets_are_a_pure_function_of_their_arguments():
    rng = np.random.default_rng(0)
    clients = [(rng.integers(0, 255, (10, 48, 48), dtype=np.uint8), rng.integers(0, 7, 10))
               for _ in range(3)]
    kwargs = dict(seed=1, round_num=2, batch_size=4, local_epochs=2, augment=True)
    first = round_datasets(clients, np.array([0, 2]), **kwargs)
    again = round_datasets(clients, np.array([0, 2]), **kwargs)
    assert len(first) == 2
    for ds_a, ds_b in zip(first, again, strict=True):
        batches_a, batches_b = list(ds_a.as_numpy_iterator()), list(ds_b.as_numpy_iterator())
        assert sum(len(b[1]) for b in batches_a) == 20  # 2 local epochs of 10 examples
        for (xa, ya), (xb, yb) in zip(batches_a, batches_b, strict=True):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)
    other = round_datasets(clients, np.array([0, 2]), **{**kwargs, "round_num": 3})
    assert not np.array_equal(next(iter(other[0]))[0], next(iter(first[0]))[0])
