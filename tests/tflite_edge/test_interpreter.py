from __future__ import annotations

import numpy as np
import pytest

from emocore.quantization import dequantize, quantize
from tflite_edge.interpreter import TFLiteModel

tf = pytest.importorskip("tensorflow")  # only to build the test models

from tests.tflite_edge.tiny_models import tiny_keras_model, to_tflite  # noqa: E402


@pytest.fixture(scope="module")
def models() -> dict:
    keras_model = tiny_keras_model()
    return {"keras": keras_model, "float": to_tflite(keras_model, int8=False),
            "int8": to_tflite(keras_model, int8=True),
            "dynamic_batch": to_tflite(keras_model, int8=False, batch=None)}


def _x(seed: int, batch: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random((batch, 6, 6, 1), dtype=np.float32)


def test_float_model_matches_keras_from_bytes_and_path(models, tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(models["float"])
    x = _x(0)
    expected = models["keras"](x).numpy()
    for source in (models["float"], path, str(path)):
        out = TFLiteModel(source, num_threads=1).predict(x)
        assert out.dtype == np.float32 and out.shape == (1, 4)
        np.testing.assert_allclose(out, expected, atol=1e-6)


def test_int8_model_quantizes_inputs_and_dequantizes_outputs_explicitly(models):
    model = TFLiteModel(models["int8"])
    (inp,), (out,) = model.input_details, model.output_details
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    x = _x(1)
    raw = model.invoke_raw([quantize(x, *inp["quantization"], np.int8)])[0]
    np.testing.assert_array_equal(model.predict(x), dequantize(raw, *out["quantization"]))
    np.testing.assert_allclose(model.predict(x), models["keras"](x).numpy(), atol=0.05)


def test_outputs_are_copies_not_views_into_the_interpreter(models):
    model = TFLiteModel(models["float"])
    first = model.predict(_x(2))
    kept = first.copy()
    first[...] = -1.0  # writing into the result must not reach the interpreter
    second = model.predict(_x(3))
    np.testing.assert_array_equal(model.predict(_x(2)), kept)
    assert not np.array_equal(second, kept)


def test_dynamic_batch_dims_are_resized(models):
    model = TFLiteModel(models["dynamic_batch"])
    x = _x(4, batch=3)
    np.testing.assert_allclose(model.predict(x), models["keras"](x).numpy(), atol=1e-6)


def test_bad_inputs_name_the_argument(models, tmp_path):
    model = TFLiteModel(models["float"])
    with pytest.raises(ValueError, match="x must be float32; got float64"):
        model.predict(np.zeros((1, 6, 6, 1)))
    with pytest.raises(ValueError, match=r"inputs\[0\] must have shape \[1, 6, 6, 1\] \(-1 = any\);"
                                         r" got \[1, 5, 6, 1\]"):
        model.predict(np.zeros((1, 5, 6, 1), np.float32))
    with pytest.raises(ValueError, match=r"inputs must hold 1 arrays; got 2"):
        model.invoke_raw([np.zeros((1, 6, 6, 1), np.float32)] * 2)
    with pytest.raises(ValueError, match=r"inputs\[0\] must have dtype int8; got float32"):
        TFLiteModel(models["int8"]).invoke_raw([np.zeros((1, 6, 6, 1), np.float32)])
    with pytest.raises(ValueError, match="model bytes are not a TFLite flatbuffer"):
        TFLiteModel(b"not a model at all")
    with pytest.raises(FileNotFoundError, match="model file .*missing.tflite' does not exist"):
        TFLiteModel(tmp_path / "missing.tflite")
    with pytest.raises(ValueError, match="num_threads must be an integer >= 1; got 0"):
        TFLiteModel(models["float"], num_threads=0)


def test_missing_delegate_library_is_a_clear_error(models):
    with pytest.raises(FileNotFoundError,
                       match="delegate_path: could not load delegate library 'libnope_edgetpu.so'"):
        TFLiteModel(models["int8"], delegate_path="libnope_edgetpu.so")


def test_edge_tpu_delegate_when_present(models):
    from tflite_edge.interpreter import can_load_library

    if not can_load_library("libedgetpu.so.1"):
        pytest.skip("no Edge TPU runtime: libedgetpu.so.1 cannot be loaded on this machine")
    model = TFLiteModel(models["int8"], delegate_path="libedgetpu.so.1")
    assert model.predict(_x(5)).shape == (1, 4)
