"""Golden vectors: inputs and Python-edge outputs that the Java bridge must reproduce.

`golden_vectors(bundle)` returns one JSON-ready dict:
  face          crops uint8[H,W] through `tflite_edge.face_pipeline.FacePipeline` of every face
                model: float32(p) / float32(1 / pixel_scale) + pixel_offset -> `quantize` with
                the model's input scale/zero-point -> raw output (tflite-runtime) ->
                `dequantize` -> clipped, renormalised probabilities -> DRIVER_STATE3
  quantization  hand-picked `quantize`/`dequantize` cases (exact halves, clamping, zero-points)
  physio        raw windows -> `extract_window` features (android_bridge.golden_physio)
  models        `tflite_edge.physio_stream.PhysioStream.predict` on golden feature rows: raw
                model output, renormalised probabilities, DRIVER_STATE3, quality (fraction of
                finite features); an all-NaN row gives no prediction. Model-only: the stream is
                built on the spec without its calibration/population (a calibrated bundle's rows
                reach the model as recorded; the calibration has its own section)
  calibration   per-driver calibration sessions through `emocore.calibration.SessionCalibration`
                (android_bridge.golden_calibration): the bundle's calibration (when features.json
                has one) and fixed configs: inputs, float32 outputs, `is_frozen`, session stats and
                their merge into the prior (the profile update, float64)
  labels        every label space, every `mapping_matrix` (null = no mapping), `to_driver_state`
  fusion        `fuse` under every strategy and `FusionEngine` runs (android_bridge.golden_fusion)
The Java side cannot run TFLite here, so raw model outputs are recorded and the port checks
everything around them. Floats are float64 JSON numbers (float32 values exactly); NaN/Infinity
use Python json's tokens.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from android_bridge.golden_calibration import calibration_sessions
from android_bridge.golden_fusion import fusion_cases, fusion_sequences
from android_bridge.golden_physio import physio_cases
from emocore.fusion import FusionConfig, to_driver_state
from emocore.label_spaces import LABEL_SPACES, mapping_matrix
from emocore.physio import PhysioFeatureConfig, PhysioSpec
from emocore.quantization import QUANTIZED_DTYPES, dequantize, quantize
from emodata.synthetic_cohort import CohortConfig, generate_cohort
from tflite_edge.bundle import Bundle
from tflite_edge.face_pipeline import FacePipeline, choose_face_variant
from tflite_edge.interpreter import TFLiteModel
from tflite_edge.physio_stream import PhysioStream

GOLDEN_FORMAT = "fedmultiemo-golden-vectors"
GOLDEN_VERSION = 3  # 3: the "calibration" section; model cases on the un-calibrated spec
TOLERANCES = {"features_rel": 1e-5, "probs_abs": 1e-6}
_NUM_SYNTHETIC_FACES = 3


def _floats(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]


def _ints(values: np.ndarray) -> list[int]:
    return [int(v) for v in np.asarray(values).ravel()]


def face_crops(height: int, width: int, seed: int) -> list[tuple[str, np.ndarray]]:
    """Named golden crops `uint8[height, width]`: synthetic-cohort faces of `seed` (48x48 only),
    a checkerboard + ramp with 0/255 extremes and uniform noise."""
    crops = []
    if (height, width) == (48, 48):
        cohort = generate_cohort(1, seed, CohortConfig(faces_per_class=1, episodes_per_driver=1,
                                                       segment_s=(10, 10), frame_fps=0.5))
        frames = cohort.drivers[0].episodes[0].frames
        crops += [(f"synthetic_frame_{i}", frames[i]) for i in range(_NUM_SYNTHETIC_FACES)]
    yy, xx = np.mgrid[0:height, 0:width]
    checker = np.where(((yy // 6) + (xx // 6)) % 2 == 0, 255, 0)
    edges = np.where(xx < width // 2, checker, (xx * 255) // max(width - 1, 1))
    crops.append(("checker_and_ramp", edges.astype(np.uint8)))
    noise = np.random.default_rng(seed).integers(0, 256, (height, width))
    crops.append(("uniform_noise", noise.astype(np.uint8)))
    return crops


def _io(bundle: Bundle, role: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    name = bundle.models[role].name
    io = bundle.preprocessing["models"][name]
    if len(io["inputs"]) != 1 or len(io["outputs"]) != 1:
        raise ValueError(f"model {name!r} must have one input and one output; preprocessing.json "
                         f"lists {len(io['inputs'])} and {len(io['outputs'])}")
    return name, io["inputs"][0], io["outputs"][0]


def _raw_record(model_input: np.ndarray, raw: np.ndarray, spec_in: dict[str, Any],
                spec_out: dict[str, Any]) -> dict[str, Any]:
    """The model's input as the port must build it and its raw (and dequantized) output."""
    record: dict[str, Any] = {"input_dtype": spec_in["dtype"], "output_dtype": spec_out["dtype"]}
    if spec_in["dtype"] in QUANTIZED_DTYPES:
        record["quantized_input"] = _ints(model_input)
    else:
        record["input"] = _floats(model_input)
    if spec_out["dtype"] in QUANTIZED_DTYPES:
        record["raw_output"] = _ints(raw)
        record["dequantized"] = _floats(dequantize(raw, spec_out["scale"], spec_out["zero_point"]))
    else:
        record["raw_output"] = _floats(raw)
    return record


