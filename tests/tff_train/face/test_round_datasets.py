"""The face clients' per-round tf.data inputs: pure functions of their arguments, epoch cycles,
attached label priors."""

from __future__ import annotations

import numpy as np
import pytest

from tff_train.face.input_pipeline import round_datasets


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
