"""Tiny jobs for the fit worker tests (no TensorFlow: the worker starts in well under a second)."""

from __future__ import annotations

import os


def echo_pid(payload: bytes) -> bytes:
    """The worker's pid and `payload`, as bytes."""
    return f"{os.getpid()}:".encode() + payload


def fail(message: str) -> bytes:
    """Raises ValueError(message) in the worker."""
    raise ValueError(message)


def die(status: int) -> bytes:
    """Exits the worker process at once with `status` (a crash, as far as the parent sees)."""
    os._exit(status)


def not_bytes() -> str:
    """Returns a str (the worker contract asks for bytes)."""
    return "text"
