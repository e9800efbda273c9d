"""The README main job on the embedded default: the deterministic synthetic in-vehicle cohort."""

from __future__ import annotations

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    """Cohort size, training lengths and the replayed (unseen) driver of the first run."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.cohort = ml_collections.ConfigDict()
    # Face: 24 driver clients + a validation and a test driver. Many drivers with a few faces
    # each: a CNN trained on 6 face identities does not generalise to a new driver's face.
    config.cohort.num_drivers = 26
    config.cohort.faces_per_class = 20  # labelled faces per expression and driver
    config.face = ml_collections.ConfigDict()
    config.face.rounds = 10
    config.face.local_epochs = 3
    config.face.width = 16
    config.face.convs_per_block = 1
    # 4 blocks: the receptive field spans brows to mouth (3 blocks learn far more slowly).
    config.face.depth = 4
    config.face.learning_rate = 0.003  # client Adam
    config.face.clients_per_round = 24  # all driver clients every round
    config.face.server_optimizer = "sgd"  # sgd (plain FedAvg) | sgdm | adam
    config.face.server_momentum = 0.9  # sgdm only
    config.physio = ml_collections.ConfigDict()
    config.physio.drivers = 8  # one client each
    config.physio.model = "federated_rf"  # the federated forest shipped in the bundle
    # Per-driver z-scored features (tff_train.physio_datasets.normalise_per_group): drivers'
    # baselines differ more than the states move them. The edge calibrates the unseen driver
    # from one of its earlier, unlabelled drives (emocore.calibration.DriverBaseline).
    config.physio.normalisation = "zscore"  # none | zscore
    config.fusion = ml_collections.ConfigDict()
    # learned_weights: a linear pool fitted on the edge replay of the validation driver (seen
    # by neither trainer); or confidence_weighted | majority_vote | product_of_experts.
    config.fusion.strategy = "learned_weights"
    config.fusion.max_age_s = 6.0  # >= the physio stride (5 s): readings stay fresh in between
    # EMA of fused distributions (0 = off): 5 s cost the default replay 7 points (its lag at
    # state changes outweighs the expression flicker it removes).
    config.fusion.smoothing_half_life_s = 0.0
    config.replay = ml_collections.ConfigDict()
    config.replay.episodes = 1  # episodes of a driver seen by no trainer
    # (the driver's last episode is its unlabelled calibration drive, never replayed)
    config.stages = "cohort,train,bundle,replay"  # a prefix of these stages
    return config
