"""DP-FedAvg aggregators, (ε, δ) accounting and secure aggregation, checked by hand."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tests.tff_train.toy_regression import TOY_SPEC, toy_client, toy_model
from tff_train.aggregators.privacy import (
    RDP_ORDERS,
    build_dp_aggregator,
    build_secure_aggregator,
    compute_epsilon,
    default_delta,
    noise_for_epsilon,
    secure_simulation_context,
)
from tff_train.learning.fed_avg import build_fed_avg
from tff_train.learning.optimizers import build_tff_optimizer
from tff_train.runtime.tff_runtime import import_tff

# Two clients' deltas for a model with a [3] kernel and a [2] bias. Client A has L2 norm
# sqrt(0.01 + 0.04 + 0.04 + 9 + 16) = 5.009 (clipped by 1.0 to A / 5.009); client B has norm 0.2.
DELTA_A = [np.array([0.1, 0.2, -0.2], np.float32), np.array([3.0, 4.0], np.float32)]
DELTA_B = [np.zeros(3, np.float32), np.array([0.0, 0.2], np.float32)]


def _clipped(delta, clip):
    norm = math.sqrt(sum(float(np.sum(t.astype(np.float64) ** 2)) for t in delta))
    return [t * min(1.0, clip / norm) for t in delta]


def _run(factory, values, weights=None):
    tff = import_tff()
    value_type = tff.types.to_type([(np.float32, [3]), (np.float32, [2])])
    if weights is None:
        process = factory.create(value_type)
        return process.next(process.initialize(), values)
    process = factory.create(value_type, tff.TensorType(np.float32))
    return process.next(process.initialize(), values, weights)






def test_epsilon_grows_with_rounds_and_rate_and_shrinks_with_noise():
    eps = compute_epsilon(1.0, 0.1, 100, 1e-5)
    assert 0 < eps < math.inf
    assert compute_epsilon(2.0, 0.1, 100, 1e-5) < eps < compute_epsilon(0.7, 0.1, 100, 1e-5)
    assert compute_epsilon(1.0, 0.1, 50, 1e-5) < eps < compute_epsilon(1.0, 0.1, 200, 1e-5)
    assert eps < compute_epsilon(1.0, 0.5, 100, 1e-5)
    assert compute_epsilon(0.0, 0.1, 100, 1e-5) == math.inf
    assert compute_epsilon(1.0, 0.1, 0, 1e-5) == 0.0


def test_epsilon_without_sampling_is_below_the_classic_gaussian_rdp_bound():
    # q = 1: T Gaussian steps have RDP T*a/(2 s^2); the classic conversion
    # eps <= min_a T*a/(2 s^2) + log(1/delta)/(a-1) upper-bounds the accountant's (tighter) one.
    s, t, delta = 2.0, 10, 1e-5
    classic = min(t * a / (2 * s * s) + math.log(1 / delta) / (a - 1)
                  for a in np.linspace(1.01, 200, 20000))
    eps = compute_epsilon(s, 1.0, t, delta)
    assert 0.8 * classic < eps <= classic


@pytest.mark.parametrize(("target", "rate", "rounds"), [(8.0, 1.0, 25), (3.0, 0.1, 60)])
def test_noise_for_epsilon_inverts_compute_epsilon(target, rate, rounds):
    delta = 1e-5
    noise = noise_for_epsilon(target, rate, rounds, delta)
    assert compute_epsilon(noise, rate, rounds, delta) <= target
    assert compute_epsilon(noise * 0.998, rate, rounds, delta) > target  # the smallest such noise
    assert noise_for_epsilon(target / 2, rate, rounds, delta, rtol=0.01) > noise
    assert noise_for_epsilon(math.inf, rate, rounds, delta) == 0.0


def test_default_delta_is_below_one_over_the_clients():
    assert default_delta(10) == 1e-5
    assert default_delta(10**6) == pytest.approx(1e-6 ** 1.1)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: compute_epsilon(-1.0, 0.1, 10, 1e-5), r"noise_multiplier must be >= 0; got -1.0"),
    (lambda: compute_epsilon(1.0, 0.0, 10, 1e-5), r"sampling_rate must be in \(0, 1\]; got 0.0"),
    (lambda: compute_epsilon(1.0, 0.1, 2.5, 1e-5), r"rounds must be an int >= 0; got 2.5"),
    (lambda: compute_epsilon(1.0, 0.1, 10, 1.0), r"delta must be in \(0, 1\); got 1.0"),
    (lambda: noise_for_epsilon(0.0, 0.1, 10, 1e-5), r"target_epsilon must be > 0"),
    (lambda: noise_for_epsilon(1e-6, 1.0, 10, 1e-5), r"needs a noise multiplier above"),
    (lambda: default_delta(0), r"num_clients must be >= 1; got 0"),
    (lambda: build_dp_aggregator(1.0, 0, clip_norm=1.0), r"clients_per_round must be an int"),
    (lambda: build_dp_aggregator(1.0, 5, clip_norm=-1.0), r"clip_norm must be > 0"),
    (lambda: build_dp_aggregator(1.0, 5), r"noise_multiplier < 0.1 \* clients_per_round = 0.5"),
    (lambda: build_dp_aggregator(1.0, 5, secure=True, clip_norm=None),
     r"noise_multiplier < 0.1|secure=True needs a fixed clip_norm"),
    (lambda: build_dp_aggregator(0.1, 5, secure=True), r"secure=True needs a fixed clip_norm"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_noiseless_dp_is_the_clipped_sum_over_expected_clients():
    # clients_per_round=4 but only 2 report: DP-FedAvg divides by the expected count.
    out = _run(build_dp_aggregator(0.0, 4, clip_norm=1.0), [DELTA_A, DELTA_B])
    expected = [(a + b) / 4 for a, b in zip(_clipped(DELTA_A, 1.0), DELTA_B, strict=True)]
    for got, want in zip(out.result, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_dp_noise_has_the_configured_scale():
    tff = import_tff()
    factory = build_dp_aggregator(2.0, 4, clip_norm=1.0)
    process = factory.create(tff.TensorType(np.float32, [4000]))
    out = process.next(process.initialize(), [np.zeros(4000, np.float32)] * 2)
    # Noise std on the mean = noise_multiplier * clip / clients_per_round = 0.5.
    assert np.std(out.result) == pytest.approx(0.5, rel=0.05)
    assert abs(np.mean(out.result)) < 0.05


@pytest.fixture(scope="module")
def dp_fed_avg_results():
    """Kernel after one DP-FedAvg round of the toy model, for noise multipliers 0 and 1."""
    results = {}
    for noise in (0.0, 1.0):
        process = build_fed_avg(
            toy_model, client_optimizer=build_tff_optimizer("sgd", 0.25),
            server_optimizer=build_tff_optimizer("sgd", 1.0), weighted=False,
            model_aggregator=build_dp_aggregator(noise, 2, clip_norm=0.6),
            input_spec=TOY_SPEC,
            loss_builder=tf.keras.losses.MeanSquaredError)
        state = process.next(process.initialize(),
                             [toy_client(1, 1.0), toy_client(3, 2.0)]).state
        results[noise] = float(np.asarray(process.get_model_weights(state).trainable[0])[0, 0])
    return results


def test_dp_fed_avg_without_noise_is_the_clipped_mean(dp_fed_avg_results):
    # Client deltas 0.5 and 1.0 (see test_face_fed_avg); clip 0.6 -> (0.5 + 0.6) / 2.
    assert dp_fed_avg_results[0.0] == pytest.approx(0.55, abs=1e-6)


def test_dp_fed_avg_adds_noise(dp_fed_avg_results):
    # Noise std 1.0 * 0.6 / 2 = 0.3: the chance of landing within 1e-4 of 0.55 is ~3e-4.
    assert abs(dp_fed_avg_results[1.0] - 0.55) > 1e-4


def test_secure_aggregation_matches_the_plain_aggregates():
    weights = [np.float32(1.0), np.float32(3.0)]
    clipped_a = _clipped(DELTA_A, 1.0)
    with secure_simulation_context():
        secure_mean = _run(build_secure_aggregator(weighted=True, clip_norm=1.0),
                           [DELTA_A, DELTA_B], weights)
        secure_dp = _run(build_dp_aggregator(0.0, 2, clip_norm=1.0, secure=True),
                         [DELTA_A, DELTA_B])
    for got, a, b in zip(secure_mean.result, clipped_a, DELTA_B, strict=True):
        np.testing.assert_allclose(got, (a + 3 * b) / 4, atol=1e-5)  # 32-bit quantization
    for got, a, b in zip(secure_dp.result, clipped_a, DELTA_B, strict=True):
        np.testing.assert_allclose(got, (a + b) / 2, atol=1e-5)
    assert secure_mean.measurements["clipped_count"] == 1
    assert secure_dp.measurements["dp"]["secure_upper_clipped_count"] == 0


def test_the_accountant_follows_the_client_sampling():
    poisson = compute_epsilon(1.0, 0.1, 40, 1e-5)
    uniform = compute_epsilon(1.0, 0.1, 40, 1e-5, sampling="uniform", num_clients=1000)
    # Fixed-size rounds: replace-one adjacency, where the sum moves by 2 clips (half the noise).
    import dp_accounting

    accountant = dp_accounting.rdp.RdpAccountant(
        list(RDP_ORDERS), dp_accounting.NeighboringRelation.REPLACE_ONE)
    accountant.compose(dp_accounting.SelfComposedDpEvent(
        dp_accounting.SampledWithoutReplacementDpEvent(
            1000, 100, dp_accounting.GaussianDpEvent(0.5)), 40))
    assert uniform == pytest.approx(accountant.get_epsilon(1e-5))
    assert poisson < uniform
    assert compute_epsilon(2.0, 0.1, 40, 1e-5, sampling="uniform", num_clients=1000) < uniform
    # Every client every round: one Gaussian mechanism per round, whatever the sampling.
    assert compute_epsilon(1.5, 1.0, 5, 1e-5, sampling="uniform", num_clients=10) == \
        compute_epsilon(1.5, 1.0, 5, 1e-5)
    noise = noise_for_epsilon(8.0, 0.1, 40, 1e-5, sampling="uniform", num_clients=1000)
    assert noise > noise_for_epsilon(8.0, 0.1, 40, 1e-5)
    with pytest.raises(ValueError, match=r"sampling must be one of \['poisson', 'uniform'\]; "
                                         r"got 'fixed'"):
        compute_epsilon(1.0, 0.1, 40, 1e-5, sampling="fixed")
    with pytest.raises(ValueError, match=r"num_clients must be an int >= 1 with "
                                         r"sampling='uniform'; got None"):
        compute_epsilon(1.0, 0.1, 40, 1e-5, sampling="uniform")


_SECURE_CONTEXT_WITH_A_STUCK_WORKER = textwrap.dedent(
    """
    import psutil
    from tff_train.aggregators.privacy import secure_simulation_context
    from tff_train.runtime.tff_runtime import import_tff, tff_worker_pids
    tff = import_tff()
    import tensorflow as tf

    @tff.tensorflow.computation(tf.float32)
    def add_one(x):
        return x + 1.0

    with secure_simulation_context():
        assert add_one(1.0) == 2.0
        [pid] = tff_worker_pids()
        psutil.Process(pid).suspend()  # a worker that does not act on TFF's SIGINT
    assert not tff_worker_pids()
    print("EXITED", flush=True)
    """
)


def test_secure_context_stops_its_worker_even_when_it_ignores_sigint(tmp_path):
    # TFF alone sends SIGINT and waits forever; the context must stop its worker itself.
    out = tmp_path / "stuck.out"
    with open(out, "w") as f:  # a file, not a pipe: a surviving worker cannot hang the test
        result = subprocess.run([sys.executable, "-c", _SECURE_CONTEXT_WITH_A_STUCK_WORKER],
                                stdout=f, stderr=subprocess.PIPE, text=True, timeout=120,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.read_text().strip() == "EXITED"
