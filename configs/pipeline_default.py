"""The README main job on the embedded default: the deterministic synthetic in-vehicle cohort."""

from __future__ import annotations

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    """Synthetic cohort size and seed for the end-to-end first run."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.cohort = ml_collections.ConfigDict()
    config.cohort.num_drivers = 8
    return config
