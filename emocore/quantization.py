"""The ONE implementation of affine (de)quantization, matching TFLite's QUANTIZE/DEQUANTIZE ops.

Used by the converters, the edge runtime and (ported line by line) the Java bridge.

    quantize:   q = clamp(round(x / scale) + zero_point, qmin, qmax)
    dequantize: x = (q - zero_point) * scale

Exactly as TFLite's reference kernels (`AffineQuantize`, `Dequantize`):
- `x / scale` is one float32 division (numpy float32 division is IEEE-754, like C++ `float`);
- `round` is C's `std::round`: halfway cases go AWAY from zero (2.5 -> 3, -2.5 -> -3), unlike
  numpy's `np.round`, which rounds halfway cases to even;
- the result is clamped to the dtype range ([-128, 127] for int8, [0, 255] for uint8);
- dequantization's `(q - zero_point) * scale` is exact in float64 (a 9-bit integer times a 24-bit
  mantissa) and is rounded once to float32, so float32 and float64 arithmetic agree bit for bit.
Only per-tensor parameters (one scale, one zero-point) — what model inputs/outputs use.

TFLite's OPTIMISED kernels differ on exact halfway points only: the default CPU QUANTIZE kernel
rounds halves to even and XNNPACK multiplies by 1/scale before rounding to even, so an in-graph
QUANTIZE op may be 1 step off this reference on inputs where `x / scale` ends in exactly .5.
Our models avoid the question: int8 models take int8 input quantized HERE, explicitly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

QUANTIZED_DTYPES: dict[str, type[np.integer]] = {"int8": np.int8, "uint8": np.uint8}


def _dtype_name(dtype: object) -> str:
    expected = sorted(QUANTIZED_DTYPES)
    try:
        name = np.dtype(dtype).name  # type: ignore[call-overload]
    except TypeError:
        raise ValueError(f"dtype must be one of {expected}; got {dtype!r}") from None
    if name not in QUANTIZED_DTYPES:
        raise ValueError(f"dtype must be one of {expected}; got {name!r}")
    return name


def _check_params(scale: float, zero_point: int, dtype_name: str | None) -> None:
    if isinstance(scale, bool) or not isinstance(scale, int | float | np.floating | np.integer):
        raise ValueError(f"scale must be a positive finite number; got {scale!r}")
    if not (math.isfinite(float(scale)) and float(scale) > 0.0):
        raise ValueError(f"scale must be a positive finite number; got {scale!r}")
    if isinstance(zero_point, bool) or not isinstance(zero_point, int | np.integer):
        raise ValueError(f"zero_point must be an integer; got {zero_point!r}")
    if dtype_name is not None:
        info = np.iinfo(QUANTIZED_DTYPES[dtype_name])
        if not info.min <= int(zero_point) <= info.max:
            raise ValueError(
                f"zero_point must lie in [{info.min}, {info.max}] for {dtype_name}; "
                f"got {zero_point}"
            )


def round_half_away_from_zero(values: np.ndarray) -> np.ndarray:
    """`std::round` on a float array (halfway cases away from zero); same dtype and shape."""
    values = np.asarray(values)
    rounded = np.round(values)  # half to even; differs from std::round only at exact halves
    truncated = np.trunc(values)
    halfway = np.abs(values - truncated) == 0.5  # exact: subtracting the integer part is exact
    return np.where(halfway, truncated + np.sign(values), rounded).astype(values.dtype, copy=False)


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: object) -> np.ndarray:
    """float `x: float[...]` -> `int8[...]`/`uint8[...]` as TFLite's QUANTIZE op does it.

    Raises ValueError for non-finite `x` (NaN has no quantized value), a non-positive scale, a
    non-integer zero-point or one outside the dtype range, and dtypes other than int8/uint8.
    """
    name = _dtype_name(dtype)
    _check_params(scale, zero_point, name)
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise ValueError(f"x must be a real-valued array; got dtype {x.dtype}")
    x32 = x.astype(np.float32, copy=False)
    if not np.all(np.isfinite(x32)):
        raise ValueError("x must be finite; got NaN or inf (after conversion to float32)")
    scaled = np.divide(x32, np.float32(scale), dtype=np.float32)
    # Clamp in float64 before casting, so values far outside the range cannot overflow int32.
    shifted = round_half_away_from_zero(scaled).astype(np.float64) + int(zero_point)
    info = np.iinfo(QUANTIZED_DTYPES[name])
    return np.clip(shifted, info.min, info.max).astype(QUANTIZED_DTYPES[name])


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """`q: int8[...]`/`uint8[...]` (or any integer array) -> `float32[...]` = (q - zp) * scale."""
    _check_params(scale, zero_point, None)
    q = np.asarray(q)
    if q.dtype.kind not in "iu":
        raise ValueError(f"q must be an integer array; got dtype {q.dtype}")
    centred = q.astype(np.int64) - int(zero_point)
    return (centred.astype(np.float64) * float(np.float32(scale))).astype(np.float32)


def tensor_quantization(detail: Mapping[str, Any], what: str) -> tuple[float, int] | None:
    """`(scale, zero_point)` of an int8/uint8 tensor from its interpreter `detail`; None for a
    float tensor. Raises ValueError naming the tensor (`what`) when a quantized one has no scale."""
    dtype = np.dtype(detail["dtype"]).name
    if dtype not in QUANTIZED_DTYPES:
        return None
    scale, zero_point = detail["quantization"]
    if not scale > 0:
        raise ValueError(
            f"model {what} {detail.get('name', '')!r} is {dtype} without a quantization scale "
            f"(got scale={scale}); cannot (de)quantize it"
        )
    return float(scale), int(zero_point)


def to_tensor_dtype(x: np.ndarray, dtype: object, quantization: tuple[float, int] | None
                    ) -> np.ndarray:
    """float `x: float32[...]` -> the tensor's `dtype` (quantized with `(scale, zero_point)`
    for int8/uint8, a cast otherwise)."""
    dtype = np.dtype(dtype)  # type: ignore[call-overload]
    if dtype.name in QUANTIZED_DTYPES:
        if quantization is None:
            raise ValueError(f"quantization must be (scale, zero_point) for a {dtype.name} "
                             "tensor; got None")
        return quantize(x, quantization[0], quantization[1], dtype)
    return np.asarray(x).astype(dtype, copy=False)


def from_tensor_dtype(raw: np.ndarray, quantization: tuple[float, int] | None) -> np.ndarray:
    """A tensor's raw values `[...]` -> `float32[...]` (dequantized when `quantization` is
    `(scale, zero_point)`, a cast when None)."""
    raw = np.asarray(raw)
    if quantization is not None and raw.dtype.name in QUANTIZED_DTYPES:
        return dequantize(raw, quantization[0], quantization[1])
    return raw.astype(np.float32, copy=False)
