"""Quiet third-party console output for the command-line entry points (and a way back).

TensorFlow prints ~9 C++ log lines at import (3 at error level: "Unable to register cuDNN
factory") even for `--help`; training adds TF-DF INFO lines, tf.function retracing and
deprecation warnings, TFF's Keras BatchNorm warning and absl INFO lines from TFF/TF. None of
them is actionable for a user of this project. `quiet_unless_verbose(sys.argv)` silences them:

  * `TF_CPP_MIN_LOG_LEVEL=3` (TensorFlow, TF-DF and tflite-runtime C++ logs; only FATAL
    remains) unless the environment already sets it;
  * the `tensorflow` Python logger at ERROR (deprecations, retracing, SavedModel notes);
  * records below ERROR logged from TensorFlow / TFF / TF-DF / Keras source files are dropped
    at absl's handler (this project's own absl messages, e.g. the harness incidents, still
    show);
  * Python warnings filters for the known-harmless messages in `HARMLESS_WARNINGS`;
  * C++ lines that ignore TF_CPP_MIN_LOG_LEVEL (TF-DF's inference library "[INFO ...] Loading
    model", tflite-runtime's "INFO: Created TensorFlow Lite XNNPACK delegate", the TFLite
    converter's "fully_quantize: 0, inference_type: ..." line on stdout) are dropped from the
    process's file descriptors 1 and 2 by a small pump thread each (`NATIVE_NOISE`); every
    other byte is passed through unchanged (progress bars included) and drained at exit.

It must run in an entry-point module BEFORE anything imports TensorFlow (the C++ level is read
at import), so it reads the verbosity from `argv` itself: absl's own `-v N` / `--verbosity=N`
(`-v 0` = INFO, higher = more) turns the quiet mode off and leaves every library's output as it
was. Library modules never call this: importing them changes no environment or logger.
No TensorFlow import here (the head-unit harness uses it too).
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import sys
import threading
import warnings
from collections.abc import Sequence

from absl import flags
from absl import logging as absl_logging

# (category, message regex) of warnings that are expected and harmless in this project.
HARMLESS_WARNINGS: tuple[tuple[type[Warning], str], ...] = (
    # TFF's Keras wrapper: BatchNorm statistics are recalibrated federatedly after training
    # (tff_train.learning.batchnorm_recalibration), so this advice does not apply.
    (UserWarning, r"Batch Normalization contains non-trainable variables"),
)
# Third-party packages whose sub-ERROR absl / logging records are dropped in quiet mode.
_LIBRARY_PATH = re.compile(
    r"[/\\](tensorflow|tensorflow_federated|tensorflow_decision_forests|keras|tf_keras|matplotlib)"
    r"[/\\]")
_VERBOSITY = re.compile(r"^(?:--verbosity|-v)(?:=(.*))?$")
# Whole stderr lines (bytes) written by native code that no setting silences.
NATIVE_NOISE = re.compile(
    rb"^(\[INFO [^\]]*\] |INFO: Created TensorFlow Lite XNNPACK delegate"
    rb"|fully_quantize: \d+, inference_type: )")
_STATE = {"quiet": False}


def verbosity_from_argv(argv: Sequence[str]) -> int | None:
    """The value of absl's `-v N`, `-vN`, `-v=N`, `--verbosity N` or `--verbosity=N` in `argv`
    (the last one wins), or None when absent or not an integer (absl then reports the error)."""
    if isinstance(argv, str) or not all(isinstance(a, str) for a in argv):
        raise ValueError(f"argv must be a sequence of strings; got {argv!r}")
    found: int | None = None
    args = list(argv[1:])
    for i, arg in enumerate(args):
        if arg == "--":
            break
        match = _VERBOSITY.match(arg)
        text = None
        if match:
            text = match.group(1)
            if text is None:
                text = args[i + 1] if i + 1 < len(args) else None
        elif arg.startswith("-v") and not arg.startswith("--") and len(arg) > 2:
            text = arg[2:]
        if text is None:
            continue
        try:
            found = int(text)
        except ValueError:
            continue
    return found


class _LibraryRecordFilter(logging.Filter):
    """Drops records below ERROR that come from the third-party ML libraries' source files."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or not _LIBRARY_PATH.search(record.pathname or "")


def quiet_unless_verbose(argv: Sequence[str]) -> bool:
    """Silences third-party output unless `argv` asks for `-v/--verbosity >= 0`.

    Call at the top of an entry point, before TensorFlow is imported; `argv[0]` is the main
    module as absl names it, whose `--help` then lists `-v/--verbosity`. Returns True when the
    quiet mode was applied (idempotent), False when the user asked for verbose output.
    """
    verbosity = verbosity_from_argv(argv)
    # `--help` shows the main module's key flags only: list absl's -v/--verbosity there too.
    flags.FLAGS.register_key_flag_for_module(argv[0], flags.FLAGS["verbosity"])
    if verbosity is not None and verbosity >= 0:
        return False
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for category, message in HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    # absl's handler (installed on the root logger by app.run) sees every propagated record.
    handler = absl_logging.get_absl_handler()
    if not any(isinstance(f, _LibraryRecordFilter) for f in handler.filters):
        handler.addFilter(_LibraryRecordFilter())
    if not _STATE["quiet"]:
        _filter_native_output(2, sys.stderr)
        _filter_native_output(1, sys.stdout)
    _STATE["quiet"] = True
    return True


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def _filter_native_output(fd: int, stream: object) -> None:
    """Routes file descriptor `fd` (1 or 2, Python's `stream` on top of it) through a pipe
    whose pump drops `NATIVE_NOISE` lines and passes everything else on unchanged."""
    stream.flush()
    read_fd, write_fd = os.pipe()
    target = os.dup(fd)
    os.dup2(write_fd, fd)
    os.close(write_fd)

    def pump() -> None:
        pending = b""
        while True:
            try:
                chunk = os.read(read_fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            out = b"".join(line + b"\n" for line in lines if not NATIVE_NOISE.match(line))
            if pending and pending[:1] not in (b"[", b"I", b"f"):  # a partial line (progress)
                out, pending = out + pending, b""
            if out:
                _write_all(target, out)
        if pending and not NATIVE_NOISE.match(pending):
            _write_all(target, pending)

    thread = threading.Thread(target=pump, name=f"fd{fd}-noise-filter", daemon=True)
    thread.start()

    def restore() -> None:
        stream.flush()
        os.dup2(target, fd)  # this process no longer writes into the pipe: the pump drains it
        thread.join(timeout=2.0)  # (a surviving child process may hold the pipe open)

    atexit.register(restore)
