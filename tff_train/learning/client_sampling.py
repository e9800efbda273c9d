"""Client sampling for federated rounds: seeds that are pure functions of (seed, round, client)."""

from __future__ import annotations

import numpy as np


def round_seed(seed: int, round_num: int, client: int = -1) -> int:
    """A 63-bit seed that is a pure function of (seed, round, client)."""
    return int(np.random.SeedSequence([seed, round_num, client + 1]).generate_state(1,
                                                                                    np.uint64)[0]
               >> np.uint64(1))


def sample_clients(num_clients: int, clients_per_round: int, seed: int, round_num: int
                   ) -> np.ndarray:
    """Sorted ids of the clients that take part in round `round_num` (uniform, no replacement)."""
    if not 1 <= clients_per_round <= num_clients:
        raise ValueError(f"clients_per_round must be in [1, {num_clients}]; got "
                         f"{clients_per_round}")
    rng = np.random.default_rng(round_seed(seed, round_num))
    return np.sort(rng.choice(num_clients, size=clients_per_round, replace=False))


def poisson_sample_clients(num_clients: int, sampling_rate: float, seed: int, round_num: int
                           ) -> np.ndarray:
    """Sorted ids of round `round_num`'s clients when each joins independently with probability
    `sampling_rate` (Poisson sampling: the round size varies; it may be empty)."""
    if num_clients < 1:
        raise ValueError(f"num_clients must be >= 1; got {num_clients}")
    if not 0 < sampling_rate <= 1:
        raise ValueError(f"sampling_rate must be in (0, 1]; got {sampling_rate}")
    rng = np.random.default_rng(round_seed(seed, round_num))
    return np.flatnonzero(rng.random(num_clients) < sampling_rate)


SAMPLINGS = ("uniform", "poisson")  # `round_clients`' ways of drawing a round's clients


def round_clients(num_clients: int, clients_per_round: int, seed: int, round_num: int,
                  sampling: str = "uniform") -> np.ndarray:
    """Round `round_num`'s client ids: `sample_clients` ("uniform": exactly clients_per_round)
    or `poisson_sample_clients` ("poisson": clients_per_round expected)."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be 'uniform' or 'poisson'; got {sampling!r}")
    if sampling == "uniform":
        return sample_clients(num_clients, clients_per_round, seed, round_num)
    if not 1 <= clients_per_round <= num_clients:
        raise ValueError(f"clients_per_round must be in [1, {num_clients}]; got "
                         f"{clients_per_round}")
    return poisson_sample_clients(num_clients, clients_per_round / num_clients, seed, round_num)