def _face_golden(bundle: Bundle, seed: int) -> dict[str, Any]:
    face = bundle.preprocessing["face"]
    shape = face["input_shape"]
    if len(shape) != 4 or shape[0] != 1 or shape[3] != 1:
        raise ValueError(f"preprocessing.json face.input_shape must be [1,H,W,1]; got {shape}")
    space = face["label_space"]
    pipelines = {}
    for role in sorted(r for r in bundle.models if r.startswith("face_")):
        name, spec_in, spec_out = _io(bundle, role)
        pipeline = FacePipeline(
            TFLiteModel(bundle.models[role]), label_space=space, pixel_scale=face["pixel_scale"],
            pixel_offset=face["pixel_offset"], bundle_io=bundle.preprocessing["models"][name])
        pipelines[name] = (pipeline, spec_in, spec_out)
    cases = []
    for crop_name, crop in face_crops(shape[1], shape[2], seed):
        outputs = {}
        for name, (pipeline, spec_in, spec_out) in pipelines.items():
            model_input = pipeline.preprocess(crop)
            raw = pipeline.infer(model_input)
            prediction = pipeline.postprocess(raw)
            record = _raw_record(model_input, raw, spec_in, spec_out)
            record.update({
                "probs": _floats(prediction.probs),
                "label_index": int(np.argmax(prediction.probs)),
                "driver_state": _floats(prediction.driver_state),
                "driver_state_index": int(np.argmax(prediction.driver_state))})
            outputs[name] = record
        cases.append({"name": crop_name, "height": shape[1], "width": shape[2],
                      "pixels": _ints(crop), "models": outputs})
    return {"pixel_scale": face["pixel_scale"], "pixel_offset": face["pixel_offset"],
            "label_space": space, "cases": cases}


def _quantization_golden(bundle: Bundle) -> dict[str, Any]:
    face_scales = sorted({(spec["scale"], spec["zero_point"], spec["dtype"])
                          for io in bundle.preprocessing["models"].values()
                          for spec in io["inputs"] + io["outputs"]
                          if spec["dtype"] in QUANTIZED_DTYPES})
    grid = np.arange(256) / 255.0
    quant_specs = [
        ("exact_halves_int8", [1.25, -1.25, 0.75, -0.75, 0.25, -0.25, 63.75, -64.25, 1e9, -1e9],
         0.5, 0, "int8"),
        ("uint8_clamp", [-1.0, 0.0, 0.5 / 255, 1.5 / 255, 0.5, 1.0, 2.0], 1 / 255, 0, "uint8"),
        ("int8_zero_point", list(np.linspace(-1.0, 1.0, 41)), 0.0078125, 3, "int8"),
        ("uint8_zero_point", list(np.linspace(-1.0, 1.0, 41)), 0.0078125, 128, "uint8"),
    ] + [(f"model_{dtype}_{i}", list(grid), scale, zero_point, dtype)
         for i, (scale, zero_point, dtype) in enumerate(face_scales)]
    quantize_cases = [{"name": name, "x": [float(v) for v in x], "scale": scale,
                       "zero_point": zp, "dtype": dtype,
                       "q": _ints(quantize(np.asarray(x), scale, zp, dtype))}
                      for name, x, scale, zp, dtype in quant_specs]
    deq_specs = [("int8", np.arange(-128, 128), 0.00390625, -128),
                 ("uint8", np.arange(256), 0.003921555820852518, 3),
                 ("int8", np.arange(-128, 128), 0.1, 7)]
    dequantize_cases = [{"dtype": dtype, "q": _ints(q), "scale": scale, "zero_point": zp,
                         "x": _floats(dequantize(q.astype(QUANTIZED_DTYPES[dtype]), scale, zp))}
                        for dtype, q, scale, zp in deq_specs]
    return {"quantize": quantize_cases, "dequantize": dequantize_cases}


