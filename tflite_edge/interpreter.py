"""A thin TFLite interpreter wrapper with explicit (de)quantization; never imports TensorFlow.

The runtime is `ai_edge_litert.interpreter` when installed, else `tflite_runtime.interpreter`.
`predict` takes the model's float input (e.g. `float32[1,48,48,1]` in [0,1] for the face CNN),
quantizes it with the model's own input scale/zero-point when the input is int8/uint8, runs the
model and returns a float32 COPY of the (dequantized) output, never a view into the interpreter.
"""

from __future__ import annotations

import ctypes
import importlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emocore.quantization import (
    QUANTIZED_DTYPES,
    from_tensor_dtype,
    tensor_quantization,
    to_tensor_dtype,
)

_RUNTIME_MODULES = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter")


def load_runtime() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """`(Interpreter, load_delegate)` from the first installed runtime in `_RUNTIME_MODULES`."""
    for name in _RUNTIME_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return module.Interpreter, module.load_delegate
    raise ImportError(
        f"no TFLite runtime found: install one of {list(_RUNTIME_MODULES)} "
        "(pip install tflite-runtime==2.14.0)"
    )


def can_load_library(library: str) -> bool:
    """True when the shared library (e.g. `libedgetpu.so.1`) can be loaded on this machine."""
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


class TFLiteModel:
    """One `.tflite` model (path or bytes) on the CPU or a delegate (e.g. `libedgetpu.so.1`)."""

    def __init__(
        self,
        model: str | os.PathLike | bytes,
        *,
        num_threads: int = 1,
        delegate_path: str | None = None,
        delegate_options: dict[str, str] | None = None,
    ) -> None:
        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
            raise ValueError(f"num_threads must be an integer >= 1; got {num_threads!r}")
        interpreter_cls, load_delegate = load_runtime()
        kwargs: dict[str, Any] = {"num_threads": num_threads}
        if isinstance(model, bytes | bytearray):
            if len(model) < 8 or bytes(model[4:8]) != b"TFL3":
                raise ValueError(
                    "model bytes are not a TFLite flatbuffer (expected identifier b'TFL3' at "
                    f"bytes 4..8; got {bytes(model[4:8])!r})"
                )
            kwargs["model_content"] = bytes(model)
            self.source = "<bytes>"
        elif isinstance(model, str | os.PathLike):
            path = Path(model)
            if not path.is_file():
                raise FileNotFoundError(f"model file {str(path)!r} does not exist")
            kwargs["model_path"] = str(path)
            self.source = str(path)
        else:
            raise ValueError(f"model must be a path or bytes; got {type(model).__name__}")
        if delegate_path is not None:
            # Check first: tflite_runtime's Delegate raises a second error in __del__ otherwise.
            if not can_load_library(delegate_path):
                raise FileNotFoundError(
                    f"delegate_path: could not load delegate library {delegate_path!r} (for the "
                    "Edge TPU install the Coral runtime that provides libedgetpu.so.1)"
                )
            try:
                delegate = load_delegate(delegate_path, delegate_options)
            except (ValueError, OSError, RuntimeError) as err:
                raise FileNotFoundError(
                    f"delegate_path: could not load delegate library {delegate_path!r} (for the "
                    f"Edge TPU install the Coral runtime that provides libedgetpu.so.1): {err}"
                ) from None
            kwargs["experimental_delegates"] = [delegate]
        self.delegate_path = delegate_path
        self._interpreter = interpreter_cls(**kwargs)
        self._interpreter.allocate_tensors()

    @property
    def input_details(self) -> list[dict[str, Any]]:
        """The interpreter's input details (a fresh list each call)."""
        return self._interpreter.get_input_details()

    @property
    def output_details(self) -> list[dict[str, Any]]:
        """The interpreter's output details (a fresh list each call)."""
        return self._interpreter.get_output_details()

    def _single(self, details: Sequence[dict[str, Any]], what: str) -> dict[str, Any]:
        if len(details) != 1:
            raise ValueError(
                f"predict needs a model with exactly one {what}; this model has {len(details)} "
                f"(use invoke_raw with one array per {what})"
            )
        return details[0]

    def _set_input(self, detail: dict[str, Any], value: np.ndarray, name: str) -> None:
        expected = np.dtype(detail["dtype"])
        if value.dtype != expected:
            raise ValueError(f"{name} must have dtype {expected.name}; got {value.dtype.name}")
        shape, signature = tuple(detail["shape"]), tuple(detail["shape_signature"])
        if value.shape != shape:
            compatible = len(signature) == value.ndim and all(
                s in (-1, v) for s, v in zip(signature, value.shape, strict=True)
            )
            if not compatible:
                raise ValueError(
                    f"{name} must have shape {list(signature)} (-1 = any); "
                    f"got {list(value.shape)}"
                )
            self._interpreter.resize_tensor_input(detail["index"], list(value.shape))
            self._interpreter.allocate_tensors()
        self._interpreter.set_tensor(detail["index"], value)

    def invoke_raw(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Runs the model on arrays already in the input dtypes; returns copies of all outputs."""
        details = self.input_details
        if len(inputs) != len(details):
            raise ValueError(f"inputs must hold {len(details)} arrays; got {len(inputs)}")
        for i, (detail, value) in enumerate(zip(details, inputs, strict=True)):
            self._set_input(detail, np.asarray(value), f"inputs[{i}]")
        self._interpreter.invoke()
        return [np.array(self._interpreter.get_tensor(d["index"]), copy=True)
                for d in self.output_details]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """`x: float32[...]` (the model's float input) -> `float32[...]` (its only output).

        int8/uint8 inputs are quantized with the model's input scale/zero-point and int8/uint8
        outputs dequantized with its output scale/zero-point (`emocore.quantization`).
        """
        x = np.asarray(x)
        if x.dtype != np.float32:
            raise ValueError(f"x must be float32; got {x.dtype.name}")
        in_detail = self._single(self.input_details, "input")
        out_detail = self._single(self.output_details, "output")
        in_dtype = np.dtype(in_detail["dtype"])
        if in_dtype.name not in QUANTIZED_DTYPES and in_dtype != np.float32:
            raise ValueError(f"predict supports float32/int8/uint8 inputs; model has {in_dtype}")
        x = to_tensor_dtype(x, in_dtype, tensor_quantization(in_detail, "input"))
        (raw,) = self.invoke_raw([x])
        return from_tensor_dtype(raw, tensor_quantization(out_detail, "output"))

