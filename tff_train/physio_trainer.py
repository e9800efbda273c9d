"""One physiological experiment: leave-groups-out evaluation of federated and centralised forests.

Models (`MODELS`, any subset via `config.models`, comma-separated):
  federated_rf    `train_federated_forest` (one client per subject/drive/driver; trees ranked on
                  each client's own validation split)
  federated_gbt   `train_federated_boosting`
  centralised_rf  TF-DF RandomForestModel on the pooled training rows
  centralised_gbt TF-DF GradientBoostedTreesModel on the pooled training rows, early-stopped on
                  the pooled client validation splits (never on held-out groups)
  sklearn_rf      sklearn RandomForestClassifier on the pooled training rows
Every model of a fold trains on exactly the same rows: the training groups' `client_datasets`
train splits (validation = the last `val_fraction` of each (group, label) block, after a gap).
The held-out groups of a fold are only predicted. Metrics pool the held-out predictions of all
folds (every window is held out once) and also list per-fold and per-group accuracy.

Workdir: `config.json` (resolved config), `metrics.csv` (one row per fold and model),
`results.json`, `confusion_<model>.{csv,png}`, `<model>.npz` (TreeEnsemble of the federated
models trained on ALL groups, node tables trimmed, for `converters.forest_to_tflite`; when
`output.final_models`), `folds/fold<k>_<model>.npz` (when `output.save_fold_models`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import ml_collections
import numpy as np
import tensorflow as tf

from emocore.physio import PRECOMPUTED, PhysioFeatureConfig, PhysioSpec
from emodata.synthetic_cohort import CohortConfig
from forests.ensemble import TreeEnsemble
from forests.extraction import from_tfdf
from tff_train import workdir_io
from tff_train.classification_metrics import summarize
from tff_train.config_checks import is_int, require
from tff_train.federated_forest import (
    BoostingConfig,
    FederatedStats,
    ForestConfig,
    train_federated_boosting,
    train_federated_forest,
)
from tff_train.physio_datasets import (
    NORMALISATIONS,
    TASKS,
    ClientDataset,
    PhysioTask,
    client_datasets,
    group_folds,
    load_task,
    normalise_per_group,
)

MODELS: tuple[str, ...] = (
    "federated_rf", "federated_gbt", "centralised_rf", "centralised_gbt", "sklearn_rf")
FEDERATED_MODELS: tuple[str, ...] = ("federated_rf", "federated_gbt")
FEATURES_JSON = "features.json"  # <workdir>/features.json: PhysioSpec of the trained forests


# --------------------------------------------------------------------------- config
def parse_models(text: str) -> tuple[str, ...]:
    """'federated_rf,sklearn_rf' -> ('federated_rf', 'sklearn_rf'); raises on unknown names."""
    names = tuple(n.strip() for n in str(text).split(",") if n.strip())
    bad = [n for n in names if n not in MODELS]
    require(bool(names) and not bad and len(set(names)) == len(names), "models",
             f"a comma-separated list of distinct names from {list(MODELS)}", text)
    return names


def forest_config(config: ml_collections.ConfigDict, num_classes: int) -> ForestConfig:
    """The ForestConfig of `config.federated_rf`."""
    c = config.federated_rf
    try:
        return ForestConfig(
            num_classes=num_classes, num_trees_per_client=c.num_trees_per_client,
            max_depth=c.max_depth, keep_top_n=c.keep_top_n, volume_exponent=c.volume_exponent,
            min_examples=c.min_examples, winner_take_all=c.winner_take_all, seed=config.seed)
    except ValueError as e:
        raise ValueError(f"config.federated_rf: {e}") from None


def boosting_config(config: ml_collections.ConfigDict, num_classes: int) -> BoostingConfig:
    """The BoostingConfig of `config.federated_gbt`."""
    c = config.federated_gbt
    try:
        return BoostingConfig(
            num_classes=num_classes, rounds=c.rounds, trees_per_round=c.trees_per_round,
            max_depth=c.max_depth, learning_rate=c.learning_rate, mode=c.mode,
            min_examples=c.min_examples, l2_regularization=c.l2_regularization,
            seed=config.seed)
    except ValueError as e:
        raise ValueError(f"config.federated_gbt: {e}") from None


def feature_config(config: ml_collections.ConfigDict) -> PhysioFeatureConfig:
    """The extractor settings of `config.features` (drivedb and synthetic tasks)."""
    try:
        return PhysioFeatureConfig(window_s=float(config.features.window_s),
                                   stride_s=float(config.features.stride_s))
    except ValueError as e:
        raise ValueError(f"config.features: {e}") from None


def physio_spec(config: ml_collections.ConfigDict, task: PhysioTask) -> PhysioSpec:
    """What the trained forests consume (the bundle's features.json): the extractor's window
    features for drivedb and synthetic tasks, WESAD's precomputed feature vectors otherwise."""
    if config.data.task in ("drivedb3", "synthetic"):
        return PhysioSpec.raw_signals(feature_config(config))
    return PhysioSpec(PRECOMPUTED, tuple(task.feature_names), source="wesad")


def cohort_config(config: ml_collections.ConfigDict) -> CohortConfig:
    """The synthetic cohort's size and pacing from `config.data` (no faces or frames)."""
    d = config.data
    try:
        return CohortConfig(faces_per_class=1, episodes_per_driver=d.synthetic_episodes,
                            segment_s=tuple(d.synthetic_segment_s), frame_fps=0.0)
    except (ValueError, TypeError) as e:
        raise ValueError(f"config.data: {e}") from None


def validate_physio_config(config: ml_collections.ConfigDict) -> None:
    """Raises ValueError naming the first invalid key (`config.evaluation.num_folds must ...`)."""
    d, e, o = config.data, config.evaluation, config.output
    require(d.task in TASKS, "data.task", f"one of {list(TASKS)}", d.task)
    require(d.normalisation in NORMALISATIONS, "data.normalisation",
             f"one of {list(NORMALISATIONS)}", d.normalisation)
    folder = {"wesad3": "wesad_features", "wesad_binary": "wesad_features",
              "drivedb3": "drivedb"}.get(d.task)
    if folder is not None:
        require((Path(d.data_root) / folder).is_dir(), "data.data_root",
                 f"a folder holding {folder}/ (the {d.task} data path is missing)",
                 str(d.data_root))
    else:
        require(is_int(d.synthetic_drivers) and d.synthetic_drivers >= 2,
                 "data.synthetic_drivers", "an int >= 2 (one client per driver)",
                 d.synthetic_drivers)
        cohort_config(config)
    feature_config(config)
    require(is_int(e.num_folds) and e.num_folds >= 2, "evaluation.num_folds", "an int >= 2",
             e.num_folds)
    require(is_int(e.run_folds) and 0 <= e.run_folds <= e.num_folds, "evaluation.run_folds",
             f"an int in [0, num_folds={e.num_folds}] (0 = all)", e.run_folds)
    require(0.0 < e.val_fraction < 1.0, "evaluation.val_fraction", "in (0, 1)",
             e.val_fraction)
    require(is_int(e.val_gap_windows) and e.val_gap_windows >= 0,
             "evaluation.val_gap_windows", "an int >= 0", e.val_gap_windows)
    models = parse_models(config.models)
    num_classes = 2 if d.task == "wesad_binary" else 3
    if "federated_rf" in models:
        forest_config(config, num_classes)
    if "federated_gbt" in models:
        boosting_config(config, num_classes)
    for key in ("centralised_rf", "centralised_gbt", "sklearn_rf"):
        c = config[key]
        require(is_int(c.num_trees) and c.num_trees >= 1, f"{key}.num_trees", "an int >= 1",
                 c.num_trees)
        require(is_int(c.max_depth) and 1 <= c.max_depth <= 30, f"{key}.max_depth",
                 "an int in [1, 30]", c.max_depth)
    require(0.0 < config.centralised_gbt.shrinkage <= 1.0, "centralised_gbt.shrinkage",
             "in (0, 1]", config.centralised_gbt.shrinkage)
    require(is_int(config.sklearn_rf.n_jobs) and config.sklearn_rf.n_jobs >= 1,
             "sklearn_rf.n_jobs", "an int >= 1", config.sklearn_rf.n_jobs)
    require(isinstance(o.final_models, bool), "output.final_models", "a bool", o.final_models)
    require(isinstance(o.save_fold_models, bool), "output.save_fold_models", "a bool",
             o.save_fold_models)


def load_physio_task(config: ml_collections.ConfigDict) -> PhysioTask:
    """The configured task's windows (see `tff_train.physio_datasets`)."""
    d = config.data
    return load_task(d.task, d.data_root, feature_config=feature_config(config),
                     synthetic_drivers=d.synthetic_drivers, seed=config.seed,
                     cohort_config=cohort_config(config))


# --------------------------------------------------------------------------- models
@dataclasses.dataclass
class FitResult:
    """A trained model's held-out predictions `int64[n]`, training time and what it sent."""

    predictions: np.ndarray
    seconds: float
    ensemble: TreeEnsemble | None = None
    stats: FederatedStats | None = None


def compact_nodes(ensemble: TreeEnsemble) -> TreeEnsemble:
    """Drops trailing padding nodes no tree reaches (same predictions, smaller tables)."""
    internal = ensemble.feature >= 0
    used = 1 + int(max(ensemble.left[internal].max(initial=0),
                       ensemble.right[internal].max(initial=0)))
    if used >= ensemble.max_nodes:
        return ensemble
    fields = {name: getattr(ensemble, name)[:, :used]
              for name in ("feature", "threshold", "left", "right", "missing_go_right",
                           "leaf_value")}
    return ensemble.replace(**fields)


def _pooled(clients: Sequence[ClientDataset], part: int) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated (x, y) of every client's train (part=0) or validation (part=1) split."""
    data = [ClientDataset(*c) for c in clients]
    x = np.concatenate([c.x_val if part else c.x_train for c in data]).astype(np.float32)
    y = np.concatenate([c.y_val if part else c.y_train for c in data]).astype(np.int64)
    return x, y


def _tf_dataset(x: np.ndarray, y: np.ndarray) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices((x.astype(np.float32), y)).batch(1024)


def fit_model(
    name: str, clients: Sequence[ClientDataset], config: ml_collections.ConfigDict,
    feature_names: Sequence[str], num_classes: int,
) -> tuple[Callable[[np.ndarray], np.ndarray], TreeEnsemble | None, FederatedStats | None]:
    """Trains model `name` on `clients`; returns (predict: float32[n,F] -> int64[n], ensemble
    (tree models), federated stats (federated models))."""
    import tensorflow_decision_forests as tfdf  # noqa: PLC0415 (heavy, training only)

    if name == "federated_rf":
        ens, stats = train_federated_forest(clients, forest_config(config, num_classes),
                                            feature_names)
        return ens.predict, ens, stats
    if name == "federated_gbt":
        ens, stats = train_federated_boosting(clients, boosting_config(config, num_classes),
                                              feature_names)
        return ens.predict, ens, stats
    x, y = _pooled(clients, 0)
    if name == "sklearn_rf":
        from sklearn.ensemble import RandomForestClassifier  # noqa: PLC0415

        c = config.sklearn_rf
        model = RandomForestClassifier(n_estimators=c.num_trees, max_depth=c.max_depth,
                                       n_jobs=c.n_jobs, random_state=config.seed).fit(x, y)
        return (lambda xs: model.classes_[model.predict_proba(xs).argmax(axis=1)]
                .astype(np.int64)), None, None
    if name == "centralised_rf":
        c = config.centralised_rf
        model = tfdf.keras.RandomForestModel(
            num_trees=c.num_trees, max_depth=c.max_depth + 1, min_examples=c.min_examples,
            winner_take_all=c.winner_take_all, compute_oob_performances=False,
            random_seed=config.seed, verbose=0)
        model.fit(_tf_dataset(x, y), verbose=0)
    elif name == "centralised_gbt":
        c = config.centralised_gbt
        model = tfdf.keras.GradientBoostedTreesModel(
            num_trees=c.num_trees, max_depth=c.max_depth + 1, min_examples=c.min_examples,
            shrinkage=c.shrinkage, validation_ratio=0.0, early_stopping="LOSS_INCREASE",
            random_seed=config.seed, verbose=0)
        model.fit(_tf_dataset(x, y), validation_data=_tf_dataset(*_pooled(clients, 1)),
                  verbose=0)
    else:
        raise ValueError(f"name must be one of {list(MODELS)}; got {name!r}")
    ens = from_tfdf(model, feature_names=feature_names, num_classes=num_classes)
    return ens.predict, ens, None


def _timed_fit(name: str, clients: Sequence[ClientDataset], x_test: np.ndarray,
               config: ml_collections.ConfigDict, feature_names: Sequence[str],
               num_classes: int) -> FitResult:
    started = time.perf_counter()
    predict, ens, stats = fit_model(name, clients, config, feature_names, num_classes)
    seconds = time.perf_counter() - started
    return FitResult(np.asarray(predict(x_test), np.int64), seconds, ens, stats)


# --------------------------------------------------------------------------- the job
def _bytes_summary(stats: Sequence[FederatedStats]) -> dict:
    up = [b for s in stats for b in s.uplink_bytes_per_client]
    down = [b for s in stats for b in s.downlink_bytes_per_client]
    return {"uplink_bytes_per_client_mean": float(np.mean(up)),
            "uplink_bytes_per_client_max": int(np.max(up)),
            "downlink_bytes_per_client_mean": float(np.mean(down)),
            "downlink_bytes_per_client_max": int(np.max(down)),
            "rounds": int(stats[0].rounds),
            "num_trees_mean": float(np.mean([s.num_trees for s in stats]))}


def run_physio_training(config: ml_collections.ConfigDict, workdir: str | os.PathLike, *,
                        task: PhysioTask | None = None,
                        log: Callable[[str], None] = print) -> dict:
    """Runs the configured leave-groups-out experiment; returns (and writes) the results dict.

    task: preloaded windows (must match `config.data.task`); loaded from the config when None.
    """
    validate_physio_config(config)
    models = parse_models(config.models)
    if task is None:
        task = load_physio_task(config)
    elif not isinstance(task, PhysioTask) or task.name != config.data.task:
        raise ValueError(f"task must be a PhysioTask named {config.data.task!r} (config.data."
                         f"task); got {getattr(task, 'name', type(task).__name__)!r}")
    e = config.evaluation
    try:
        folds = group_folds(task.groups, e.num_folds, config.seed)
    except ValueError as err:
        raise ValueError(f"config.evaluation.num_folds: {err}") from None
    folds = folds[: e.run_folds or len(folds)]
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    workdir_io.write_json(workdir / "config.json", config.to_dict())
    workdir_io.write_json(workdir / FEATURES_JSON, physio_spec(config, task).to_json_dict())
    features = normalise_per_group(task.features, task.groups, config.data.normalisation)
    names, num_classes = task.feature_names, task.label_space.num_classes
    class_names = list(task.label_space.labels)
    log(f"{task.name}: {len(task)} windows, {len(task.group_names)} groups, {len(folds)} folds, "
        f"normalisation={config.data.normalisation}, models={','.join(models)}")

    held_out = {m: np.full(len(task), -1, np.int64) for m in models}
    rows: list[dict] = []
    seconds = {m: [] for m in models}
    stats: dict[str, list[FederatedStats]] = {m: [] for m in models}
    for k, test_groups in enumerate(folds):
        train_groups = [g for g in task.group_names if g not in test_groups]
        clients = client_datasets(task, train_groups, val_fraction=e.val_fraction,
                                  val_gap=e.val_gap_windows, features=features)
        test = np.isin(task.groups, test_groups)
        for m in models:
            fit = _timed_fit(m, clients, features[test], config, names, num_classes)
            held_out[m][test] = fit.predictions
            seconds[m].append(fit.seconds)
            summary = summarize(task.labels[test], fit.predictions, class_names)
            row = {"fold": k, "model": m, "test_groups": " ".join(test_groups),
                   "accuracy": summary["accuracy"], "macro_f1": summary["macro_f1"],
                   "train_seconds": fit.seconds, "num_test": int(test.sum()),
                   "num_trees": fit.ensemble.num_trees if fit.ensemble is not None else None}
            if fit.stats is not None:
                stats[m].append(fit.stats)
                row["uplink_bytes_per_client_mean"] = float(np.mean(
                    fit.stats.uplink_bytes_per_client))
                row["downlink_bytes_per_client_mean"] = float(np.mean(
                    fit.stats.downlink_bytes_per_client))
            if config.output.save_fold_models and fit.ensemble is not None:
                path = workdir / "folds" / f"fold{k}_{m}.npz"
                path.parent.mkdir(parents=True, exist_ok=True)
                compact_nodes(fit.ensemble).save(path)
            rows.append(row)
            workdir_io.write_rows_csv(workdir / "metrics.csv", rows)
            log(f"fold {k} {m}, held out {row['test_groups']}: accuracy={row['accuracy']:.4f} "
                f"macro_f1={row['macro_f1']:.4f} ({fit.seconds:.1f} s)")

    evaluated = held_out[models[0]] >= 0
    results: dict = {"task": task.describe(), "normalisation": config.data.normalisation,
                     "folds": [list(f) for f in folds], "models": {}}
    for m in models:
        y, p = task.labels[evaluated], held_out[m][evaluated]
        summary = summarize(y, p, class_names)
        groups = task.groups[evaluated]
        per_group = {str(g): float(np.mean(p[groups == g] == y[groups == g]))
                     for g in np.unique(groups)}
        fold_acc = [r["accuracy"] for r in rows if r["model"] == m]
        entry = {**summary, "fold_accuracy": fold_acc,
                 "fold_accuracy_mean": float(np.mean(fold_acc)),
                 "fold_accuracy_std": float(np.std(fold_acc)),
                 "group_accuracy": per_group,
                 "worst_group_accuracy": float(min(per_group.values())),
                 "train_seconds_total": float(np.sum(seconds[m])),
                 "train_seconds_per_fold_mean": float(np.mean(seconds[m]))}
        if stats[m]:
            entry.update(_bytes_summary(stats[m]))
        results["models"][m] = entry
        workdir_io.write_confusion(workdir, f"confusion_{m}", summary["confusion_matrix"],
                                   class_names, f"{m}, held-out {task.name}")
        log(f"{m}: held-out accuracy={summary['accuracy']:.4f} "
            f"macro_f1={summary['macro_f1']:.4f} (every {task.name} group held out once)")

    if config.output.final_models:
        results["final_models"] = _train_final_models(task, features, models, config, workdir,
                                                      log)
    workdir_io.write_json(workdir / "results.json", results)
    return results


def _train_final_models(task: PhysioTask, features: np.ndarray, models: Sequence[str],
                        config: ml_collections.ConfigDict, workdir: Path,
                        log: Callable[[str], None]) -> dict:
    """Federated models trained on every group as a client, saved as `<model>.npz`."""
    e = config.evaluation
    clients = client_datasets(task, list(task.group_names), val_fraction=e.val_fraction,
                              val_gap=e.val_gap_windows, features=features)
    out = {}
    for m in (m for m in models if m in FEDERATED_MODELS):
        _, ens, fed_stats = fit_model(m, clients, config, task.feature_names,
                                      task.label_space.num_classes)
        ens = compact_nodes(ens)
        path = workdir / f"{m}.npz"
        ens.save(path)
        out[m] = {"path": str(path), "clients": len(clients), "num_trees": ens.num_trees,
                  "max_nodes": ens.max_nodes, "max_depth": ens.max_depth,
                  "nbytes": ens.nbytes, **_bytes_summary([fed_stats])}
        log(f"final {m}: {ens.num_trees} trees from {len(clients)} clients -> {path}")
    return out
