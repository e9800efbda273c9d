"""Fusion benchmark, label-paired protocol: FER2013 faces paired with WESAD windows.

`python -m benchmarks.fusion --data_root=../shared/data --face_model=DIR/face_model.keras
 --out=FILE.json`

Protocol (no test rows in training or model selection):
- Face: the federated FER2013 CNN (int8 TFLite, run under tflite-runtime) on PrivateTest faces;
  FER7 probabilities → driver state.
- Physiology: the federated forest of configs/physio_wesad.py (`--physio_model`, default the
  histogram GBT; TFF, one client per WESAD subject) trained on subjects S2-S11 on windows
  calibrated per subject as the head unit does (the config's `calibration`: causal z-score
  against the session's first windows, population prior from S2-S11 only; `--calibration=none`
  for raw features), probabilities for windows of held-out subjects S15-S17; WESAD3 → driver
  state.
- Pairing: every PrivateTest face is paired with a random held-out WESAD window that carries the
  same fused label (neutral/positive/negative), with a fixed seed.
- Learned fusion weights are fitted on validation pairs built the same way from PublicTest faces
  and the windows of validation subjects S13-S14.
- The fusion strategy is picked on those validation pairs (`validation_pick`).
- Dropout: for 25/50/100% of the pairs one modality is missing (face or physio); fusion must then
  fall back to the other, never guess.
"""

from __future__ import annotations

import sys

from emocore.cli_output import quiet_unless_verbose

# ruff: noqa: E402 (the imports below follow the quiet-output call on purpose)
if __name__ == "__main__":  # before anything imports TensorFlow: quiet its console output
    quiet_unless_verbose(sys.argv)

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf
from absl import app, flags

from benchmarks.common import emit, provenance
from configs import physio_wesad
from converters.face_to_tflite import convert_face_model
from emocore.face_preprocessing import scale_pixels
from emocore.fusion import (
    LEARNED_POOLS,
    STRATEGIES,
    FusionConfig,
    ModalityReading,
    fuse,
    model_output_probs,
    to_driver_state,
)
from emocore.label_spaces import DRIVER_STATE3, map_labels
from emodata.fer2013 import fer2013_path, load_fer2013
from tff_train.fusion_weights import fit_learned_weights
from tff_train.physio.config import FEDERATED_MODELS, calibration_config
from tff_train.physio.models import fit_model
from tff_train.physio.tasks import PhysioTask, calibrate_groups, client_datasets, load_wesad_task
from tff_train.runtime.tff_runtime import import_tff, shutdown_tff_workers
from tflite_edge.interpreter import TFLiteModel

if __name__ == "__main__":
    flags.DEFINE_string("data_root", "../shared/data", "Folder with fer2013/, wesad_features/.")
    flags.DEFINE_string("face_model", "/tmp/fedmultiemo_face_fl/face_model.keras",
                        "Trained Keras face model (.keras).")
    flags.DEFINE_string("cache_dir", "", "FER2013 .npz cache folder ('' = default).")
    flags.DEFINE_integer("seed", 0, "Pairing / dropout seed.")
    flags.DEFINE_enum("physio_model", "federated_gbt", sorted(FEDERATED_MODELS),
                      "Federated forest of configs/physio_wesad.py.")
    flags.DEFINE_enum("calibration", "config", ["config", "none"],
                      "Per-subject calibration: the config's, or none (raw features).")
    flags.DEFINE_string("out", None, "Write the JSON result here too.")
FLAGS = flags.FLAGS

TRAIN_SUBJECTS = tuple(range(2, 12))
VAL_SUBJECTS = (13, 14)
TEST_SUBJECTS = (15, 16, 17)
DROPOUT_FRACTIONS = (0.25, 0.5, 1.0)


def face_state_probs(model_bytes: bytes, images: np.ndarray) -> np.ndarray:
    """Driver-state probabilities `float64[N,3]` of `images: uint8[N,48,48]` (int8 TFLite)."""
    model = TFLiteModel(model_bytes, num_threads=2)
    return np.stack([model_output_probs(model.predict(scale_pixels(x[None, ..., None])), "fer7",
                                        "face")[1] for x in images])


def physio_forest(task: PhysioTask, seed: int, model: str, calibrate: bool
                  ) -> tuple[object, np.ndarray, dict]:
    """The federated `model` of configs/physio_wesad.py over the training subjects of the
    wesad3 `task` (one client each), the (calibrated) float32[N,F] features of every window, and
    the settings used."""
    if model not in FEDERATED_MODELS:
        raise ValueError(f"model must be one of {sorted(FEDERATED_MODELS)}; got {model!r}")
    config = physio_wesad.get_config()
    config.seed = seed
    if not calibrate:
        config.calibration.method = "none"
    train_groups = [f"S{s}" for s in TRAIN_SUBJECTS]
    calibration = calibration_config(config)
    features, _ = calibrate_groups(task.features, task.groups, calibration, train_groups,
                                   task.feature_names)
    clients = client_datasets(task, train_groups, val_fraction=config.evaluation.val_fraction,
                              val_gap=config.evaluation.val_gap_windows, features=features)
    _, ensemble, _ = fit_model(model, clients, config, task.feature_names,
                               task.label_space.num_classes)
    settings = {"model": model, "calibration": calibration.to_json_dict(),
                "model_config": config[model].to_dict()}
    return ensemble, features, settings


