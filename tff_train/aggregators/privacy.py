"""Client-level privacy for FedAvg: DP-FedAvg aggregators, (ε, δ) accounting, secure aggregation.

Differential privacy is per client (one car = one client): each client's model delta is clipped
in L2 norm to `clip_norm` (fixed, or adapted by TFF's quantile estimator when `clip_norm` is
None), the clipped deltas are summed, Gaussian noise of std `noise_multiplier * clip_norm` is
added and the sum is divided by the *expected* `clients_per_round` (not the number of clients that
actually reported, so a dropped client does not change the sensitivity). These aggregators are
unweighted: pair them with `build_fed_avg(..., weighted=False)`. The noise comes from
unseeded TF random ops, so DP runs are not bit-reproducible.

Accounting uses the RDP accountant of `dp_accounting` for `rounds` compositions of the
Poisson-subsampled Gaussian mechanism with sampling rate q = clients_per_round / num_clients
(McMahan et al. 2018, "Learning Differentially Private Recurrent Language Models"). The trainer
samples a fixed number of clients without replacement; treating that as Poisson sampling with the
same rate is the usual approximation in the DP-FedAvg literature. The default δ is
min(1e-5, 1 / num_clients**1.1): δ must be well below 1/num_clients, and for the small cohorts of
this project (10 cars: 1/10**1.1 = 0.08) the polynomial rule alone would be meaningless.

Secure aggregation uses `tff.federated_secure_sum_bitwidth` (through
`tff.aggregators.SecureSumFactory`), which TFF's default simulation runtime does not implement: run
those processes inside `secure_simulation_context()`, which swaps in TFF's test runtime where the
secure intrinsics are replaced by insecure sums with the same quantization and clipping arithmetic.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import dp_accounting
import tensorflow_privacy as tfp

from tff_train.runtime.remote_execution import remote_context_installed
from tff_train.runtime.tff_runtime import import_tff

# Rényi orders for the RDP accountant: a dense grid at small orders plus large ones for tiny q.
RDP_ORDERS = tuple([1 + x / 10.0 for x in range(1, 100)] + list(range(11, 64)) + [128, 256, 512])

# Weights above this are clipped by the secure weight sum (TFF's choice: ~1M examples/client).
SECURE_MAX_WEIGHT = float(2**20 - 1)


DEFAULT_MAX_DELTA = 1e-5


def default_delta(num_clients: int) -> float:
    """The default δ for `num_clients` protected clients: min(1e-5, 1 / num_clients**1.1)."""
    if num_clients < 1:
        raise ValueError(f"num_clients must be >= 1; got {num_clients}")
    return min(DEFAULT_MAX_DELTA, float(num_clients) ** -1.1)


def _check_accounting_args(sampling_rate: float, rounds: int, delta: float) -> None:
    if not 0 < sampling_rate <= 1:
        raise ValueError(f"sampling_rate must be in (0, 1]; got {sampling_rate}")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
        raise ValueError(f"rounds must be an int >= 0; got {rounds!r}")
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1); got {delta}")


def compute_epsilon(noise_multiplier: float, sampling_rate: float, rounds: int,
                    delta: float) -> float:
    """ε of `rounds` Poisson-subsampled Gaussian steps at rate `sampling_rate` (RDP, at δ).

    Returns `math.inf` for `noise_multiplier == 0` (no privacy) and 0.0 for `rounds == 0`.
    """
    if not noise_multiplier >= 0:
        raise ValueError(f"noise_multiplier must be >= 0; got {noise_multiplier}")
    _check_accounting_args(sampling_rate, rounds, delta)
    if rounds == 0:
        return 0.0
    if noise_multiplier == 0:
        return math.inf
    accountant = dp_accounting.rdp.RdpAccountant(list(RDP_ORDERS))
    accountant.compose(dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(
            sampling_rate, dp_accounting.GaussianDpEvent(noise_multiplier)),
        rounds))
    return float(accountant.get_epsilon(delta))


def noise_for_epsilon(target_epsilon: float, sampling_rate: float, rounds: int, delta: float,
                      *, rtol: float = 1e-3, max_noise: float = 1e4) -> float:
    """The smallest noise multiplier whose ε (see `compute_epsilon`) is <= `target_epsilon`.

    Bisection on the (monotone) ε(noise) curve; the result is within a relative `rtol` of the
    exact value and always satisfies `compute_epsilon(result, ...) <= target_epsilon`.
    `target_epsilon = math.inf` (no privacy) gives 0.0.
    """
    if not target_epsilon > 0:
        raise ValueError(f"target_epsilon must be > 0 (math.inf for no DP); got {target_epsilon}")
    if not 0 < rtol < 1:
        raise ValueError(f"rtol must be in (0, 1); got {rtol}")
    _check_accounting_args(sampling_rate, rounds, delta)
    if math.isinf(target_epsilon) or rounds == 0:
        return 0.0
    low, high = 0.0, 1.0
    while compute_epsilon(high, sampling_rate, rounds, delta) > target_epsilon:
        low, high = high, 2.0 * high
        if high > max_noise:
            raise ValueError(f"target_epsilon={target_epsilon} needs a noise multiplier above "
                             f"max_noise={max_noise} (sampling_rate={sampling_rate}, "
                             f"rounds={rounds}, delta={delta})")
    while high - low > rtol * high:
        mid = 0.5 * (low + high)
        if compute_epsilon(mid, sampling_rate, rounds, delta) > target_epsilon:
            low = mid
        else:
            high = mid
    return high


def build_dp_aggregator(noise_multiplier: float, clients_per_round: int, *,
                        clip_norm: float | None = None, secure: bool = False) -> Any:
    """An unweighted DP-FedAvg `tff.aggregators.UnweightedAggregationFactory` for model deltas.

    `clip_norm=None`: adaptive clipping with adaptive zeroing (`tff.learning.dp_aggregator`;
    `noise_multiplier` is then the effective multiplier including the clip-estimation budget, and
    TFF requires it to be < 0.1 * clients_per_round, e.g. < 1 for 10 clients per round).
    Otherwise a fixed L2 clip (`DifferentiallyPrivateFactory.gaussian_fixed`). `secure=True`
    (fixed clip only) sums the clipped records with `SecureSumFactory` bounded by `clip_norm` per
    coordinate before the server adds the noise; run it in `secure_simulation_context()`.
    """
    if not noise_multiplier >= 0:
        raise ValueError(f"noise_multiplier must be >= 0; got {noise_multiplier}")
    if isinstance(clients_per_round, bool) or not isinstance(clients_per_round, int) \
            or clients_per_round < 1:
        raise ValueError(f"clients_per_round must be an int >= 1; got {clients_per_round!r}")
    if clip_norm is not None and not clip_norm > 0:
        raise ValueError(f"clip_norm must be > 0 or None (adaptive); got {clip_norm}")
    if secure and clip_norm is None:
        raise ValueError("secure=True needs a fixed clip_norm (the secure sum range is "
                         "[-clip_norm, clip_norm]); got clip_norm=None")
    if clip_norm is None and noise_multiplier >= 0.1 * clients_per_round:
        raise ValueError(
            f"adaptive clipping (clip_norm=None) needs noise_multiplier < 0.1 * clients_per_round "
            f"= {0.1 * clients_per_round:g} (TFF's clipped-count noise budget); got "
            f"noise_multiplier={noise_multiplier}: set a fixed clip_norm")
    tff = import_tff()
    if clip_norm is None:
        return tff.learning.dp_aggregator(noise_multiplier, float(clients_per_round))
    if not secure:
        return tff.aggregators.DifferentiallyPrivateFactory.gaussian_fixed(
            noise_multiplier, float(clients_per_round), clip_norm)
    # Same query as `gaussian_fixed`, but the records travel through the secure sum. After L2
    # clipping every coordinate lies in [-clip_norm, clip_norm], so the secure range clips nothing.
    query = tfp.NormalizedQuery(
        tfp.GaussianSumQuery(l2_norm_clip=clip_norm, stddev=clip_norm * noise_multiplier),
        denominator=float(clients_per_round))
    return tff.aggregators.DifferentiallyPrivateFactory(
        query, record_aggregation_factory=tff.aggregators.SecureSumFactory(float(clip_norm)))


def build_secure_aggregator(*, weighted: bool, clip_norm: float | None = None) -> Any:
    """A secure-aggregation mean of model deltas (weighted or unweighted), no DP noise.

    Wraps `tff.learning.secure_aggregator(zeroing=False, clipping=False, weighted=...)`: values
    are clipped per coordinate to an adaptively estimated range (initially ±50, the 0.95 quantile
    thereafter; the weighted variant sums `weight * delta`), quantized to 32-bit integers and
    summed with `federated_secure_sum_bitwidth`; weights (example counts, at most
    SECURE_MAX_WEIGHT) or counts are summed securely too. `clip_norm` adds a fixed L2 clip of each
    delta first, with the clipped-count measurement also summed securely. Run the resulting
    process inside `secure_simulation_context()`.
    """
    if clip_norm is not None and not clip_norm > 0:
        raise ValueError(f"clip_norm must be > 0 or None; got {clip_norm}")
    tff = import_tff()
    factory = tff.learning.secure_aggregator(zeroing=False, clipping=False, weighted=weighted)
    if clip_norm is None:
        return factory
    return tff.aggregators.clipping_factory(
        float(clip_norm), factory,
        clipped_count_sum_factory=tff.aggregators.SecureSumFactory(
            upper_bound_threshold=1, lower_bound_threshold=0))


@contextlib.contextmanager
def secure_simulation_context() -> Iterator[None]:
    """Runs TFF computations in the test runtime, which simulates the secure-sum intrinsics.

    The context has its own `worker_binary`; it is stopped when the context is garbage collected
    after the `with` block (and by `shutdown_tff_workers()` at exit in any case). Refused inside
    a `RemoteExecution` (worker services do not implement the secure intrinsics), rather than
    silently running in-process.
    """
    tff = import_tff()
    if remote_context_installed():
        raise ValueError("secure aggregation (aggregation.secure=True) runs in TFF's in-process "
                         "secure-sum simulation, which worker services do not implement: "
                         "expected no --workers / --local_workers; got a remote worker context")
    context = tff.backends.test.create_sync_test_cpp_execution_context()
    with tff.framework.get_context_stack().install(context):
        yield
