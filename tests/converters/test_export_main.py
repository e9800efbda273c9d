from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from converters.export_main import physio_spec
from emocore.physio import DEFAULT_CONFIG, feature_names
from forests.extraction import from_sklearn
from tff_train.face.model import build_face_cnn
from tflite_edge.bundle import load_bundle


def test_physio_spec_must_match_the_forest_width():
    assert len(physio_spec(None, len(feature_names(DEFAULT_CONFIG))).feature_names) == 14
    with pytest.raises(ValueError, match="lists 14 features but the forest takes 5"):
        physio_spec(None, 5)


@pytest.mark.slow
def test_cli_writes_a_verified_bundle_with_face_and_forest(tmp_path):
    face = build_face_cnn(width=4, depth=2, dense_units=8)
    face.save(tmp_path / "face_model.keras")
    rng = np.random.default_rng(0)
    x = rng.random((60, 14)).astype(np.float32)
    forest = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(
        x, rng.integers(0, 3, 60))
    from_sklearn(forest).save(tmp_path / "forest.npz")
    result = subprocess.run(
        [sys.executable, "-m", "converters.export_main",
         f"--face_model={tmp_path}/face_model.keras",
         f"--physio_model={tmp_path}/forest.npz", "--calibration_images=synthetic",
         "--calibration_samples=16", f"--out={tmp_path}/bundle"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-2000:]
    bundle = load_bundle(tmp_path / "bundle")
    assert set(bundle.models) == {"face_int8", "face_float32", "physio"}
    assert bundle.manifest["schema_version"] == 2
    assert sorted(bundle.preprocessing["face"]) == ["color", "input_shape", "label_space",
                                                    "pixel_offset", "pixel_scale"]
    assert bundle.features["mode"] == "raw_signals"