def pair(face_labels: np.ndarray, window_labels: np.ndarray, rng: np.random.Generator
         ) -> np.ndarray:
    """For each face, the index of a random window with the same driver-state label."""
    out = np.empty(len(face_labels), np.int64)
    for state in range(DRIVER_STATE3.num_classes):
        faces = np.flatnonzero(face_labels == state)
        windows = np.flatnonzero(window_labels == state)
        if len(windows) == 0:
            raise ValueError(f"no WESAD window with driver state {DRIVER_STATE3.labels[state]!r}")
        out[faces] = rng.choice(windows, len(faces))
    return out


def fused_accuracy(face: np.ndarray, physio: np.ndarray, labels: np.ndarray,
                   config: FusionConfig) -> float:
    """Accuracy of `fuse` over paired rows; a NaN row means that modality is missing."""
    hits = 0
    for f, p, y in zip(face, physio, labels, strict=True):
        readings = [ModalityReading("face", None if np.isnan(f).any() else f, 0.0, 1.0),
                    ModalityReading("physio", None if np.isnan(p).any() else p, 0.0, 1.0)]
        result = fuse(readings, 0.0, config)
        hits += int(result.label_index == y)
    return hits / len(labels)


def main(argv: Sequence[str]) -> None:
    del argv
    started = time.time()
    import_tff()
    rng = np.random.default_rng(FLAGS.seed)
    fer = load_fer2013(fer2013_path(FLAGS.data_root), cache_dir=FLAGS.cache_dir or None)
    train = fer.split("train").images
    calibration = scale_pixels(train[rng.choice(len(train), 500, replace=False)][..., None])
    keras_model = tf.keras.models.load_model(FLAGS.face_model)
    face_int8 = convert_face_model(keras_model, "int8", calibration_images=calibration,
                                   num_calibration_samples=500)
    wesad = load_wesad_task(Path(FLAGS.data_root) / "wesad_features")
    try:
        forest, features, physio_settings = physio_forest(
            wesad, FLAGS.seed, FLAGS.physio_model, FLAGS.calibration == "config")
    finally:
        shutdown_tff_workers()
    physio_state = to_driver_state(forest.predict_proba(features).astype(np.float64), "wesad3")
    window_state = map_labels(wesad.labels, "wesad3", "driver_state3")

    def split(face_split: str, subjects: tuple[int, ...]) -> dict:
        faces = fer.split(face_split)
        labels = map_labels(faces.labels, "fer7", "driver_state3")
        windows = np.flatnonzero(np.isin(wesad.groups, [f"S{s}" for s in subjects]))
        idx = windows[pair(labels, window_state[windows], rng)]
        return {"labels": labels, "face": face_state_probs(face_int8, faces.images),
                "physio": physio_state[idx]}

    val, test = split("public_test", VAL_SUBJECTS), split("private_test", TEST_SUBJECTS)
    fitted = {s: fit_learned_weights({"face": val["face"], "physio": val["physio"]},
                                     val["labels"], pool=pool, epsilon=FusionConfig().epsilon)
              for s, pool in LEARNED_POOLS.items()}
    learned = fitted["learned_weights"]
    configs = {s: FusionConfig(strategy=s, modality_label_spaces=(("face", "driver_state3"), (
        "physio", "driver_state3")), learned_weights=fitted.get(s)) for s in STRATEGIES}
    y = test["labels"]
    result = {
        "provenance": provenance(),
        "protocol": __doc__.split("Protocol")[1].strip(),
        "physio": physio_settings,
        "pairs": int(len(y)),
        "face_only": float((test["face"].argmax(1) == y).mean()),
        "physio_only": float((test["physio"].argmax(1) == y).mean()),
        "fused": {s: fused_accuracy(test["face"], test["physio"], y, c)
                  for s, c in configs.items()},
        # Model selection happens here (PublicTest faces + S13-S14 windows), never on "fused".
        "fused_validation": {s: fused_accuracy(val["face"], val["physio"], val["labels"], c)
                             for s, c in configs.items()},
        "learned_weights": {"modalities": list(learned.modalities),
                            "weights": np.asarray(learned.weights, dtype=float).tolist()},
        "learned_log_pool_weights": {
            "modalities": list(fitted["learned_log_pool"].modalities),
            "weights": np.asarray(fitted["learned_log_pool"].weights, dtype=float).tolist()},
        "dropout": {},
    }
    for dropped in ("face", "physio"):
        for fraction in DROPOUT_FRACTIONS:
            mask = rng.random(len(y)) < fraction
            face, physio = test["face"].copy(), test["physio"].copy()
            (face if dropped == "face" else physio)[mask] = np.nan
            # A single-modality classifier scores a missing reading as wrong.
            singles = {name: float(((~np.isnan(p).any(1)) & (np.nan_to_num(p).argmax(1) == y))
                                   .mean()) for name, p in (("face", face), ("physio", physio))}
            fused = {s: fused_accuracy(face, physio, y, c) for s, c in configs.items()}
            result["dropout"][f"{dropped}_{int(fraction * 100)}"] = {
                "fused": fused, "face_only": singles["face"], "physio_only": singles["physio"],
                "best_single_modality": max(singles.values()),
                "never_below_best_single": {s: bool(a >= max(singles.values()) - 1e-12)
                                            for s, a in fused.items()},
            }
    pick = max(result["fused_validation"], key=result["fused_validation"].get)
    result["validation_pick"] = {"strategy": pick, "test_accuracy": result["fused"][pick]}
    result["wall_time_s"] = time.time() - started
    emit(result, FLAGS.out)


if __name__ == "__main__":
    app.run(main)
