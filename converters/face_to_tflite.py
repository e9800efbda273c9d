"""Keras face CNN -> TFLite flatbuffer bytes: `float32`, `dynamic` (dynamic-range) or `int8`.

Every variant has a static input `[1,48,48,1]` (batch 1: the head unit classifies one face at a
time, and the Edge TPU rejects dynamic shapes). `float32`/`dynamic` take `float32` pixels/255;
`int8` is full-integer (builtin int8 kernels only) with int8 or uint8 input/output, calibrated on
`num_calibration_samples` images drawn (seeded, without replacement) from `calibration_images`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import tensorflow as tf

VARIANTS = ("float32", "dynamic", "int8")
IO_DTYPES = {"int8": tf.int8, "uint8": tf.uint8}


def _input_shape(model: tf.keras.Model) -> tuple[int, ...]:
    shape = tuple(model.input_shape)
    if len(shape) < 2 or any(d is None for d in shape[1:]):
        raise ValueError(f"model must have a static input shape [None, ...]; got {list(shape)}")
    return tuple(int(d) for d in shape[1:])


def _check_calibration(
    images: np.ndarray | None, count: int, sample_shape: tuple[int, ...]
) -> np.ndarray:
    if images is None:
        raise ValueError("calibration_images is required for the 'int8' variant; got None")
    images = np.asarray(images)
    if images.dtype != np.float32 or images.ndim != 1 + len(sample_shape) or tuple(
            images.shape[1:]) != sample_shape:
        raise ValueError(
            f"calibration_images must be float32[N,{','.join(map(str, sample_shape))}]; got "
            f"{images.dtype.name}{list(images.shape)}"
        )
    if images.shape[0] == 0:
        raise ValueError("calibration_images is empty")
    if not np.all(np.isfinite(images)) or images.min() < 0.0 or images.max() > 1.0:
        raise ValueError(
            "calibration_images must be finite pixel/255 values in [0, 1]; got range "
            f"[{np.nanmin(images):.4g}, {np.nanmax(images):.4g}]"
        )
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= len(images):
        raise ValueError(
            f"num_calibration_samples must be an integer in [1, {len(images)}] "
            f"(len(calibration_images)); got {count!r}"
        )
    return images


def representative_dataset(
    images: np.ndarray, count: int, seed: int
) -> Iterator[list[np.ndarray]]:
    """Yields `count` samples `[float32[1,...]]` drawn from `images` without replacement."""
    order = np.random.default_rng(seed).permutation(len(images))[:count]
    for i in order:
        yield [images[i:i + 1]]


def convert_face_model(
    model: tf.keras.Model,
    variant: str,
    *,
    calibration_images: np.ndarray | None = None,
    num_calibration_samples: int = 200,
    io_dtype: str = "int8",
    seed: int = 0,
) -> bytes:
    """TFLite bytes of `model` (input `float32[B,48,48,1]`, softmax output `float32[B,7]`).

    `calibration_images: float32[N,48,48,1]` in [0,1] (training images) and `io_dtype`
    ("int8" or "uint8", as the Edge TPU wants) are used by the `int8` variant only.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {list(VARIANTS)}; got {variant!r}")
    if io_dtype not in IO_DTYPES:
        raise ValueError(f"io_dtype must be one of {sorted(IO_DTYPES)}; got {io_dtype!r}")
    if not isinstance(model, tf.keras.Model):
        raise ValueError(f"model must be a tf.keras.Model; got {type(model).__name__}")
    sample_shape = _input_shape(model)
    if variant == "int8":
        calibration_images = _check_calibration(
            calibration_images, num_calibration_samples, sample_shape)

    @tf.function(input_signature=[tf.TensorSpec((1, *sample_shape), tf.float32, name="face")])
    def serve(face: tf.Tensor) -> tf.Tensor:
        return model(face, training=False)

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [serve.get_concrete_function()], model)
    if variant in ("dynamic", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "int8":
        images = calibration_images
        converter.representative_dataset = lambda: representative_dataset(
            images, num_calibration_samples, seed)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = IO_DTYPES[io_dtype]
        converter.inference_output_type = IO_DTYPES[io_dtype]
    return bytes(converter.convert())
