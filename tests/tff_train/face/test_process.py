"""The face trainer's configured process: options, threat model, client data and (ε, δ)."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import tensorflow as tf

from configs import face_smoke
from tff_train.aggregators.privacy import compute_epsilon, default_delta
from tff_train.face.process import aggregation_options, build_face_process
from tff_train.face.trainer import face_model_builder


def _config(**overrides):
    config = face_smoke.get_config()
    config.update_from_flattened_dict({k.replace("__", "."): v for k, v in overrides.items()})
    return config


def test_aggregation_options_carry_only_the_set_keys():
    assert aggregation_options(_config()) == {}
    options = aggregation_options(_config(aggregation__dp_noise_multiplier=1.5,
                                          aggregation__clip_norm=2.0, aggregation__secure=True))
    assert options == {"clip_norm": 2.0, "dp_noise_multiplier": 1.5, "secure": True,
                       "clients_per_round": 4}
    assert aggregation_options(_config(aggregation__robust="median"))["trim_fraction"] == 0.1


def test_without_dp_or_attackers_the_process_is_plain_fedavg():
    config = _config()
    setup = build_face_process(config, face_model_builder(config), num_clients=4)
    assert setup.attack is None and setup.malicious_ids.size == 0 and not setup.secure
    assert setup.privacy(5) is None
    datasets = [tf.data.Dataset.range(3)]
    assert setup.client_data(datasets, [0]) == datasets
    clients = [(np.zeros((2, 48, 48), np.uint8), np.array([0, 6]))]
    assert setup.poison(clients, 7) is clients


def test_dp_reports_epsilon_for_the_actual_sampling_rate_and_rounds():
    config = _config(aggregation__dp_noise_multiplier=1.2, aggregation__clip_norm=1.0,
                     train__clients_per_round=2)
    setup = build_face_process(config, face_model_builder(config), num_clients=4)
    report = setup.privacy(7)
    assert report["sampling_rate"] == 0.5 and report["delta"] == default_delta(4)
    assert report["sampling"] == "uniform"  # 2 of 4 without replacement: that accountant
    assert report["epsilon"] == pytest.approx(compute_epsilon(
        1.2, 0.5, 7, default_delta(4), sampling="uniform", num_clients=4))
    config.train.client_sampling = "poisson"
    poisson = build_face_process(config, face_model_builder(config), num_clients=4).privacy(7)
    assert poisson["sampling"] == "poisson"
    assert poisson["epsilon"] == pytest.approx(compute_epsilon(1.2, 0.5, 7, default_delta(4)))
    config.train.client_sampling = "uniform"
    assert 0 < setup.privacy(3)["epsilon"] < report["epsilon"] < np.inf
    config.privacy.delta = 1e-3
    loose = build_face_process(config, face_model_builder(config), num_clients=4).privacy(7)
    assert loose["delta"] == 1e-3 and loose["epsilon"] < report["epsilon"]


def test_sign_flip_attackers_get_negative_multipliers():
    config = _config(faults__malicious_fraction=0.5, faults__attack="sign_flip",
                     faults__attack_scale=3.0)
    setup = build_face_process(config, face_model_builder(config), num_clients=4)
    assert setup.attack == "sign_flip" and len(setup.malicious_ids) == 2
    ids = [0, 1, 2, 3]
    data = setup.client_data([tf.data.Dataset.range(1)] * 4, ids)
    assert all(isinstance(d, collections.OrderedDict) for d in data)
    got = [float(next(iter(d["update_multiplier"]))) for d in data]
    assert got == [-3.0 if k in setup.malicious_ids else 1.0 for k in ids]


def test_label_flip_attackers_train_on_flipped_labels():
    config = _config(faults__malicious_fraction=0.25, faults__attack="label_flip")
    setup = build_face_process(config, face_model_builder(config), num_clients=4)
    (bad,) = setup.malicious_ids
    clients = [(np.zeros((3, 48, 48), np.uint8), np.array([0, 1, 6])) for _ in range(4)]
    poisoned = setup.poison(clients, 7)
    for k, (_, y) in enumerate(poisoned):
        np.testing.assert_array_equal(y, [6, 5, 0] if k == bad else [0, 1, 6])
    datasets = [tf.data.Dataset.range(1)] * 2
    assert setup.client_data(datasets, [0, 1]) == datasets  # a data attack: no multipliers


def test_bad_num_clients_is_named():
    config = _config()
    with pytest.raises(ValueError, match="num_clients must be >= 1; got 0"):
        build_face_process(config, face_model_builder(config), num_clients=0)


@pytest.mark.parametrize("attack_fraction", [0.0, 0.25])  # plain FedAvg and the attack builder
def test_client_learning_rate_set_on_the_state_drives_local_training(attack_fraction):
    config = _config(faults__malicious_fraction=attack_fraction,
                     train__prior_correction=False)  # plain int32 labels below
    setup = build_face_process(config, face_model_builder(config), num_clients=4)
    rng = np.random.default_rng(0)
    ds = tf.data.Dataset.from_tensor_slices((
        rng.random((8, 48, 48, 1), dtype=np.float32),
        rng.integers(0, 7, 8).astype(np.int32))).batch(4)
    state = setup.process.initialize()
    before = setup.process.get_model_weights(state).trainable

    def moved(learning_rate: float) -> float:
        scheduled = setup.with_client_learning_rate(state, learning_rate)
        hparams = setup.process.get_hparams(scheduled)["client_work"]
        assert hparams["learning_rate"] == pytest.approx(learning_rate)
        out = setup.process.next(scheduled, setup.client_data([ds], [1]))
        after = setup.process.get_model_weights(out.state).trainable
        return max(float(np.abs(a - b).max()) for a, b in zip(after, before, strict=True))

    assert moved(1e-9) < 1e-6 < moved(1e-2)
