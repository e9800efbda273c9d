from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from converters.bundle import write_bundle
from converters.face_to_tflite import convert_face_model
from emocore.fusion import FusionConfig
from tff_train.face.model import build_face_cnn
from tflite_edge.bundle import load_bundle, verify_bundle
from tflite_edge.interpreter import TFLiteModel

FEATURES = {"window_s": 60.0, "step_s": 0.25, "signals": ["eda", "bvp"]}


@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    face = build_face_cnn(width=4, depth=1, dense_units=0)
    images = np.random.default_rng(0).random((8, 48, 48, 1), dtype=np.float32)
    inputs = tf.keras.Input((5,), batch_size=1)
    physio = tf.keras.Model(inputs, tf.keras.layers.Dense(3, activation="softmax")(inputs))
    return {"float32": convert_face_model(face, "float32"),
            "int8": convert_face_model(face, "int8", calibration_images=images,
                                       num_calibration_samples=8, io_dtype="uint8"),
            "physio": bytes(tf.lite.TFLiteConverter.from_keras_model(physio).convert())}


def _write(out_dir, models, **overrides):
    args = {"face_models": {"float32": models["float32"], "int8": models["int8"]},
            "physio_model": models["physio"], "fusion_config": FusionConfig(max_age_s=1.5),
            "features": FEATURES} | overrides
    return write_bundle(out_dir, **args)


def test_round_trip(tmp_path, models):
    manifest = _write(tmp_path / "bundle", models)
    assert verify_bundle(tmp_path / "bundle") == manifest
    assert sorted(manifest["files"]) == [
        "face_float32.tflite", "face_int8.tflite", "features.json", "fusion.json",
        "labels_driver_state3.txt", "labels_fer7.txt", "labels_wesad3.txt",
        "physio.tflite", "preprocessing.json"]
    created = manifest["created"]
    assert created["utc"].endswith("Z") and created["tools"]["tensorflow"] == tf.__version__
    assert created["git"] is None or len(created["git"]["commit"]) == 40
    bundle = load_bundle(tmp_path / "bundle")
    assert bundle.models["face_int8"].read_bytes() == models["int8"]
    assert bundle.labels == {"face": ("angry", "disgust", "fear", "happy", "sad", "surprise",
                                      "neutral"),
                             "fused": ("neutral", "positive", "negative"),
                             "physio": ("amusement", "baseline", "stress")}
    assert FusionConfig.from_json(bundle.fusion_json) == FusionConfig(max_age_s=1.5)
    assert bundle.features == FEATURES
    face = bundle.preprocessing["face"]
    assert face["input_shape"] == [1, 48, 48, 1] and face["pixel_scale"] == 1 / 255
    (int8_input,) = bundle.preprocessing["models"]["face_int8.tflite"]["inputs"]
    detail = TFLiteModel(bundle.models["face_int8"]).input_details[0]
    assert int8_input["dtype"] == "uint8"
    assert (int8_input["scale"], int8_input["zero_point"]) == detail["quantization"]
    assert bundle.preprocessing["models"]["face_float32.tflite"]["inputs"][0]["scale"] is None


def test_tampering_after_writing_is_detected(tmp_path, models):
    _write(tmp_path / "bundle", models)
    path = tmp_path / "bundle" / "face_int8.tflite"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="file 'face_int8.tflite' was altered"):
        load_bundle(tmp_path / "bundle")


def test_face_only_bundle_and_overwrite(tmp_path, models):
    _write(tmp_path / "b", models)
    manifest = _write(tmp_path / "b", models, physio_model=None, overwrite=True,
                      face_models={"int8": models["int8"]})
    assert "physio" not in manifest["contents"]["models"]
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted(
        [*manifest["files"], "manifest.json"])
    assert [p.name for p in tmp_path.iterdir()] == ["b"]  # no temp dirs left behind


@pytest.mark.parametrize(("overrides", "message"), [
    ({"face_models": {}}, "face_models must hold at least one model; got none"),
    ({"face_models": {"Int-8": b"x"}}, r"face_models keys must match \[a-z0-9_\]\+; got 'Int-8'"),
    ({"face_models": {"int8": b"\x00" * 16}},
     r"face_models\['int8'\] must be TFLite flatbuffer bytes"),
    ({"physio_model": "physio.tflite"}, "physio_model must be TFLite flatbuffer bytes"),
    ({"fusion_config": {"strategy": "majority_vote"}}, "fusion_config must be a FusionConfig"),
    ({"fusion_config": FusionConfig(modality_label_spaces={"face": "fer7"})},
     "fusion_config must map modality 'physio' to 'wesad3'"),
    ({"physio_label_space": "drivedb3"}, "fusion_config must map modality 'physio' to 'drivedb3'"),
    ({"features": {"x": float("nan")}}, r"features must be JSON-serialisable \(no NaN\)"),
    ({"features": {"x": object()}}, "features must be JSON-serialisable"),
])
def test_bad_arguments(tmp_path, models, overrides, message):
    with pytest.raises(ValueError, match=message):
        _write(tmp_path / "bundle", models, **overrides)
    assert not (tmp_path / "bundle").exists()


def test_existing_directories_are_protected(tmp_path, models):
    _write(tmp_path / "bundle", models)
    with pytest.raises(ValueError, match="already exists \\(pass overwrite=True"):
        _write(tmp_path / "bundle", models)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "precious.csv").write_text("1,2,3")
    with pytest.raises(ValueError, match="exists but is not a bundle; refusing to overwrite"):
        _write(tmp_path / "data", models, overwrite=True)
    assert json.loads((tmp_path / "bundle" / "manifest.json").read_text())["schema_version"] == 2


def test_preprocessing_json_holds_exactly_the_face_input_settings(tmp_path, models):
    """Schema 2: the face entry is the input shape, colour, scaling and label space; nothing
    else (in particular no image filtering for the edge to apply)."""
    _write(tmp_path / "b", models)
    written = json.loads((tmp_path / "b" / "preprocessing.json").read_text())
    assert sorted(written) == ["face", "models"]
    assert written["face"] == {"input_shape": [1, 48, 48, 1], "color": "grayscale",
                               "pixel_scale": 1 / 255, "pixel_offset": 0.0, "label_space": "fer7"}
