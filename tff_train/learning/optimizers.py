"""TFF optimizers from config: SGD, SGD with momentum, Adam (server Adam = FedAdam)."""

from __future__ import annotations

from typing import Any

from tff_train.runtime.tff_runtime import import_tff

OPTIMIZERS = ("sgd", "sgdm", "adam")


def build_tff_optimizer(name: str, learning_rate: float, *, momentum: float = 0.9,
                        beta_1: float = 0.9, beta_2: float = 0.99,
                        epsilon: float = 1e-3) -> Any:
    """A `tff.learning.optimizers.Optimizer` called `name` (one of OPTIMIZERS)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}; got {name!r}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0; got {learning_rate}")
    tff = import_tff()
    if name == "sgd":
        return tff.learning.optimizers.build_sgdm(learning_rate=learning_rate)
    if name == "sgdm":
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1); got {momentum}")
        return tff.learning.optimizers.build_sgdm(learning_rate=learning_rate, momentum=momentum)
    return tff.learning.optimizers.build_adam(learning_rate=learning_rate, beta_1=beta_1,
                                              beta_2=beta_2, epsilon=epsilon)
