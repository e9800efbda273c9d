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
fold), `calibration` (per task: every candidate per-driver calibration of `CALIBRATIONS` with
sklearn_rf: held-out accuracy, accuracy when the held-out sessions do not start calm (rotated to
start at their first stress window), the inner leave-subjects-out validation accuracy that picks
the candidate per fold (never the held-out subjects), and the nested accuracy of those picks),
the targets with their verdicts, per-model details, peak memory, wall time and `provenance()`.
The main table uses, per task, the candidate picked most often on validation subjects.
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
import numpy as np
from absl import app, flags

# TensorFlow is imported at module level (importing it inside absl's main breaks Keras).
from benchmarks.common import PeakRssSampler, emit, provenance
from configs import physio_drivedb, physio_wesad
from emocore.calibration import CalibrationConfig
from tff_train.physio.config import FEDERATED_MODELS
from tff_train.physio.models import fit_model
from tff_train.physio.tasks import PhysioTask, calibrate_groups, client_datasets, group_folds
from tff_train.physio.trainer import load_physio_task, run_physio_training
from tff_train.runtime.tff_runtime import import_tff, shutdown_tff_workers

TASK_CONFIGS = {"wesad3": physio_wesad, "wesad_binary": physio_wesad, "drivedb3": physio_drivedb}
# (task, metric, minimum of the best federated model, largest gap below the best centralised)
TARGETS: tuple[tuple[str, str, float, float], ...] = (
    ("wesad3", "accuracy", 0.80, 0.01),
    ("wesad_binary", "accuracy", 0.90, 0.01),
    ("drivedb3", "accuracy", 0.70, 0.01),
)

# Candidate calibrations (emocore.calibration), simplest first (ties go to the earlier one).
CALIBRATIONS: dict[str, CalibrationConfig] = {
    "none": CalibrationConfig(),
    **{f"zscore_start{k}": CalibrationConfig("zscore", k) for k in (30, 60, 120, 240)},
    **{f"center_start{k}": CalibrationConfig("center", k) for k in (120, 240)},
    "zscore_running": CalibrationConfig("zscore", 0, running=True),
    "center_running": CalibrationConfig("center", 0, running=True),
}
# The label a rotated session starts with (the stress test of a session that is not calm).
STRESS_LABEL = {"wesad3": "stress", "wesad_binary": "stress", "drivedb3": "high"}

if __name__ == "__main__":
    flags.DEFINE_string("data_root", "../shared/data", "Folder holding wesad_features/, drivedb/.")
    flags.DEFINE_string("out", None, "Write the JSON result here too.")
    flags.DEFINE_string("workdir", "/tmp/fedmultiemo_physio_fl", "Training outputs (per task).")
    flags.DEFINE_list("tasks", list(TASK_CONFIGS), "Tasks to run.")
    flags.DEFINE_string("models", None, "Comma-separated models (default: the config's).")
    flags.DEFINE_list("calibrations", list(CALIBRATIONS),
                      f"Candidate calibrations of the sweep, of {list(CALIBRATIONS)}.")
    flags.DEFINE_integer("inner_folds", 3, "Inner leave-subjects-out folds picking the "
                         "calibration among each fold's training subjects.")
FLAGS = flags.FLAGS


def task_config(task: str, data_root: str, models: str | None = None,
                calibration: CalibrationConfig = CalibrationConfig()
                ) -> ml_collections.ConfigDict:
    """The benchmark config of `task` (no final models: only held-out evaluation)."""
    if task not in TASK_CONFIGS:
        raise ValueError(f"task must be one of {list(TASK_CONFIGS)}; got {task!r}")
    config = (physio_wesad.get_config("binary") if task == "wesad_binary"
              else TASK_CONFIGS[task].get_config())
    config.data.data_root = data_root
    config.calibration.update(calibration.to_json_dict())
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
    """Each task's target: the best federated model against the minimum and against the best
    centralised model (measured numbers, no rounding)."""
    out = []
    for task, metric, minimum, gap in TARGETS:
        models = scores.get(task, {})
        federated = {m: r[metric] for m, r in models.items() if m in FEDERATED_MODELS}
        central = {m: r[metric] for m, r in models.items() if m not in FEDERATED_MODELS}
        if not federated:
            continue
        best = max(federated, key=federated.get)
        entry = {"task": task, "metric": metric, "best_federated": best,
                 "value": federated[best], "minimum": minimum,
                 "meets_minimum": federated[best] >= minimum}
        if central:
            top = max(central, key=central.get)
            entry.update(best_centralised=top, centralised_value=central[top], max_gap=gap,
                         within_gap=federated[best] >= central[top] - gap)
        out.append(entry)
    return out


def details(results: dict[str, dict]) -> dict:
    """Per task: data summary, folds and per-model spread (folds, worst group, per class)."""
    keys = ("fold_accuracy", "fold_accuracy_mean", "fold_accuracy_std", "worst_group_accuracy",
            "group_accuracy", "per_class_accuracy", "confusion_matrix", "num_examples")
    return {task: {"data": res["task"], "folds": res["folds"],
                   "models": {m: {k: r[k] for k in keys} for m, r in res["models"].items()}}
            for task, res in results.items()}


