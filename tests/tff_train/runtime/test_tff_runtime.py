"""TFF's worker_binary must not outlive the Python process that started it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from tff_train.runtime import tff_runtime

_RUN_COMPUTATION = textwrap.dedent(
    """
    import sys
    import psutil
    from tff_train.runtime.tff_runtime import import_tff, WORKER_NAME
    tff = import_tff()
    import tensorflow as tf
    if sys.argv[1] == "no-shutdown":
        import atexit
        from tff_train.runtime import tff_runtime
        atexit.unregister(tff_runtime.shutdown_tff_workers)

    @tff.tensorflow.computation(tf.float32)
    def add_one(x):
        return x + 1.0

    assert add_one(1.0) == 2.0
    workers = [c.pid for c in psutil.Process().children(recursive=True)
               if c.name() == WORKER_NAME]
    print("WORKERS", *workers, flush=True)
    """
)


def _worker_pids(stdout: str) -> list[int]:
    line = next(x for x in stdout.splitlines() if x.startswith("WORKERS"))
    return [int(p) for p in line.split()[1:]]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _run(mode: str, tmp_path) -> list[int]:
    out = tmp_path / f"{mode}.out"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with open(out, "w") as f:
        # stdout goes to a file, not a pipe, so a surviving worker cannot hang this test.
        subprocess.run([sys.executable, "-c", _RUN_COMPUTATION, mode], stdout=f,
                       stderr=subprocess.DEVNULL, env=env, check=True, timeout=240)
    return _worker_pids(out.read_text())


@pytest.mark.slow
def test_worker_is_stopped_at_exit_and_survives_without_the_helper(tmp_path):
    pids = _run("shutdown", tmp_path)
    assert pids, "the TFF computation should have started a worker_binary"
    time.sleep(0.5)
    assert not [p for p in pids if _alive(p)], "worker_binary survived its parent"

    # Control: without the atexit hook the worker outlives Python (the trap this module fixes).
    leaked = _run("no-shutdown", tmp_path)
    try:
        assert [p for p in leaked if _alive(p)], "expected the unmanaged worker to survive"
    finally:
        for pid in leaked:
            if _alive(pid):
                psutil.Process(pid).kill()


def test_shutdown_is_idempotent():
    tff_runtime.shutdown_tff_workers()  # stops a worker an earlier test may have started
    assert tff_runtime.shutdown_tff_workers() == 0


def test_shutdown_rejects_negative_timeout():
    with pytest.raises(ValueError, match="timeout_s must be >= 0; got -1"):
        tff_runtime.shutdown_tff_workers(timeout_s=-1)


_STOP_MID_SESSION = textwrap.dedent(
    """
    from tff_train.runtime.tff_runtime import import_tff, shutdown_tff_workers
    tff = import_tff()
    import tensorflow as tf

    @tff.tensorflow.computation(tf.float32)
    def add_one(x):
        return x + 1.0

    assert add_one(1.0) == 2.0
    assert shutdown_tff_workers() == 1
    assert add_one(2.0) == 3.0  # TFF starts a fresh worker
    print("OK")
    """
)


@pytest.mark.slow
def test_stopping_mid_session_lets_tff_start_a_new_worker(tmp_path):
    out = tmp_path / "mid.out"
    with open(out, "w") as f:
        result = subprocess.run([sys.executable, "-c", _STOP_MID_SESSION], stdout=f,
                                stderr=subprocess.PIPE, text=True, timeout=240,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.read_text().strip().endswith("OK")
