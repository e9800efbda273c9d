"""One physiological experiment: leave-groups-out evaluation of federated and centralised forests.

Models (`MODELS`, any subset via `config.models`, comma-separated):
  federated_rf    `train_federated_forest` (one client per subject/drive/driver; each candidate
                  tree scored on the OTHER clients' validation splits)
  federated_gbt   `train_federated_hist_gbt` (histogram GBT: bins from a federated quantile
                  sketch, per-level gradient histograms summed with `tff.federated_sum`, trees
                  early-stopped on the clients' validation splits)
  centralised_rf  TF-DF RandomForestModel on the pooled training rows
  centralised_gbt TF-DF GradientBoostedTreesModel on the pooled training rows, early-stopped on
                  the pooled client validation splits (never on held-out groups)
  centralised_hist_gbt the numpy histogram GBT of federated_gbt (same settings) on the pooled
                  training rows with exact quantile bins, early-stopped like centralised_gbt
  sklearn_rf      sklearn RandomForestClassifier on the pooled training rows
Every model of a fold trains on exactly the same rows: the training groups' `client_datasets`
train splits (validation = the last `val_fraction` of each (group, label) block, after a gap).
The held-out groups of a fold are only predicted. With `config.calibration` every group is one
session calibrated window by window as on the head unit (`calibrate_groups`), against the
population prior of the fold's training groups. Metrics pool the held-out predictions of all
folds (every window is held out once) and also list per-fold and per-group accuracy.

Workdir: `config.json` (resolved config), `metrics.csv` (one row per fold and model),
`results.json`, `confusion_<model>.{csv,png}`, `<model>.npz` (TreeEnsemble of the federated
models trained on ALL groups, node tables trimmed, for `converters.forest_to_tflite`; when
`output.final_models`), `folds/fold<k>_<model>.npz` (when `output.save_fold_models`).

Modules: `tff_train.physio.config` (model names, validation, derived settings),
`tff_train.physio.models` (one fit function per model), `tff_train.physio.reporting` (metrics
rows and pooled results); this module runs the folds and the final models.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import ml_collections
import numpy as np

from tff_train.learning import workdir_io
from tff_train.physio.config import (
    FEATURES_JSON,
    FEDERATED_MODELS,
    calibration_config,
    cohort_config,
    feature_config,
    parse_models,
    physio_spec,
    validate_physio_config,
)
from tff_train.physio.federated_forest import FederatedStats
from tff_train.physio.models import compact_nodes, fit_model, timed_fit
from tff_train.physio.reporting import bytes_summary, fold_row, model_results
from tff_train.physio.tasks import (
    PhysioTask,
    calibrate_groups,
    client_datasets,
    group_folds,
    load_task,
)


def load_physio_task(config: ml_collections.ConfigDict) -> PhysioTask:
    """The configured task's windows (see `tff_train.physio.tasks`)."""
    d = config.data
    return load_task(d.task, d.data_root, feature_config=feature_config(config),
                     synthetic_drivers=d.synthetic_drivers, seed=config.seed,
                     cohort_config=cohort_config(config))


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
    calibration = calibration_config(config)
    names, num_classes = task.feature_names, task.label_space.num_classes
    # The final models' calibration: every group trains, so all of them make the prior.
    final_features, population = calibrate_groups(task.features, task.groups, calibration,
                                                  task.group_names, names)
    workdir_io.write_json(workdir / FEATURES_JSON,
                          physio_spec(config, task, population).to_json_dict())
    class_names = list(task.label_space.labels)
    log(f"{task.name}: {len(task)} windows, {len(task.group_names)} groups, {len(folds)} folds, "
        f"calibration={calibration.method}, models={','.join(models)}")

    held_out = {m: np.full(len(task), -1, np.int64) for m in models}
    rows: list[dict] = []
    seconds = {m: [] for m in models}
    stats: dict[str, list[FederatedStats]] = {m: [] for m in models}
    for k, test_groups in enumerate(folds):
        train_groups = [g for g in task.group_names if g not in test_groups]
        features, _ = calibrate_groups(task.features, task.groups, calibration, train_groups,
                                       names)
        clients = client_datasets(task, train_groups, val_fraction=e.val_fraction,
                                  val_gap=e.val_gap_windows, features=features)
        test = np.isin(task.groups, test_groups)
        for m in models:
            fit = timed_fit(m, clients, features[test], config, names, num_classes)
            held_out[m][test] = fit.predictions
            seconds[m].append(fit.seconds)
            row = fold_row(k, m, test_groups, task.labels[test], fit, class_names)
            if fit.stats is not None:
                stats[m].append(fit.stats)
            if config.output.save_fold_models and fit.ensemble is not None:
                path = workdir / "folds" / f"fold{k}_{m}.npz"
                path.parent.mkdir(parents=True, exist_ok=True)
                compact_nodes(fit.ensemble).save(path)
            rows.append(row)
            workdir_io.write_rows_csv(workdir / "metrics.csv", rows)
            log(f"fold {k} {m}, held out {row['test_groups']}: accuracy={row['accuracy']:.4f} "
                f"macro_f1={row['macro_f1']:.4f} ({fit.seconds:.1f} s)")

    results: dict = {"task": task.describe(), "calibration": calibration.to_json_dict(),
                     "folds": [list(f) for f in folds], "models": {}}
    for m in models:
        entry = model_results(task, held_out[m], rows, m, seconds[m], stats[m])
        results["models"][m] = entry
        workdir_io.write_confusion(workdir, f"confusion_{m}", entry["confusion_matrix"],
                                   class_names, f"{m}, held-out {task.name}")
        log(f"{m}: held-out accuracy={entry['accuracy']:.4f} "
            f"macro_f1={entry['macro_f1']:.4f} (every {task.name} group held out once)")

    if config.output.final_models:
        results["final_models"] = _train_final_models(task, final_features, models, config,
                                                      workdir, log)
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
                  "nbytes": ens.nbytes, **bytes_summary([fed_stats])}
        log(f"final {m}: {ens.num_trees} trees from {len(clients)} clients -> {path}")
    return out
