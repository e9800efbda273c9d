"""Where an entry point's TFF computations run: in-process, `--workers=...` or `--local_workers=N`.

Entry points turn their flags into the arguments of `worker_session` once; library code never
reads flags.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from tff_train.runtime.remote_execution import RemoteExecution, WorkerError
from tff_train.runtime.worker_addresses import parse_worker_addresses
from tff_train.runtime.worker_launcher import LocalWorkers

DEFAULT_WORKER_TIMEOUT_S = 600.0
T = TypeVar("T")


@contextlib.contextmanager
def worker_session(*, workers: str | None = None, local_workers: int = 0,
                   timeout_s: float = DEFAULT_WORKER_TIMEOUT_S,
                   log: Callable[[str], None] = print) -> Iterator[RemoteExecution | None]:
    """Runs this thread's TFF computations on remote workers inside the `with` block.

    `workers`: `HOST:PORT,...` of running `worker_binary` services; `local_workers=N` starts N
    on loopback ports (stopped on exit, error or Ctrl-C); neither: TFF's default local context
    (yields None). `timeout_s` bounds every call to a worker (a round must fit in it).
    """
    if isinstance(local_workers, bool) or not isinstance(local_workers, int) or local_workers < 0:
        raise ValueError(f"--local_workers must be an int >= 0; got {local_workers!r}")
    if workers and local_workers:
        raise ValueError(f"--workers and --local_workers are exclusive: expected one of them; "
                         f"got --workers={workers!r} and --local_workers={local_workers}")
    if not workers and not local_workers:
        yield None
        return
    with contextlib.ExitStack() as stack:
        if workers:
            addresses = parse_worker_addresses(workers, argument="--workers")
            describe = str
        else:
            launcher = stack.enter_context(LocalWorkers(local_workers))
            addresses, describe = launcher.addresses, launcher.describe
            log(f"started {local_workers} local TFF worker(s): "
                + ", ".join(describe(a) for a in addresses))
        execution = stack.enter_context(RemoteExecution(addresses, timeout_s=timeout_s,
                                                        describe=describe))
        log(f"TFF computations run on {len(addresses)} worker(s): "
            + ", ".join(str(a) for a in addresses) + f" (timeout {timeout_s:g} s per call)")
        yield execution


def run_with_worker_retries(run: Callable[[bool], T], *, resume: bool = False, retries: int = 0,
                            retry_wait_s: float = 10.0, workers: str | None = None,
                            local_workers: int = 0, timeout_s: float = DEFAULT_WORKER_TIMEOUT_S,
                            log: Callable[[str], None] = print) -> T:
    """`run(resume)` in a `worker_session`; after a `WorkerError`, again with `resume=True`.

    Each retry opens a fresh session: `local_workers` are started anew, `--workers` are
    reconnected (an unreachable one fails the attempt, naming it). `run` must continue from its
    last checkpoint when called with `resume=True` (e.g. `run_face_training`). At most `retries`
    retries, `retry_wait_s` apart; the last `WorkerError` is raised when they are used up.
    """
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"--worker_retries must be an int >= 0; got {retries!r}")
    if not retry_wait_s >= 0:
        raise ValueError(f"retry_wait_s must be >= 0 seconds; got {retry_wait_s!r}")
    for attempt in range(retries + 1):
        try:
            with worker_session(workers=workers, local_workers=local_workers,
                                timeout_s=timeout_s, log=log):
                return run(resume)
        except WorkerError as e:
            if attempt == retries:
                raise
            log(f"{e}; retry {attempt + 1} of {retries} from the last checkpoint in "
                f"{retry_wait_s:g} s")
            resume = True
            time.sleep(retry_wait_s)
    raise AssertionError("unreachable")
