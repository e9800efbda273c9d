from __future__ import annotations

import ast
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from emocore.cli_output import NATIVE_NOISE, _LibraryRecordFilter, verbosity_from_argv

ROOT = Path(__file__).resolve().parents[2]
# TensorFlow's C++ log prefix, e.g. "2026-12-02 06:52:16.468072: E tensorflow/...".
TF_CPP_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] ", re.M)
WORKER_FLAGS = ("--workers", "--local_workers", "--worker_timeout_s", "--worker_retries")


def _run(*args: str, text: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=text, timeout=300)


@pytest.mark.parametrize("argv, expected", [
    (["prog"], None),
    (["prog", "-v", "1"], 1),
    (["prog", "-v1"], 1),
    (["prog", "-v=0"], 0),
    (["prog", "--verbosity=2"], 2),
    (["prog", "--verbosity", "-1"], -1),
    (["prog", "--verbosity=0", "-v", "3"], 3),
    (["prog", "--verbosity=x"], None),
    (["prog", "--", "-v", "1"], None),
    (["prog", "--vocab=1", "--workdir=-v"], None),
])
def test_verbosity_from_argv(argv, expected):
    assert verbosity_from_argv(argv) == expected


def test_verbosity_from_argv_rejects_a_string():
    with pytest.raises(ValueError, match="argv must be a sequence of strings; got '-v 1'"):
        verbosity_from_argv("-v 1")


def test_native_noise_pattern_matches_only_the_known_lines():
    assert NATIVE_NOISE.match(b"[INFO 26-12-02 07:02:42.2496 UTC kernel.cc:1233] Loading model")
    assert NATIVE_NOISE.match(b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.")
    assert NATIVE_NOISE.match(b"fully_quantize: 0, inference_type: 6, input_inference_type: INT8")
    assert not NATIVE_NOISE.match(b"[WARNING 26-12-02 07:02:42.2496 UTC kernel.cc:1] disk full")
    assert not NATIVE_NOISE.match(b"INFO: something else")
    assert not NATIVE_NOISE.match(b"Traceback (most recent call last):")


@pytest.mark.slow
def test_face_main_help_is_quiet_and_lists_the_worker_and_verbosity_flags():
    result = _run("-m", "tff_train.face_main", "--help")
    assert result.returncode in (0, 1), result.stderr  # absl's --help exits with status 1
    output = result.stdout + result.stderr
    assert not TF_CPP_LINE.search(output), output
    assert "Unable to register" not in output and "oneDNN" not in output
    for flag in (*WORKER_FLAGS, "--config", "--workdir", "-v,--verbosity"):
        assert flag in result.stdout, flag


@pytest.mark.slow
def test_verbosity_brings_the_tensorflow_logs_back():
    """-v 0 leaves TensorFlow's own output alone: its C++ import lines come back."""
    result = _run("-m", "tff_train.face_main", "-v", "0", "--help")
    assert result.returncode in (0, 1), result.stderr
    assert TF_CPP_LINE.search(result.stderr), result.stderr


def test_native_output_filter_drops_only_the_noise_and_keeps_partial_lines():
    code = ("import os, sys; from emocore.cli_output import quiet_unless_verbose; "
            "quiet_unless_verbose(sys.argv); "
            "os.write(2, b'[INFO 26-12-02 UTC kernel.cc:1] Loading model\\nkeep me\\n'); "
            "os.write(2, b'INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n'); "
            "os.write(2, b'\\rbar 50%'); os.write(2, b'\\rbar 100%'); "
            "print('to stderr', file=sys.stderr); print('table'); "
            "os.write(1, b'fully_quantize: 0, inference_type: 6, input_inference_type: INT8\\n')")
    result = _run("-c", code, text=False)
    assert result.returncode == 0
    assert result.stderr == b"keep me\n\rbar 50%\rbar 100%to stderr\n"
    assert result.stdout == b"table\n"


def test_library_modules_do_not_quiet_anything_on_import():
    code = ("import os, logging; import pipeline.main, tflite_edge.harness_main; "
            "from emocore import cli_output; "
            "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL') == '3', "
            "logging.getLogger('tensorflow').level >= logging.ERROR, cli_output._STATE)")
    result = _run("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False False {'quiet': False}"


def _imports_before_quieting(path: Path) -> list[str] | None:
    """Modules imported before the module-level `if __name__ == "__main__":` block that calls
    quiet_unless_verbose(sys.argv); None when there is no such block."""
    seen = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and "quiet_unless_verbose(sys.argv)" in ast.unparse(node):
            return seen
        if isinstance(node, ast.Import):
            seen += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            seen.append(node.module)
    return None


def test_every_entry_point_quiets_its_output_before_importing_anything_heavy():
    entry_points = [p for p in ROOT.glob("*/*.py")
                    if re.search(r"^if __name__ == .__main__.:", p.read_text(), re.M)]
    assert len(entry_points) >= 14
    for path in entry_points:
        imports = _imports_before_quieting(path)
        assert imports is not None, f"{path} does not call quiet_unless_verbose(sys.argv)"
        assert set(imports) <= {"__future__", "sys", "emocore.cli_output"}, (path, imports)


@pytest.mark.parametrize("pathname, level, kept", [
    ("/venv/site-packages/matplotlib/font_manager.py", logging.INFO, False),  # first-run cache
    ("/venv/site-packages/tensorflow_decision_forests/keras/core.py", logging.WARNING, False),
    ("/venv/site-packages/matplotlib/font_manager.py", logging.ERROR, True),
    ("/work/project/tff_train/face/trainer.py", logging.INFO, True),
    ("/work/project/matplotlib_notes.py", logging.INFO, True),
])
def test_library_record_filter_drops_only_sub_error_library_records(pathname, level, kept):
    record = logging.LogRecord("x", level, pathname, 1, "message", None, None)
    assert _LibraryRecordFilter().filter(record) is kept
