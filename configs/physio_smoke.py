"""Tiny federated forest run on the synthetic in-vehicle cohort (tests and the main job)."""

from __future__ import annotations

import ml_collections

from configs import physio_wesad


def get_config() -> ml_collections.ConfigDict:
    """Three drivers (clients), 20-s windows, small forests: seconds, not minutes."""
    config = physio_wesad.get_config()
    config.data.task = "synthetic"
    config.data.synthetic_drivers = 3
    config.data.synthetic_episodes = 2
    config.data.synthetic_segment_s = (60, 90)
    config.features.window_s = 20.0
    config.features.stride_s = 5.0
    # The cohort's drives visit the states in random order (no calm start): no session-start
    # calibration here; the main job references drivers to their profile instead.
    config.calibration.method = "none"
    config.evaluation.num_folds = 3
    config.evaluation.val_gap_windows = physio_wesad.overlapping_windows(config.features)  # 3
    config.federated_rf.num_trees_per_client = 4
    config.federated_rf.max_depth = 4
    config.federated_rf.keep_top_n = 8
    config.federated_gbt.num_trees = 10
    config.federated_gbt.max_depth = 3
    config.federated_gbt.learning_rate = 0.3
    config.federated_gbt.num_bins = 16
    config.centralised_rf.num_trees = 10
    config.centralised_rf.max_depth = 6
    config.centralised_gbt.num_trees = 20
    config.centralised_gbt.max_depth = 3
    config.sklearn_rf.num_trees = 20
    config.sklearn_rf.max_depth = 6
    return config
