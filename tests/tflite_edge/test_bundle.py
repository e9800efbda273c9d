"""Bundle verification on the edge, on hand-made bundles (no TensorFlow, no converters)."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from emocore.fusion import FusionConfig
from tflite_edge.bundle import load_bundle, verify_bundle

FILES = {
    "face_int8.tflite": b"\x1c\x00\x00\x00TFL3 fake face model",
    "physio.tflite": b"\x1c\x00\x00\x00TFL3 fake physio model",
    "labels_fer7.txt": b"angry\ndisgust\nfear\nhappy\nsad\nsurprise\nneutral\n",
    "labels_driver_state3.txt": b"neutral\npositive\nnegative\n",
    "preprocessing.json": b'{"face": {"pixel_scale": 0.00392156862745098}}\n',
    "fusion.json": FusionConfig().to_json().encode(),
    "features.json": b'{"window_s": 60}\n',
}


def _manifest(files: dict[str, bytes], schema_version: int = 2) -> dict:
    return {
        "format": "fedmultiemo-model-bundle", "schema_version": schema_version,
        "created": {"utc": "2026-01-01T00:00:00Z", "tools": {}, "git": None},
        "contents": {"models": {"face_int8": "face_int8.tflite", "physio": "physio.tflite"},
                     "labels": {"face": "labels_fer7.txt", "fused": "labels_driver_state3.txt"},
                     "preprocessing": "preprocessing.json", "fusion": "fusion.json",
                     "features": "features.json"},
        "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data)}
                  for name, data in files.items()},
    }


def _write(directory, files: dict[str, bytes], schema_version: int = 2):
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    (directory / "manifest.json").write_text(json.dumps(_manifest(files, schema_version)))
    return directory


@pytest.fixture
def bundle(tmp_path):
    return _write(tmp_path, FILES)


def _edit_manifest(directory, **changes) -> None:
    path = directory / "manifest.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | changes))


def test_round_trip_verify_and_load(bundle):
    assert verify_bundle(bundle)["schema_version"] == 2
    loaded = load_bundle(bundle)
    assert loaded.models == {"face_int8": bundle / "face_int8.tflite",
                             "physio": bundle / "physio.tflite"}
    assert loaded.labels["fused"] == ("neutral", "positive", "negative")
    assert loaded.labels["face"][3] == "happy"
    assert FusionConfig.from_json(loaded.fusion_json) == FusionConfig()
    assert loaded.features == {"window_s": 60}
    assert loaded.preprocessing["face"]["pixel_scale"] == pytest.approx(1 / 255)


def test_a_single_altered_byte_is_refused_naming_the_file(bundle):
    path = bundle / "face_int8.tflite"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="file 'face_int8.tflite' was altered: sha256 does not"):
        verify_bundle(bundle)


def test_a_size_change_is_refused(bundle):
    (bundle / "features.json").write_text('{"window_s": 600}\n')
    with pytest.raises(ValueError, match=r"file 'features.json' was altered: size 18 != 17"):
        load_bundle(bundle)


def test_missing_and_extra_files_are_refused(bundle):
    (bundle / "physio.tflite").unlink()
    (bundle / "notes.txt").write_text("hello")
    with pytest.raises(ValueError) as err:
        verify_bundle(bundle)
    assert "file 'physio.tflite' is missing" in str(err.value)
    assert "file 'notes.txt' is not listed in the manifest (extra file)" in str(err.value)


def test_subdirectories_and_symlinks_are_refused(bundle):
    (bundle / "extra").mkdir()
    (bundle / "link.tflite").symlink_to(bundle / "physio.tflite")
    with pytest.raises(ValueError, match="'extra' is a directory") as err:
        verify_bundle(bundle)
    assert "'link.tflite' is a symlink" in str(err.value)


@pytest.mark.parametrize(("changes", "message"), [
    ({"schema_version": 3}, r"unknown schema_version 3; this runtime supports \[1, 2\]"),
    ({"schema_version": True}, "unknown schema_version True"),
    ({"format": "zip"}, "format must be 'fedmultiemo-model-bundle'; got 'zip'"),
    ({"contents": {"models": {}}}, "contents must have keys"),
])
def test_bad_manifests_are_refused(bundle, changes, message):
    _edit_manifest(bundle, **changes)
    with pytest.raises(ValueError, match=message):
        verify_bundle(bundle)


def _old_bundle(directory, preprocessing: dict):
    """A schema-1 bundle (as the previous exporter wrote it) with this preprocessing.json."""
    files = FILES | {"preprocessing.json": json.dumps(preprocessing).encode()}
    return _write(directory, files, schema_version=1)


@pytest.mark.parametrize("preprocessing", [
    {"face": {"pixel_scale": 1 / 255, "eval_blur_sigma": 3.0}},
    {"face": {"pixel_scale": 1 / 255}, "eval_blur_sigma": 3.0},
    {"face": {"pixel_scale": 1 / 255, "eval_blur_sigma": 0.0}, "eval_blur_sigma": 3.0},
])
def test_an_old_bundle_asking_for_a_face_blur_is_refused(tmp_path, preprocessing):
    old = _old_bundle(tmp_path / "old", preprocessing)
    verify_bundle(old)  # its files are intact: the refusal is about what it asks for
    message = (f"bundle '{old}': preprocessing.json asks for a face blur (sigma 3.0), which this "
               "version no longer applies (the FER2013 training images are sharp now); "
               "re-export the bundle with python -m converters.export_main")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        load_bundle(old)


@pytest.mark.parametrize(("sigma", "shown"), [(2, "2"), ("3", "'3'"), (True, "True")])
def test_any_non_zero_blur_value_is_refused(tmp_path, sigma, shown):
    old = _old_bundle(tmp_path / "old", {"face": {"eval_blur_sigma": sigma}})
    with pytest.raises(ValueError, match=re.escape(f"asks for a face blur (sigma {shown})")):
        load_bundle(old)


def test_an_old_bundle_without_a_blur_loads_without_the_key(tmp_path):
    old = _old_bundle(tmp_path / "old", {"face": {"pixel_scale": 1 / 255, "eval_blur_sigma": 0.0},
                                         "eval_blur_sigma": 0})
    assert load_bundle(old).preprocessing == {"face": {"pixel_scale": 1 / 255}}


def test_preprocessing_must_be_an_object(tmp_path):
    directory = _write(tmp_path / "b", FILES | {"preprocessing.json": b"[1, 2]\n"})
    with pytest.raises(ValueError, match="preprocessing.json must hold a JSON object; got list"):
        load_bundle(directory)


def test_manifest_entries_are_checked(bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["contents"]["fusion"] = "fusion_v2.json"
    manifest["files"]["../escape.txt"] = manifest["files"]["features.json"]
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="invalid manifest") as err:
        verify_bundle(bundle)
    assert "listed file name '../escape.txt' is not a plain file name" in str(err.value)
    assert "contents refers to 'fusion_v2.json', which is not listed in files" in str(err.value)


def test_missing_directory_or_manifest_and_broken_json(tmp_path, bundle):
    with pytest.raises(FileNotFoundError, match="bundle directory .*nope' does not exist"):
        verify_bundle(tmp_path / "nope")
    (bundle / "manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match="manifest.json in .* is not valid JSON"):
        verify_bundle(bundle)
    (bundle / "manifest.json").unlink()
    with pytest.raises(FileNotFoundError, match="has no manifest.json"):
        verify_bundle(bundle)


def test_blank_label_lines_are_refused(tmp_path):
    files = FILES | {"labels_fer7.txt": b"angry\n\nfear\n"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "manifest.json").write_text(json.dumps(_manifest(files)))
    with pytest.raises(ValueError, match="label file 'labels_fer7.txt' must hold one non-empty"):
        load_bundle(tmp_path)
