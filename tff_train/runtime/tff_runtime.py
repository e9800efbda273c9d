"""Owning TensorFlow Federated's local `worker_binary` process: import TFF, and stop the worker.

TFF 0.87 starts a C++ `worker_binary` child on the first computation and never stops it when
Python exits. The child inherits stdout/stderr, so a pipe reading the parent's output (CI, `| tee`,
`subprocess.run(capture_output=True)`) hangs until someone kills it. Every entry point and the test
suite therefore import TFF through `import_tff()` (which registers `shutdown_tff_workers` with
`atexit`) and may call `shutdown_tff_workers()` explicitly (e.g. in a `finally:`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import time
import types
from collections.abc import Collection

import psutil

WORKER_NAME = "worker_binary"
_registered = False


def _worker_children(pid: int) -> list[psutil.Process]:
    """Descendants of process `pid` that run TFF's worker binary."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    workers = []
    for child in children:
        try:
            if child.name() == WORKER_NAME or os.path.basename(child.exe()) == WORKER_NAME:
                workers.append(child)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return workers


def _wait_until_dead(workers: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Polls until every worker has exited (zombie or gone); returns those still running.

    Never reaps: TFF's own `Popen` object reaps its worker, and on its next computation it
    signals the old pid and restarts a worker — which must not fail on a pid already reaped.
    """
    deadline = time.monotonic() + timeout_s
    alive = workers
    while True:
        alive = [w for w in alive if _running(w)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.05)


def _running(worker: psutil.Process) -> bool:
    try:
        return worker.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _running_workers(pid: int | None) -> list[psutil.Process]:
    """The running `worker_binary` processes started by process `pid` (None: this one)."""
    return [w for w in _worker_children(os.getpid() if pid is None else pid) if _running(w)]


def tff_worker_pids(pid: int | None = None) -> set[int]:
    """Pids of the running `worker_binary` processes started by process `pid` (default: this)."""
    return {w.pid for w in _running_workers(pid)}


def shutdown_tff_workers(pid: int | None = None, timeout_s: float = 5.0,
                         keep: Collection[int] = ()) -> int:
    """Stops every `worker_binary` started by process `pid` (default: this one) but those whose
    pids are in `keep`.

    Sends SIGINT (what TFF itself sends), then SIGKILL to those still running after `timeout_s`.
    Returns the number of worker processes that were stopped. Safe to call repeatedly, also in
    the middle of a session: TFF starts a fresh worker for its next computation.
    """
    if timeout_s < 0:
        raise ValueError(f"timeout_s must be >= 0; got {timeout_s}")
    workers = [w for w in _running_workers(pid) if w.pid not in keep]
    for worker in workers:
        with contextlib.suppress(psutil.NoSuchProcess):
            worker.send_signal(signal.SIGINT)
    for worker in _wait_until_dead(workers, timeout_s):
        with contextlib.suppress(psutil.NoSuchProcess):
            worker.kill()
    _wait_until_dead(workers, timeout_s)
    return len(workers)


def import_tff() -> types.ModuleType:
    """Imports `tensorflow_federated` and makes sure its worker is stopped when Python exits."""
    global _registered
    if not _registered:
        atexit.register(shutdown_tff_workers)
        _registered = True
    import tensorflow_federated as tff  # noqa: PLC0415 (heavy import, on demand)

    return tff
