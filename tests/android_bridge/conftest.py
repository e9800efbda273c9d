"""Shared fixtures: one tiny model bundle and its exported Android assets per test session."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from sklearn.ensemble import RandomForestClassifier

from android_bridge.assets import ASSET_DIR, export_assets
from android_bridge.golden import face_crops
from converters.bundle import write_bundle
from converters.face_to_tflite import convert_face_model
from converters.forest_to_tflite import forest_to_tflite
from emocore.calibration import CalibrationConfig, ReferenceStats
from emocore.fusion import FusionConfig
from emocore.physio import PhysioFeatureConfig, PhysioSpec, feature_names
from forests.extraction import from_sklearn
from tff_train.face.model import build_face_cnn

PHYSIO_CONFIG = PhysioFeatureConfig()
FUSION_CONFIG = FusionConfig(max_age_s=1.5, min_quality=0.3)
CALIBRATION = CalibrationConfig("zscore", baseline_windows=3, prior_weight=5.0)


def physio_spec() -> PhysioSpec:
    """The tiny bundle's features.json: the 14 default features, z-scored per session against a
    population prior (so the Java PhysioSpec parses calibration + population end to end)."""
    names = feature_names(PHYSIO_CONFIG)
    rng = np.random.default_rng(1)
    population = ReferenceStats.from_windows(rng.normal(3.0, 2.0, size=(40, len(names))), names)
    return dataclasses.replace(PhysioSpec.raw_signals(PHYSIO_CONFIG), calibration=CALIBRATION,
                               population=population)


def _face_models() -> dict[str, bytes]:
    model = build_face_cnn(width=4, depth=2, dense_units=8)
    # Untrained, every crop lands in one class: centre and stretch the logits on the golden crops
    # so the recorded outputs (and their argmax) differ between crops.
    crops = np.stack([c for _, c in face_crops(48, 48, 0)])
    x = crops.astype(np.float32)[..., None] / 255
    feats = tf.keras.Model(model.input, model.get_layer("fc_relu").output)(x, training=False)
    logits = model.get_layer("logits")
    kernel = logits.get_weights()[0] * 20.0
    logits.set_weights([kernel, -(np.mean(feats, axis=0) @ kernel)])
    rng = np.random.default_rng(0)
    images = rng.random((16, 48, 48, 1), dtype=np.float32)
    return {"int8": convert_face_model(model, "int8", calibration_images=images,
                                       num_calibration_samples=16),
            "float32": convert_face_model(model, "float32")}


def _physio_model() -> bytes:
    names = feature_names(PHYSIO_CONFIG)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, len(names))).astype(np.float32)
    x[:, 0] = rng.uniform(50, 110, 90)  # hr_mean_bpm drives the label
    y = np.digitize(x[:, 0], [70, 90])
    forest = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(x, y)
    return forest_to_tflite(from_sklearn(forest, names))


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real bundle: int8 + float32 face CNNs, a forest on the 14 default features, a calibrated
    features.json (`physio_spec`)."""
    tf.keras.utils.set_random_seed(0)
    out = tmp_path_factory.mktemp("android_bridge") / "bundle"
    write_bundle(out, face_models=_face_models(), physio_model=_physio_model(),
                 fusion_config=FUSION_CONFIG,
                 features=physio_spec().to_json_dict())
    return out


@pytest.fixture(scope="session")
def exported_assets(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`<assets>/fedmultiemo` exported from `tiny_bundle` with golden vectors."""
    out = tmp_path_factory.mktemp("android_assets")
    export_assets(tiny_bundle, out)
    return out / ASSET_DIR
