"""`python -m android_bridge.export_main` on a bundle with the main job's physio window (20 s,
configs/physio_smoke.py through configs/pipeline_default.py), not only the default 60 s."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from android_bridge.assets import ASSET_DIR, GOLDEN_NAME
from android_bridge.golden_physio import physio_cases
from configs import physio_smoke
from converters.bundle import write_bundle
from emocore.fusion import FusionConfig
from emocore.physio import (
    PhysioFeatureConfig,
    PhysioSpec,
    Signal,
    extract_window,
    window_num_samples,
)
from tests.tflite_edge.test_face_pipeline import tiny_models
from tff_train.physio.config import feature_config

REPO = Path(__file__).resolve().parents[2]
MAIN_JOB_FEATURES = feature_config(physio_smoke.get_config())  # what pipeline.main bundles


def test_the_main_job_uses_a_short_window():
    assert MAIN_JOB_FEATURES.window_s == 20.0  # the case the export used to crash on


@pytest.mark.parametrize("window_s", [MAIN_JOB_FEATURES.window_s, 10.0, 60.0, 90.0])
def test_golden_gaps_and_inf_samples_lie_inside_the_window(window_s):
    config = PhysioFeatureConfig(window_s=window_s)
    case = next(c for c in physio_cases(config) if c["name"] == "synthetic_ecg_auto_with_gaps")
    for name, min_nan in (("ecg", 30), ("eda", 10), ("resp", 60)):
        stored = case["signals"][name]
        values = np.array(stored["values"])
        window = values[-window_num_samples(window_s, stored["rate_hz"]):]
        assert np.isnan(window).sum() >= min_nan, name  # the gaps are in the window
    ecg = np.array(case["signals"]["ecg"]["values"])[-window_num_samples(window_s, 128.0):]
    assert np.isposinf(ecg).any() and np.isneginf(ecg).any()
    signals = {k: None if v is None else Signal(np.array(v["values"]), v["rate_hz"])
               for k, v in case["signals"].items()}
    np.testing.assert_array_equal(np.array(case["features"], dtype=np.float32),
                                  extract_window(signals, config))


def test_export_main_on_a_main_job_bundle(tmp_path):
    models = tiny_models()
    bundle = tmp_path / "bundle"
    write_bundle(bundle, face_models={"int8": models["int8"]}, physio_model=models["physio"],
                 fusion_config=FusionConfig(max_age_s=6.0),
                 features=PhysioSpec.raw_signals(MAIN_JOB_FEATURES).to_json_dict())
    out = tmp_path / "assets"
    result = subprocess.run([sys.executable, "-m", "android_bridge.export_main",
                             f"--bundle={bundle}", f"--out={out}"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["assets"] == f"{out}/{ASSET_DIR}"
    golden = json.loads((out / ASSET_DIR / GOLDEN_NAME).read_text(), parse_constant=float)
    windows = {case["config"]["window_s"] for case in golden["physio"]["cases"]}
    assert MAIN_JOB_FEATURES.window_s in windows
    assert golden["models"]["physio"]["cases"]  # the forest's golden rows were recorded too
