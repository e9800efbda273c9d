"""TF-DF fits in a recycled child process, so the training process never imports TF-DF.

TF-DF leaks about 9 MB per fit and a physio experiment makes hundreds of fits. Every fit is
therefore a job for `run_in_fit_worker("package.module:function", *args)`: a persistent child
process (`python -m tff_train.physio.fit_worker`, its stderr and stdout in a log file) imports
the module, calls the function with the pickled arguments and sends back what it returns
(`bytes`, e.g. a `TreeEnsemble` as npz). After `FITS_PER_WORKER` jobs the child is replaced by a
fresh one, which bounds the leak. A job that raises, or a child that dies, surfaces in the parent
as one `FitWorkerError` naming the job, the child's pid and its log.

The child exits when the parent closes its stdin (`shutdown_fit_worker`, also at interpreter
exit) and, on Linux, gets SIGKILL from the kernel if the parent dies (`PR_SET_PDEATHSIG`).
Jobs run one at a time. This module imports neither TF-DF nor TensorFlow.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib
import os
import pickle
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path

FITS_PER_WORKER = 25  # jobs per child before it is replaced (~9 MB leaked per TF-DF fit)
_HEADER = struct.Struct("<Q")  # frame = 8-byte little-endian length + pickle
_REPO = Path(__file__).resolve().parents[2]  # holds the tff_train package
_STOP_TIMEOUT_S = 10.0
_LOG_TAIL_CHARS = 2000


class FitWorkerError(RuntimeError):
    """A job failed in the fit worker, or the worker process died while running it."""


def _write_frame(stream: object, payload: object) -> None:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read_frame(stream: object) -> object | None:
    """The next unpickled frame, or None at a clean end of stream."""
    header = stream.read(_HEADER.size)
    if not header:
        return None
    if len(header) != _HEADER.size:
        raise EOFError("truncated frame header")
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) != size:
        raise EOFError(f"truncated frame: expected {size} bytes, got {len(data)}")
    return pickle.loads(data)


def _resolve(function: str) -> object:
    """'package.module:name' -> that module-level callable."""
    module, sep, name = function.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"function must be 'package.module:name'; got {function!r}")
    return getattr(importlib.import_module(module), name)


class _Worker:
    """One child process and its pipes; `calls` counts the jobs it ran."""

    def __init__(self) -> None:
        self.log_dir = Path(tempfile.mkdtemp(prefix="fedmultiemo_fit_worker_"))
        self.log_path = self.log_dir / "worker.log"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_REPO), env.get("PYTHONPATH", "")) if p)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tff_train.physio.fit_worker", str(os.getpid())],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env,
                cwd=str(_REPO), start_new_session=True)
        self.calls = 0

    def describe(self) -> str:
        return f"the TF-DF fit worker (pid {self.process.pid}, log {self.log_path})"

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(encoding="utf-8", errors="replace").strip()
            if text:
                return text[-_LOG_TAIL_CHARS:]
        return "(nothing; the empty log is removed)"

    def run(self, function: str, args: tuple) -> bytes:
        self.calls += 1
        try:
            _write_frame(self.process.stdin, (function, args))
            reply = _read_frame(self.process.stdout)
        except (OSError, EOFError, pickle.UnpicklingError) as e:
            reply, broken = None, e
        except BaseException:  # e.g. Ctrl-C mid-job: its reply would desync the pipe
            self.stop()
            raise
        else:
            broken = None
        if reply is None:
            status = self._wait_exit()
            raise FitWorkerError(
                f"{self.describe()} stopped while running {function} (exit status {status}"
                f"{'; ' + type(broken).__name__ + ': ' + str(broken) if broken else ''}); "
                f"its log ends with:\n{self.log_tail()}") from None
        ok, value = reply
        if not ok:
            raise FitWorkerError(f"{function} failed in {self.describe()}:\n{value}")
        if not isinstance(value, bytes):
            raise FitWorkerError(
                f"{function} must return bytes in the fit worker; got {type(value).__name__}")
        return value

    def _wait_exit(self) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.process.wait(timeout=_STOP_TIMEOUT_S)
        return None

    def stop(self, keep_log: bool = False) -> None:
        """Closes the child's stdin (it exits), then SIGKILLs it if it is still running; removes
        its log unless `keep_log` and the log is not empty."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        if self._wait_exit() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        with contextlib.suppress(OSError):
            self.process.stdout.close()
        with contextlib.suppress(OSError):
            keep_log = keep_log and self.log_path.stat().st_size > 0  # an empty log says nothing
        if not keep_log:
            with contextlib.suppress(OSError):
                self.log_path.unlink(missing_ok=True)
                self.log_dir.rmdir()


_lock = threading.Lock()
_worker: _Worker | None = None


def run_in_fit_worker(function: str, *args: object, fits_per_worker: int = FITS_PER_WORKER
                      ) -> bytes:
    """Runs `function(*args)` ('package.module:name', returning bytes) in the fit worker.

    The arguments and the result travel pickled; the worker is started on first use and replaced
    after `fits_per_worker` jobs. Raises FitWorkerError if the job raises or the worker dies (the
    dead worker is discarded, so the next job starts a fresh one).
    """
    global _worker
    if isinstance(fits_per_worker, bool) or not isinstance(fits_per_worker, int) \
            or fits_per_worker < 1:
        raise ValueError(f"fits_per_worker must be an int >= 1; got {fits_per_worker!r}")
    if not isinstance(function, str) or function.count(":") != 1:
        raise ValueError(f"function must be 'package.module:name'; got {function!r}")
    with _lock:
        if _worker is not None and (_worker.calls >= fits_per_worker
                                    or _worker.process.poll() is not None):
            _worker.stop()
            _worker = None
        if _worker is None:
            _worker = _Worker()
            atexit.register(shutdown_fit_worker)
        worker = _worker
        try:
            return worker.run(function, args)
        except BaseException as e:
            if worker.process.poll() is not None:  # stopped or died: the next job starts anew
                worker.stop(keep_log=isinstance(e, FitWorkerError))  # the error names the log
                _worker = None
            raise


def fit_worker_pid() -> int | None:
    """The pid of the running fit worker, or None when there is none."""
    return _worker.process.pid if _worker is not None else None


def shutdown_fit_worker() -> None:
    """Stops the fit worker if one is running (idempotent)."""
    global _worker
    with _lock:
        if _worker is not None:
            _worker.stop()
            _worker = None


# --------------------------------------------------------------------------- child side
def _die_with_parent(parent_pid: int) -> None:
    """Asks the kernel to SIGKILL this process when its parent dies (Linux), closing the race."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:
        os._exit(1)


def _serve(parent_pid: int) -> None:
    """The child's loop: read (function, args), reply (True, result) or (False, traceback)."""
    _die_with_parent(parent_pid)
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # library prints go to the log, never into the reply pipe
    requests = sys.stdin.buffer
    while True:
        request = _read_frame(requests)
        if request is None:
            return
        function, args = request
        try:
            reply = (True, _resolve(function)(*args))
        except BaseException:  # noqa: BLE001 (reported to the parent, which raises)
            reply = (False, traceback.format_exc())
        _write_frame(replies, reply)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
