from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
import tensorflow as tf

from converters.face_to_tflite import convert_face_model
from converters.tflite_inspection import (
    EDGETPU_SUPPORTED_OPS,
    edgetpu_readiness,
    export_edgetpu,
    inspect_tflite,
    list_ops,
)
from tff_train.face.model import build_face_cnn

FACE_OPS = {"CONV_2D": 4, "FULLY_CONNECTED": 2, "MAX_POOL_2D": 2, "MEAN": 1, "SOFTMAX": 1}


@pytest.fixture(scope="module")
def face_models() -> dict[str, bytes]:
    model = build_face_cnn(width=4, depth=2, dense_units=8)
    images = np.random.default_rng(0).random((16, 48, 48, 1), dtype=np.float32)
    return {"float32": convert_face_model(model, "float32"),
            "int8": convert_face_model(model, "int8", calibration_images=images,
                                       num_calibration_samples=16)}


def _convert(fn, spec: tf.TensorSpec) -> bytes:
    concrete = tf.function(fn, input_signature=[spec]).get_concrete_function()
    return bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert())


def test_op_list_of_the_face_model(face_models):
    assert list_ops(face_models["float32"]) == FACE_OPS
    int8 = inspect_tflite(face_models["int8"])
    assert {op.name: op.count for op in int8.ops} == FACE_OPS
    assert all(op.version >= 1 and op.custom_code is None for op in int8.ops)
    (inp,), (out,) = int8.inputs, int8.outputs
    assert inp.dtype == "int8" and inp.shape == (1, 48, 48, 1) and inp.zero_point == -128
    assert out.dtype == "int8" and out.shape == (1, 7) and out.scale == pytest.approx(1 / 256)
    assert int8.num_subgraphs == 1 and set(int8.dtype_counts) == {"int8", "int32"}
    json.dumps(int8.to_dict())  # the report is JSON-serialisable


def test_int8_face_model_is_edgetpu_ready(face_models):
    readiness = edgetpu_readiness(face_models["int8"])
    assert readiness == {"compatible": True, "problems": [], "report": readiness["report"]}
    assert set(FACE_OPS) <= set(EDGETPU_SUPPORTED_OPS)


def test_float_face_model_is_flagged_as_not_quantized(face_models):
    problems = edgetpu_readiness(face_models["float32"])["problems"]
    assert any(p.startswith("not fully 8-bit quantized:") for p in problems)
    assert any(p.startswith("input 'serving_default_face:0' is float32") for p in problems)


def test_unsupported_op_is_flagged():
    data = _convert(lambda x: tf.sin(x) * 2.0, tf.TensorSpec([1, 8], tf.float32))
    assert "SIN" in list_ops(data)
    problems = edgetpu_readiness(data)["problems"]
    assert any(p.startswith("op SIN v1 (x1) is not supported by the Edge TPU") for p in problems)


def test_dynamic_batch_dim_is_flagged():
    data = _convert(lambda x: x * 2.0, tf.TensorSpec([None, 4, 4, 1], tf.float32))
    problems = edgetpu_readiness(data)["problems"]
    assert any(p.startswith("dynamic (-1) dims in") and "[-1, 4, 4, 1]" in p for p in problems)


def test_tensor_dimension_rules_are_flagged():
    five_d = _convert(lambda x: x * 2.0, tf.TensorSpec([1, 2, 2, 2, 2], tf.float32))
    assert any("have more than 4 dims" in p for p in edgetpu_readiness(five_d)["problems"])
    batch_2 = _convert(lambda x: x * 2.0, tf.TensorSpec([2, 4, 4, 3], tf.float32))
    assert any("have a dim > 1 outside the 3 innermost" in p and "[2, 4, 4, 3]" in p
               for p in edgetpu_readiness(batch_2)["problems"])


def test_not_a_flatbuffer_is_rejected():
    with pytest.raises(ValueError, match="tflite_bytes is not a TFLite flatbuffer"):
        inspect_tflite(b"\x00" * 64)
    with pytest.raises(ValueError, match="tflite_bytes must be bytes; got str"):
        list_ops("model.tflite")


def test_export_refuses_an_incompatible_model_with_the_report(face_models, tmp_path):
    with pytest.raises(ValueError, match="model is not Edge TPU compatible:\n- not fully 8-bit"):
        export_edgetpu(face_models["float32"], tmp_path)
    assert not any(tmp_path.iterdir())


def test_export_without_compiler_is_recorded_as_skipped(face_models, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = export_edgetpu(face_models["int8"], tmp_path / "out", model_name="face_int8")
    assert result["compiler"] == "skipped: edgetpu_compiler not on PATH"
    assert (tmp_path / "out" / "face_int8.tflite").read_bytes() == face_models["int8"]
    saved = json.loads((tmp_path / "out" / "edgetpu_readiness.json").read_text())
    assert saved["compatible"] is True


def _fake_compiler(bin_dir, exit_code: int) -> None:
    bin_dir.mkdir()
    script = bin_dir / "edgetpu_compiler"
    # Args: -s -o OUT_DIR MODEL; writes OUT_DIR/<stem>_edgetpu.tflite like the real compiler.
    script.write_text(
        "#!/bin/sh\n"
        'model="$4"; stem=$(basename "$model" .tflite)\n'
        f'echo "Edge TPU Compiler (fake)"; [ {exit_code} -eq 0 ] || exit {exit_code}\n'
        'cp "$model" "$3/${stem}_edgetpu.tflite"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_export_runs_the_compiler_when_on_path(face_models, tmp_path, monkeypatch):
    _fake_compiler(tmp_path / "bin", exit_code=0)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin")
    result = export_edgetpu(face_models["int8"], tmp_path / "out", model_name="face_int8")
    assert result["compiler"] == "ran"
    assert (tmp_path / "out" / "face_int8_edgetpu.tflite").is_file()
    assert "Edge TPU Compiler (fake)" in (tmp_path / "out" / "edgetpu_compiler.log").read_text()


def test_export_reports_a_failing_compiler(face_models, tmp_path, monkeypatch):
    _fake_compiler(tmp_path / "bin", exit_code=3)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin")
    with pytest.raises(RuntimeError, match="edgetpu_compiler failed with exit code 3; see "):
        export_edgetpu(face_models["int8"], tmp_path / "out")
    with pytest.raises(ValueError, match="model_name must be a plain file stem; got '../x'"):
        export_edgetpu(face_models["int8"], tmp_path / "out", model_name="../x")


def test_fer2013_recipe_model_family_is_edgetpu_ready_in_int8():
    from configs import face_fer2013
    from tff_train.face.trainer import face_model_builder

    config = face_fer2013.get_config()
    config.model.width = 4  # the recipe's layout (stem, per-block convs, last-block pooling)
    model = face_model_builder(config, "float32")()
    images = np.random.default_rng(0).random((16, 48, 48, 1), dtype=np.float32)
    data = convert_face_model(model, "int8", calibration_images=images,
                              num_calibration_samples=16)
    m = config.model
    expected = {"CONV_2D": 1 + sum(m.convs_per_block),
                "MAX_POOL_2D": m.depth - (0 if m.pool_last_block else 1),
                "MEAN": 1, "FULLY_CONNECTED": 1 + (1 if m.dense_units else 0), "SOFTMAX": 1}
    assert list_ops(data) == expected
    readiness = edgetpu_readiness(data)
    assert readiness["compatible"], readiness["problems"]
