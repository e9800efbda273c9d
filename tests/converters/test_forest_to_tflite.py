"""Forest -> builtin-only TFLite: op list, exactness under tflite_runtime, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

from forests.extraction import from_sklearn, from_tfdf
from tests.forests.test_ensemble import random_ensemble
from tests.forests.test_extraction import assert_same_probabilities, eval_rows

tf = pytest.importorskip("tensorflow")
tfdf = pytest.importorskip("tensorflow_decision_forests")
pytest.importorskip("tflite_runtime")
from converters import forest_to_tflite as f2t  # noqa: E402 (needs TensorFlow)
from converters.tflite_inspection import op_names  # noqa: E402

ALLOWED_OPS = {
    "ADD", "CAST", "CONCATENATION", "FULLY_CONNECTED", "GATHER", "GREATER_EQUAL", "LOGICAL_AND",
    "LOGICAL_NOT", "LOGICAL_OR", "LOGISTIC", "MEAN", "MUL", "NOT_EQUAL", "RESHAPE", "SOFTMAX",
    "STRIDED_SLICE", "SUB",
}


@pytest.fixture(scope="module")
def source_models():
    """(name -> (source predict_proba, TreeEnsemble, held-out rows)) for four small forests."""
    out = {}
    for num_classes in (2, 3):
        x, y = make_classification(900, 6, n_informative=4, n_redundant=0,
                                   n_classes=num_classes, random_state=20 + num_classes)
        x, y, x_test = x[:300].astype(np.float32), y[:300], x[300:].astype(np.float32)
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(300)
        gbt = tfdf.keras.GradientBoostedTreesModel(num_trees=10, max_depth=5, random_seed=1,
                                                   verbose=0)
        gbt.fit(ds, verbose=0)
        out[f"tfdf_gbt_{num_classes}"] = (
            lambda v, m=gbt: m.predict(v, verbose=0), from_tfdf(gbt), x_test)
        if num_classes == 3:
            rf = tfdf.keras.RandomForestModel(num_trees=15, max_depth=8, random_seed=1,
                                              verbose=0)
            rf.fit(ds, verbose=0)
            out["tfdf_rf_3"] = (lambda v, m=rf: m.predict(v, verbose=0), from_tfdf(rf), x_test)
        else:
            sk = RandomForestClassifier(15, max_depth=8, random_state=0).fit(x, y)
            out["sklearn_rf_2"] = (sk.predict_proba, from_sklearn(sk), x_test)
    return out


@pytest.mark.parametrize("name", ["tfdf_rf_3", "tfdf_gbt_2", "tfdf_gbt_3", "sklearn_rf_2"])
def test_tflite_forest_is_builtin_only_and_matches_source(source_models, name):
    source_predict, ens, x_test = source_models[name]
    model = f2t.forest_to_tflite(ens)
    ops = op_names(model)
    assert "GATHER" in ops and set(ops) <= ALLOWED_OPS, ops
    assert f2t.assert_builtin_ops_only(model) == ops
    x = eval_rows(ens, x_test, seed=5)  # held-out, on-threshold, one-below and NaN rows
    probs = f2t.tflite_predict_proba(model, x)
    assert_same_probabilities(probs, source_predict(x))
    np.testing.assert_allclose(probs, ens.predict_proba(x), atol=1e-6)


@pytest.mark.parametrize("kind,num_classes", [("rf", 4), ("gbt", 2), ("gbt", 3)])
def test_random_ensembles_convert_exactly(kind, num_classes):
    rng = np.random.default_rng(num_classes)
    ens = random_ensemble(rng, kind, num_trees=7, num_features=5, num_classes=num_classes,
                          max_depth=6)
    x = (rng.integers(-5, 6, size=(300, 5)) / 2).astype(np.float32)  # rows on thresholds
    x[rng.random(x.shape) < 0.2] = np.nan
    probs = f2t.tflite_predict_proba(f2t.forest_to_tflite(ens), x)
    np.testing.assert_allclose(probs, ens.predict_proba(x), atol=1e-6)
    np.testing.assert_array_equal(probs.argmax(1), ens.predict(x))


def test_dynamic_batch_model_is_builtin_only_and_matches():
    from tflite_runtime.interpreter import Interpreter

    rng = np.random.default_rng(7)
    ens = random_ensemble(rng, "rf", num_trees=4, num_features=3, num_classes=3)
    model = f2t.forest_to_tflite(ens, batch_size=None)
    f2t.assert_builtin_ops_only(model)
    x = rng.normal(size=(9, 3)).astype(np.float32)
    interpreter = Interpreter(model_content=model)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(inp["index"], [9, 3])
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    np.testing.assert_allclose(interpreter.get_tensor(out["index"]), ens.predict_proba(x),
                               atol=1e-6)


def test_custom_and_flex_ops_are_detected():
    spec = tf.TensorSpec([3, 3], tf.float32)
    inverse = tf.function(tf.linalg.inv).get_concrete_function(spec)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([inverse])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS,
                                           tf.lite.OpsSet.SELECT_TF_OPS]
    flex_model = converter.convert()
    assert op_names(flex_model) == ["CUSTOM:FlexMatrixInverse"]
    with pytest.raises(ValueError, match=r"only builtin ops; found \['CUSTOM:FlexMatrixInverse'\]"):
        f2t.assert_builtin_ops_only(flex_model)


def test_bad_inputs_are_rejected():
    ens = random_ensemble(np.random.default_rng(0), "rf", num_features=3)
    with pytest.raises(ValueError, match="ensemble must be a TreeEnsemble; got dict"):
        f2t.forest_to_tflite({"feature": []})
    with pytest.raises(ValueError, match="batch_size must be a positive int or None; got 0"):
        f2t.forest_to_tflite(ens, batch_size=0)
    with pytest.raises(ValueError, match="not a TFLite flatbuffer"):
        op_names(b"PK\x03\x04" * 4)
    with pytest.raises(ValueError, match="kind must be 'rf' or 'gbt'; got 'svm'"):
        f2t.forest_outputs_tf(np.zeros((1, 3), np.float32), ens.to_arrays(), "svm", 3, 1)
    predict = f2t.tflite_row_predictor(f2t.forest_to_tflite(ens))
    with pytest.raises(ValueError, match="row must have 3 features; got 4"):
        predict(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="must take batch 1"):
        f2t.tflite_row_predictor(f2t.forest_to_tflite(ens, batch_size=2))
    with pytest.raises(ValueError, match=r"rows must have shape \[N,F\] with N >= 1"):
        f2t.latency_per_row(predict, np.zeros((0, 3), np.float32))


def test_latency_helper_reports_per_row_statistics():
    ens = random_ensemble(np.random.default_rng(1), "gbt", num_features=3, num_classes=3)
    predict = f2t.tflite_row_predictor(f2t.forest_to_tflite(ens))
    stats = f2t.latency_per_row(predict, np.zeros((20, 3), np.float32), warmup=2)
    assert stats["rows"] == 20 and 0 < stats["median_us"] <= stats["p90_us"]
