"""The physio experiment's config: model names, validation (errors name the key) and the typed
settings derived from it (forest / boosting / feature-extractor / synthetic-cohort configs and the
features.json spec of the trained forests)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import ml_collections

from emocore.calibration import CalibrationConfig, ReferenceStats
from emocore.physio import PRECOMPUTED, PhysioFeatureConfig, PhysioSpec
from emodata.synthetic_cohort import CohortConfig
from forests.histogram_boosting import HistGBTConfig
from tff_train.config_checks import is_int, require
from tff_train.physio.federated_forest import ForestConfig
from tff_train.physio.tasks import TASKS, PhysioTask

MODELS: tuple[str, ...] = (
    "federated_rf", "federated_gbt", "centralised_rf", "centralised_gbt", "centralised_hist_gbt",
    "sklearn_rf")
FEDERATED_MODELS: tuple[str, ...] = ("federated_rf", "federated_gbt")
FEATURES_JSON = "features.json"  # <workdir>/features.json: PhysioSpec of the trained forests


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
            max_depth=c.max_depth, keep_top_n=c.keep_top_n, min_examples=c.min_examples,
            winner_take_all=c.winner_take_all, seed=config.seed)
    except ValueError as e:
        raise ValueError(f"config.federated_rf: {e}") from None


def boosting_config(config: ml_collections.ConfigDict, num_classes: int) -> HistGBTConfig:
    """The HistGBTConfig of `config.federated_gbt` (also used by `centralised_hist_gbt`)."""
    c = config.federated_gbt
    try:
        return HistGBTConfig(
            num_classes=num_classes, num_trees=c.num_trees, max_depth=c.max_depth,
            learning_rate=c.learning_rate, l2_regularization=c.l2_regularization,
            min_examples=c.min_examples, num_bins=c.num_bins,
            early_stopping_rounds=c.early_stopping_rounds)
    except ValueError as e:
        raise ValueError(f"config.federated_gbt: {e}") from None


def feature_config(config: ml_collections.ConfigDict) -> PhysioFeatureConfig:
    """The extractor settings of `config.features` (drivedb and synthetic tasks)."""
    try:
        return PhysioFeatureConfig(window_s=float(config.features.window_s),
                                   stride_s=float(config.features.stride_s))
    except ValueError as e:
        raise ValueError(f"config.features: {e}") from None


def calibration_config(config: ml_collections.ConfigDict) -> CalibrationConfig:
    """The CalibrationConfig of `config.calibration`."""
    c = config.calibration
    try:
        return CalibrationConfig(method=c.method, baseline_windows=c.baseline_windows,
                                 running=c.running, prior=c.prior,
                                 prior_weight=c.prior_weight)
    except ValueError as e:
        raise ValueError(f"config.calibration: {e}") from None


def physio_spec(config: ml_collections.ConfigDict, task: PhysioTask,
                population: ReferenceStats | None = None) -> PhysioSpec:
    """What the trained forests consume (the bundle's features.json): the extractor's window
    features for drivedb and synthetic tasks, WESAD's precomputed feature vectors otherwise,
    with the calibration and its population prior (None: not learnt yet, or no calibration)."""
    calibration = calibration_config(config)
    extra = {"calibration": calibration if calibration.enabled else None,
             "population": population}
    if config.data.task in ("drivedb3", "synthetic"):
        return dataclasses.replace(PhysioSpec.raw_signals(feature_config(config)), **extra)
    return PhysioSpec(PRECOMPUTED, tuple(task.feature_names), source="wesad", **extra)


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
    calibration_config(config)
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
    if "federated_gbt" in models or "centralised_hist_gbt" in models:
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
