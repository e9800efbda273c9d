"""Federated histogram GBT through TFF: equal to the centralised histogram GBT on the union."""

from __future__ import annotations

import numpy as np
import pytest

from forests import histogram_boosting as hb
from forests.ensemble import TREE_FIELDS
from tff_train.physio import histogram_boosting as fh
from tff_train.runtime.tff_runtime import import_tff, shutdown_tff_workers

tff = import_tff()


@pytest.fixture(scope="module", autouse=True)
def _stop_tff_worker():
    yield
    shutdown_tff_workers()


def _rows(rng: np.random.Generator, n: int, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(n, 5)).astype(np.float32)
    y = (x[:, 1] > 0.2).astype(np.int64) + (x[:, 3] > -0.3).astype(np.int64)
    y = np.minimum(y, num_classes - 1)
    x[rng.random(x.shape) < 0.15] = np.nan
    x[: n // 4, 0] = np.nan  # feature 0 mostly missing on some rows
    return x, y


def _clients(num_classes: int, seed: int = 0) -> list[tuple]:
    """Three clients of different sizes, each with its own validation rows."""
    rng = np.random.default_rng(seed)
    return [(*_rows(rng, n, num_classes), *_rows(rng, 30, num_classes)) for n in (90, 140, 60)]


def _union(clients: list[tuple]) -> tuple[np.ndarray, ...]:
    return tuple(np.concatenate([c[i] for c in clients]) for i in range(4))


@pytest.mark.parametrize("num_classes", [3, 2])
def test_federated_trees_equal_centralised_trees_on_the_union(num_classes):
    clients = _clients(num_classes)
    x, y, xv, yv = _union(clients)
    edges = hb.quantile_edges(x, 16)
    config = hb.HistGBTConfig(num_classes=num_classes, num_trees=6, max_depth=3, num_bins=16,
                              learning_rate=0.3, min_examples=3, early_stopping_rounds=0)
    fed, stats = fh.train_federated_hist_gbt(clients, config, edges=edges)
    central = hb.fit_histogram_gbt(x, y, edges, config, xv, yv)
    cen = central.ensemble
    assert fed.num_trees == cen.num_trees == 6 * (1 if num_classes == 2 else 3)
    assert (fed.feature >= 0).sum() > fed.num_trees  # real trees, not stumps or leaves
    for name in ("feature", "threshold", "left", "right", "missing_go_right", "output_class"):
        np.testing.assert_array_equal(getattr(fed, name), getattr(cen, name), err_msg=name)
    np.testing.assert_allclose(fed.leaf_value, cen.leaf_value, atol=1e-6, rtol=0)
    np.testing.assert_allclose(fed.bias, cen.bias, atol=1e-6, rtol=0)
    probe = np.concatenate([x, xv])
    np.testing.assert_array_equal(fed.predict(probe), cen.predict(probe))
    # The same validation curve (summed over clients vs pooled).
    np.testing.assert_allclose([h["val_loss"] for h in stats.history],
                               [h["val_loss"] for h in central.history], rtol=1e-9)
    assert any(fed.missing_go_right[fed.feature >= 0])  # NaN routing was learned somewhere


def test_sketched_bins_equal_the_sketch_of_the_union_and_traffic_is_counted():
    clients = _clients(3, seed=1)
    x, y, xv, yv = _union(clients)
    f, k, num_bins, trees = 5, 3, 8, 4
    config = hb.HistGBTConfig(num_classes=3, num_trees=trees, max_depth=1, num_bins=num_bins,
                              learning_rate=0.3, early_stopping_rounds=0)
    fed, stats = fh.train_federated_hist_gbt(clients, config)
    sums = []
    edges = hb.sketch_edges([c[0] for c in clients], num_bins,
                            lambda v: sums.append(1) or np.sum(np.stack(v), axis=0))
    cen = hb.fit_histogram_gbt(x, y, edges, config, xv, yv).ensemble
    for name in TREE_FIELDS:
        np.testing.assert_allclose(getattr(fed, name), getattr(cen, name), atol=1e-6, rtol=0)
    # Calls: moments, the sketch rounds, labels, validation of the bias, then per tree its root
    # level (depth 1) and its validation.
    r = len(sums) - 1  # sketch rounds after the moments
    assert 1 <= r <= hb.SKETCH_MAX_ROUNDS
    assert stats.rounds == 1 + r + 2 + 2 * trees and stats.num_trees == trees * k
    up = (f * 3 * 8 + r * f * (num_bins - 1) * hb.SKETCH_SUBCELLS * 8 + 3 * 8
          + (trees + 1) * 3 * 8 + trees * k * 1 * f * (num_bins + 1) * 3 * 8)
    assert stats.uplink_bytes_per_client == [up] * 3
    down = (2 * f * 8 + r * (f * (num_bins - 1) * 8 + 8) + f * (num_bins - 1) * 4 + k * 4
            + trees * (k * 1 * 9 + k * config.max_nodes * 4))
    assert stats.downlink_bytes_per_client == [down] * 3
    assert "SumFactory" in stats.uplink_type
    assert [h["iteration"] for h in stats.history] == list(range(trees + 1))


def test_sums_go_through_the_given_aggregation_factory():
    created = []

    class CountingSum(tff.aggregators.SumFactory):
        def create(self, value_type):
            created.append(str(value_type))
            return super().create(value_type)

    clients = _clients(2, seed=2)
    config = hb.HistGBTConfig(num_classes=2, num_trees=2, max_depth=2, num_bins=8,
                              early_stopping_rounds=0)
    edges = hb.quantile_edges(_union(clients)[0], 8)
    fed, stats = fh.train_federated_hist_gbt(clients, config, edges=edges,
                                             aggregation_factory=CountingSum())
    want, _ = fh.train_federated_hist_gbt(clients, config, edges=edges)
    np.testing.assert_array_equal(fed.leaf_value, want.leaf_value)
    assert sorted(created) == ["float64[3]", "int64[1,1,5,9,3]", "int64[2]"], created
    assert "CountingSum" in stats.uplink_type


def test_bad_inputs_name_the_argument_expected_and_got():
    clients = _clients(3)
    config = hb.HistGBTConfig(num_classes=3, num_bins=8)
    with pytest.raises(ValueError, match=r"config must be a HistGBTConfig; got dict"):
        fh.train_federated_hist_gbt(clients, {"num_classes": 3})
    with pytest.raises(ValueError, match=r"edges must be a BinEdges with 5 features \(the "
                                         r"clients'\) and num_bins=8 \(config.num_bins\); got "
                                         r"BinEdges"):
        fh.train_federated_hist_gbt(clients, config,
                                    edges=hb.BinEdges((np.zeros(0),) * 4, 8))
    with pytest.raises(ValueError, match=r"client_datasets\[0\] y_train labels must be in "
                                         r"\[0, 2\)"):
        fh.train_federated_hist_gbt(clients, hb.HistGBTConfig(num_classes=2))
    with pytest.raises(ValueError, match=r"factory must be a tff.aggregators."
                                         r"UnweightedAggregationFactory; got MeanFactory"):
        fh.build_federated_sum(np.int64, [2], tff.aggregators.MeanFactory())
    with pytest.raises(ValueError, match=r"feature_names must have 5 names"):
        fh.train_federated_hist_gbt(clients, config, feature_names=["a"])
