"""Federated forest through TFF on tiny data (federated GBT: test_histogram_boosting.py)."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict

import numpy as np
import pytest
from sklearn.datasets import make_classification

from forests.ensemble import TREE_FIELDS, TreeEnsemble, max_nodes_for_depth
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
    with pytest.raises(TypeError, match="volume_exponent"):  # gone: trees are cross-scored
        ff.ForestConfig(num_classes=3, volume_exponent=1.0)
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
    with pytest.raises(ValueError, match=r"client_datasets must hold >= 2 clients for the "
                                         r"federated forest \(each candidate tree is scored on "
                                         r"the other clients' validation windows\); got 1"):
        ff.train_federated_forest(clients[:1], ff.ForestConfig(num_classes=3))


def test_two_client_federated_forest_beats_chance():
    clients, (x_test, y_test) = _clients(3)
    config = ff.ForestConfig(num_classes=3, num_trees_per_client=6, max_depth=5, keep_top_n=8)
    forest, stats = ff.train_federated_forest(clients, config)
    assert forest.kind == "rf" and forest.num_trees == 8 and forest.max_depth <= 5
    accuracy = np.mean(forest.predict(x_test) == y_test)
    assert accuracy > 0.6, accuracy  # chance is 1/3
    # Round 1: an int32 node count up, the maximum down; round 2 up: 6 trees of that many nodes
    # (the returned forest keeps that width) + slot; round 3 down: all 12 candidates; up: 2 x
    # int32[12] counts.
    m = forest.max_nodes
    assert 3 <= m < 2 ** 6 - 1  # no padding to the depth-5 bound
    tree_bytes = m * (4 + 4 + 4 + 4 + 1 + 3 * 4)
    assert stats.uplink_bytes_per_client == [4 + 6 * tree_bytes + 4 + 2 * 12 * 4] * 2
    assert stats.downlink_bytes_per_client == [4 + 12 * tree_bytes] * 2
    assert stats.rounds == 3
    assert stats.uplink_type.startswith("round 1 (node count): {int32}@CLIENTS; round 2")
    assert f"leaf_value=float32[6,{m},3],slot=int32>}}@CLIENTS; round 3" in stats.uplink_type
    assert stats.uplink_type.endswith("{<correct=int32[12],count=int32[12]>}@CLIENTS")
    assert [h["kept_trees"] for h in stats.history] and sum(
        h["kept_trees"] for h in stats.history) == 8
    assert all(0.0 <= h["mean_tree_cross_client_accuracy"] <= 1.0 for h in stats.history)


def _stump(feature: int, threshold: float, num_nodes: int) -> dict:
    """A depth-1 'rf' tree over 2 classes: class 0 below `threshold` of `feature`, else 1."""
    arrays = {"feature": np.full(num_nodes, -1), "threshold": np.zeros(num_nodes),
              "left": np.full(num_nodes, -1), "right": np.full(num_nodes, -1),
              "missing_go_right": np.zeros(num_nodes, bool),
              "leaf_value": np.zeros((num_nodes, 2))}
    arrays["feature"][0], arrays["threshold"][0] = feature, threshold
    arrays["left"][0], arrays["right"][0] = 1, 2
    arrays["leaf_value"][1], arrays["leaf_value"][2] = [1.0, 0.0], [0.0, 1.0]
    return arrays


def _planted_forest(stumps: list[tuple[int, float]], num_nodes: int) -> TreeEnsemble:
    trees = [_stump(f, t, num_nodes) for f, t in stumps]
    return TreeEnsemble(kind="rf", num_classes=2, feature_names=("x0", "x1"),
                        **{name: np.stack([t[name] for t in trees]) for name in trees[0]})


def test_cross_client_scoring_keeps_the_tree_that_generalises_over_the_growers_own_fit(
        monkeypatch):
    """Client 0's labels follow x1 (noise elsewhere); everyone else's follow x0 (85% of windows).
    Client 0's stumps on x1 are perfect on its own validation windows and at chance on the
    others'; the stumps on x0 generalise. Own-validation scoring (the old accuracy * n rule)
    keeps client 0's trees; cross-client scoring must keep stumps on x0."""
    rng = np.random.default_rng(0)
    sizes = [300, 200, 200]  # client 0 is also the largest (the old rule weighted by n)

    def client(c: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(size=(n, 2)).astype(np.float32)
        if c == 0:
            return x, (x[:, 1] >= 0).astype(np.int64)
        flip = rng.random(n) < 0.15
        return x, ((x[:, 0] >= 0) ^ flip).astype(np.int64)

    clients = []
    for c, n in enumerate(sizes):
        (x, y), (xv, yv) = client(c, n), client(c, n // 2)
        clients.append((x, y, xv, yv))
    config = ff.ForestConfig(num_classes=2, num_trees_per_client=2, max_depth=3, keep_top_n=2)
    m = max_nodes_for_depth(config.max_depth)
    planted = [_planted_forest([(1, 0.0), (1, 0.05)], m),    # fits its grower only
               _planted_forest([(0, 0.0), (1, 3.0)], m),     # a generaliser and a junk tree
               _planted_forest([(0, 0.05), (1, -3.0)], m)]
    # The construction: the old own-validation score (accuracy * n) ranks client 0's trees top.
    old = np.concatenate([ff.tree_accuracies(f, d[2], d[3]) * len(d[0])
                          for f, d in zip(planted, clients, strict=True)])
    assert set(np.argsort(-old)[:2]) == {0, 1}

    grown = []
    monkeypatch.setattr(ff, "grow_local_forest",
                        lambda x, y, cfg, seed, names: grown.append(seed) or planted[seed // 1000])
    forest, stats = ff.train_federated_forest(clients, config, feature_names=("x0", "x1"))
    assert grown == [0, 1000, 2000]
    assert forest.feature[:, 0].tolist() == [0, 0]  # the two stumps on x0 (clients 1 and 2)
    np.testing.assert_array_equal(forest.threshold[:, 0], np.float32([0.0, 0.05]))
    assert [h["kept_trees"] for h in stats.history] == [0, 1, 1]
    assert stats.history[0]["mean_tree_val_accuracy"] > 0.95  # own validation: near perfect
    assert stats.history[0]["mean_tree_cross_client_accuracy"] < 0.6  # elsewhere: chance


def test_candidate_scores_equal_numpy_votes_without_the_growers_own_windows():
    rng = np.random.default_rng(3)
    k, num_clients, num_classes = 2, 3, 3
    pool = random_ensemble(rng, "rf", num_trees=k * num_clients, num_features=4,
                           num_classes=num_classes, max_depth=3)
    data = []
    for c, n in enumerate([9, 5, 7]):
        x = rng.integers(-4, 5, size=(n, 4)).astype(np.float32) / 2  # rows on thresholds
        x[0, c] = np.nan
        data.append((x, rng.integers(0, num_classes, size=n).astype(np.int32)))
    comp = ff.build_candidate_scores(k * num_clients, k, pool.max_nodes, 4, num_classes,
                                     depth=pool.max_depth)
    sums = comp(OrderedDict((n, pool.to_arrays()[n]) for n in TREE_FIELDS),
                [OrderedDict(x=x, y=y, slot=np.int32(c)) for c, (x, y) in enumerate(data)])
    want_correct, want_count = np.zeros(k * num_clients, int), np.zeros(k * num_clients, int)
    for c, (x, y) in enumerate(data):
        votes = pool.tree_values(x).argmax(axis=-1)  # [n,T]
        other = np.arange(k * num_clients) // k != c
        want_correct += np.where(other, (votes == y[:, None]).sum(axis=0), 0)
        want_count += np.where(other, len(y), 0)
    np.testing.assert_array_equal(sums["correct"], want_correct)
    np.testing.assert_array_equal(sums["count"], want_count)
    assert sums["correct"].dtype == np.int32  # integer sums: secure aggregation applies


def test_candidate_computations_reject_bad_shapes_naming_the_argument():
    with pytest.raises(ValueError, match="num_candidates must be a multiple of "
                                         "trees_per_client=2; got 5"):
        ff.build_candidate_scores(5, 2, 7, 4, 3, depth=2)
    with pytest.raises(ValueError, match="depth must be an int >= 1; got 0"):
        ff.build_candidate_scores(4, 2, 7, 4, 3, depth=0)
    with pytest.raises(ValueError, match="num_clients must be an int >= 1; got 0"):
        ff.build_candidate_gather(0, 2, 7, 3)
    with pytest.raises(ValueError, match="num_classes must be an int >= 2; got 1"):
        ff.build_candidate_gather(2, 2, 7, 1)


def test_node_count_max_is_the_largest_client_count():
    comp = ff.build_node_count_max()
    assert str(comp.type_signature.parameter) == "{int32}@CLIENTS"
    assert comp([np.int32(5), np.int32(17), np.int32(9)]) == 17


def test_candidate_gather_puts_each_clients_trees_in_its_slot():
    rng = np.random.default_rng(4)
    forests = [random_ensemble(rng, "rf", num_trees=2, num_classes=3, max_depth=2).pad(
        num_nodes=9) for _ in range(3)]
    gather = ff.build_candidate_gather(3, 2, 9, 3)
    _assert_only_client_tensors(gather)
    uploads = [OrderedDict([*((n, f.to_arrays()[n]) for n in TREE_FIELDS),
                            ("slot", np.int32(c))]) for c, f in enumerate(forests)]
    server = gather(uploads[::-1])  # arrival order does not matter
    np.testing.assert_array_equal(server["grower"], [0, 0, 1, 1, 2, 2])
    for name in TREE_FIELDS:
        np.testing.assert_array_equal(server[name],
                                      np.concatenate([getattr(f, name) for f in forests]))


