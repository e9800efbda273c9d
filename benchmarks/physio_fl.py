"""Physio FL benchmark: federated vs centralised decision forests, leave-subjects-out.

`python -m benchmarks.physio_fl --data_root=../shared/data --out=FILE.json`
Tasks: `wesad3` and `wesad_binary` (configs/physio_wesad.py and its `binary` variant: 15
subject clients, 5 folds of 3 held-out subjects) and `drivedb3` (configs/physio_drivedb.py: one
client per labelled drive, 4 leave-drives-out folds). Models: federated_rf, federated_gbt
(histogram GBT), centralised_rf, centralised_gbt (TF-DF), centralised_hist_gbt (the numpy
histogram GBT of federated_gbt on pooled rows), sklearn_rf, all trained on the same rows of the
training subjects; the held-out subjects are only predicted. Accuracy and macro-F1 pool the held-out
predictions of all folds.
Output: `{task: {model: {"accuracy", "macro_f1"}}}` plus `training_time_s` (per task and model,
summed over folds), `bytes_per_client` (federated models: mean uplink/downlink per client and
fold), the same table with per-subject `rank` normalisation (`per_subject_normalised`),
the targets with their verdicts, per-model details and `provenance()`.
"""

from __future__ import annotations

import sys

from emocore.cli_output import quiet_unless_verbose

# ruff: noqa: E402 (the imports below follow the quiet-output call on purpose)
if __name__ == "__main__":  # before anything imports TensorFlow: quiet its console output
    quiet_unless_verbose(sys.argv)

import time
from collections.abc import Sequence

import ml_collections
from absl import app, flags

# TensorFlow is imported at module level (importing it inside absl's main breaks Keras).
from benchmarks.common import PeakRssSampler, emit, provenance
from configs import physio_drivedb, physio_wesad
from tff_train.physio.config import FEDERATED_MODELS
from tff_train.physio.tasks import PhysioTask
from tff_train.physio.trainer import load_physio_task, run_physio_training
from tff_train.runtime.tff_runtime import import_tff, shutdown_tff_workers

TASK_CONFIGS = {"wesad3": physio_wesad, "wesad_binary": physio_wesad, "drivedb3": physio_drivedb}
# (task, metric, minimum of the federated models, largest allowed gap below centralised)
TARGETS: tuple[tuple[str, str, float, float], ...] = (
    ("wesad3", "accuracy", 0.80, 0.02),
    ("wesad_binary", "accuracy", 0.90, 0.02),
)

if __name__ == "__main__":
    flags.DEFINE_string("data_root", "../shared/data", "Folder holding wesad_features/, drivedb/.")
    flags.DEFINE_string("out", None, "Write the JSON result here too.")
    flags.DEFINE_string("workdir", "/tmp/fedmultiemo_physio_fl", "Training outputs (per task).")
    flags.DEFINE_list("tasks", list(TASK_CONFIGS), "Tasks to run.")
    flags.DEFINE_string("models", None, "Comma-separated models (default: the config's).")
    flags.DEFINE_string("normalisation", "rank",
                        "Per-subject normalisation of the second table ('none' = skip it).")
    flags.DEFINE_string("normalised_models", "federated_rf,centralised_rf,sklearn_rf",
                        "Models of the per-subject-normalised table.")
FLAGS = flags.FLAGS


def task_config(task: str, data_root: str, models: str | None = None,
                normalisation: str = "none") -> ml_collections.ConfigDict:
    """The benchmark config of `task` (no final models: only held-out evaluation)."""
    if task not in TASK_CONFIGS:
        raise ValueError(f"task must be one of {list(TASK_CONFIGS)}; got {task!r}")
    config = (physio_wesad.get_config("binary") if task == "wesad_binary"
              else TASK_CONFIGS[task].get_config())
    config.data.data_root = data_root
    config.data.normalisation = normalisation
    config.output.final_models = False
    if models:
        config.models = models
    return config


def table(results: dict[str, dict]) -> dict[str, dict[str, dict[str, float]]]:
    """{task: trainer results} -> {task: {model: {"accuracy", "macro_f1"}}}."""
    return {task: {m: {"accuracy": r["accuracy"], "macro_f1": r["macro_f1"]}
                   for m, r in res["models"].items()} for task, res in results.items()}


