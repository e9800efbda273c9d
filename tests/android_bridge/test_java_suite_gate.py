"""Without a JDK the Java bridge suite is skipped with one clear line, and fails under CI=true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run_java_suite(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    no_tools = tmp_path / "bin"  # a PATH without javac/java
    no_tools.mkdir(exist_ok=True)
    environ = {k: v for k, v in os.environ.items() if k != "CI"} | {"PATH": str(no_tools)} | env
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/android_bridge/test_java_bridge.py"], cwd=REPO, env=environ,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_missing_jdk_is_one_clear_line_locally_and_a_failure_under_ci(tmp_path):
    local = _run_java_suite(tmp_path)
    assert local.returncode == 0, local.stdout[-3000:]
    notes = [line for line in local.stdout.splitlines() if "Java bridge suite did NOT run" in line]
    assert notes == ["NOTE: the Java bridge suite did NOT run (3 tests skipped): Java bridge "
                     "suite: javac/java not found (a JDK >= 11 is needed): apt-get install "
                     "openjdk-17-jdk-headless junit4"], local.stdout[-3000:]
    ci = _run_java_suite(tmp_path, CI="true")
    assert ci.returncode == 1, ci.stdout[-3000:]
    assert "CI=true and the Java bridge suite cannot run: javac/java not found" in ci.stdout
    assert "did NOT run" not in ci.stdout
