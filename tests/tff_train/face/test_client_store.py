"""Client datasets built on the worker from client ids: the same batches and the same FedAvg
round as the datasets built in the driver; bad stores and requests are refused."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import scale
from tff_train.face.client_store import ClientRequest, write_client_store
from tff_train.face.input_pipeline import round_datasets


def _clients(sizes=(6, 11, 3, 1)):
    rng = np.random.default_rng(0)
    return [(rng.integers(0, 255, (n, 48, 48), dtype=np.uint8), rng.integers(0, 7, n))
            for n in sizes]


def _batches(dataset):
    return list(dataset.as_numpy_iterator())


@pytest.mark.parametrize(("local_epochs", "rounds_per_epoch", "prior_correction"),
                         [(1, 1, False), (2, 1, True), (1, 3, True)])
def test_store_batches_equal_the_driver_built_datasets(tmp_path, local_epochs, rounds_per_epoch,
                                                       prior_correction):
    clients = _clients()
    store = write_client_store(tmp_path, clients)
    assert store.sizes == (6, 11, 3, 1) and store.num_clients == 4
    computation = store.dataset_computation(batch_size=4, augment=True,
                                            prior_correction=prior_correction)
    ids = np.array([3, 1, 2])
    kwargs = dict(seed=7, round_num=5, local_epochs=local_epochs,
                  rounds_per_epoch=rounds_per_epoch)
    requests = store.requests(ids, **kwargs)
    expected = round_datasets(clients, ids, batch_size=4, augment=True,
                              prior_correction=prior_correction, **kwargs)
    assert [int(r.client) for r in requests] == [3, 1, 2]
    for request, dataset in zip(requests, expected, strict=True):
        got, want = _batches(computation(request)), _batches(dataset)
        assert len(got) == len(want) >= 1
        for (x_got, y_got), (x_want, y_want) in zip(got, want, strict=True):
            np.testing.assert_array_equal(x_got, x_want)
            np.testing.assert_array_equal(y_got, y_want)
            assert y_got.dtype == y_want.dtype


def test_a_round_from_the_store_equals_a_round_from_driver_datasets(tmp_path):
    clients = _clients((9, 4, 7))
    store = write_client_store(tmp_path, clients)
    from_driver = scale.run_rounds(scale.build_process(), clients, per_round=2, rounds=2)
    from_store = scale.run_rounds(scale.build_process(store=store), clients, per_round=2,
                                  rounds=2, store=store)
    for a, b in zip(from_store["weights"], from_driver["weights"], strict=True):
        np.testing.assert_array_equal(a, b)
    assert [r["loss"] for r in from_store["rows"]] == [r["loss"] for r in from_driver["rows"]]
    assert [r["examples"] for r in from_store["rows"]] == [r["examples"] for r in
                                                          from_driver["rows"]]


def test_the_store_file_holds_prior_labels_and_images(tmp_path):
    images, labels = _clients((3,))[0]
    write_client_store(tmp_path, [(images, labels)], num_classes=7)
    blob = (tmp_path / "client_000000.bin").read_bytes()
    assert len(blob) == 4 * 7 + 3 * (4 + 48 * 48)
    np.testing.assert_array_equal(np.frombuffer(blob[28:40], "<i4"), labels)
    np.testing.assert_array_equal(np.frombuffer(blob[40:], np.uint8).reshape(3, 48, 48), images)


def test_bad_clients_and_requests_are_refused(tmp_path):
    images, labels = _clients((3,))[0]
    with pytest.raises(ValueError, match=r"clients\[0\] must be \(uint8\[N,48,48\], int\[N\]\) "
                                         r"with N >= 1; got float64\[3, 48, 48\] and \[3\]"):
        write_client_store(tmp_path, [(images.astype(float), labels)])
    with pytest.raises(ValueError, match=r"clients must hold 1\.\.1000000 clients; got 0"):
        write_client_store(tmp_path, [])
    store = write_client_store(tmp_path, [(images, labels)])
    with pytest.raises(ValueError, match=r"client_ids must be a non-empty int\[K\] in \[0, 1\); "
                                         r"got \[1\]"):
        store.requests(np.array([1]), seed=0, round_num=1, local_epochs=1)
    with pytest.raises(ValueError, match=r"batch_size must be >= 1; got 0"):
        store.dataset_computation(batch_size=0, augment=False, prior_correction=False)
    assert ClientRequest._fields == ("client", "order", "example_seeds")
