"""Federated decision forests on drivedb drives (3 stress levels), leave-drives-out.

Windows of 60 s every 5 s from the shared edge extractor (HR, hand-else-foot GSR, RESP; no skin
temperature), labels from the marker-derived segments; one client per labelled drive (11 on the
shared copy); 4 folds of 2-3 held-out drives. Neighbouring windows share 55 s, so 11 training
windows are dropped before every validation block.
"""

from __future__ import annotations

import ml_collections

from configs import physio_wesad


def get_config() -> ml_collections.ConfigDict:
    """The drivedb protocol of the physio FL benchmark."""
    config = physio_wesad.get_config()
    config.data.task = "drivedb3"
    config.calibration.baseline_windows = 120  # 10 min at the 5-s stride (picked on validation)
    config.evaluation.num_folds = 4
    config.evaluation.val_gap_windows = physio_wesad.overlapping_windows(config.features)  # 11
    return config
