"""Runs the Java bridge's JUnit suite (build.sh) against freshly exported golden assets.

Without a JDK or JUnit the suite is skipped (tests/conftest.py prints one line saying so and how
to install them); under CI=true (.ci/run) it fails instead, since CI installs both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

BUILD_SH = Path(__file__).resolve().parents[2] / "android_bridge" / "java" / "build.sh"
JARS = (Path("/usr/share/java/junit4.jar"), Path("/usr/share/java/hamcrest-core.jar"))
INSTALL_HINT = "apt-get install openjdk-17-jdk-headless junit4"
SECTIONS = ("face", "quantization", "physio_features", "physio_model", "calibration", "labels",
            "fusion", "fusion_sequences")


def _missing_tools() -> str | None:
    if shutil.which("javac") is None or shutil.which("java") is None:
        return f"javac/java not found (a JDK >= 11 is needed): {INSTALL_HINT}"
    missing = [str(j) for j in JARS if not j.is_file()]
    if missing:
        return f"{', '.join(missing)} not found: {INSTALL_HINT}"
    return None


@pytest.fixture(scope="session")
def java_tools() -> None:
    """Skips (fails under CI=true) when the JDK or JUnit is missing, before any export."""
    reason = _missing_tools()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and the Java bridge suite cannot run: {reason}", pytrace=False)
    pytest.skip(f"Java bridge suite: {reason}")


@pytest.fixture(scope="module")
def java_run(java_tools, exported_assets, tmp_path_factory
             ) -> tuple[subprocess.CompletedProcess, dict]:
    report = tmp_path_factory.mktemp("java") / "golden_report.json"
    run = subprocess.run(["bash", str(BUILD_SH), "--assets", str(exported_assets),
                          "--report", str(report)], capture_output=True, text=True, timeout=300)
    return run, json.loads(report.read_text()) if report.is_file() else {}


def test_junit_suite_passes(java_run):
    run, _ = java_run
    assert run.returncode == 0, f"{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    assert "OK (" in run.stdout and "GoldenVectorsTest" not in run.stdout


def test_every_golden_vector_is_reproduced(java_run):
    _, report = java_run
    assert set(report) == set(SECTIONS)
    for name, section in report.items():
        assert section["vectors"] > 0, name
        assert section["vectors_matched"] == section["vectors"], (name, section["mismatches"])
        assert section["mismatches"] == [], name
    assert report["physio_features"]["vectors"] >= 12
    assert report["fusion"]["vectors"] >= 100
    assert report["fusion"]["max_abs_dev"] <= 1e-6
    assert report["physio_features"]["max_rel_dev"] <= 1e-5
    assert report["calibration"]["vectors"] >= 7  # the bundle's session + 6 fixed ones


def test_integer_and_float32_steps_are_bit_exact(java_run):
    """Scaling, quantization and dequantization are exact integer/IEEE float32 arithmetic; the
    calibration (float64 in the Python's order, cast to float32) matches bit for bit."""
    _, report = java_run
    for name in ("face", "quantization", "calibration"):
        assert report[name]["bit_exact"] == report[name]["values"], name
