"""Builds a model bundle for the edge and Android from trained models.

`python -m converters.export_main --face_model=RUN/face_model.keras
 --physio_model=PHYSIO_RUN/federated_rf.npz --physio_features=FEATURES.json --out=BUNDLE`

- The face model is converted to int8 (calibrated on `--calibration_images`: FER2013 training
  faces under `--data_root`, or the synthetic cohort) and float32.
- The physio model is a saved `TreeEnsemble` (.npz) converted to builtin-op TFLite;
  `--physio_features` is a features.json (PhysioSpec) file; without it the default raw-signal
  extractor config is used (its feature count must match the forest's).
"""

from __future__ import annotations

import sys

from emocore.cli_output import quiet_unless_verbose

# ruff: noqa: E402 (the imports below follow the quiet-output call on purpose)
if __name__ == "__main__":  # before anything imports TensorFlow: quiet its console output
    quiet_unless_verbose(sys.argv)

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf
from absl import app, flags

from converters.bundle import write_bundle
from converters.face_to_tflite import convert_face_model
from converters.forest_to_tflite import forest_to_tflite
from emocore.cli import run_main
from emocore.face_preprocessing import scale_pixels
from emocore.fusion import FusionConfig
from emocore.physio import DEFAULT_CONFIG, PhysioSpec
from forests.ensemble import TreeEnsemble

if __name__ == "__main__":
    flags.DEFINE_string("face_model", None, "Keras face model (.keras).", required=True)
    flags.DEFINE_string("physio_model", None, "TreeEnsemble .npz (optional: face-only bundle).")
    flags.DEFINE_string("physio_features", None, "features.json (PhysioSpec) of the forest.")
    flags.DEFINE_string("physio_label_space", "driver_state3", "Label space of the forest.")
    flags.DEFINE_enum("calibration_images", "fer2013", ["fer2013", "synthetic"],
                      "Representative data for int8 calibration.")
    flags.DEFINE_string("data_root", "../shared/data", "Folder holding fer2013/.")
    flags.DEFINE_integer("calibration_samples", 500, "int8 representative-dataset size.")
    flags.DEFINE_float("max_age_s", 6.0, "Fusion: readings older than this are stale.")
    flags.DEFINE_string("out", None, "Bundle directory to write.", required=True)
    flags.DEFINE_bool("overwrite", False, "Replace an existing bundle at --out.")
FLAGS = flags.FLAGS


def calibration_faces(source: str, data_root: str, count: int, seed: int = 0) -> np.ndarray:
    """`float32[N,48,48,1]` in [0,1] training faces for int8 calibration."""
    if source == "fer2013":
        from emodata.fer2013 import fer2013_path, load_fer2013

        images = load_fer2013(fer2013_path(data_root), split="train").images
    else:
        from emodata.synthetic_cohort import face_dataset, generate_cohort

        images = face_dataset(generate_cohort(4, seed=seed)).images
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(images), min(count, len(images)), replace=False)
    return scale_pixels(images[pick][..., None])


def physio_spec(path: str | None, num_features: int) -> PhysioSpec:
    """The forest's feature spec from `path`, or the default raw-signal extractor config."""
    spec = (PhysioSpec.from_json_dict(json.loads(Path(path).read_text())) if path
            else PhysioSpec.raw_signals(DEFAULT_CONFIG))
    if len(spec.feature_names) != num_features:
        raise ValueError(f"physio_features lists {len(spec.feature_names)} features but the "
                         f"forest takes {num_features}: pass the forest's features.json")
    return spec


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    model = tf.keras.models.load_model(FLAGS.face_model)
    calibration = calibration_faces(FLAGS.calibration_images, FLAGS.data_root,
                                    FLAGS.calibration_samples)
    face_models = {"int8": convert_face_model(model, "int8", calibration_images=calibration,
                                              num_calibration_samples=len(calibration)),
                   "float32": convert_face_model(model, "float32")}
    physio_model, features = None, {"mode": "none"}
    spaces = [("face", "fer7")]
    if FLAGS.physio_model:
        forest = TreeEnsemble.load(FLAGS.physio_model)
        physio_model = forest_to_tflite(forest)
        features = physio_spec(FLAGS.physio_features, forest.num_features).to_json_dict()
        spaces.append(("physio", FLAGS.physio_label_space))
    manifest = write_bundle(
        FLAGS.out, face_models=face_models, physio_model=physio_model,
        fusion_config=FusionConfig(max_age_s=FLAGS.max_age_s, modality_label_spaces=tuple(spaces)),
        features=features, physio_label_space=FLAGS.physio_label_space,
        overwrite=FLAGS.overwrite)
    print(json.dumps({"bundle": str(Path(FLAGS.out).resolve()),
                      "files": {k: v["size_bytes"] for k, v in manifest["files"].items()}},
                     indent=2))


if __name__ == "__main__":
    run_main(main)
