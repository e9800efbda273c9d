"""Android `assets/` export of a verified model bundle, plus golden vectors for the Java port.

`export_assets(bundle_dir, out_dir)` writes `<out_dir>/fedmultiemo/`, ONE flat directory in the
bundle format of `tflite_edge.bundle` (so `verify_bundle` and the Java `ManifestVerifier` check
it with the same rules: every file listed with sha256 + size, nothing unlisted, no subdirectory):

    manifest.json           format/schema_version of tflite_edge.bundle; created {utc, exporter,
                            source_bundle {manifest_sha256, created}}; contents; files
    face_<variant>.tflite   copied byte for byte (so is physio.tflite)
    labels_<space>.txt      copied
    preprocessing.json      the bundle's (as `tflite_edge.bundle.load_bundle` reads it)
    fusion.json             emocore.fusion.FusionConfig.to_json() of the bundle's config
    features.json           emocore.physio.PhysioSpec.to_json_dict() of the bundle's
    golden.json             android_bridge.golden vectors (listed in files, not in contents)

The Python edge runs unchanged on the exported directory (`FacePipeline.from_bundle`,
`PhysioStream.from_bundle`). Written atomically (temp dir + rename), then verified.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from android_bridge.golden import golden_vectors
from emocore.fusion import FusionConfig
from emocore.physio import PhysioSpec
from tflite_edge.bundle import (
    MANIFEST_NAME,
    load_bundle,
    write_bundle_directory,
)

ASSET_DIR = "fedmultiemo"
GOLDEN_NAME = "golden.json"
EXPORTER = "android_bridge.export_main"


def _json_bytes(data: Any, *, indent: int | None = 2, allow_nan: bool = False) -> bytes:
    separators = None if indent else (",", ":")
    return (json.dumps(data, indent=indent, allow_nan=allow_nan, separators=separators)
            + "\n").encode("utf-8")


def export_assets(
    bundle_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    golden: bool = True,
    seed: int = 0,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Writes `<out_dir>/fedmultiemo/` from the bundle at `bundle_dir`; returns its manifest.

    `golden`: also write golden.json (vectors built with `seed`). `overwrite`: replace an
    existing `fedmultiemo/` that holds a manifest.json (anything else is refused).
    """
    bundle = load_bundle(bundle_dir)  # verifies every file first
    spec = PhysioSpec.from_json_dict(bundle.features)
    fusion_config = FusionConfig.from_json(bundle.fusion_json)
    target = Path(out_dir) / ASSET_DIR
    if target.exists():
        if not overwrite:
            raise ValueError(f"out_dir already holds {str(target)!r} (pass overwrite=True to "
                             "replace it)")
        if not (target / MANIFEST_NAME).is_file():
            raise ValueError(f"{str(target)!r} exists but holds no {MANIFEST_NAME}; refusing to "
                             "overwrite it")

    contents = bundle.manifest["contents"]
    files: dict[str, bytes] = {}
    for name in list(contents["models"].values()) + list(contents["labels"].values()):
        files[name] = (bundle.directory / name).read_bytes()
    files[contents["preprocessing"]] = _json_bytes(bundle.preprocessing)
    files[contents["fusion"]] = fusion_config.to_json().encode("utf-8")
    files[contents["features"]] = _json_bytes(spec.to_json_dict())
    if golden:
        vectors = golden_vectors(bundle, seed=seed)
        files[GOLDEN_NAME] = _json_bytes(vectors, indent=None, allow_nan=True)

    source_manifest = bundle.directory / MANIFEST_NAME
    return write_bundle_directory(
        target, files, contents=contents,
        created={
            "utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "exporter": EXPORTER,
            "source_bundle": {
                "manifest_sha256": hashlib.sha256(source_manifest.read_bytes()).hexdigest(),
                "created": bundle.manifest["created"]},
        },
    )
