"""Config validation helpers shared by the trainers: errors name the key, what was expected and
what was received."""

from __future__ import annotations

import numbers


def require(condition: bool, key: str, expected: str, got: object) -> None:
    """Raises `ValueError("config.KEY must be EXPECTED; got GOT")` unless `condition`."""
    if not condition:
        raise ValueError(f"config.{key} must be {expected}; got {got!r}")


def is_int(value: object) -> bool:
    """True for an integer (Python or numpy), False for bools and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """True for a real number (Python or numpy), False for bools and everything else."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
