"""A TFF execution context that runs computations on `worker_binary` services over gRPC.

One worker: TFF's synchronous context over a `RemoteExecutor` (what TFF's default local context
does with the worker it starts itself). Several workers: TFF's mergeable-computation context,
which splits the CLIENTS-placed arguments into one contiguous share per worker, runs each
share's part up to the aggregation on its worker, merges the partial aggregates and finishes on
one worker. Each worker gets its own thread, so the shares run in parallel. Computations that
return per-client values (e.g. scoring clients' data) run on the first worker only.

Failures never hang or retry silently: every RPC carries a deadline of `timeout_s`, and any gRPC
error (worker gone, refused, deadline exceeded) becomes a `WorkerError` naming the worker. TFF's
own stub marks UNAVAILABLE as retryable and its contexts retry that forever.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from tff_train.runtime.tff_runtime import import_tff
from tff_train.runtime.worker_addresses import WorkerAddress

_MAX_MESSAGE_BYTES = 2 * 1000 * 1000 * 1000  # as TFF's local context
_CHANNEL_OPTIONS = [("grpc.max_message_length", _MAX_MESSAGE_BYTES),
                    ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
                    ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES)]


# The contexts built by RemoteExecution, so code that needs an in-process runtime can refuse them.
_REMOTE_CONTEXTS: weakref.WeakSet = weakref.WeakSet()


def remote_context_installed() -> bool:
    """Whether this thread's current TFF context runs on worker services (`RemoteExecution`)."""
    tff = import_tff()
    return tff.framework.get_context_stack().current in _REMOTE_CONTEXTS


class WorkerError(RuntimeError):
    """A TFF worker failed, vanished or did not answer within the timeout."""

    def __init__(self, worker: str, message: str) -> None:
        super().__init__(f"TFF worker {worker}: {message}")
        self.worker = worker


def _stub_class() -> type:
    """The RemoteExecutorStub subclass (defined lazily: it needs TFF's base class)."""
    import_tff()
    import grpc  # noqa: PLC0415
    from tensorflow_federated.proto.v0 import executor_pb2_grpc  # noqa: PLC0415
    from tensorflow_federated.python.core.impl.executors import (  # noqa: PLC0415
        remote_executor_stub,
    )

    class WorkerStub(remote_executor_stub.RemoteExecutorStub):
        """TFF's executor RPCs with a deadline, errors naming the worker, and call counts."""

        def __init__(self, channel: Any, name: str, timeout_s: float) -> None:
            self._channel = channel
            self._stub = executor_pb2_grpc.ExecutorGroupStub(channel)
            self.name = name
            self.timeout_s = timeout_s
            self.calls: collections.Counter[str] = collections.Counter()
            self._lock = threading.Lock()

        def _call(self, method: str, request: Any) -> Any:
            with self._lock:
                self.calls[method] += 1
            try:
                return getattr(self._stub, method)(request, timeout=self.timeout_s)
            except grpc.RpcError as e:
                code = e.code() if isinstance(e, grpc.Call) else None
                if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                    message = (f"{method} got no answer within the worker timeout of "
                               f"{self.timeout_s:g} s (worker hung, overloaded, or the timeout "
                               "is too short for one round)")
                elif code == grpc.StatusCode.UNAVAILABLE:
                    message = (f"{method} failed: worker unavailable (died or unreachable): "
                               f"{e.details()}")
                else:
                    details = e.details() if isinstance(e, grpc.Call) else str(e)
                    message = f"{method} failed with {code}: {details}"
                raise WorkerError(self.name, message) from None
            except ValueError as e:  # "Cannot invoke RPC on closed channel!"
                raise WorkerError(self.name, f"{method} after the connection was closed: "
                                  f"{e}") from None

        def _dispose_quietly(self, method: str, request: Any) -> Any:
            # Disposal runs from finalizers too; a dead worker holds nothing to dispose of.
            with contextlib.suppress(WorkerError):
                return self._call(method, request)
            return None

        def get_executor(self, request: Any) -> Any:
            return self._call("GetExecutor", request)

        def create_value(self, request: Any) -> Any:
            return self._call("CreateValue", request)

        def create_struct(self, request: Any) -> Any:
            return self._call("CreateStruct", request)

        def create_call(self, request: Any) -> Any:
            return self._call("CreateCall", request)

        def create_selection(self, request: Any) -> Any:
            return self._call("CreateSelection", request)

        def compute(self, request: Any) -> Any:
            return self._call("Compute", request)

        def dispose(self, request: Any) -> Any:
            return self._dispose_quietly("Dispose", request)

        def dispose_executor(self, request: Any) -> Any:
            return self._dispose_quietly("DisposeExecutor", request)

        @property
        def is_ready(self) -> bool:
            return True  # readiness is checked once, when the context is built

    return WorkerStub


def _sync_context(stub: Any) -> Any:
    """TFF's synchronous native context over one worker stub (as TFF's local context)."""
    import_tff()
    from tensorflow_federated.python.core.backends.native import compiler  # noqa: PLC0415
    from tensorflow_federated.python.core.environments.tensorflow_frontend import (  # noqa: PLC0415
        tensorflow_computation,
    )
    from tensorflow_federated.python.core.impl.execution_contexts import (  # noqa: PLC0415
        sync_execution_context,
    )
    from tensorflow_federated.python.core.impl.executor_stacks import (  # noqa: PLC0415
        python_executor_stacks,
    )
    from tensorflow_federated.python.core.impl.executors import remote_executor  # noqa: PLC0415
    from tensorflow_federated.python.core.impl.types import placements  # noqa: PLC0415

    def stack_fn(cardinalities: dict) -> Any:
        cardinalities.setdefault(placements.CLIENTS, 0)
        executor = remote_executor.RemoteExecutor(stub)
        executor.set_cardinalities(cardinalities)
        return executor

    return sync_execution_context.SyncExecutionContext(
        executor_fn=python_executor_stacks.ResourceManagingExecutorFactory(
            executor_stack_fn=stack_fn),
        compiler_fn=compiler.desugar_and_transform_to_native,
        transform_args=tensorflow_computation.transform_args,
        transform_result=tensorflow_computation.transform_result)


