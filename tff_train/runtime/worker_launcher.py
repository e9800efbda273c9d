"""Starting and stopping local TFF `worker_binary` services on loopback ports.

`LocalWorkers(n)` starts `n` workers (`worker_binary --port=P`, each in its own session with
its output in a log file, so no worker holds the driver's stdout), waits until each accepts gRPC
connections, and stops every worker it started, by its own process ids (SIGINT, then SIGKILL):
on `stop()`, on leaving the `with` block (normal exit, exception or Ctrl-C) and at interpreter
exit. On Linux each worker also gets SIGKILL from the kernel when the thread that started it
dies (`PR_SET_PDEATHSIG`), which covers a driver killed with SIGKILL.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tff_train.runtime.tff_runtime import WORKER_NAME
from tff_train.runtime.worker_addresses import WorkerAddress

_PR_SET_PDEATHSIG = 1
# Resolved in the parent: after fork() the child only calls it (no dlopen/dlsym in the child).
_PRCTL = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None) if sys.platform == "linux" \
    else None


def worker_binary_path() -> Path:
    """The `worker_binary` shipped in the installed tensorflow_federated package (not imported)."""
    spec = importlib.util.find_spec("tensorflow_federated")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("tensorflow_federated is not installed: no worker_binary to start")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / WORKER_NAME
    if not path.is_file():
        raise RuntimeError(f"expected TFF's worker binary at {path}; it does not exist")
    return path


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, then release)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """`preexec_fn`: ask the kernel to SIGKILL this child when its parent thread dies (Linux)."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


class LocalWorkers:
    """`n` TFF worker services on loopback ports, owned (and stopped) by this object.

    `addresses[i]` is served by process `pids[i]`; `describe(address)` names it for errors.
    """

    def __init__(self, n: int, *, startup_timeout_s: float = 60.0, stop_timeout_s: float = 5.0,
                 log_dir: str | os.PathLike | None = None,
                 max_concurrent_computation_calls: int = -1) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n (number of local workers) must be an int >= 1; got {n!r}")
        for name, value in (("startup_timeout_s", startup_timeout_s),
                            ("stop_timeout_s", stop_timeout_s)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0 seconds; got {value!r}")
        self.n = n
        self.startup_timeout_s = float(startup_timeout_s)
        self.stop_timeout_s = float(stop_timeout_s)
        self.max_concurrent_computation_calls = int(max_concurrent_computation_calls)
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.addresses: list[WorkerAddress] = []
        self.log_paths: list[Path] = []
        self._processes: list[subprocess.Popen] = []

    @property
    def pids(self) -> list[int]:
        """Process ids of the started workers, in the order of `addresses`."""
        return [p.pid for p in self._processes]

    def describe(self, address: WorkerAddress | str) -> str:
        """`HOST:PORT (pid P, log FILE)` for a worker of this launcher, else just the address."""
        for addr, proc, log in zip(self.addresses, self._processes, self.log_paths, strict=True):
            if str(addr) == str(address):
                return f"{addr} (pid {proc.pid}, log {log})"
        return str(address)

    def start(self) -> LocalWorkers:
        """Starts the workers and waits until each accepts connections; stops all on failure."""
        if self._processes:
            raise RuntimeError("LocalWorkers.start() called twice; call stop() first")
        binary = worker_binary_path()
        log_dir = self.log_dir or Path(tempfile.mkdtemp(prefix="tff_workers_"))
        log_dir.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)
        try:
            for _ in range(self.n):
                port = free_loopback_port()
                log_path = log_dir / f"worker_{port}.log"
                with open(log_path, "wb") as log:
                    proc = subprocess.Popen(
                        [str(binary), f"--port={port}",
                         f"--max_concurrent_computation_calls="
                         f"{self.max_concurrent_computation_calls}"],
                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                        start_new_session=True,
                        preexec_fn=_die_with_parent if _PRCTL is not None else None)
                self._processes.append(proc)
                self.addresses.append(WorkerAddress("127.0.0.1", port))
                self.log_paths.append(log_path)
            deadline = time.monotonic() + self.startup_timeout_s
            for address in self.addresses:
                self._wait_ready(address, deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, address: WorkerAddress, deadline: float) -> None:
        """Blocks until `address` accepts a gRPC connection; raises naming the worker if not."""
        import grpc  # noqa: PLC0415 (only needed once workers run)

        index = self.addresses.index(address)
        proc = self._processes[index]
        with grpc.insecure_channel(address.target) as channel:
            future = grpc.channel_ready_future(channel)
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"TFF worker {self.describe(address)} exited with code "
                                       f"{proc.returncode} before accepting connections")
                try:
                    future.result(timeout=0.2)
                    return
                except grpc.FutureTimeoutError:
                    if time.monotonic() >= deadline:
                        future.cancel()
                        raise TimeoutError(
                            f"TFF worker {self.describe(address)} did not accept connections "
                            f"within {self.startup_timeout_s:g} s") from None

    def stop(self) -> int:
        """Stops every worker this object started (SIGINT, then SIGKILL); returns how many ran.

        Idempotent; waits for (reaps) each process.
        """
        processes, self._processes = self._processes, []
        running = [p for p in processes if p.poll() is None]
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + self.stop_timeout_s
        for proc in running:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
        for proc in processes:  # reap any that had already exited
            proc.poll()
        self.addresses = []
        self.log_paths = []
        atexit.unregister(self.stop)
        return len(running)

    def __enter__(self) -> LocalWorkers:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
