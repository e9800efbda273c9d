"""Write a model bundle (the layout and its verification live in `tflite_edge.bundle`).

`write_bundle` writes the face model(s), the optional physio model, label files, the
preprocessing/fusion/features JSON files and `manifest.json` (sha256 + size of every file) into
a fresh directory, atomically (temp dir + rename), then verifies it with
`tflite_edge.bundle.verify_bundle`. Labels ship as `labels_<space>.txt` files listed in the
manifest rather than as TFLite metadata (tflite_support is not a dependency).
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from converters.tflite_inspection import TensorInfo, inspect_tflite
from emocore.face_preprocessing import PIXEL_OFFSET, PIXEL_SCALE
from emocore.fusion import FusionConfig
from emocore.label_spaces import DRIVER_STATE3, get_label_space
from tflite_edge.bundle import (
    MANIFEST_NAME,
    write_bundle_directory,
)

_VARIANT_NAME = re.compile(r"^[a-z0-9_]+$")
_TOOL_PACKAGES = ("numpy", "tensorflow", "tflite-runtime", "tensorflow-federated",
                  "tensorflow-decision-forests")


def _check_tflite(data: object, name: str) -> bytes:
    if not isinstance(data, bytes | bytearray) or len(data) < 8 or bytes(data[4:8]) != b"TFL3":
        got = type(data).__name__ if not isinstance(data, bytes | bytearray) else "other bytes"
        raise ValueError(f"{name} must be TFLite flatbuffer bytes (identifier b'TFL3'); got {got}")
    return bytes(data)


def _io(tensor: TensorInfo) -> dict[str, Any]:
    return {"name": tensor.name, "dtype": tensor.dtype, "shape": list(tensor.shape_signature),
            "scale": tensor.scale, "zero_point": tensor.zero_point}


def _model_io(data: bytes) -> dict[str, Any]:
    report = inspect_tflite(data)
    return {"inputs": [_io(t) for t in report.inputs], "outputs": [_io(t) for t in report.outputs]}


def tool_versions() -> dict[str, str | None]:
    """Versions of Python and the packages that shaped the bundle (None when not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in _TOOL_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def git_commit(repo_dir: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """`{"commit": sha, "dirty": bool}` of the repo holding this file, or None without git."""
    cwd = Path(repo_dir) if repo_dir is not None else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=cwd, capture_output=True, text=True, timeout=10,
                                check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": sha, "dirty": bool(status.strip())}


def write_bundle(
    out_dir: str | os.PathLike,
    *,
    face_models: Mapping[str, bytes],
    physio_model: bytes | None,
    fusion_config: FusionConfig,
    features: Mapping[str, Any],
    face_label_space: str = "fer7",
    physio_label_space: str = "wesad3",
    overwrite: bool = False,
) -> dict[str, Any]:
    """Writes the bundle directory `out_dir` and returns its manifest.

    `face_models`: variant name (e.g. "int8") -> `.tflite` bytes, written as
    `face_<variant>.tflite`; every face model must share one input shape. `features` must be
    JSON-serialisable. `fusion_config` must map "face" (and "physio" when `physio_model` is
    given) to the label spaces named here. `out_dir` must not exist unless `overwrite` is True
    and it already holds a bundle (a directory with a manifest.json).
    """
    out_dir = Path(out_dir)
    if not face_models:
        raise ValueError("face_models must hold at least one model; got none")
    models: dict[str, bytes] = {}
    for variant, data in face_models.items():
        if not isinstance(variant, str) or not _VARIANT_NAME.match(variant):
            raise ValueError(f"face_models keys must match [a-z0-9_]+; got {variant!r}")
        models[f"face_{variant}"] = _check_tflite(data, f"face_models[{variant!r}]")
    if physio_model is not None:
        models["physio"] = _check_tflite(physio_model, "physio_model")
    if not isinstance(fusion_config, FusionConfig):
        raise ValueError(
            f"fusion_config must be a FusionConfig; got {type(fusion_config).__name__}")
    spaces = dict(fusion_config.modality_label_spaces)
    expected = {"face": face_label_space, **({"physio": physio_label_space}
                                             if physio_model is not None else {})}
    for modality, space in expected.items():
        get_label_space(space)
        if spaces.get(modality) != space:
            raise ValueError(f"fusion_config must map modality {modality!r} to {space!r}; its "
                             f"modality_label_spaces are {spaces}")
    try:
        features_text = json.dumps(dict(features), indent=2, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"features must be JSON-serialisable (no NaN): {err}") from None
    if out_dir.exists():
        if not overwrite:
            raise ValueError(f"out_dir {str(out_dir)!r} already exists (pass overwrite=True to "
                             "replace a bundle)")
        if not (out_dir / MANIFEST_NAME).is_file():
            raise ValueError(f"out_dir {str(out_dir)!r} exists but is not a bundle; refusing to "
                             "overwrite it")

    io = {role: _model_io(data) for role, data in models.items()}
    face_shapes = {json.dumps(io[r]["inputs"][0]["shape"]) for r in io if r.startswith("face_")}
    if len(face_shapes) != 1:
        raise ValueError(f"face_models must share one input shape; got {sorted(face_shapes)}")
    label_files = {"face": face_label_space, "fused": DRIVER_STATE3.name}
    if physio_model is not None:
        label_files["physio"] = physio_label_space
    files: dict[str, bytes] = {f"{role}.tflite": data for role, data in models.items()}
    for space in label_files.values():
        files[f"labels_{space}.txt"] = ("\n".join(get_label_space(space).labels) + "\n").encode()
    preprocessing = {
        "face": {"input_shape": json.loads(face_shapes.pop()), "color": "grayscale",
                 "pixel_scale": PIXEL_SCALE, "pixel_offset": PIXEL_OFFSET,
                 "label_space": face_label_space},
        "models": {f"{role}.tflite": io[role] for role in models},
    }
    files["preprocessing.json"] = (json.dumps(preprocessing, indent=2) + "\n").encode()
    files["fusion.json"] = fusion_config.to_json().encode()
    files["features.json"] = (features_text + "\n").encode()

    return write_bundle_directory(
        out_dir, files,
        contents={
            "models": {role: f"{role}.tflite" for role in models},
            "labels": {role: f"labels_{space}.txt" for role, space in label_files.items()},
            "preprocessing": "preprocessing.json",
            "fusion": "fusion.json",
            "features": "features.json",
        },
        created={
            "utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": tool_versions(),
            "git": git_commit(),
        },
    )