def _physio_model_golden(bundle: Bundle, spec: PhysioSpec, rows: list[list[float]],
                         space: str) -> dict[str, Any]:
    name, spec_in, spec_out = _io(bundle, "physio")
    width = len(spec.feature_names)
    model = TFLiteModel(bundle.models["physio"])
    # Model behaviour only: rows go to the model as recorded (no per-session calibration, which
    # would also need a driver profile for prior "driver_profile"); see the "calibration" section.
    model_spec = dataclasses.replace(spec, calibration=None, population=None)
    stream = PhysioStream(model_spec, model, label_space=space)
    if not rows:  # precomputed features: hand-made rows of the model's width
        rng = np.random.default_rng(0)
        rows = [list(rng.normal(size=width)) for _ in range(4)]
        rows[1][0] = float("nan")
    cases = []
    for row in [*rows, [float("nan")] * width]:
        x = np.asarray(row, dtype=np.float32).reshape(1, width)
        record: dict[str, Any] = {"features": _floats(x)}
        prediction = stream.predict(x.ravel())
        if prediction is None:
            record["prediction"] = None
        else:
            (raw,) = model.invoke_raw([x])
            record.update(_raw_record(x, raw, spec_in, spec_out))
            record["prediction"] = {
                "probs": _floats(prediction.probs),
                "label_index": int(np.argmax(prediction.probs)),
                "driver_state": _floats(prediction.driver_state),
                "driver_state_index": int(np.argmax(prediction.driver_state)),
                "quality": prediction.quality}
        cases.append(record)
    return {"model": name, "label_space": space, "cases": cases}


def _labels_golden() -> dict[str, Any]:
    names = sorted(LABEL_SPACES)
    mappings = []
    for source in names:
        for target in names:
            try:
                matrix = mapping_matrix(source, target)
            except ValueError:
                mappings.append({"source": source, "target": target, "matrix": None})
                continue
            mappings.append({"source": source, "target": target,
                             "matrix": [_floats(row) for row in matrix]})
    rng = np.random.default_rng(0)
    conversions = []
    for source in names:
        try:
            mapping_matrix(source, "driver_state3")
        except ValueError:
            continue
        k = LABEL_SPACES[source].num_classes
        rows = [rng.dirichlet(np.ones(k)), np.eye(k)[k - 1], np.full(k, np.nan)]
        for row in rows:
            conversions.append({"source": source, "probs": _floats(row),
                                "expected": _floats(to_driver_state(row, source))})
    return {"spaces": {n: list(LABEL_SPACES[n].labels) for n in names}, "mappings": mappings,
            "to_driver_state": conversions}


def golden_vectors(bundle: Bundle, *, seed: int = 0) -> dict[str, Any]:
    """Every golden vector for `bundle` (a verified `tflite_edge.bundle.Bundle`); see above.

    Physiological windows use the bundle's feature config (features.json, `PhysioSpec`), or the
    defaults when the bundle takes precomputed features.
    """
    if not isinstance(bundle, Bundle):
        raise ValueError(f"bundle must be a tflite_edge.bundle.Bundle; got "
                         f"{type(bundle).__name__}")
    spec = PhysioSpec.from_json_dict(bundle.features)
    physio_config = spec.config or PhysioFeatureConfig()
    fusion_config = FusionConfig.from_json(bundle.fusion_json)
    spaces = dict(fusion_config.modality_label_spaces)
    face = _face_golden(bundle, seed)
    physio = physio_cases(physio_config, seed)
    out: dict[str, Any] = {
        "format": GOLDEN_FORMAT, "version": GOLDEN_VERSION, "tolerances": dict(TOLERANCES),
        "face": face, "quantization": _quantization_golden(bundle),
        "physio": {"cases": physio}, "models": {}, "labels": _labels_golden(),
        "calibration": {"sessions": calibration_sessions(spec, seed)},
    }
    # The "model_outputs" fusion scenario fuses what the real-time loop would: the preferred CPU
    # face model's driver state (quality 1) and the physio prediction (quality = finite fraction).
    face_file = bundle.models[f"face_{choose_face_variant(bundle, None, False)}"].name
    first = face["cases"][0]["models"][face_file]
    model_readings: dict[str, tuple[np.ndarray, float]] = {
        "face": (np.asarray(first["driver_state"]), 1.0)}
    if "physio" in bundle.models:
        names = list(spec.feature_names)
        rows = [c["features"] for c in physio if c["feature_names"] == names]
        physio_model = _physio_model_golden(bundle, spec, rows, spaces["physio"])
        out["models"]["physio"] = physio_model
        prediction = physio_model["cases"][0]["prediction"]
        model_readings["physio"] = (np.asarray(prediction["driver_state"]), prediction["quality"])
    out["fusion"] = {"cases": fusion_cases(fusion_config, model_readings),
                     "sequences": fusion_sequences(fusion_config)}
    return out
