"""Histogram GBT (numpy): bins vs TreeEnsemble routing, sketch, histograms, splits, boosting."""

from __future__ import annotations

import numpy as np
import pytest

from forests import histogram_boosting as hb
from forests.ensemble import TreeEnsemble


def _three_class(rng: np.random.Generator, n: int, num_features: int = 6,
                 nan_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Class = [x2 > 0.3] + [x4 > 0]; some NaN everywhere."""
    x = rng.normal(size=(n, num_features)).astype(np.float32)
    y = (x[:, 2] > 0.3).astype(np.int64) + (x[:, 4] > 0).astype(np.int64)
    x[rng.random(x.shape) < nan_fraction] = np.nan
    return x, y


def test_bins_route_exactly_like_tree_ensemble_thresholds():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3)).astype(np.float32)
    edges = hb.quantile_edges(x, 16)
    # Rows exactly on, just below and just above every threshold, plus NaN and infinities.
    t = edges.thresholds[1]
    col = np.concatenate([t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf),
                          [np.nan, np.inf, -np.inf]]).astype(np.float32)
    probe = np.zeros((col.size, 3), np.float32)
    probe[:, 1] = col
    b = hb.bin_features(probe, edges)[:, 1].astype(np.int64)
    assert hb.bin_features(probe, edges).dtype == np.uint8
    for j, thr in enumerate(t):
        with np.errstate(invalid="ignore"):
            want_right = col >= thr
        got_right = np.where(b == edges.missing_bin, False, b > j)
        np.testing.assert_array_equal(got_right[~np.isnan(col)], want_right[~np.isnan(col)])
    assert b[np.isnan(col)].tolist() == [edges.missing_bin]
    assert hb.bin_dtype(255) is np.uint8 and hb.bin_dtype(256) is np.uint16


def test_quantile_edges_are_increasing_capped_and_skip_useless_features():
    rng = np.random.default_rng(1)
    x = np.stack([rng.normal(size=300), np.full(300, 2.0), np.full(300, np.nan),
                  rng.integers(0, 3, 300).astype(float)], axis=1).astype(np.float32)
    edges = hb.quantile_edges(x, 8)
    assert edges.counts.tolist()[1:] == [0, 0, 2]  # constant, all-NaN, 3 distinct values
    assert 1 <= edges.counts[0] <= 7 and np.all(np.diff(edges.thresholds[0]) > 0)
    np.testing.assert_array_equal(edges.thresholds[3], [1.0, 2.0])
    padded = edges.padded()
    assert padded.shape == (4, 7) and np.isinf(padded[1]).all()


def test_quantile_sketch_is_additive_and_matches_pooled_quantiles():
    rng = np.random.default_rng(2)
    parts = [rng.normal(loc, scale, size=(n, 3)).astype(np.float32)
             for loc, scale, n in ((0, 1, 500), (3, 0.5, 300), (-2, 2, 700))]
    for p in parts:  # a heavy tail and a few distinct values
        p[:, 1] = np.exp(3 * p[:, 1])
        p[:, 2] = np.round(p[:, 2])
    parts[0][:100, 0] = np.nan
    pooled = np.concatenate(parts)
    grid = hb.sketch_grid(sum(hb.sketch_moments(p) for p in parts))
    np.testing.assert_allclose(grid.mean, np.nanmean(pooled.astype(np.float64), axis=0),
                               rtol=1e-9)
    search = hb.start_quantile_search(grid, 16)
    summed = sum(hb.sketch_counts(p, grid, search) for p in parts)
    np.testing.assert_array_equal(summed, hb.sketch_counts(pooled, grid, search))
    edges = hb.sketch_edges(parts, 16)
    exact = hb.quantile_edges(pooled, 16)
    for f in (0, 1):  # continuous features: every bin holds ~1/16 of the values
        counts = np.bincount(hb.bin_features(pooled, edges)[:, f], minlength=17)[:16]
        assert edges.counts[f] == 15 and np.abs(counts / counts.sum() - 1 / 16).max() < 0.002
    # Few distinct values: thresholds fall between them and separate at least as many groups
    # as the exact quantile thresholds (which put a repeated value right, the sketch left).
    values = np.unique(pooled[:, 2])
    assert not set(edges.thresholds[2].tolist()) & set(values.tolist())
    assert (len(np.unique(hb.bin_features(pooled, edges)[:, 2]))
            >= len(np.unique(hb.bin_features(pooled, exact)[:, 2])))


def test_node_histograms_equal_a_brute_force_sum():
    rng = np.random.default_rng(3)
    n, f, k, nodes, width = 50, 3, 2, 4, 6
    binned = rng.integers(0, width, (n, f)).astype(np.uint8)
    node = rng.integers(-1, nodes, (n, k))
    grad, hess = rng.integers(-9, 9, (n, k)), rng.integers(0, 9, (n, k))
    got = hb.node_histograms(binned, node, grad, hess, nodes, width)
    want = np.zeros((k, nodes, f, width, 3), np.int64)
    for i in range(n):
        for j in range(k):
            if node[i, j] >= 0:
                for c in range(f):
                    want[j, node[i, j], c, binned[i, c]] += [grad[i, j], hess[i, j], 1]
    np.testing.assert_array_equal(got, want)


def test_split_finding_picks_the_planted_feature_and_threshold():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(600, 5)).astype(np.float32)
    y = (x[:, 3] > 0.5).astype(np.int64)  # only feature 3 carries the label
    edges = hb.quantile_edges(x, 32)
    config = hb.HistGBTConfig(num_classes=2, num_trees=1, max_depth=1, num_bins=32,
                              learning_rate=1.0)
    ens = hb.fit_histogram_gbt(x, y, edges, config).ensemble
    assert ens.feature[0, 0] == 3
    assert abs(float(ens.threshold[0, 0]) - 0.5) < 0.1
    assert ens.threshold[0, 0] in edges.thresholds[3]  # thresholds are the float32 bin edges
    assert np.mean(ens.predict(x) == y) > 0.97


@pytest.mark.parametrize("nan_class, want_right", [(1, True), (0, False)])
def test_missing_values_follow_the_learned_direction(nan_class, want_right):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(800, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    gone = rng.random(800) < 0.25
    x[gone, 0] = np.nan
    y[gone] = nan_class
    config = hb.HistGBTConfig(num_classes=2, num_trees=5, max_depth=1, num_bins=16,
                              learning_rate=0.5)
    ens = hb.fit_histogram_gbt(x, y, hb.quantile_edges(x, 16), config).ensemble
    assert (ens.feature[:, 0] == 0).all()
    assert (ens.missing_go_right[:, 0] == want_right).all()
    probe = np.array([[np.nan, 0.0]], np.float32)
    assert ens.predict(probe)[0] == nan_class


def test_without_missing_training_values_nan_goes_to_the_larger_child():
    x = np.array([[v] for v in [0.0] * 10 + [1.0] * 30], np.float32)
    y = np.array([0] * 10 + [1] * 30)
    config = hb.HistGBTConfig(num_classes=2, num_trees=1, max_depth=1, num_bins=4)
    ens = hb.fit_histogram_gbt(x, y, hb.quantile_edges(x, 4), config).ensemble
    assert ens.feature[0, 0] == 0 and ens.missing_go_right[0, 0]  # 30 rows went right
    config3 = hb.HistGBTConfig(num_classes=2, num_trees=1, max_depth=1, num_bins=4)
    ens3 = hb.fit_histogram_gbt(x[::-1] * -1, y[::-1], hb.quantile_edges(x[::-1] * -1, 4),
                                config3).ensemble
    assert not ens3.missing_go_right[0, 0]  # 30 rows (x = -1) went left


@pytest.mark.parametrize("num_classes", [2, 3])
def test_boosting_produces_the_tree_ensemble_gbt_form(num_classes):
    rng = np.random.default_rng(6)
    x, y = _three_class(rng, 900)
    if num_classes == 2:
        y = np.minimum(y, 1)
    config = hb.HistGBTConfig(num_classes=num_classes, num_trees=8, max_depth=3, num_bins=16,
                              learning_rate=0.3)
    edges = hb.quantile_edges(x, 16)
    ens = hb.fit_histogram_gbt(x, y, edges, config).ensemble
    k = 1 if num_classes == 2 else 3
    assert isinstance(ens, TreeEnsemble) and ens.kind == "gbt" and ens.num_outputs == k
    assert ens.num_trees == 8 * k and ens.max_depth <= 3
    np.testing.assert_array_equal(ens.output_class, np.tile(np.arange(k), 8))
    # The training-time raw scores (binned routing) equal the ensemble on raw features.
    client = hb.BoostingClient(x, y, edges, num_classes)
    hb.boost(hb.LocalSource(client), edges, config)
    np.testing.assert_allclose(ens.decision_function(x), client.scores, atol=1e-5)
    counts = np.bincount(y, minlength=num_classes)
    np.testing.assert_allclose(ens.bias, hb.initial_bias(counts, k))
    assert np.mean(ens.predict(x) == y) > 0.9


def test_early_stopping_keeps_the_best_validation_prefix():
    rng = np.random.default_rng(7)
    x, y = _three_class(rng, 300)
    y = np.where(rng.random(300) < 0.4, rng.integers(0, 3, 300), y)  # noisy: overfits quickly
    xv, yv = _three_class(rng, 300)
    config = hb.HistGBTConfig(num_classes=3, num_trees=60, max_depth=5, num_bins=32,
                              learning_rate=0.5, min_examples=1, early_stopping_rounds=3)
    result = hb.fit_histogram_gbt(x, y, hb.quantile_edges(x, 32), config, xv, yv)
    losses = [h["val_loss"] for h in result.history]
    best = int(np.argmin(losses))
    assert result.iterations_grown == best + 3 < 60  # stopped 3 iterations after the best
    assert result.ensemble.num_trees == 3 * best
    assert result.history[0]["num_trees"] == 0 and len(result.history) == best + 4


def test_tiny_ensemble_converts_to_builtin_tflite_with_equal_probabilities():
    pytest.importorskip("tensorflow")
    pytest.importorskip("tflite_runtime")
    from converters import forest_to_tflite as f2t  # noqa: PLC0415 (needs TensorFlow)

    rng = np.random.default_rng(8)
    x, y = _three_class(rng, 400, num_features=5)
    config = hb.HistGBTConfig(num_classes=3, num_trees=3, max_depth=2, num_bins=8)
    ens = hb.fit_histogram_gbt(x, y, hb.quantile_edges(x, 8), config).ensemble
    model = f2t.forest_to_tflite(ens)
    f2t.assert_builtin_ops_only(model)
    trees, nodes = np.nonzero(ens.feature >= 0)
    on_threshold = np.repeat(x[:1], len(trees), axis=0)  # rows exactly on every threshold
    on_threshold[np.arange(len(trees)), ens.feature[trees, nodes]] = ens.threshold[trees, nodes]
    probe = np.concatenate([x[:50], on_threshold])
    np.testing.assert_allclose(f2t.tflite_predict_proba(model, probe), ens.predict_proba(probe),
                               atol=1e-5)


def test_bad_inputs_name_the_argument_expected_and_got():
    with pytest.raises(ValueError, match=r"num_bins must be an int in \[2, 65535\]; got 1"):
        hb.HistGBTConfig(num_classes=3, num_bins=1)
    with pytest.raises(ValueError, match=r"learning_rate must be a number in \(0.0, 1.0\]; "
                                         r"got 0"):
        hb.HistGBTConfig(num_classes=3, learning_rate=0)
    with pytest.raises(ValueError, match=r"max_depth must be an int in \[1, 16\]; got True"):
        hb.HistGBTConfig(num_classes=3, max_depth=True)
    with pytest.raises(ValueError, match=r"thresholds\[1\] must be finite and strictly "
                                         r"increasing; got \[1.0, 1.0\]"):
        hb.BinEdges((np.zeros(0), np.array([1.0, 1.0])), 4)
    with pytest.raises(ValueError, match=r"thresholds\[0\] must hold <= num_bins - 1 = 1 "
                                         r"values; got 2"):
        hb.BinEdges((np.array([0.0, 1.0]),), 2)
    edges = hb.BinEdges((np.array([0.0]), np.array([1.0])), 4)
    with pytest.raises(ValueError, match=r"x must have 2 features \(columns\); got 3"):
        hb.bin_features(np.zeros((5, 3), np.float32), edges)
    with pytest.raises(ValueError, match=r"x must be a float array of shape \[n, F\]; got "
                                         r"int64\[5, 2\]"):
        hb.bin_features(np.zeros((5, 2), np.int64), edges)
    with pytest.raises(ValueError, match=r"edges must be a BinEdges; got dict"):
        hb.bin_features(np.zeros((5, 2), np.float32), {})
    config = hb.HistGBTConfig(num_classes=3, num_bins=8)
    with pytest.raises(ValueError, match=r"edges must be a BinEdges with num_bins=8 "
                                         r"\(config.num_bins\); got BinEdges with num_bins=4"):
        hb.fit_histogram_gbt(np.zeros((5, 2), np.float32), np.zeros(5, np.int64), edges, config)
    with pytest.raises(ValueError, match=r"y labels must be in \[0, 3\); got \[0, 3\]"):
        hb.fit_histogram_gbt(np.zeros((2, 2), np.float32), np.array([0, 3]), edges,
                             hb.HistGBTConfig(num_classes=3, num_bins=4))
    with pytest.raises(ValueError, match=r"histograms must be int\[K, nodes, 2, 5, 3\]; got "
                                         r"float64\[1, 1, 2, 5, 3\]"):
        hb.find_splits(np.zeros((1, 1, 2, 5, 3)), edges,
                       hb.HistGBTConfig(num_classes=3, num_bins=4), np.ones((1, 1), bool))
    with pytest.raises(ValueError, match=r"node must be in \[-1, 2\); got \[0, 2\]"):
        hb.node_histograms(np.zeros((2, 1), np.uint8), np.array([[0], [2]]),
                           np.zeros((2, 1), np.int64), np.zeros((2, 1), np.int64), 2, 3)
    with pytest.raises(ValueError, match=r"x_val and y_val must be given together"):
        hb.BoostingClient(np.zeros((2, 2), np.float32), np.zeros(2, np.int64), edges, 3,
                          x_val=np.zeros((2, 2), np.float32))