def rotated_order(task: PhysioTask, groups: Sequence[str], label: str) -> np.ndarray:
    """Row order `int64[N]` in which each session of `groups` starts at its first `label`
    window and wraps around (other rows keep their place)."""
    target = task.label_space.index(label)
    order = np.arange(len(task))
    for g in groups:
        rows = np.flatnonzero(task.groups == g)
        hits = np.flatnonzero(task.labels[rows] == target)
        if hits.size:
            order[rows] = np.roll(rows, -int(hits[0]))
    return order


def sweep_predictions(task: PhysioTask, config: ml_collections.ConfigDict,
                      calibration: CalibrationConfig, train_groups: Sequence[str],
                      test_groups: Sequence[str], *, rotate: bool = False
                      ) -> tuple[np.ndarray, np.ndarray]:
    """sklearn_rf trained on `train_groups`' client train splits, calibrated as on the edge;
    returns (predictions, labels) `int64[n]` of the `test_groups`' windows (in session order;
    rotated to start at the first stress window when `rotate`)."""
    order = (rotated_order(task, test_groups, STRESS_LABEL[task.name]) if rotate
             else np.arange(len(task)))
    features, _ = calibrate_groups(task.features[order], task.groups[order], calibration,
                                   list(train_groups), task.feature_names)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    e = config.evaluation
    clients = client_datasets(task, list(train_groups), val_fraction=e.val_fraction,
                              val_gap=e.val_gap_windows, features=features[inverse])
    predict, _, _ = fit_model("sklearn_rf", clients, config, task.feature_names,
                              task.label_space.num_classes)
    test = np.isin(task.groups[order], list(test_groups))
    return predict(features[test]), task.labels[order][test]


def calibration_sweep(task: PhysioTask, config: ml_collections.ConfigDict,
                      names: Sequence[str], inner_folds: int) -> dict:
    """Every candidate calibration on `task` (see the module docstring): held-out and rotated
    accuracy, inner validation accuracy per fold, the per-fold picks and their nested accuracy."""
    folds = group_folds(task.groups, config.evaluation.num_folds, config.seed)
    candidates = {n: CALIBRATIONS[n] for n in names}
    held = {n: [] for n in candidates}
    rotated = {n: [] for n in candidates}
    inner = {n: [] for n in candidates}
    picks, nested = [], []
    for test_groups in folds:
        train = [g for g in task.group_names if g not in test_groups]
        inner_splits = group_folds(np.array(train), min(inner_folds, len(train)), config.seed)
        for n, c in candidates.items():
            hits = [sweep_predictions(task, config, c, [g for g in train if g not in val], val)
                    for val in inner_splits]
            inner[n].append(float(np.mean(np.concatenate([p == y for p, y in hits]))))
            held[n].append(sweep_predictions(task, config, c, train, test_groups))
            rotated[n].append(sweep_predictions(task, config, c, train, test_groups,
                                                rotate=True))
        pick = max(candidates, key=lambda n: (inner[n][-1], -list(candidates).index(n)))
        picks.append(pick)
        nested.append(held[pick][-1])

    def accuracy(pairs: list[tuple[np.ndarray, np.ndarray]]) -> float:
        return float(np.mean(np.concatenate([p == y for p, y in pairs])))

    selected = max(candidates, key=lambda n: (picks.count(n), -list(candidates).index(n)))
    return {
        "model": "sklearn_rf",
        "protocol": f"{len(folds)} leave-subjects-out folds; per fold, {inner_folds} inner "
                    "leave-subjects-out folds of its training subjects pick the candidate",
        "rotated_start_label": STRESS_LABEL[task.name],
        "candidates": {n: {"config": c.to_json_dict(), "held_out_accuracy": accuracy(held[n]),
                           "rotated_held_out_accuracy": accuracy(rotated[n]),
                           "inner_validation_accuracy": inner[n]}
                       for n, c in candidates.items()},
        "picked_per_fold": picks,
        "nested_held_out_accuracy": accuracy(nested),
        "selected": selected,
    }


def main(argv: Sequence[str]) -> None:
    del argv
    import_tff()
    started = time.time()
    raw: dict[str, dict] = {}
    sweeps: dict[str, dict] = {}
    configs: dict[str, dict] = {}
    data_seconds: dict[str, float] = {}
    try:
        with PeakRssSampler() as rss:
            for task in FLAGS.tasks:
                t0 = time.time()
                data: PhysioTask = load_physio_task(task_config(task, FLAGS.data_root))
                data_seconds[task] = time.time() - t0
                t0 = time.time()
                sweeps[task] = calibration_sweep(data, task_config(task, FLAGS.data_root),
                                                 FLAGS.calibrations, FLAGS.inner_folds)
                sweeps[task]["seconds"] = time.time() - t0
                chosen = CALIBRATIONS[sweeps[task]["selected"]]
                config = task_config(task, FLAGS.data_root, FLAGS.models, chosen)
                configs[task] = config.to_dict()
                raw[task] = run_physio_training(config, f"{FLAGS.workdir}/{task}", task=data)
    finally:
        shutdown_tff_workers()
    scores = table(raw)
    result: dict = dict(scores)
    result.update({
        "training_time_s": training_times(raw),
        "bytes_per_client": bytes_per_client(raw),
        "targets": target_verdicts(scores),
        "calibration": sweeps,
        "details": details(raw),
        "data_loading_s": data_seconds,
        "configs": configs,
        "peak_rss_mb": rss.peak_total_mb,
        "wall_time_s": time.time() - started,
        "provenance": provenance(),
    })
    emit(result, FLAGS.out)


if __name__ == "__main__":
    app.run(main)
