"""Extraction from TF-DF and sklearn reproduces the source models' own probabilities exactly."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

from forests.ensemble import TreeEnsemble
from forests.extraction import (
    from_sklearn,
    from_tfdf,
    from_tfdf_regression,
    sklearn_threshold_to_float32,
)

tf = pytest.importorskip("tensorflow")
tfdf = pytest.importorskip("tensorflow_decision_forests")

ATOL = 1e-5


def _data(num_classes: int, num_features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = make_classification(1300, num_features, n_informative=min(4, num_features),
                               n_redundant=0,
                               n_classes=num_classes, random_state=seed)
    return x.astype(np.float32), y.astype(np.int64)


def eval_rows(ens: TreeEnsemble, x: np.ndarray, seed: int) -> np.ndarray:
    """1,000 rows: 400 held-out, 400 with one feature set exactly on a split threshold (and, for
    sklearn-style thresholds, 200 of those one float32 step below it), 200 with NaNs."""
    rng = np.random.default_rng(seed)
    held = x[rng.choice(len(x), 600, replace=False)]
    splits = np.argwhere((ens.feature >= 0) & np.isfinite(ens.threshold))
    on = held[:400].copy()
    pick = splits[rng.integers(len(splits), size=400)]
    feat, thr = ens.feature[pick[:, 0], pick[:, 1]], ens.threshold[pick[:, 0], pick[:, 1]]
    on[np.arange(400), feat] = thr
    on[np.arange(200), feat[:200]] = np.nextafter(thr[:200], np.float32(-np.inf))
    nan = held[400:].copy()
    nan[rng.random(nan.shape) < 0.25] = np.nan
    return np.concatenate([held[:400], on, nan]).astype(np.float32)


def assert_same_probabilities(ours: np.ndarray, reference: np.ndarray) -> None:
    """|diff| <= 1e-5 and the same argmax wherever the reference's top two classes differ by
    more than 1e-5 (an exact vote tie is rounding noise in the source's float accumulation)."""
    if reference.shape[1] == 1:  # TF-DF binary: P(class 1)
        reference = np.concatenate([1 - reference, reference], axis=1)
    assert ours.shape == reference.shape
    assert np.abs(ours - reference).max() <= ATOL
    top2 = np.sort(reference, axis=1)[:, -2:]
    decided = top2[:, 1] - top2[:, 0] > ATOL
    assert decided.mean() > 0.8
    np.testing.assert_array_equal(ours.argmax(1)[decided], reference.argmax(1)[decided])


@pytest.fixture(scope="module")
def tfdf_models():
    """TF-DF RF and GBT, binary (6 features) and 3-class (12 features: TF-DF sorts the names
    "data:0.10" before "data:0.2", so column order is really exercised)."""
    models = {}
    for num_classes, width in ((2, 6), (3, 12)):
        x, y = _data(num_classes, width, seed=num_classes)
        ds = tf.data.Dataset.from_tensor_slices((x[:300], y[:300])).batch(300)
        rf = tfdf.keras.RandomForestModel(num_trees=15, max_depth=8, random_seed=1, verbose=0)
        gbt = tfdf.keras.GradientBoostedTreesModel(num_trees=10, max_depth=5, random_seed=1,
                                                   verbose=0)
        soft = tfdf.keras.RandomForestModel(num_trees=10, max_depth=6, winner_take_all=False,
                                            random_seed=1, verbose=0)
        for name, model in (("rf", rf), ("gbt", gbt), ("rf_soft", soft)):
            model.fit(ds, verbose=0)
            models[name, num_classes] = (model, x[300:])
    return models


@pytest.mark.parametrize("name", ["rf", "gbt", "rf_soft"])
@pytest.mark.parametrize("num_classes", [2, 3])
def test_tfdf_extraction_matches_tfdf_predict(tfdf_models, name, num_classes):
    model, x_test = tfdf_models[name, num_classes]
    ens = from_tfdf(model)
    assert ens.kind == ("gbt" if name == "gbt" else "rf")
    assert ens.num_classes == num_classes and ens.num_features == x_test.shape[1]
    x = eval_rows(ens, x_test, seed=num_classes)
    assert_same_probabilities(ens.predict_proba(x), model.predict(x, verbose=0))


def test_tfdf_gbt_layout(tfdf_models):
    model, _ = tfdf_models["gbt", 3]
    ens = from_tfdf(model)
    inspector = model.make_inspector()
    assert ens.num_trees == inspector.num_trees()
    np.testing.assert_array_equal(ens.output_class, np.arange(ens.num_trees) % 3)
    np.testing.assert_array_equal(ens.bias, inspector.specialized_header().initial_predictions)


def test_tfdf_named_features_follow_feature_names_order():
    x, y = _data(3, 4, seed=7)
    names = ("hr", "eda", "temp", "acc")  # TF-DF sorts them: acc, eda, hr, temp
    ds = tf.data.Dataset.from_tensor_slices(
        ({n: x[:300, i] for i, n in enumerate(names)}, y[:300])).batch(300)
    model = tfdf.keras.RandomForestModel(num_trees=5, max_depth=5, random_seed=1, verbose=0)
    model.fit(ds, verbose=0)
    ens = from_tfdf(model, feature_names=names)
    assert ens.feature_names == names
    reference = model.predict({n: x[300:, i] for i, n in enumerate(names)}, verbose=0)
    assert_same_probabilities(ens.predict_proba(x[300:]), reference)
    with pytest.raises(ValueError, match="cannot place TF-DF feature 'acc'"):
        from_tfdf(model)
    with pytest.raises(ValueError, match="cannot place TF-DF feature 'temp'"):
        from_tfdf(model, feature_names=("hr", "eda", "acc", "x3"))


def test_tfdf_random_forest_is_padded_to_num_classes():
    x, y = _data(3, 4, seed=8)
    keep = y < 2  # this client never saw class 2
    ds = tf.data.Dataset.from_tensor_slices((x[keep][:300], y[keep][:300])).batch(300)
    model = tfdf.keras.RandomForestModel(num_trees=5, max_depth=4, random_seed=1, verbose=0)
    model.fit(ds, verbose=0)
    ens = from_tfdf(model, num_classes=3)
    assert ens.leaf_value.shape[-1] == 3 and np.all(ens.predict_proba(x)[:, 2] == 0)
    assert_same_probabilities(ens.predict_proba(x)[:, :2], model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="num_classes=1 but the model predicts 2 classes"):
        from_tfdf(model, num_classes=1)


def test_tfdf_regression_forest_becomes_raw_score_trees():
    x, _ = _data(2, 4, seed=9)
    target = (x[:, 0] - 0.5 * x[:, 1]).astype(np.float32)
    model = tfdf.keras.RandomForestModel(task=tfdf.keras.Task.REGRESSION, num_trees=3,
                                         max_depth=5, random_seed=1, verbose=0)
    model.fit(tf.data.Dataset.from_tensor_slices((x[:300], target[:300])).batch(300), verbose=0)
    ens = from_tfdf_regression(model, num_classes=3, output_class=1)
    raw = ens.decision_function(x[300:])
    np.testing.assert_allclose(raw[:, 1], model.predict(x[300:], verbose=0)[:, 0], atol=ATOL)
    assert np.all(raw[:, [0, 2]] == 0)
    with pytest.raises(ValueError, match="model must be a classification model"):
        from_tfdf(model)
    with pytest.raises(ValueError, match=r"output_class must be in \[0, 3\)"):
        from_tfdf_regression(model, num_classes=3, output_class=3)


@pytest.mark.parametrize("num_classes", [2, 3])
@pytest.mark.parametrize("train_nan", [False, True])
def test_sklearn_extraction_matches_predict_proba(num_classes, train_nan):
    x, y = _data(num_classes, 6, seed=10 + num_classes)
    x_train = x[:300].copy()
    if train_nan:  # sklearn >= 1.4 learns where NaNs go
        x_train[np.random.default_rng(0).random(x_train.shape) < 0.1] = np.nan
    model = RandomForestClassifier(15, max_depth=8, random_state=0).fit(x_train, y[:300])
    ens = from_sklearn(model)
    assert ens.feature_names == tuple(f"x{i}" for i in range(6))
    x_eval = eval_rows(ens, x[300:], seed=num_classes)
    assert_same_probabilities(ens.predict_proba(x_eval), model.predict_proba(x_eval))


def test_sklearn_threshold_conversion_is_exact_at_float32_neighbours():
    rng = np.random.default_rng(0)
    t = np.concatenate([rng.normal(size=1000),  # generic float64
                        rng.normal(size=100).astype(np.float32).astype(np.float64),  # exact f32
                        [0.0, -0.0, 1e300, -1e300]])
    t32 = sklearn_threshold_to_float32(t)
    with np.errstate(over="ignore"):
        below = np.nextafter(t32, np.float32(-np.inf))
    assert np.all(t32.astype(np.float64) > t)  # x = t32 goes right (x > t in sklearn)
    assert np.all(below.astype(np.float64) <= t)  # the float32 just below goes left
    with pytest.raises(ValueError, match="threshold must not contain NaN"):
        sklearn_threshold_to_float32(np.array([np.nan]))


def test_bad_models_are_rejected():
    with pytest.raises(ValueError, match="model must be a fitted sklearn RandomForestClassifier"):
        from_sklearn(RandomForestClassifier())
    with pytest.raises(ValueError, match="model must be a trained TF-DF model; got str"):
        from_tfdf("model.zip")
    x, y = _data(2, 3, seed=11)
    model = RandomForestClassifier(2, max_depth=2, random_state=0).fit(x, y)
    with pytest.raises(ValueError, match=r"feature_names must have 3 names \(num_features\)"):
        from_sklearn(model, feature_names=("a", "b"))
