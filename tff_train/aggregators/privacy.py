"""Client-level privacy for FedAvg: DP-FedAvg aggregators, (ε, δ) accounting, secure aggregation.

Differential privacy is per client (one car = one client): each client's model delta is clipped
in L2 norm to `clip_norm` (fixed, or adapted by TFF's quantile estimator when `clip_norm` is
None), the clipped deltas are summed, Gaussian noise of std `noise_multiplier * clip_norm` is
added and the sum is divided by the *expected* `clients_per_round` (not the number of clients that
actually reported, so a dropped client does not change the sensitivity). These aggregators are
unweighted: pair them with `build_fed_avg(..., weighted=False)`. The noise comes from
unseeded TF random ops, so DP runs are not bit-reproducible.

Accounting uses the RDP accountant of `dp_accounting` for `rounds` compositions of the subsampled
Gaussian mechanism, matching how the trainer samples clients (`train.client_sampling`):
"poisson" (each client joins a round independently with probability q = clients_per_round /
num_clients; add-or-remove-one adjacency, McMahan et al. 2018, "Learning Differentially Private
Recurrent Language Models") or "uniform" (exactly clients_per_round clients without replacement;
replace-one adjacency, Wang, Balle & Kasiviswanathan 2019, where replacing one client moves the
clipped sum by up to 2 clip norms, so the accountant sees half the noise multiplier). With every
client in every round (q = 1) both are the plain Gaussian mechanism. The default δ is
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
from tff_train.runtime.tff_runtime import import_tff, shutdown_tff_workers, tff_worker_pids

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


SAMPLINGS = ("poisson", "uniform")


def _check_accounting_args(sampling_rate: float, rounds: int, delta: float) -> None:
    if not 0 < sampling_rate <= 1:
        raise ValueError(f"sampling_rate must be in (0, 1]; got {sampling_rate}")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
        raise ValueError(f"rounds must be an int >= 0; got {rounds!r}")
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1); got {delta}")


def _sampled_event(noise_multiplier: float, sampling_rate: float, sampling: str,
                   num_clients: int | None) -> tuple[dp_accounting.DpEvent, Any]:
    """(one round's DP event, the accountant's neighbouring relation) for this sampling."""
    relation = dp_accounting.NeighboringRelation
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {list(SAMPLINGS)}; got {sampling!r}")
    gaussian = dp_accounting.GaussianDpEvent(noise_multiplier)
    if sampling_rate == 1.0:  # every client every round: no amplification either way
        return gaussian, relation.ADD_OR_REMOVE_ONE
    if sampling == "poisson":
        return (dp_accounting.PoissonSampledDpEvent(sampling_rate, gaussian),
                relation.ADD_OR_REMOVE_ONE)
    if isinstance(num_clients, bool) or not isinstance(num_clients, int) or num_clients < 1:
        raise ValueError(f"num_clients must be an int >= 1 with sampling='uniform'; got "
                         f"{num_clients!r}")
    sample_size = round(sampling_rate * num_clients)
    if not 1 <= sample_size < num_clients:
        raise ValueError(f"sampling_rate * num_clients must round to a sample size in [1, "
                         f"{num_clients}); got {sampling_rate} * {num_clients}")
    # Replace-one moves the clipped sum by up to 2 clip norms: half the noise per sensitivity.
    return (dp_accounting.SampledWithoutReplacementDpEvent(
        num_clients, sample_size, dp_accounting.GaussianDpEvent(noise_multiplier / 2)),
        relation.REPLACE_ONE)


def compute_epsilon(noise_multiplier: float, sampling_rate: float, rounds: int,
                    delta: float, *, sampling: str = "poisson",
                    num_clients: int | None = None) -> float:
    """ε of `rounds` subsampled Gaussian steps at rate `sampling_rate` (RDP, at δ).

    `sampling` is how each round's clients are drawn: "poisson" (rate q each) or "uniform"
    (round(q * num_clients) without replacement; needs `num_clients`), see the module docstring.
    Returns `math.inf` for `noise_multiplier == 0` (no privacy) and 0.0 for `rounds == 0`.
    """
    if not noise_multiplier >= 0:
        raise ValueError(f"noise_multiplier must be >= 0; got {noise_multiplier}")
    _check_accounting_args(sampling_rate, rounds, delta)
    event, relation = _sampled_event(noise_multiplier, sampling_rate, sampling, num_clients)
    if rounds == 0:
        return 0.0
    if noise_multiplier == 0:
        return math.inf
    accountant = dp_accounting.rdp.RdpAccountant(list(RDP_ORDERS), relation)
    accountant.compose(dp_accounting.SelfComposedDpEvent(event, rounds))
    return float(accountant.get_epsilon(delta))


def noise_for_epsilon(target_epsilon: float, sampling_rate: float, rounds: int, delta: float,
                      *, rtol: float = 1e-3, max_noise: float = 1e4, sampling: str = "poisson",
                      num_clients: int | None = None) -> float:
    """The smallest noise multiplier whose ε (see `compute_epsilon`, same `sampling` and
    `num_clients`) is <= `target_epsilon`.

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
    def epsilon(noise: float) -> float:
        return compute_epsilon(noise, sampling_rate, rounds, delta, sampling=sampling,
                               num_clients=num_clients)

    low, high = 0.0, 1.0
    while epsilon(high) > target_epsilon:
        low, high = high, 2.0 * high
        if high > max_noise:
            raise ValueError(f"target_epsilon={target_epsilon} needs a noise multiplier above "
                             f"max_noise={max_noise} (sampling_rate={sampling_rate}, "
                             f"rounds={rounds}, delta={delta})")
    while high - low > rtol * high:
        mid = 0.5 * (low + high)
        if epsilon(mid) > target_epsilon:
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

    The context has its own `worker_binary`; it is stopped when the `with` block ends (SIGINT,
    then SIGKILL after 5 s: TFF's own stop, when the context is garbage collected, sends SIGINT
    and waits without a timeout, which once hung the suite). Refused inside a
    `RemoteExecution` (worker services do not implement the secure intrinsics), rather than
    silently running in-process.
    """
    tff = import_tff()
    if remote_context_installed():
        raise ValueError("secure aggregation (aggregation.secure=True) runs in TFF's in-process "
                         "secure-sum simulation, which worker services do not implement: "
                         "expected no --workers / --local_workers; got a remote worker context")
    running_before = tff_worker_pids()
    context = tff.backends.test.create_sync_test_cpp_execution_context()
    try:
        with tff.framework.get_context_stack().install(context):
            yield
    finally:
        shutdown_tff_workers(keep=running_before)  # before `context` is collected
