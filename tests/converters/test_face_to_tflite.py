from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from converters.face_to_tflite import convert_face_model, representative_dataset
from converters.tflite_inspection import inspect_tflite
from tff_train.face.model import build_face_cnn
from tflite_edge.interpreter import TFLiteModel


def _fixed_inputs(n: int = 8) -> np.ndarray:
    return np.random.default_rng(123).random((n, 48, 48, 1), dtype=np.float32)


def _bright_vs_dark(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Easy synthetic faces: class 3 ("happy") bright images, class 0 ("angry") dark ones."""
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random(n) < 0.5, 3, 0)
    base = np.where(labels == 3, 0.55, 0.05)[:, None, None, None]
    return (base + 0.4 * rng.random((n, 48, 48, 1))).astype(np.float32), labels


@pytest.fixture(scope="module")
def tiny_model() -> tf.keras.Model:
    return build_face_cnn(width=4, depth=2, dense_units=8)


@pytest.fixture(scope="module")
def trained_tiny_model() -> tuple[tf.keras.Model, np.ndarray, np.ndarray]:
    tf.keras.utils.set_random_seed(0)
    model = build_face_cnn(width=4, depth=2, dense_units=8, dropout=0.0)
    for layer in model.layers:  # BatchNorm moving stats must settle within a few steps
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.momentum = 0.5
    images, labels = _bright_vs_dark(256, seed=0)
    model.compile(tf.keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    model.fit(images, labels, batch_size=32, epochs=3, verbose=0)
    return model, images, labels


def test_float32_matches_keras(tiny_model):
    model = TFLiteModel(convert_face_model(tiny_model, "float32"))
    (detail,) = model.input_details
    assert list(detail["shape_signature"]) == [1, 48, 48, 1] and detail["dtype"] == np.float32
    x = _fixed_inputs()
    expected = tiny_model(x, training=False).numpy()
    got = np.concatenate([model.predict(x[i:i + 1]) for i in range(len(x))])
    assert got.shape == (8, 7)
    assert np.max(np.abs(got - expected)) <= 1e-5


def test_dynamic_range_quantizes_weights_and_stays_close():
    model = build_face_cnn(width=8, depth=2, dense_units=8)  # 16x3x3x16 conv: >= 1024 weights
    data = convert_face_model(model, "dynamic")
    assert inspect_tflite(data).dtype_counts.get("int8", 0) >= 1
    assert TFLiteModel(data).input_details[0]["dtype"] == np.float32
    x = _fixed_inputs(4)
    got = np.concatenate([TFLiteModel(data).predict(x[i:i + 1]) for i in range(4)])
    np.testing.assert_allclose(got, model(x, training=False).numpy(), atol=2e-2)


@pytest.mark.parametrize("io_dtype", ["int8", "uint8"])
def test_int8_agrees_with_keras_top1(trained_tiny_model, io_dtype):
    model, train_images, _ = trained_tiny_model
    data = convert_face_model(model, "int8", calibration_images=train_images,
                              num_calibration_samples=64, io_dtype=io_dtype)
    tflite = TFLiteModel(data)
    (inp,), (out,) = tflite.input_details, tflite.output_details
    assert inp["dtype"] == np.dtype(io_dtype) and out["dtype"] == np.dtype(io_dtype)
    images, labels = _bright_vs_dark(200, seed=1)
    keras_top1 = model.predict(images, verbose=0).argmax(axis=1)
    tflite_top1 = np.array([tflite.predict(images[i:i + 1])[0].argmax() for i in range(200)])
    assert np.mean(keras_top1 == labels) >= 0.9  # the model really learned the easy task
    assert np.mean(tflite_top1 == keras_top1) >= 0.95


def test_representative_dataset_draws_distinct_seeded_samples():
    images = np.arange(10, dtype=np.float32)[:, None, None, None] * np.ones((1, 48, 48, 1),
                                                                          np.float32) / 10
    samples = list(representative_dataset(images, 6, seed=3))
    assert len(samples) == 6 and all(s[0].shape == (1, 48, 48, 1) for s in samples)
    firsts = [float(s[0][0, 0, 0, 0]) for s in samples]
    assert len(set(firsts)) == 6
    assert firsts == [float(s[0][0, 0, 0, 0]) for s in representative_dataset(images, 6, 3)]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"variant": "fp16"}, r"variant must be one of \['float32', 'dynamic', 'int8'\]; got 'fp16'"),
    ({"io_dtype": "int16"}, r"io_dtype must be one of \['int8', 'uint8'\]; got 'int16'"),
    ({"calibration_images": None}, "calibration_images is required for the 'int8' variant"),
    ({"calibration_images": np.zeros((4, 48, 48), np.float32)},
     r"calibration_images must be float32\[N,48,48,1\]; got float32\[4, 48, 48\]"),
    ({"calibration_images": np.zeros((4, 48, 48, 1), np.uint8)},
     r"calibration_images must be float32\[N,48,48,1\]; got uint8\[4, 48, 48, 1\]"),
    ({"calibration_images": np.full((4, 48, 48, 1), 255, np.float32)},
     r"calibration_images must be finite pixel/255 values in \[0, 1\]; got range \[255, 255\]"),
    ({"num_calibration_samples": 0},
     r"num_calibration_samples must be an integer in \[1, 4\] \(len\(calibration_images\)\); "
     r"got 0"),
    ({"num_calibration_samples": 5}, r"num_calibration_samples must be an integer in \[1, 4\]"),
])
def test_bad_arguments(tiny_model, kwargs, message):
    args = {"variant": "int8", "calibration_images": np.zeros((4, 48, 48, 1), np.float32),
            "num_calibration_samples": 4} | kwargs
    with pytest.raises(ValueError, match=message):
        convert_face_model(tiny_model, **args)


def test_model_argument_is_checked():
    with pytest.raises(ValueError, match="model must be a tf.keras.Model; got str"):
        convert_face_model("model.h5", "float32")
