"""Face crop -> expression probabilities -> DRIVER_STATE3, with explicit (de)quantization.

Steps (each one a method, so the real-time loop can time them):
  1. `preprocess(crop: uint8[48,48])`:
     `x = float32(pixel) / float32(1 / pixel_scale) + pixel_offset` (the training input
     pipeline's `cast(float32) / 255.0`), shaped like the model input `[1,48,48,1]`; an
     int8/uint8 model input is quantized HERE with `emocore.quantization.quantize` and the
     model's own input scale/zero-point (checked against the bundle's preprocessing.json).
  2. `infer(model_input)`: one interpreter invocation; returns the raw output `[1,C]`.
  3. `postprocess(raw)`: int8/uint8 outputs are dequantized with
     `emocore.quantization.dequantize`; the vector is clipped at 0 and renormalised to sum 1
     (an int8 softmax sums to 1 only within a few 1/256 steps), then mapped to DRIVER_STATE3
     with `emocore.fusion.to_driver_state`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from emocore.face_preprocessing import (
    PIXEL_OFFSET,
    PIXEL_SCALE,
    check_pixel_scaling,
    scale_pixels,
)
from emocore.fusion import FusionConfig, model_output_probs
from emocore.label_spaces import get_label_space
from emocore.quantization import (
    QUANTIZED_DTYPES,
    from_tensor_dtype,
    tensor_quantization,
    to_tensor_dtype,
)
from tflite_edge.bundle import Bundle
from tflite_edge.interpreter import TFLiteModel

# Variant preference when none is asked for: the Edge TPU needs its compiled model, the CPU
# runs the int8 model fastest.
CPU_VARIANTS = ("int8", "dynamic", "float32")
DELEGATE_VARIANTS = ("edgetpu", "int8")


@dataclasses.dataclass(frozen=True)
class FacePrediction:
    """`probs: float64[C]` over the face label space, `driver_state: float64[3]`."""

    probs: np.ndarray
    driver_state: np.ndarray
    label_space: str


def choose_face_variant(bundle: Bundle, variant: str | None, delegate: bool) -> str:
    """The face model role (`face_<variant>`) to run: `variant` if given, else by preference."""
    available = sorted(role[len("face_"):] for role in bundle.models if role.startswith("face_"))
    if variant is not None:
        if variant not in available:
            raise ValueError(f"face_variant must be one of the bundle's face models {available}; "
                             f"got {variant!r}")
        return variant
    for candidate in DELEGATE_VARIANTS if delegate else CPU_VARIANTS:
        if candidate in available:
            return candidate
    raise ValueError(f"bundle {str(bundle.directory)!r} has no face model usable "
                     f"{'with a delegate' if delegate else 'on the CPU'}; it has {available}")


class FacePipeline:
    """A face TFLite model plus the bundle's preprocessing; see the module docstring."""

    def __init__(
        self,
        model: TFLiteModel,
        *,
        label_space: str = "fer7",
        pixel_scale: float = PIXEL_SCALE,
        pixel_offset: float = PIXEL_OFFSET,
        bundle_io: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(model, TFLiteModel):
            raise ValueError(f"model must be a TFLiteModel; got {type(model).__name__}")
        self.model = model
        self.label_space = get_label_space(label_space).name
        check_pixel_scaling(pixel_scale, pixel_offset)
        self.pixel_scale, self.pixel_offset = float(pixel_scale), float(pixel_offset)
        inputs, outputs = model.input_details, model.output_details
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(f"model must have one input and one output; got {len(inputs)} and "
                             f"{len(outputs)}")
        self._in, self._out = inputs[0], outputs[0]
        shape = [int(d) for d in self._in["shape"]]
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 1:
            raise ValueError(f"model input must have shape [1,H,W,1]; got {shape}")
        self.input_shape = tuple(shape)
        num_classes = get_label_space(label_space).num_classes
        if [int(d) for d in self._out["shape"]] != [1, num_classes]:
            raise ValueError(f"model output must have shape [1,{num_classes}] "
                             f"({label_space}); got {list(self._out['shape'])}")
        self.input_dtype = np.dtype(self._in["dtype"])
        self.output_dtype = np.dtype(self._out["dtype"])
        self.input_quantization = tensor_quantization(self._in, "input")
        self.output_quantization = tensor_quantization(self._out, "output")
        if bundle_io is not None:
            _check_bundle_io(bundle_io, self._in, self._out)

    @classmethod
    def from_bundle(
        cls,
        bundle: Bundle,
        *,
        variant: str | None = None,
        delegate_path: str | None = None,
        num_threads: int = 1,
    ) -> FacePipeline:
        """The pipeline of a loaded bundle's face model (`variant`, else by preference)."""
        variant = choose_face_variant(bundle, variant, delegate_path is not None)
        role = f"face_{variant}"
        path = bundle.models[role]
        model = TFLiteModel(path, num_threads=num_threads, delegate_path=delegate_path)
        face = bundle.preprocessing.get("face")
        if not isinstance(face, Mapping):
            raise ValueError("preprocessing.json must hold a 'face' object")
        space = dict(FusionConfig.from_json(bundle.fusion_json).modality_label_spaces).get("face")
        if space is not None and face.get("label_space", space) != space:
            raise ValueError(f"preprocessing.json face label_space {face.get('label_space')!r} "
                             f"differs from fusion.json's {space!r}")
        io = bundle.preprocessing.get("models", {}).get(path.name)
        if io is None:
            raise ValueError(f"preprocessing.json has no I/O entry for {path.name!r}")
        return cls(model, label_space=space or face.get("label_space", "fer7"),
                   pixel_scale=float(face.get("pixel_scale", PIXEL_SCALE)),
                   pixel_offset=float(face.get("pixel_offset", PIXEL_OFFSET)),
                   bundle_io=io)

    def preprocess(self, crop: np.ndarray) -> np.ndarray:
        """`crop: uint8[H,W]` (or `[H,W,1]`) -> model input `[1,H,W,1]` in the input dtype."""
        crop = np.asarray(crop)
        h, w = self.input_shape[1:3]
        if crop.dtype != np.uint8 or crop.shape not in ((h, w), (h, w, 1)):
            raise ValueError(f"crop must be uint8[{h},{w}]; got {crop.dtype}{list(crop.shape)}")
        x = scale_pixels(crop, self.pixel_scale, self.pixel_offset).reshape(self.input_shape)
        return to_tensor_dtype(x, self.input_dtype, self.input_quantization)

    def infer(self, model_input: np.ndarray) -> np.ndarray:
        """One invocation: `model_input` from `preprocess` -> raw output `[1,C]`."""
        (raw,) = self.model.invoke_raw([model_input])
        return raw

    def postprocess(self, raw: np.ndarray) -> FacePrediction:
        """Raw output `[1,C]` -> `FacePrediction` (dequantized, renormalised, mapped)."""
        probs, state = model_output_probs(from_tensor_dtype(raw, self.output_quantization),
                                          self.label_space, "face")
        return FacePrediction(probs, state, self.label_space)

    def predict(self, crop: np.ndarray) -> FacePrediction:
        """`preprocess`, `infer` and `postprocess` in one call."""
        return self.postprocess(self.infer(self.preprocess(crop)))


def _check_bundle_io(io: Mapping[str, Any], model_in: Mapping[str, Any],
                     model_out: Mapping[str, Any]) -> None:
    """Refuses a bundle whose recorded I/O dtype/scale/zero-point differ from the model's."""
    for what, listed, detail in (("inputs", io.get("inputs"), model_in),
                                 ("outputs", io.get("outputs"), model_out)):
        if not isinstance(listed, list) or len(listed) != 1:
            raise ValueError(f"preprocessing.json {what} must list one tensor; got {listed!r}")
        entry = listed[0]
        dtype = np.dtype(detail["dtype"]).name
        scale, zero_point = detail["quantization"]
        if entry.get("dtype") != dtype:
            raise ValueError(f"preprocessing.json {what}[0] dtype {entry.get('dtype')!r} differs "
                             f"from the model's {dtype!r}")
        if dtype in QUANTIZED_DTYPES and not (
                entry.get("scale") is not None
                and math.isclose(entry["scale"], scale, rel_tol=1e-6)
                and entry.get("zero_point") == zero_point):
            raise ValueError(f"preprocessing.json {what}[0] quantization "
                             f"({entry.get('scale')}, {entry.get('zero_point')}) differs from the "
                             f"model's ({scale}, {zero_point})")
