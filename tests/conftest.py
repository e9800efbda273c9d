"""Suite-wide fixtures: stop TFF's worker_binary when the session ends."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Keep TensorFlow quiet and deterministic-ish in tests; set before any test imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session", autouse=True)
def _stop_tff_workers_at_end() -> Iterator[None]:
    yield
    from tff_train.tff_runtime import shutdown_tff_workers

    shutdown_tff_workers()
