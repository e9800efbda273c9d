"""FedAvg through TFF: example-count weighting by hand, client sampling, round inputs."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.tff_train.toy_regression import TOY_SPEC, toy_client, toy_model
from tff_train.face.input_pipeline import round_datasets
from tff_train.learning.client_sampling import sample_clients
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


def _distinct_clients(n: int = 10) -> list:
    """Two clients whose images are tagged by example index (pixel (0,0) = index)."""
    clients = []
    for c in range(2):
        images = np.zeros((n + c, 48, 48), np.uint8)
        images[:, 0, 0] = np.arange(n + c)
        clients.append((images, np.arange(n + c) % 7))
    return clients


def _round_examples(clients, round_num: int, rounds_per_epoch: int) -> list[set]:
    datasets = round_datasets(clients, np.array([0, 1]), seed=3, round_num=round_num,
                              batch_size=4, local_epochs=1, augment=False,
                              rounds_per_epoch=rounds_per_epoch)
    return [{round(float(v) * 255) for x, _ in ds.as_numpy_iterator() for v in x[:, 0, 0, 0]}
            for ds in datasets]


def test_rounds_per_epoch_walk_through_each_client_once_per_cycle():
    clients = _distinct_clients()
    for cycle in range(2):
        parts = [_round_examples(clients, cycle * 3 + r, 3) for r in (1, 2, 3)]
        for client, size in enumerate((10, 11)):
            chunks = [p[client] for p in parts]
            assert sorted(len(c) for c in chunks) == sorted(len(c) for c in
                                                            np.array_split(np.arange(size), 3))
            assert set().union(*chunks) == set(range(size))  # a partition of the client
    assert _round_examples(clients, 1, 3) != _round_examples(clients, 4, 3)  # new cycle order
    assert _round_examples(clients, 1, 1)[0] == set(range(10))
    with pytest.raises(ValueError, match="rounds_per_epoch must be >= 1; got 0"):
        _round_examples(clients, 1, 0)


def test_prior_correction_attaches_the_clients_own_log_prior():
    from tff_train.face.loss import log_label_prior

    clients = _distinct_clients()
    datasets = round_datasets(clients, np.array([1]), seed=3, round_num=1, batch_size=4,
                              local_epochs=1, augment=False, prior_correction=True)
    _, y = next(iter(datasets[0].as_numpy_iterator()))
    assert y.shape == (4, 8) and y.dtype == np.float32
    np.testing.assert_allclose(y[:, 1:], np.tile(log_prior := log_label_prior(clients[1][1], 7),
                                                 (4, 1)))
    assert np.ptp(log_prior) > 0  # 11 labels over 7 classes: not uniform
    assert set(y[:, 0]) <= set(range(7))
