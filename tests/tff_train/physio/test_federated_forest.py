"""Federated forest through TFF on tiny data (federated GBT: test_histogram_boosting.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.datasets import make_classification

from forests.ensemble import TREE_FIELDS
from tests.forests.test_ensemble import random_ensemble
from tff_train.physio import federated_forest as ff
from tff_train.runtime.tff_runtime import import_tff, shutdown_tff_workers

pytest.importorskip("tensorflow_decision_forests")
tff = import_tff()


@pytest.fixture(scope="module", autouse=True)
def _stop_tff_worker():
    yield
    shutdown_tff_workers()


def _clients(num_classes: int, seed: int = 0) -> tuple[list[ff.ClientDataset], tuple]:
    """Two clients of different sizes plus a held-out test set."""
    x, y = make_classification(900, 5, n_informative=4, n_redundant=0, n_classes=num_classes,
                               class_sep=1.5, random_state=seed)
    x = x.astype(np.float32)
    cut = [0, 150, 200, 500, 560]
    clients = [(x[cut[0]:cut[1]], y[cut[0]:cut[1]], x[cut[1]:cut[2]], y[cut[1]:cut[2]]),
               (x[cut[2]:cut[3]], y[cut[2]:cut[3]], x[cut[3]:cut[4]], y[cut[3]:cut[4]])]
    return clients, (x[600:], y[600:])


def _assert_only_client_tensors(computation: object) -> None:
    """The computation's input is a struct of tensors placed at CLIENTS, and nothing else."""
    param = computation.type_signature.parameter
    assert isinstance(param, tff.FederatedType) and param.placement is tff.CLIENTS
    members = param.member
    assert isinstance(members, tff.StructType)
    assert all(isinstance(t, tff.TensorType) for _, t in tff.structure.to_elements(members))


def test_configs_validate_up_front():
    with pytest.raises(ValueError, match="num_classes must be an int >= 2; got 1"):
        ff.ForestConfig(num_classes=1)
    with pytest.raises(ValueError, match="keep_top_n must be an int >= 1; got 0"):
        ff.ForestConfig(num_classes=3, keep_top_n=0)
    with pytest.raises(ValueError, match=r"volume_exponent must be in \[0, 4\]; got -1"):
        ff.ForestConfig(num_classes=3, volume_exponent=-1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ff.ForestConfig(num_classes=3).keep_top_n = 2


def test_client_datasets_are_validated():
    clients, _ = _clients(3)
    x, y, xv, yv = clients[0]
    with pytest.raises(ValueError, match="client_datasets must be a non-empty sequence"):
        ff.validate_client_datasets([], 3)
    with pytest.raises(ValueError, match=r"client_datasets\[1\] x_train has 4 features; "
                                         r"client_datasets\[0\] has 5"):
        ff.validate_client_datasets([clients[0], (x[:, :4], y, xv, yv)], 3)
    with pytest.raises(ValueError, match=r"client_datasets\[0\] y_val labels must be in \[0, 2\)"):
        ff.validate_client_datasets([(x, np.minimum(y, 1), xv, yv)], 2)
    with pytest.raises(ValueError, match=r"client_datasets\[0\] y_train must be int\[150\]"):
        ff.validate_client_datasets([(x, y.astype(np.float32), xv, yv)], 3)
    with pytest.raises(ValueError, match=r"client_datasets\[0\] x_val must be float\[n,F\]"):
        ff.validate_client_datasets([(x, y, xv[:0], yv[:0])], 3)
    with pytest.raises(ValueError, match="config must be a ForestConfig; got dict"):
        ff.train_federated_forest(clients, {"num_classes": 3})


def test_top_n_aggregation_keeps_best_trees_by_volume_weighted_quality():
    rng = np.random.default_rng(0)
    k, m, n_keep = 3, 40, 4
    payloads, scores = [], []
    for c, n in enumerate([10, 40, 90]):
        trees = random_ensemble(rng, "rf", num_trees=k, num_classes=3, max_depth=3).pad(
            num_nodes=m)
        quality = rng.uniform(0.3, 1.0, size=k).astype(np.float32)
        payloads.append(ff._payload(trees, quality, n))
        scores += [(q * np.sqrt(n), c, t) for t, q in enumerate(quality)]
    aggregate = ff.build_tree_aggregation(k, m, 3, n_keep, 0.5)
    _assert_only_client_tensors(aggregate)
    buffer = aggregate(payloads)
    best = sorted(scores, reverse=True)[:n_keep]
    np.testing.assert_allclose(buffer["score"], [s for s, _, _ in best], rtol=1e-6)
    for slot, (_, c, t) in enumerate(best):
        for name in TREE_FIELDS:
            np.testing.assert_array_equal(buffer[name][slot], payloads[c][name][t])
    assert buffer["total_examples"] == 140


def test_two_client_federated_forest_beats_chance():
    clients, (x_test, y_test) = _clients(3)
    config = ff.ForestConfig(num_classes=3, num_trees_per_client=6, max_depth=5, keep_top_n=8)
    forest, stats = ff.train_federated_forest(clients, config)
    assert forest.kind == "rf" and forest.num_trees == 8 and forest.max_depth <= 5
    accuracy = np.mean(forest.predict(x_test) == y_test)
    assert accuracy > 0.6, accuracy  # chance is 1/3
    m = 2 ** 6 - 1  # nodes of a depth-5 tree
    per_client = 6 * m * (4 + 4 + 4 + 4 + 1 + 3 * 4) + 6 * 4 + 4
    assert stats.uplink_bytes_per_client == [per_client, per_client]
    assert stats.uplink_type.endswith("}@CLIENTS") and "quality=float32[6]" in stats.uplink_type
