"""Suite-wide fixtures: stop TFF's worker_binary when the session ends; say it in one line when
the Java bridge suite was skipped (no JDK/JUnit)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Keep TensorFlow quiet and deterministic-ish in tests; set before any test imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session", autouse=True)
def _stop_tff_workers_at_end() -> Iterator[None]:
    yield
    from tff_train.runtime.tff_runtime import shutdown_tff_workers

    shutdown_tff_workers()


JAVA_SUITE = "tests/android_bridge/test_java_bridge.py"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One clear line when the Java bridge's JUnit suite did not run, and how to install it."""
    skipped = [r for r in terminalreporter.stats.get("skipped", [])
               if r.nodeid.startswith(JAVA_SUITE) or JAVA_SUITE in str(r.location[0])]
    if skipped:
        reason = str(skipped[0].longrepr[-1]).removeprefix("Skipped: ")
        terminalreporter.write_line(
            f"NOTE: the Java bridge suite did NOT run ({len(skipped)} tests skipped): {reason}",
            yellow=True, bold=True)
