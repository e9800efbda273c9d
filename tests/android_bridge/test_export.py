"""Android asset export and golden vectors, checked against the Python edge they record."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from android_bridge.assets import ASSET_DIR, GOLDEN_NAME, export_assets
from android_bridge.golden_calibration import NUM_WINDOWS, synthetic_prior
from converters.bundle import write_bundle
from emocore.calibration import CalibrationConfig, ReferenceStats, SessionCalibration
from emocore.fusion import ExclusionKind, FusionConfig, FusionEngine, ModalityReading, fuse
from emocore.physio import PhysioSpec, Signal, extract_window
from emocore.quantization import quantize
from tests.android_bridge.conftest import CALIBRATION, FUSION_CONFIG, PHYSIO_CONFIG, physio_spec
from tflite_edge.bundle import load_bundle, verify_bundle
from tflite_edge.face_pipeline import FacePipeline
from tflite_edge.physio_stream import PhysioStream

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def golden(exported_assets: Path) -> dict:
    return json.loads((exported_assets / GOLDEN_NAME).read_text())


def _reading(data: dict) -> ModalityReading:
    probs = None if data["probs"] is None else np.array(data["probs"])
    return ModalityReading(data["modality"], probs, data["timestamp_s"], data["quality"])


def test_assets_are_a_verified_bundle_with_extras(exported_assets, tiny_bundle):
    manifest = verify_bundle(exported_assets)
    assert sorted(manifest["files"]) == [
        "face_float32.tflite", "face_int8.tflite", "features.json", "fusion.json",
        "golden.json", "labels_driver_state3.txt", "labels_fer7.txt", "labels_wesad3.txt",
        "physio.tflite", "preprocessing.json"]
    assert manifest["created"]["exporter"] == "android_bridge.export_main"
    assert manifest["schema_version"] == 2
    for name in ("face_int8.tflite", "physio.tflite", "labels_fer7.txt"):
        assert (exported_assets / name).read_bytes() == (tiny_bundle / name).read_bytes()
    assets = load_bundle(exported_assets)
    assert FusionConfig.from_json(assets.fusion_json) == FUSION_CONFIG
    # The calibrated features.json round-trips exactly (config, population floats).
    assert assets.features == load_bundle(tiny_bundle).features == physio_spec().to_json_dict()
    spec = PhysioSpec.from_json_dict(assets.features)
    assert spec.calibration == CALIBRATION
    assert spec.population.to_json_dict() == physio_spec().population.to_json_dict()
    assert dataclasses.replace(spec, population=None) == dataclasses.replace(
        physio_spec(), population=None)
    assert assets.preprocessing == load_bundle(tiny_bundle).preprocessing


def test_python_edge_on_the_assets_reproduces_the_golden_face_outputs(exported_assets, golden):
    pipeline = FacePipeline.from_bundle(load_bundle(exported_assets), variant="int8")
    scale, zero_point = pipeline.input_quantization
    labels, sums = set(), set()
    for case in golden["face"]["cases"]:
        record = case["models"]["face_int8.tflite"]
        crop = np.array(case["pixels"], dtype=np.uint8).reshape(48, 48)
        model_input = pipeline.preprocess(crop)
        assert model_input.ravel().tolist() == record["quantized_input"]
        # The crop itself, only scaled and quantized (no other filtering of the pixels).
        scaled = crop.astype(np.float32) / np.float32(255.0)
        assert quantize(scaled, scale, zero_point, np.int8).ravel().tolist() == record[
            "quantized_input"]
        assert pipeline.infer(model_input).ravel().tolist() == record["raw_output"]
        prediction = pipeline.predict(crop)
        np.testing.assert_array_equal(prediction.probs, record["probs"])
        np.testing.assert_array_equal(prediction.driver_state, record["driver_state"])
        sums.add(sum(record["dequantized"]))
        labels.add(record["label_index"])
    assert len(golden["face"]["cases"]) == 5
    assert len(labels) > 1, "face outputs should differ between crops"
    assert sums != {1.0}, "int8 softmax sums should drift from 1 (renormalisation is tested)"


def test_golden_physio_windows_and_model_outputs_recompute(exported_assets, golden):
    cases = golden["physio"]["cases"]
    assert len(cases) >= 12
    for case in cases:
        config = PhysioSpec.from_json_dict({"mode": "raw_signals", "config": case["config"],
                                            "feature_names": case["feature_names"]}).config
        signals = {k: None if s is None else Signal(np.array(s["values"]), s["rate_hz"])
                   for k, s in case["signals"].items()}
        np.testing.assert_array_equal(extract_window(signals, config),
                                      np.array(case["features"], dtype=np.float32),
                                      err_msg=case["name"])
    assert {"no_signals", "synthetic_ecg_auto_with_gaps", "bvp_resp_inf_no_eda"} <= {
        c["name"] for c in cases}
    calibrated = PhysioStream.from_bundle(load_bundle(exported_assets))
    assert calibrated.calibration is not None  # the tiny bundle calibrates...
    # ...but the model cases are model-only: rows reach the model as recorded.
    stream = PhysioStream(dataclasses.replace(calibrated.spec, calibration=None, population=None),
                          calibrated.model, label_space=calibrated.label_space)
    model_cases = golden["models"]["physio"]["cases"]
    assert model_cases[-1]["prediction"] is None  # all-NaN row: the modality is missing
    qualities = set()
    for record in model_cases:
        prediction = stream.predict(np.array(record["features"], dtype=np.float32))
        if record["prediction"] is None:
            assert prediction is None
            continue
        np.testing.assert_array_equal(prediction.probs, record["prediction"]["probs"])
        assert prediction.quality == record["prediction"]["quality"]
        qualities.add(prediction.quality)
    assert len(qualities) > 1  # windows with missing channels give lower quality


def _float32_bits(values) -> np.ndarray:
    """float32 bit patterns, NaN -> one canonical pattern (JSON keeps no NaN payload/sign)."""
    x = np.asarray(values, dtype=np.float64).astype(np.float32)
    return np.where(np.isnan(x), np.float32(np.nan), x).view(np.uint32)


def _check_sessions_recompute(sessions: list[dict]) -> None:
    for case in sessions:
        config = CalibrationConfig.from_json_dict(case["config"])
        session = SessionCalibration(config, ReferenceStats.from_json_dict(case["prior"]))
        dtype = np.float32 if case["input_dtype"] == "float32" else np.float64
        for t, (row, expected) in enumerate(zip(case["inputs"], case["outputs"], strict=True)):
            x = np.array(row, dtype=np.float64)
            assert np.array_equal(x.astype(dtype).astype(np.float64), x, equal_nan=True)
            with np.errstate(over="ignore"):
                got = session.apply(x.astype(dtype))
            np.testing.assert_array_equal(_float32_bits(got), _float32_bits(expected),
                                          err_msg=f"{case['name']}[{t}]")
            assert session.is_frozen == case["frozen"][t], (case["name"], t)
        stats = session.session_stats()
        assert stats.to_json_dict() == case["session_stats"], case["name"]
        assert session.prior.merge(stats).to_json_dict() == case["merged"], case["name"]


def test_golden_calibration_sessions_recompute(golden):
    """emocore.calibration reproduces every golden session bit for bit, and the sessions cover
    the edge cases the Java port must get right."""
    sessions = golden["calibration"]["sessions"]
    _check_sessions_recompute(sessions)
    names = {c["name"]: c for c in sessions}
    assert set(names) == {"bundle", "zscore_baseline4", "center_running", "zscore_prior_only",
                          "center_prior_zero_count", "zscore_running_float32",
                          "zscore_baseline_beyond"}
    bundle = names["bundle"]
    assert bundle["source"] == "bundle" and bundle["config"] == CALIBRATION.to_json_dict()
    assert bundle["prior"] == physio_spec().population.to_json_dict()
    for case in sessions:
        assert len(case["inputs"]) == NUM_WINDOWS
        assert case["prior"]["feature_names"] == list(PhysioSpec.raw_signals(
            PHYSIO_CONFIG).feature_names)
    inputs = np.array(bundle["inputs"])
    assert np.isnan(inputs).any() and np.isposinf(inputs).any() and np.isneginf(inputs).any()
    assert (~np.isfinite(inputs)).all(axis=0).any()  # a feature that is never finite
    assert (np.abs(inputs[np.isfinite(inputs)]) > 1e5).any()  # large offsets
    outputs = np.concatenate([np.array(c["outputs"]) for c in sessions])
    assert np.isnan(outputs).any() and np.isinf(outputs).any()  # beyond float32 -> inf
    zero = names["center_prior_zero_count"]
    assert zero["prior"]["count"][0] == 0.0 and np.isnan(np.array(zero["outputs"])[:, 0]).all()
    assert names["zscore_prior_only"]["session_stats"]["count"] == [0.0] * inputs.shape[1]
    assert names["zscore_baseline4"]["frozen"] == [False] * 3 + [True] * (NUM_WINDOWS - 3)
    assert not any(names["center_running"]["frozen"])


def test_golden_fusion_cases_replay_in_python(golden):
    cases = golden["fusion"]["cases"]
    strategies = {c["name"].split("/")[0] for c in cases}
    assert strategies == {"bundle", "confidence_max_prob", "confidence_entropy", "majority_vote",
                          "product_of_experts", "learned_scalar", "learned_per_class",
                          "learned_log_scalar", "learned_log_per_class"}
    kinds = set()
    for case in cases:
        result = fuse([_reading(r) for r in case["readings"]], case["now_s"],
                      FusionConfig.from_json(case["config_json"]))
        assert result.label == case["expected"]["label"], case["name"]
        kinds |= {e["kind"] for e in case["expected"]["excluded"]}
    assert kinds == {"missing", "nan_probs", "no_reading", "non_finite_timestamp",
                     "future_timestamp", "stale", "low_quality", "zero_mass"}
    labels = set()
    for sequence in golden["fusion"]["sequences"]:
        engine = FusionEngine(FusionConfig.from_json(sequence["config_json"]))
        for step in sequence["steps"]:
            result = engine.update([_reading(r) for r in step["readings"]], step["now_s"])
            assert result.label == step["expected"]["label"]
            labels.add(result.label)
    assert labels == {"neutral", "positive", "negative", "unknown"}


def test_exclusion_kinds_match_the_java_enum():
    java = (Path(__file__).parents[2] / "android_bridge/java/src/main/java/org/fedmultiemo/bridge"
            / "fusion/ExclusionKind.java").read_text()
    pairs = dict(re.findall(r"^\s*([A-Z_]+)\(\"([a-z_]+)\"\)", java, flags=re.MULTILINE))
    assert pairs == {kind.name: kind.value for kind in ExclusionKind}


def test_export_refuses_bad_inputs(tiny_bundle, tmp_path):
    (tmp_path / "b" / ASSET_DIR).mkdir(parents=True)
    with pytest.raises(ValueError, match="out_dir already holds"):
        export_assets(tiny_bundle, tmp_path / "b", golden=False)
    with pytest.raises(ValueError, match="holds no manifest.json; refusing"):
        export_assets(tiny_bundle, tmp_path / "b", golden=False, overwrite=True)
    tampered = tmp_path / "tampered"
    shutil.copytree(tiny_bundle, tampered)
    (tampered / "physio.tflite").write_bytes(b"\x1c\x00\x00\x00TFL3 other")
    with pytest.raises(ValueError, match="file 'physio.tflite' was altered"):
        export_assets(tampered, tmp_path / "c")


def test_precomputed_features_bundle(tiny_bundle, tmp_path):
    """A WESAD-style bundle (precomputed features) calibrated against the driver's own profile:
    hand-made physio rows in the golden vectors (the model cases need no profile), and a bundle
    calibration session on a synthetic driver profile."""
    source = load_bundle(tiny_bundle)
    names = [f"wesad_{i}" for i in range(len(PhysioSpec.raw_signals(PHYSIO_CONFIG).feature_names))]
    calibration = CalibrationConfig("center", 5, prior="driver_profile", prior_weight=2.0)
    features = {"mode": "precomputed", "feature_names": names, "source": "wesad",
                "calibration": calibration.to_json_dict()}
    write_bundle(tmp_path / "bundle",
                 face_models={"int8": source.models["face_int8"].read_bytes()},
                 physio_model=source.models["physio"].read_bytes(), fusion_config=FUSION_CONFIG,
                 features=features)
    export_assets(tmp_path / "bundle", tmp_path / "out")
    assets = load_bundle(tmp_path / "out" / ASSET_DIR)
    assert assets.features == features
    assert PhysioSpec.from_json_dict(assets.features).feature_names == tuple(names)
    golden = json.loads((tmp_path / "out" / ASSET_DIR / GOLDEN_NAME).read_text())
    assert len(golden["models"]["physio"]["cases"]) == 5  # 4 hand-made rows + the all-NaN row
    sessions = golden["calibration"]["sessions"]
    bundle = sessions[0]
    assert bundle["name"] == "bundle" and bundle["config"] == calibration.to_json_dict()
    assert bundle["prior"] == synthetic_prior(tuple(names), 20).to_json_dict()
    _check_sessions_recompute(sessions)


def test_export_main_cli_overwrites_without_golden(tiny_bundle, tmp_path):
    args = [sys.executable, "-m", "android_bridge.export_main", f"--bundle={tiny_bundle}",
            f"--out={tmp_path}", "--nogolden"]
    first = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    again = subprocess.run([*args, "--overwrite"], cwd=REPO, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["assets"].endswith(ASSET_DIR) and "golden.json" not in summary["files"]
    assert load_bundle(tmp_path / ASSET_DIR).preprocessing == load_bundle(tiny_bundle).preprocessing
