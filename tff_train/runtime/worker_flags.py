"""The `--workers`, `--local_workers` and `--worker_timeout_s` flags shared by the entry points.

`define_worker_flags()` is called at module level of an entry point; `worker_session_kwargs()`
turns the parsed flags into `worker_session(...)` arguments once, in `main`;
`run_in_worker_session(run)` runs `run()` in that session and stops every TFF worker after.
"""

from __future__ import annotations

from collections.abc import Callable

from absl import flags

from tff_train.runtime.tff_runtime import shutdown_tff_workers
from tff_train.runtime.worker_session import DEFAULT_WORKER_TIMEOUT_S, worker_session

_FLAGS: dict[str, flags.FlagHolder] = {}


def define_worker_flags() -> None:
    """Defines the worker flags (once per process)."""
    if _FLAGS:
        return
    _FLAGS["workers"] = flags.DEFINE_string(
        "workers", None, "Run TFF computations on these running worker_binary services: "
        "HOST:PORT,... (several workers split each round's clients between them).")
    _FLAGS["local_workers"] = flags.DEFINE_integer(
        "local_workers", 0, "Start this many TFF worker_binary services on loopback ports and "
        "run on them (stopped on exit). 0: TFF's default local context.")
    _FLAGS["worker_timeout_s"] = flags.DEFINE_float(
        "worker_timeout_s", DEFAULT_WORKER_TIMEOUT_S, "Fail with an error naming the worker "
        "when one call to a worker takes longer than this (a whole round must fit).")
    _FLAGS["worker_retries"] = flags.DEFINE_integer(
        "worker_retries", 0, "Checkpointed trainers (face_main): after a worker failure, reopen "
        "the workers and resume from the last checkpoint up to this many times.")


def worker_session_kwargs() -> dict:
    """The parsed worker flags as `worker_session` keyword arguments."""
    if not _FLAGS:
        raise RuntimeError("define_worker_flags() was not called before parsing flags")
    return {"workers": _FLAGS["workers"].value, "local_workers": _FLAGS["local_workers"].value,
            "timeout_s": _FLAGS["worker_timeout_s"].value}


def worker_retries() -> int:
    """The parsed `--worker_retries` (for `run_with_worker_retries`)."""
    if not _FLAGS:
        raise RuntimeError("define_worker_flags() was not called before parsing flags")
    return _FLAGS["worker_retries"].value


def run_in_worker_session(run: Callable[[], object],
                          log: Callable[[str], None] | None = None) -> None:
    """`run()` on the TFF workers the flags ask for (`worker_session`), then stops every TFF
    worker process, also on error and Ctrl-C. `log`: the session's progress lines (or none)."""
    kwargs: dict = {} if log is None else {"log": log}
    try:
        with worker_session(**worker_session_kwargs(), **kwargs):
            run()
    finally:
        shutdown_tff_workers()
