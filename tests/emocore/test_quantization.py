from __future__ import annotations

import numpy as np
import pytest

from emocore.quantization import dequantize, quantize, round_half_away_from_zero


def test_rounds_halfway_cases_away_from_zero_unlike_numpy():
    x = np.array([0.25, 0.75, -0.25, -0.75, 1.25, 0.2, -0.3], np.float32)
    # x / 0.5 = [0.5, 1.5, -0.5, -1.5, 2.5, 0.4, -0.6]
    np.testing.assert_array_equal(quantize(x, 0.5, 0, np.int8), [1, 2, -1, -2, 3, 0, -1])
    assert np.round(2.5) == 2.0  # numpy rounds halves to even: the reason for our own rounding
    np.testing.assert_array_equal(round_half_away_from_zero(np.array([2.5, -2.5, 0.49999997])),
                                  [3.0, -3.0, 0.0])


def test_zero_point_offset_and_clamping():
    np.testing.assert_array_equal(
        quantize(np.array([0.0, 0.1, 1000.0, -1000.0]), 0.1, -128, "int8"), [-128, -127, 127, -128])
    q = quantize(np.array([-5.0, 0.0, 1.0, 9.0]), 1 / 255, 0, np.uint8)
    assert q.dtype == np.uint8
    np.testing.assert_array_equal(q, [0, 0, 255, 255])
    np.testing.assert_array_equal(quantize(np.array([-1.0, 1.0]), 1 / 128, 128, "uint8"),
                                  [0, 255])


def test_dequantize_hand_cases():
    out = dequantize(np.array([-128, 0, 127], np.int8), 0.5, -128)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [0.0, 64.0, 127.5])
    np.testing.assert_array_equal(dequantize(np.array([0, 255], np.uint8), 1 / 255, 0),
                                  np.array([0.0, 1.0], np.float32))


@pytest.mark.parametrize(("dtype", "zero_point"), [("int8", -128), ("int8", 3), ("uint8", 0)])
def test_round_trip_error_is_at_most_half_a_step(dtype, zero_point):
    scale = 0.0123
    info = np.iinfo(dtype)
    low, high = (info.min - zero_point) * scale, (info.max - zero_point) * scale
    x = np.random.default_rng(0).uniform(low, high, 10_000).astype(np.float32)
    back = dequantize(quantize(x, scale, zero_point, dtype), scale, zero_point)
    assert np.max(np.abs(back - x)) <= scale / 2 * (1 + 1e-5)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scale": 0.0}, "scale must be a positive finite number; got 0.0"),
    ({"scale": float("nan")}, "scale must be a positive finite number"),
    ({"scale": "1"}, "scale must be a positive finite number; got '1'"),
    ({"zero_point": 1.5}, "zero_point must be an integer; got 1.5"),
    ({"zero_point": 200}, r"zero_point must lie in \[-128, 127\] for int8; got 200"),
    ({"dtype": np.float32}, r"dtype must be one of \['int8', 'uint8'\]; got 'float32'"),
    ({"dtype": "nonsense"}, r"dtype must be one of \['int8', 'uint8'\]; got 'nonsense'"),
    ({"x": np.array([0.0, np.nan])}, "x must be finite; got NaN or inf"),
    ({"x": np.array(["a"])}, "x must be a real-valued array; got dtype <U1"),
])
def test_quantize_bad_inputs(kwargs, message):
    args = {"x": np.zeros(3, np.float32), "scale": 0.1, "zero_point": 0, "dtype": "int8"} | kwargs
    with pytest.raises(ValueError, match=message):
        quantize(**args)


def test_dequantize_bad_inputs():
    with pytest.raises(ValueError, match="q must be an integer array; got dtype float32"):
        dequantize(np.zeros(2, np.float32), 0.1, 0)
    with pytest.raises(ValueError, match="scale must be a positive finite number; got -1"):
        dequantize(np.zeros(2, np.int8), -1, 0)


@pytest.fixture(scope="module")
def int8_model_with_float_io() -> bytes:
    """Full-integer model whose float I/O goes through TFLite's own QUANTIZE/DEQUANTIZE ops."""
    tf = pytest.importorskip("tensorflow")
    inputs = tf.keras.Input((16,), batch_size=1)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(4, kernel_initializer="ones")(inputs))
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(1)
    converter.representative_dataset = lambda: (
        [rng.uniform(-1, 1, (1, 16)).astype(np.float32)] for _ in range(20))
    return bytes(converter.convert())


def _run_keeping_tensors(model: bytes, x: np.ndarray, interpreter_cls, **kwargs):
    interpreter = interpreter_cls(model_content=model, experimental_preserve_all_tensors=True,
                                  **kwargs)
    interpreter.allocate_tensors()
    tensors = interpreter.get_tensor_details()
    q_in = next(t for t in tensors if t["dtype"] == np.int8 and list(t["shape"]) == [1, 16])
    q_out = next(t for t in tensors if t["dtype"] == np.int8 and list(t["shape"]) == [1, 4])
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return (q_in["quantization"], interpreter.get_tensor(q_in["index"]), q_out["quantization"],
            interpreter.get_tensor(q_out["index"]),
            interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


def _inputs_with_exact_halves(scale: float, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """`float32[1,16]`: 8 values at exact halfway points k + 0.5 (in steps) and 8 ordinary ones."""
    halves = ((rng.integers(-100, 100, 8) + 0.5) * np.float32(scale)).astype(np.float32)
    exact = int(np.sum(np.abs(np.divide(halves, np.float32(scale), dtype=np.float32) % 1) == 0.5))
    return np.concatenate([halves, rng.uniform(-1.2, 1.2, 8).astype(np.float32)])[None], exact


def test_matches_the_tflite_reference_quantize_and_dequantize_kernels(int8_model_with_float_io):
    tf_interpreter = pytest.importorskip("tensorflow.lite.python.interpreter")
    rng = np.random.default_rng(2)
    scale = _run_keeping_tensors(int8_model_with_float_io, np.zeros((1, 16), np.float32),
                                 tf_interpreter.Interpreter)[0][0]
    checked_halves = 0
    for _ in range(30):
        x, exact = _inputs_with_exact_halves(scale, rng)
        checked_halves += exact
        (s_in, zp_in), q_in, (s_out, zp_out), q_out, y = _run_keeping_tensors(
            int8_model_with_float_io, x, tf_interpreter.Interpreter,
            experimental_op_resolver_type=tf_interpreter.OpResolverType.BUILTIN_REF)
        np.testing.assert_array_equal(quantize(x, s_in, zp_in, np.int8), q_in)
        np.testing.assert_array_equal(dequantize(q_out, s_out, zp_out), y)
    assert checked_halves > 100  # the halfway rule really was exercised


def test_optimised_runtime_kernels_differ_only_on_exact_halves(int8_model_with_float_io):
    from tflite_runtime.interpreter import Interpreter

    rng = np.random.default_rng(3)
    for _ in range(30):
        x = rng.uniform(-1.2, 1.2, (1, 16)).astype(np.float32)
        (s_in, zp_in), q_in, *_ = _run_keeping_tensors(int8_model_with_float_io, x, Interpreter)
        steps = np.divide(x, np.float32(s_in), dtype=np.float32)
        off_half = np.abs(np.abs(steps % 1) - 0.5) > 1e-3
        ours = quantize(x, s_in, zp_in, np.int8)
        np.testing.assert_array_equal(ours[off_half], q_in[off_half])
        assert np.abs(ours.astype(int) - q_in).max() <= 1