class _RoundErrors:
    """Which invocation is running and whether one of its worker shares already failed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation = 0
        self.failed_generation = -1


def _threaded_async_context(sync_context: Any, errors: _RoundErrors) -> Any:
    """An AsyncContext running `sync_context.invoke` in a thread (the stubs block the loop).

    Only the first failure of an invocation is raised: TFF's pool stops at it and never reads
    the other shares' tasks, whose errors (e.g. "channel closed") would otherwise be logged as
    "Task exception was never retrieved" on top of the real one.
    """
    tff = import_tff()

    class ThreadedAsyncContext(tff.framework.AsyncContext):
        async def invoke(self, comp: Any, arg: Any) -> Any:
            generation = errors.generation
            try:
                return await asyncio.to_thread(sync_context.invoke, comp, arg)
            except Exception:
                with errors.lock:
                    first = errors.failed_generation != generation
                    errors.failed_generation = generation
                if first:
                    raise
                return None  # this invocation already raised the first error

    return ThreadedAsyncContext()


def _returns_per_client_values(type_signature: Any) -> bool:
    """Whether a computation result holds CLIENTS-placed values that are not all equal."""
    tff = import_tff()
    if isinstance(type_signature, tff.FederatedType):
        return type_signature.placement is tff.CLIENTS and not type_signature.all_equal
    if isinstance(type_signature, tff.StructType):
        return any(_returns_per_client_values(t) for t in type_signature)
    return False


def _multi_worker_context(stubs: Sequence[Any]) -> Any:
    """TFF's mergeable-computation context over one threaded context per worker.

    Computations returning per-client values run on the first worker alone: TFF 0.87's mergeable
    context concatenates the shares' CLIENTS-placed results in completion order, which with
    parallel workers permutes the clients.
    """
    tff = import_tff()
    errors = _RoundErrors()
    contexts = [_sync_context(stub) for stub in stubs]
    mergeable = tff.backends.native.create_mergeable_comp_execution_context(
        [_threaded_async_context(context, errors) for context in contexts])

    class MultiWorkerContext(tff.framework.SyncContext):
        def invoke(self, comp: Any, arg: Any) -> Any:
            if _returns_per_client_values(comp.type_signature.result):
                return contexts[0].invoke(comp, arg)
            with errors.lock:
                errors.generation += 1
            return mergeable.invoke(comp, arg)

    return MultiWorkerContext()


class RemoteExecution:
    """The TFF context over `workers`; `stubs[i]` talks to `workers[i]` (with `.calls` counts).

    Use as a context manager: `with RemoteExecution(...):` installs the context for this thread
    (TFF's context stack is thread-local) and closes the channels on exit.
    """

    def __init__(self, workers: Sequence[WorkerAddress], *, timeout_s: float,
                 connect_timeout_s: float = 30.0,
                 describe: Callable[[WorkerAddress], str] = str) -> None:
        if not workers or not all(isinstance(w, WorkerAddress) for w in workers):
            raise ValueError(f"workers must be a non-empty sequence of WorkerAddress (see "
                             f"parse_worker_addresses); got {workers!r}")
        for name, value in (("timeout_s", timeout_s), ("connect_timeout_s", connect_timeout_s)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"{name} must be a number of seconds > 0; got {value!r}")
        import grpc  # noqa: PLC0415

        self.workers = list(workers)
        self.timeout_s = float(timeout_s)
        self._channels = []
        self.stubs = []
        stub_class = _stub_class()
        try:
            for worker in self.workers:
                channel = grpc.insecure_channel(worker.target, _CHANNEL_OPTIONS)
                self._channels.append(channel)
                try:
                    grpc.channel_ready_future(channel).result(timeout=connect_timeout_s)
                except grpc.FutureTimeoutError:
                    raise WorkerError(describe(worker), f"not reachable within "
                                      f"{connect_timeout_s:g} s (is `worker_binary "
                                      f"--port={worker.port}` running there?)") from None
                self.stubs.append(stub_class(channel, describe(worker), self.timeout_s))
        except BaseException:
            self.close()
            raise
        self.context = self._build_context()
        _REMOTE_CONTEXTS.add(self.context)
        self._installed: contextlib.AbstractContextManager | None = None

    def _build_context(self) -> Any:
        if len(self.stubs) == 1:
            return _sync_context(self.stubs[0])
        return _multi_worker_context(self.stubs)

    def close(self) -> None:
        """Closes the gRPC channels (the workers keep running)."""
        for channel in self._channels:
            channel.close()
        self._channels = []

    def __enter__(self) -> RemoteExecution:
        tff = import_tff()
        self._installed = tff.framework.get_context_stack().install(self.context)
        self._installed.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._installed is not None:
                self._installed.__exit__(None, None, None)
                self._installed = None
        finally:
            self.close()


@contextlib.contextmanager
def remote_execution(workers: Sequence[WorkerAddress], *, timeout_s: float,
                     describe: Callable[[WorkerAddress], str] = str
                     ) -> Iterator[RemoteExecution]:
    """Runs TFF computations of this thread on `workers` inside the `with` block."""
    with RemoteExecution(workers, timeout_s=timeout_s, describe=describe) as execution:
        yield execution