def training_times(results: dict[str, dict]) -> dict[str, dict[str, float]]:
    """{task: {model: training seconds summed over folds}}."""
    return {task: {m: r["train_seconds_total"] for m, r in res["models"].items()}
            for task, res in results.items()}


def bytes_per_client(results: dict[str, dict]) -> dict[str, dict[str, dict[str, float]]]:
    """{task: {federated model: {"uplink", "downlink" (mean bytes per client and fold), ...}}}."""
    return {task: {m: {"uplink": r["uplink_bytes_per_client_mean"],
                       "downlink": r["downlink_bytes_per_client_mean"],
                       "uplink_max": r["uplink_bytes_per_client_max"],
                       "downlink_max": r["downlink_bytes_per_client_max"],
                       "rounds": r["rounds"], "num_trees_mean": r["num_trees_mean"]}
                   for m, r in res["models"].items() if m in FEDERATED_MODELS}
            for task, res in results.items()}


def target_verdicts(scores: dict[str, dict[str, dict[str, float]]]) -> list[dict]:
    """Each target with the measured numbers and whether it is met (no rounding)."""
    out = []
    for task, metric, minimum, gap in TARGETS:
        models = scores.get(task)
        if not models:
            continue
        for fed, central in (("federated_rf", "centralised_rf"),
                             ("federated_gbt", "centralised_gbt")):
            if fed not in models:
                continue
            value = models[fed][metric]
            entry = {"task": task, "model": fed, "metric": metric, "value": value,
                     "minimum": minimum, "meets_minimum": value >= minimum}
            if central in models:
                entry.update(centralised=central, centralised_value=models[central][metric],
                             max_gap=gap,
                             within_gap=value >= models[central][metric] - gap)
            out.append(entry)
    return out


def details(results: dict[str, dict]) -> dict:
    """Per task: data summary, folds and per-model spread (folds, worst group, per class)."""
    keys = ("fold_accuracy", "fold_accuracy_mean", "fold_accuracy_std", "worst_group_accuracy",
            "group_accuracy", "per_class_accuracy", "confusion_matrix", "num_examples")
    return {task: {"data": res["task"], "folds": res["folds"],
                   "models": {m: {k: r[k] for k in keys} for m, r in res["models"].items()}}
            for task, res in results.items()}


def main(argv: Sequence[str]) -> None:
    del argv
    import_tff()
    started = time.time()
    raw: dict[str, dict] = {}
    normalised: dict[str, dict] = {}
    data_seconds: dict[str, float] = {}
    try:
        with PeakRssSampler() as rss:
            for task in FLAGS.tasks:
                config = task_config(task, FLAGS.data_root, FLAGS.models)
                t0 = time.time()
                data: PhysioTask = load_physio_task(config)
                data_seconds[task] = time.time() - t0
                raw[task] = run_physio_training(config, f"{FLAGS.workdir}/{task}", task=data)
                if FLAGS.normalisation != "none":
                    config = task_config(task, FLAGS.data_root, FLAGS.normalised_models,
                                         FLAGS.normalisation)
                    normalised[task] = run_physio_training(
                        config, f"{FLAGS.workdir}/{task}_{FLAGS.normalisation}", task=data)
    finally:
        shutdown_tff_workers()
    scores = table(raw)
    result: dict = dict(scores)
    result.update({
        "training_time_s": training_times(raw),
        "bytes_per_client": bytes_per_client(raw),
        "targets": target_verdicts(scores),
        "per_subject_normalised": {
            "method": FLAGS.normalisation,
            "note": "each subject's features normalised by its own unlabelled windows "
                    "(computable on the device; held-out subjects use all their windows); "
                    "see tff_train.physio.tasks.normalise_per_group",
            **table(normalised),
            "targets": target_verdicts(table(normalised)),
            "training_time_s": training_times(normalised)},
        "details": details(raw),
        "data_loading_s": data_seconds,
        "configs": {task: task_config(task, FLAGS.data_root, FLAGS.models).to_dict()
                    for task in FLAGS.tasks},
        "peak_rss_mb": rss.peak_total_mb,
        "wall_time_s": time.time() - started,
        "provenance": provenance(),
    })
    emit(result, FLAGS.out)


if __name__ == "__main__":
    app.run(main)
