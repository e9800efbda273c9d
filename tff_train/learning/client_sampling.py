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
