"""The README main job on the embedded default: the deterministic synthetic in-vehicle cohort."""

from __future__ import annotations

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    """Cohort size, training lengths and the replayed (unseen) driver of the first run."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.cohort = ml_collections.ConfigDict()
    config.cohort.num_drivers = 8  # face: 6 clients + validation + test driver
    config.face = ml_collections.ConfigDict()
    config.face.rounds = 12
    config.face.local_epochs = 2
    config.face.width = 16
    config.face.convs_per_block = 2
    config.face.learning_rate = 0.001  # client Adam
    config.physio = ml_collections.ConfigDict()
    config.physio.drivers = 4  # one client each
    config.physio.model = "federated_rf"  # the federated forest shipped in the bundle
    config.fusion = ml_collections.ConfigDict()
    config.fusion.strategy = "confidence_weighted"
    config.fusion.max_age_s = 6.0  # >= the physio stride (5 s): readings stay fresh in between
    config.replay = ml_collections.ConfigDict()
    config.replay.episodes = 1  # episodes of a driver seen by no trainer
    config.stages = "cohort,train,bundle,replay"  # a prefix of these stages
    return config
