"""Tests for tflite_edge.face_pipeline on a tiny real bundle (TensorFlow only builds fixtures).

`write_tiny_bundle` is also used by the other edge tests and the edge_latency benchmark test.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from emocore.fusion import FusionConfig
from emocore.label_spaces import FER7
from emocore.physio import PhysioFeatureConfig, PhysioSpec
from emocore.quantization import dequantize, quantize
from tflite_edge.bundle import load_bundle
from tflite_edge.face_pipeline import FacePipeline, choose_face_variant
from tflite_edge.interpreter import TFLiteModel

tf = pytest.importorskip("tensorflow")  # only to build the fixture models

# A 10-s window keeps replays short; the rest of the config is the default.
TINY_PHYSIO_CONFIG = PhysioFeatureConfig(window_s=10.0, stride_s=1.0)


@functools.lru_cache(maxsize=1)
def tiny_models() -> dict[str, object]:
    """A tiny face CNN (Keras + int8/float32 TFLite) and a tiny forest (sklearn + TFLite)."""
    from sklearn.ensemble import RandomForestClassifier

    from converters.face_to_tflite import convert_face_model
    from converters.forest_to_tflite import forest_to_tflite
    from forests.extraction import from_sklearn
    from tff_train.face.model import build_face_cnn

    rng = np.random.default_rng(0)
    keras_model = build_face_cnn(width=4, depth=2, dense_units=8)
    calibration = rng.random((16, 48, 48, 1), dtype=np.float32)
    names = PhysioSpec.raw_signals(TINY_PHYSIO_CONFIG).feature_names
    x = rng.normal(size=(90, len(names))).astype(np.float32)
    y = (x[:, 0] > 0).astype(int) + (x[:, 5] > 0.5)  # 3 classes that depend on 2 features
    forest = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(x, y)
    ensemble = from_sklearn(forest, names)
    return {
        # Weights, not the model: a session-cached Keras model is invalidated when a later test
        # builds Keras layers inside a tf.compat.v1 graph (as TFF's tracing does).
        "keras_weights": keras_model.get_weights(),
        "int8": convert_face_model(keras_model, "int8", calibration_images=calibration,
                                   num_calibration_samples=16),
        "float32": convert_face_model(keras_model, "float32"),
        "ensemble": ensemble,
        "physio": forest_to_tflite(ensemble),
    }


def write_tiny_bundle(out_dir: Path, *, variants: tuple[str, ...] = ("int8",),
                      physio: bool = True, fusion_config: FusionConfig | None = None) -> Path:
    """Writes a tiny verified bundle (raw-signal physio features, TINY_PHYSIO_CONFIG)."""
    from converters.bundle import write_bundle

    models = tiny_models()
    write_bundle(out_dir, face_models={v: models[v] for v in variants},
                 physio_model=models["physio"] if physio else None,
                 fusion_config=fusion_config or FusionConfig(max_age_s=2.0),
                 features=PhysioSpec.raw_signals(TINY_PHYSIO_CONFIG).to_json_dict())
    return out_dir


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return load_bundle(write_tiny_bundle(tmp_path_factory.mktemp("b") / "bundle",
                                         variants=("int8", "float32")))


def _crops(n: int = 4) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (n, 48, 48), dtype=np.uint8)


def test_float32_variant_matches_keras_on_the_training_scaling(bundle):
    pipeline = FacePipeline.from_bundle(bundle, variant="float32")
    from tff_train.face.model import build_face_cnn

    keras_model = build_face_cnn(width=4, depth=2, dense_units=8)
    keras_model.set_weights(tiny_models()["keras_weights"])
    for crop in _crops():
        prediction = pipeline.predict(crop)
        expected = keras_model(tf.cast(crop[None, :, :, None], tf.float32) / 255.0).numpy()[0]
        np.testing.assert_allclose(prediction.probs, expected / expected.sum(), atol=1e-5)
        assert prediction.probs.sum() == pytest.approx(1.0)


def test_int8_quantizes_and_dequantizes_explicitly(bundle):
    pipeline = FacePipeline.from_bundle(bundle)  # int8 is preferred on the CPU
    assert pipeline.input_dtype == np.int8
    scale, zero_point = pipeline.input_quantization
    crop = _crops(1)[0]
    model_input = pipeline.preprocess(crop)
    expected = quantize((crop.astype(np.float32) / np.float32(255.0)).reshape(1, 48, 48, 1),
                        scale, zero_point, np.int8)
    np.testing.assert_array_equal(model_input, expected)
    raw = pipeline.infer(model_input)
    out_scale, out_zero_point = pipeline.output_quantization
    probs = dequantize(raw, out_scale, out_zero_point).astype(np.float64)[0]
    prediction = pipeline.postprocess(raw)
    np.testing.assert_allclose(prediction.probs, probs / probs.sum())
    # Same numbers as the interpreter wrapper's own predict; close to the float model.
    np.testing.assert_allclose(TFLiteModel(bundle.models["face_int8"]).predict(
        (crop.astype(np.float32) / 255.0).reshape(1, 48, 48, 1))[0], probs, atol=1e-6)
    float_probs = FacePipeline.from_bundle(bundle, variant="float32").predict(crop).probs
    assert np.abs(prediction.probs - float_probs).max() < 0.05


def test_driver_state_mapping_of_postprocess(bundle):
    pipeline = FacePipeline.from_bundle(bundle, variant="float32")
    raw = np.zeros((1, 7), np.float32)
    raw[0, FER7.index("happy")], raw[0, FER7.index("surprise")] = 0.25, 0.25
    raw[0, FER7.index("neutral")], raw[0, FER7.index("fear")] = 0.125, 0.375
    prediction = pipeline.postprocess(raw)
    np.testing.assert_allclose(prediction.driver_state, [0.125, 0.5, 0.375])
    with pytest.raises(ValueError, match="face model output is not a probability vector"):
        pipeline.postprocess(np.zeros((1, 7), np.float32))


def test_float_input_is_the_scaled_crop_and_nothing_else(bundle):
    """Sharp edges survive: every pixel maps to float32(p) / float32(255) on its own."""
    pipeline = FacePipeline.from_bundle(bundle, variant="float32")
    yy, xx = np.mgrid[0:48, 0:48]
    crop = np.where(((yy // 2) + (xx // 2)) % 2 == 0, 255, 0).astype(np.uint8)
    crop[0, :] = np.arange(48)
    expected = crop.astype(np.float32) / np.float32(255.0)
    model_input = pipeline.preprocess(crop)
    assert model_input.shape == (1, 48, 48, 1) and model_input.dtype == np.float32
    np.testing.assert_array_equal(model_input[0, :, :, 0], expected)
    np.testing.assert_array_equal(pipeline.preprocess(crop[..., None]), model_input)
    shifted = FacePipeline(pipeline.model, pixel_scale=1 / 127.5, pixel_offset=-1.0)
    np.testing.assert_array_equal(shifted.preprocess(crop)[0, :, :, 0],
                                  crop.astype(np.float32) / np.float32(127.5) - np.float32(1.0))


def test_bad_crops_and_arguments_are_refused(bundle):
    pipeline = FacePipeline.from_bundle(bundle)
    with pytest.raises(ValueError, match=r"crop must be uint8\[48,48\]; got float32\[48, 48\]"):
        pipeline.preprocess(np.zeros((48, 48), np.float32))
    with pytest.raises(ValueError, match=r"crop must be uint8\[48,48\]; got uint8\[64, 64\]"):
        pipeline.preprocess(np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError, match="model must be a TFLiteModel; got str"):
        FacePipeline("face.tflite")
    with pytest.raises(ValueError, match="pixel_scale must be a finite number > 0; got 0"):
        FacePipeline(pipeline.model, pixel_scale=0)
    with pytest.raises(ValueError, match=r"model output must have shape \[1,3\]"):
        FacePipeline(pipeline.model, label_space="wesad3")


def test_bundle_io_mismatch_is_refused(bundle):
    io = bundle.preprocessing["models"]["face_int8.tflite"]
    model = TFLiteModel(bundle.models["face_int8"])
    FacePipeline(model, bundle_io=io)  # consistent
    wrong = {**io, "inputs": [{**io["inputs"][0], "zero_point": io["inputs"][0]["zero_point"] + 1}]}
    with pytest.raises(ValueError, match=r"inputs\[0\] quantization .* differs from the model's"):
        FacePipeline(model, bundle_io=wrong)
    wrong = {**io, "outputs": [{**io["outputs"][0], "dtype": "float32"}]}
    with pytest.raises(ValueError, match=r"outputs\[0\] dtype 'float32' differs .* 'int8'"):
        FacePipeline(model, bundle_io=wrong)


def test_variant_choice(bundle):
    assert choose_face_variant(bundle, None, delegate=False) == "int8"
    assert choose_face_variant(bundle, None, delegate=True) == "int8"
    assert choose_face_variant(bundle, "float32", delegate=False) == "float32"
    with pytest.raises(ValueError, match=r"face_variant must be one of .*\['float32', 'int8'\]"):
        choose_face_variant(bundle, "dynamic", delegate=False)


def test_float_only_bundle_has_no_delegate_variant(tmp_path):
    only_float = load_bundle(write_tiny_bundle(tmp_path / "b", variants=("float32",)))
    with pytest.raises(ValueError, match="has no face model usable with a delegate"):
        choose_face_variant(only_float, None, delegate=True)

