"""Federated decision forests on WESAD per-window features, leave-subjects-out.

15 subjects = 15 clients; 5 folds of 3 held-out subjects; the 12 training subjects' per-subject
validation splits (last 20% of each label block, after a 12-window gap) score the federated RF's
trees (each candidate on the OTHER clients' splits) and early-stop the federated and centralised
GBTs. `--config=configs/physio_wesad.py:binary` is the stress vs non-stress task (one logit per
boosting iteration).
Override any key from the command line, e.g. `--config.federated_rf.keep_top_n=40`.
"""

from __future__ import annotations

import ml_collections


def overlapping_windows(features: ml_collections.ConfigDict) -> ml_collections.FieldReference:
    """ceil(window_s / stride_s) - 1 of `features` (the later windows that share samples with a
    window), as a reference that follows overrides of either key: the validation gap of tasks
    whose windows come from the shared extractor."""
    window, stride = features.get_ref("window_s"), features.get_ref("stride_s")
    return (-((-window) // stride) - 1).to_int()


def get_config(variant: str | None = None) -> ml_collections.ConfigDict:
    """The WESAD protocol of the physio FL benchmark (also the base of the other physio configs).

    variant: None / "" for 3 classes, "binary" for stress vs non-stress.
    """
    if variant not in (None, "", "binary"):
        raise ValueError(f"variant must be None, '' or 'binary'; got {variant!r}")
    config = ml_collections.ConfigDict()
    config.seed = 0
    # Comma-separated subset of tff_train.physio.trainer.MODELS.
    config.models = ("federated_rf,federated_gbt,centralised_rf,centralised_gbt,"
                     "centralised_hist_gbt,sklearn_rf")

    config.data = ml_collections.ConfigDict()
    config.data.task = "wesad3"  # wesad3 | wesad_binary | drivedb3 | synthetic
    config.data.data_root = "../shared/data"  # <root>/wesad_features, <root>/drivedb
    config.data.synthetic_drivers = 0  # synthetic task only
    config.data.synthetic_episodes = 2
    config.data.synthetic_segment_s = (60, 150)

    # Per-driver calibration (emocore.calibration): features referenced to the session's first
    # windows, causal and label-free; the same code runs in training, the edge and Java.
    config.calibration = ml_collections.ConfigDict()
    # Defaults = what benchmarks.physio_fl picked on validation subjects (benchmarks/results/
    # physio_fl.json "calibration"): wesad3 z-score against the first 240 windows (about the
    # protocol's calm start), binary a running reference, drivedb the first 120 windows (10 min).
    config.calibration.method = "zscore"  # none | center | zscore
    config.calibration.baseline_windows = 240  # session-start reference (0 = the prior alone)
    config.calibration.running = False  # True: the reference keeps updating all session
    config.calibration.prior = "population"  # population | driver_profile
    config.calibration.prior_weight = 10.0  # pseudo-windows of the prior in the reference

    # Shared edge extractor settings (drivedb and synthetic; WESAD features come precomputed).
    config.features = ml_collections.ConfigDict()
    config.features.window_s = 60.0
    config.features.stride_s = 5.0

    config.evaluation = ml_collections.ConfigDict()
    config.evaluation.num_folds = 5  # leave-groups-out folds
    config.evaluation.run_folds = 0  # 0 = all; k = only the first k folds (quick checks)
    config.evaluation.val_fraction = 0.2
    # Training windows dropped before each validation block; WESAD's precomputed windows share
    # samples with their 12 successors (extractor tasks derive it: overlapping_windows).
    config.evaluation.val_gap_windows = 12

    config.federated_rf = ml_collections.ConfigDict()
    config.federated_rf.num_trees_per_client = 10  # candidates grown by each client
    config.federated_rf.max_depth = 12
    # Candidates kept, by pooled accuracy on the other clients' validation windows.
    config.federated_rf.keep_top_n = 80
    config.federated_rf.min_examples = 5
    config.federated_rf.winner_take_all = False

    # Histogram GBT (federated_gbt; centralised_hist_gbt uses the same settings): num_trees =
    # most boosting iterations (K trees each), early-stopped on the clients' validation splits.
    # Defaults: the lowest summed validation log-loss over wesad3, wesad_binary and drivedb3
    # (all folds' client validation splits, never held-out subjects) among depths 2-6, learning
    # rates 0.1-0.3, 32/64/128 bins, l2 1/5, min_examples 5/20.
    config.federated_gbt = ml_collections.ConfigDict()
    config.federated_gbt.num_trees = 300
    config.federated_gbt.max_depth = 3
    config.federated_gbt.learning_rate = 0.1
    config.federated_gbt.l2_regularization = 1.0
    config.federated_gbt.min_examples = 5
    config.federated_gbt.num_bins = 64
    config.federated_gbt.early_stopping_rounds = 10

    config.centralised_rf = ml_collections.ConfigDict()
    config.centralised_rf.num_trees = 100
    config.centralised_rf.max_depth = 12
    config.centralised_rf.min_examples = 5
    config.centralised_rf.winner_take_all = False

    config.centralised_gbt = ml_collections.ConfigDict()
    config.centralised_gbt.num_trees = 100  # boosting iterations (K trees each)
    config.centralised_gbt.max_depth = 5
    config.centralised_gbt.min_examples = 5
    config.centralised_gbt.shrinkage = 0.1

    config.sklearn_rf = ml_collections.ConfigDict()
    config.sklearn_rf.num_trees = 100
    config.sklearn_rf.max_depth = 12
    config.sklearn_rf.n_jobs = 1

    config.output = ml_collections.ConfigDict()
    config.output.final_models = True  # federated models on all groups -> <workdir>/<model>.npz
    config.output.save_fold_models = False

    if variant == "binary":
        config.data.task = "wesad_binary"
        config.calibration.running = True
    return config
