"""Tiny federated face run on the synthetic in-vehicle cohort (tests and the main job)."""

from __future__ import annotations

import ml_collections

from configs import face_fer2013


def get_config() -> ml_collections.ConfigDict:
    """A few drivers, a small CNN and two rounds: seconds, not minutes."""
    config = face_fer2013.get_config()
    config.data.source = "synthetic"
    config.data.synthetic_drivers = 6
    config.partition.num_clients = 4
    config.model.width = 8
    config.model.depth = 3
    config.model.stem_width = 0
    config.model.convs_per_block = (1, 1, 1)
    config.model.dense_units = 32
    config.model.dropout = 0.0
    config.model.compute_dtype = "float32"
    config.train.rounds = 2
    config.train.local_epochs = 1
    config.train.clients_per_round = 4
    config.train.batch_size = 32
    config.train.client_learning_rate = 0.01
    config.train.lr_schedule = "constant"
    config.train.eval_every = 1
    config.train.bn_calibration_examples = 64
    config.personalization.steps = 5
    return config
