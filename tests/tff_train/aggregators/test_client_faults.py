"""Malicious clients (update and label attacks) and client dropout, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.tff_train.toy_regression import TOY_SPEC, toy_client, toy_model
from tff_train.aggregators.client_faults import (
    flip_labels,
    malicious_clients,
    poison_labels,
    surviving_clients,
    update_multipliers,
    with_update_multipliers,
)
from tff_train.learning.fed_avg import build_fed_avg
from tff_train.learning.optimizers import build_tff_optimizer
from tff_train.runtime.tff_runtime import import_tff


def test_malicious_clients_are_a_fixed_seeded_set():
    chosen = malicious_clients(20, 0.25, seed=7)
    assert len(chosen) == 5 and list(chosen) == sorted(set(chosen.tolist()))
    assert chosen.min() >= 0 and chosen.max() < 20
    np.testing.assert_array_equal(chosen, malicious_clients(20, 0.25, seed=7))
    assert any(not np.array_equal(chosen, malicious_clients(20, 0.25, seed=s)) for s in range(8))
    assert len(malicious_clients(10, 0.0, seed=0)) == 0
    assert len(malicious_clients(10, 1.0, seed=0)) == 10
    assert len(malicious_clients(10, 0.15, seed=0)) == 2  # rounded half up


def test_label_flip_touches_only_the_malicious_clients():
    np.testing.assert_array_equal(flip_labels(np.array([0, 1, 6, 3]), 7), [6, 5, 0, 3])
    rng = np.random.default_rng(0)
    clients = [(rng.random((4, 2)), rng.integers(0, 3, 4)) for _ in range(3)]
    poisoned = poison_labels(clients, np.array([1]), num_classes=3)
    for k, ((x, y), (px, py)) in enumerate(zip(clients, poisoned, strict=True)):
        assert px is x  # features untouched
        np.testing.assert_array_equal(py, 2 - y if k == 1 else y)


def test_update_multipliers_mark_only_the_malicious_clients():
    ids, bad = [3, 5, 8], np.array([5, 9])
    np.testing.assert_array_equal(update_multipliers(ids, bad, "sign_flip"), [1, -1, 1])
    np.testing.assert_array_equal(update_multipliers(ids, bad, "sign_flip", 4.0), [1, -4, 1])
    np.testing.assert_array_equal(update_multipliers(ids, bad, "scale", 10.0), [1, 10, 1])
    np.testing.assert_array_equal(update_multipliers(ids, bad, "label_flip"), [1, 1, 1])


@pytest.mark.parametrize(("call", "message"), [
    (lambda: malicious_clients(0, 0.1, 0), r"num_clients must be >= 1; got 0"),
    (lambda: malicious_clients(5, 1.5, 0), r"fraction must be in \[0, 1\]; got 1.5"),
    (lambda: flip_labels(np.array([0, 7]), 7), r"labels must be in \[0, 7\); got range \[0, 7\]"),
    (lambda: poison_labels([(np.ones(1), np.zeros(1))], np.array([3]), 2),
     r"malicious_ids must be in \[0, 1\); got \[3\]"),
    (lambda: update_multipliers([0], [0], "noise"), r"attack must be one of \['sign_flip'"),
    (lambda: update_multipliers([0], [0], "scale", 0.0), r"scale must be > 0; got 0.0"),
    (lambda: with_update_multipliers([toy_client(1, 1.0)], [1.0, 2.0]),
     r"multipliers must have one value per dataset \(1\); got 2"),
    (lambda: surviving_clients([], 0.5, 0, 1), r"client_ids must be a non-empty 1-D sequence"),
    (lambda: surviving_clients([1, 2], -0.1, 0, 1), r"dropout_fraction must be in \[0, 1\]"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("multipliers", [True, False])
def test_aggregator_weightedness_is_checked(multipliers):
    unweighted = import_tff().aggregators.UnweightedMeanFactory()
    with pytest.raises(TypeError, match="model_aggregator must be a WeightedAggregationFactory"):
        build_fed_avg(
            toy_model, client_optimizer=build_tff_optimizer("sgd", 0.25),
            server_optimizer=build_tff_optimizer("sgd", 1.0), model_aggregator=unweighted,
            input_spec=TOY_SPEC, loss_builder=tf.keras.losses.MeanSquaredError,
            client_update_multipliers=multipliers)


@pytest.fixture(scope="module")
def attack_process():
    return build_fed_avg(
        toy_model, client_optimizer=build_tff_optimizer("sgd", 0.25),
        server_optimizer=build_tff_optimizer("sgd", 1.0), weighted=True,
        input_spec=TOY_SPEC, loss_builder=tf.keras.losses.MeanSquaredError,
        client_update_multipliers=True)


def _one_round(process, clients, multipliers):
    state = process.next(process.initialize(), with_update_multipliers(clients, multipliers)).state
    return float(np.asarray(process.get_model_weights(state).trainable[0]).ravel()[0])


@pytest.mark.parametrize(("multipliers", "expected"), [
    ([1.0, 1.0], 0.875),  # honest: plain FedAvg, as in test_face_fed_avg
    ([-1.0, 1.0], 0.625),  # A sign-flipped: (1 * -0.5 + 3 * 1.0) / 4
    ([1.0, -1.0], -0.625),  # B sign-flipped: (1 * 0.5 - 3 * 1.0) / 4
    ([10.0, 1.0], 2.0),  # A scaled x10: (1 * 5.0 + 3 * 1.0) / 4
])
def test_update_attacks_change_only_the_designated_clients(attack_process, multipliers,
                                                           expected):
    # Client A (1 example, target 1) has delta 0.5; client B (3 examples, target 2) has 1.0.
    clients = [toy_client(1, 1.0), toy_client(3, 2.0)]
    assert _one_round(attack_process, clients, multipliers) == pytest.approx(expected, abs=1e-6)


def test_surviving_clients_is_seeded_and_keeps_at_least_one():
    ids = np.array([2, 4, 5, 7, 9, 11, 12, 15, 16, 18])
    kept = surviving_clients(ids, 0.3, seed=1, round_num=4)
    assert len(kept) == 7 and set(kept) <= set(ids) and list(kept) == sorted(kept)
    np.testing.assert_array_equal(kept, surviving_clients(ids, 0.3, seed=1, round_num=4))
    assert any(not np.array_equal(kept, surviving_clients(ids, 0.3, 1, r)) for r in range(5, 10))
    np.testing.assert_array_equal(surviving_clients(ids, 0.0, 1, 4), ids)
    assert len(surviving_clients(ids, 1.0, seed=1, round_num=4)) == 1
    assert len(surviving_clients([3], 0.9, seed=1, round_num=4)) == 1


def test_a_round_completes_with_the_surviving_clients(attack_process):
    clients = {0: toy_client(1, 1.0), 1: toy_client(3, 2.0)}  # deltas 0.5 and 1.0
    kept = surviving_clients([0, 1], 0.5, seed=3, round_num=1)
    assert len(kept) == 1
    kernel = _one_round(attack_process, [clients[int(k)] for k in kept], [1.0])
    assert kernel == pytest.approx({0: 0.5, 1: 1.0}[int(kept[0])], abs=1e-6)
