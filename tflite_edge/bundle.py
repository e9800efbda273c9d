"""Verify and load a model bundle on the head unit (stdlib only: json, hashlib, pathlib).

A bundle is ONE flat directory written by `converters.bundle.write_bundle`:

    manifest.json          format, schema_version, created {utc, tools, git_commit},
                           contents {models, labels, preprocessing, fusion, features},
                           files {name: {sha256, size_bytes}} for every other file
    face_<variant>.tflite  face CNN(s): float32 / dynamic / int8
    physio.tflite          physiological model (optional)
    labels_<space>.txt     one label per line, in model-output order (TFLite metadata is not
                           used: tflite_support is not a dependency, so labels ship as files)
    preprocessing.json     face input shape, pixel scale 1/255, every model's I/O quantization
    fusion.json            emocore.fusion.FusionConfig.to_json()
    features.json          physiological feature-extractor parameters

`verify_bundle` refuses an unknown format or schema version, a missing, altered (size or
sha256) or unlisted file, a subdirectory, a symlink, and contents that point to unlisted files.

Schema versions: 2 (written now) has no face blur; schema 1 recorded the Gaussian blur the edge
used to apply to face crops (`eval_blur_sigma` in preprocessing.json's `face` or at its top level)
while the FER2013 training images were blurred. `load_bundle` reads a schema-1 bundle only when
that sigma is 0 or absent (the key is dropped from `Bundle.preprocessing`) and refuses one that
asks for a blur.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

BUNDLE_FORMAT = "fedmultiemo-model-bundle"
SCHEMA_VERSION = 2
SUPPORTED_SCHEMA_VERSIONS = (1, 2)
LEGACY_BLUR_SIGMA_KEY = "eval_blur_sigma"  # schema 1's face blur; refused unless 0
MANIFEST_NAME = "manifest.json"
CONTENT_KEYS = ("models", "labels", "preprocessing", "fusion", "features")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_safe_file_name(name: object) -> bool:
    """True for a plain file name (no directory part, no leading dot, not the manifest)."""
    return isinstance(name, str) and bool(_SAFE_NAME.match(name)) and name != MANIFEST_NAME


def _read_manifest(directory: Path) -> dict[str, Any]:
    if not directory.is_dir():
        raise FileNotFoundError(f"bundle directory {str(directory)!r} does not exist")
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"bundle {str(directory)!r} has no {MANIFEST_NAME}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{MANIFEST_NAME} in {str(directory)!r} is not valid JSON: {err}") from None
    if not isinstance(manifest, dict):
        raise ValueError(f"{MANIFEST_NAME} must hold a JSON object; got {type(manifest).__name__}")
    if manifest.get("format") != BUNDLE_FORMAT:
        raise ValueError(f"{MANIFEST_NAME}: format must be {BUNDLE_FORMAT!r}; "
                         f"got {manifest.get('format')!r}")
    version = manifest.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS or isinstance(version, bool):
        raise ValueError(f"{MANIFEST_NAME}: unknown schema_version {version!r}; this runtime "
                         f"supports {list(SUPPORTED_SCHEMA_VERSIONS)}")
    missing = [k for k in ("created", "contents", "files") if k not in manifest]
    if missing:
        raise ValueError(f"{MANIFEST_NAME}: missing keys {missing}")
    return manifest


def _content_refs(contents: Any) -> list[str]:
    """Every file name referenced by `contents` (values or values of nested objects)."""
    if not isinstance(contents, dict) or sorted(contents) != sorted(CONTENT_KEYS):
        raise ValueError(f"{MANIFEST_NAME}: contents must have keys {sorted(CONTENT_KEYS)}; got "
                         f"{sorted(contents) if isinstance(contents, dict) else contents!r}")
    refs = []
    for key in CONTENT_KEYS:
        value = contents[key]
        values = list(value.values()) if isinstance(value, dict) else [value]
        refs.extend(v for v in values if v is not None)
    return refs


def verify_bundle(directory: str | os.PathLike) -> dict[str, Any]:
    """Checks every file of the bundle against its manifest; returns the manifest dict.

    Raises FileNotFoundError when the directory or manifest is absent, ValueError naming every
    offending file otherwise.
    """
    directory = Path(directory)
    manifest = _read_manifest(directory)
    files = manifest["files"]
    if not isinstance(files, dict) or not files:
        raise ValueError(f"{MANIFEST_NAME}: files must be a non-empty object")
    problems: list[str] = []
    for name, entry in files.items():
        if not is_safe_file_name(name):
            problems.append(f"listed file name {name!r} is not a plain file name")
        elif not (isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
                  and _SHA256.match(entry["sha256"]) and isinstance(entry.get("size_bytes"), int)):
            problems.append(f"file {name!r}: entry needs sha256 (64 hex) and size_bytes; "
                            f"got {entry!r}")
    for ref in _content_refs(manifest["contents"]):
        if ref not in files:
            problems.append(f"contents refers to {ref!r}, which is not listed in files")
    if problems:
        raise ValueError(f"bundle {str(directory)!r} has an invalid manifest:\n- "
                         + "\n- ".join(problems))

    for path in sorted(directory.iterdir()):
        if path.name == MANIFEST_NAME:
            continue
        if path.is_symlink():
            problems.append(f"{path.name!r} is a symlink (not allowed in a bundle)")
        elif path.is_dir():
            problems.append(f"{path.name!r} is a directory (bundles are flat)")
        elif path.name not in files:
            problems.append(f"file {path.name!r} is not listed in the manifest (extra file)")
    for name, entry in sorted(files.items()):
        path = directory / name
        if not path.exists() and not path.is_symlink():
            problems.append(f"file {name!r} is missing")
            continue
        if path.is_symlink() or not path.is_file():
            continue  # reported above as a symlink or directory
        size = path.stat().st_size
        if size != entry["size_bytes"]:
            problems.append(f"file {name!r} was altered: size {size} != {entry['size_bytes']}")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"file {name!r} was altered: sha256 does not match the manifest")
    if problems:
        raise ValueError(f"bundle {str(directory)!r} failed verification:\n- "
                         + "\n- ".join(problems))
    return manifest


def _refuse_face_blur(directory: Path, preprocessing: Any) -> dict[str, Any]:
    """`preprocessing` (parsed preprocessing.json) without a zero `eval_blur_sigma`; raises
    ValueError when it is not an object or asks for a face blur (see the module docstring)."""
    if not isinstance(preprocessing, dict):
        raise ValueError(f"bundle {str(directory)!r}: preprocessing.json must hold a JSON object; "
                         f"got {type(preprocessing).__name__}")
    face = preprocessing.get("face")
    for where in (face if isinstance(face, dict) else {}, preprocessing):
        sigma = where.get(LEGACY_BLUR_SIGMA_KEY)
        if sigma is not None and (isinstance(sigma, bool) or sigma != 0):
            raise ValueError(
                f"bundle {str(directory)!r}: preprocessing.json asks for a face blur (sigma "
                f"{sigma!r}), which this version no longer applies (the FER2013 training images "
                "are sharp now); re-export the bundle with python -m converters.export_main")
    out = {k: v for k, v in preprocessing.items() if k != LEGACY_BLUR_SIGMA_KEY}
    if isinstance(face, dict):
        out["face"] = {k: v for k, v in face.items() if k != LEGACY_BLUR_SIGMA_KEY}
    return out


@dataclasses.dataclass(frozen=True)
class Bundle:
    """A verified bundle: paths of its models and its parsed side files."""

    directory: Path
    manifest: dict[str, Any]
    models: dict[str, Path]
    labels: dict[str, tuple[str, ...]]
    preprocessing: dict[str, Any]
    fusion_json: str
    features: dict[str, Any]


def load_bundle(directory: str | os.PathLike) -> Bundle:
    """`verify_bundle`, then reads labels and JSON side files (fusion JSON stays text for
    `emocore.fusion.FusionConfig.from_json`).

    Raises ValueError for an old bundle whose preprocessing.json asks for a face blur."""
    directory = Path(directory)
    manifest = verify_bundle(directory)
    contents = manifest["contents"]

    def text(name: str) -> str:
        return (directory / name).read_text(encoding="utf-8")

    labels = {}
    for role, name in contents["labels"].items():
        lines = text(name).splitlines()
        if not lines or any(not line.strip() for line in lines):
            raise ValueError(f"label file {name!r} must hold one non-empty label per line")
        labels[role] = tuple(lines)
    return Bundle(
        directory=directory, manifest=manifest,
        models={role: directory / name for role, name in contents["models"].items()},
        labels=labels,
        preprocessing=_refuse_face_blur(directory, json.loads(text(contents["preprocessing"]))),
        fusion_json=text(contents["fusion"]), features=json.loads(text(contents["features"])),
    )


def write_bundle_directory(target: str | os.PathLike, files: dict[str, bytes],
                           contents: dict[str, Any], created: dict[str, Any]) -> dict[str, Any]:
    """Atomically writes `files` plus a manifest (sha256 and size of each) as directory `target`.

    Files are written to a temporary sibling, verified with `verify_bundle`, then renamed over
    `target` (an existing `target` is replaced). Returns the manifest.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        manifest = {
            "format": BUNDLE_FORMAT,
            "schema_version": SCHEMA_VERSION,
            "created": created,
            "contents": contents,
            "files": {name: {"sha256": sha256_file(tmp / name), "size_bytes": len(data)}
                      for name, data in sorted(files.items())},
        }
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        verify_bundle(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest
