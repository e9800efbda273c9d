"""Client learning rate across rounds: one schedule shared by FedAvg and the centralised twin.

Round r (0-based) of R runs its local epochs at `scheduled_learning_rate(base, r, R, schedule)`;
the centralised baseline uses the same value for the epochs that stand for round r, so both see
the same learning rate per pass over the data.
"""

from __future__ import annotations

import math

SCHEDULES = ("constant", "cosine")


def scheduled_learning_rate(base: float, round_index: int, rounds: int, schedule: str) -> float:
    """The learning rate of round `round_index` in [0, rounds).

    "constant": `base`; "cosine": `base * (1 + cos(pi * round_index / rounds)) / 2`, from `base`
    in the first round down towards 0 in the last.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {list(SCHEDULES)}; got {schedule!r}")
    if not base > 0:
        raise ValueError(f"base must be > 0; got {base}")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1; got {rounds}")
    if not 0 <= round_index < rounds:
        raise ValueError(f"round_index must be in [0, {rounds}); got {round_index}")
    if schedule == "constant":
        return float(base)
    return float(base * 0.5 * (1.0 + math.cos(math.pi * round_index / rounds)))
