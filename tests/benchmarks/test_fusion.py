"""benchmarks.fusion's physiological model on tiny WESAD CSVs in the real format."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.fusion import TRAIN_SUBJECTS, physio_forest
from emodata.wesad import load_wesad_features
from tests.emodata.test_wesad import write_subject
from tff_train.physio.tasks import load_wesad_task


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for subject in (*TRAIN_SUBJECTS, 13, 15):
        write_subject(root / "wesad_features", subject, rng.integers(0, 3, 24).tolist())
    return root


def _task(root):
    return load_wesad_task(root / "wesad_features")


def test_the_forest_is_trained_on_calibrated_windows(data_root):
    forest, features, settings = physio_forest(_task(data_root), 0, "federated_gbt", True)
    raw = load_wesad_features(data_root / "wesad_features").features
    assert features.shape == raw.shape and features.dtype == np.float32
    # z-scored per subject: far from the raw values (subject*100 + row), near zero
    assert np.nanmax(np.abs(features)) < 10 < np.nanmin(raw)
    assert settings["model"] == "federated_gbt"
    assert settings["calibration"]["method"] == "zscore"
    probs = forest.predict_proba(features)
    assert probs.shape == (len(raw), 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)


def test_no_calibration_keeps_the_raw_features(data_root):
    _, features, settings = physio_forest(_task(data_root), 0, "federated_rf", False)
    np.testing.assert_array_equal(features, load_wesad_features(data_root / "wesad_features")
                                  .features)
    assert settings["calibration"]["method"] == "none"


def test_unknown_model_is_refused(data_root):
    with pytest.raises(ValueError, match=r"model must be one of \['federated_gbt', "
                                         r"'federated_rf'\]; got 'sklearn_rf'"):
        physio_forest(_task(data_root), 0, "sklearn_rf", True)
