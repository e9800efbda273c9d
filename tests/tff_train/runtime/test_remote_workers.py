"""TFF on worker processes: --workers parsing, the loopback launcher, remote contexts, failures."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import psutil
import pytest

from tff_train.runtime.tff_runtime import WORKER_NAME
from tff_train.runtime.worker_addresses import WorkerAddress, parse_worker_addresses
from tff_train.runtime.worker_launcher import LocalWorkers
from tff_train.runtime.worker_session import worker_session


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# --- --workers parsing -------------------------------------------------------------------------

def test_parse_worker_addresses_accepts_names_ipv4_and_ipv6():
    assert parse_worker_addresses("localhost:8000, 10.0.0.2:8001,[::1]:9000") == [
        WorkerAddress("localhost", 8000), WorkerAddress("10.0.0.2", 8001),
        WorkerAddress("::1", 9000)]
    assert str(WorkerAddress("::1", 9000)) == "[::1]:9000"


@pytest.mark.parametrize(("text", "message"), [
    ("", r"--workers must list at least one worker as comma-separated HOST:PORT.*got ''"),
    ("localhost", r"--workers: expected HOST:PORT .*got entry 'localhost' of 'localhost'"),
    ("localhost:", r"--workers: expected a port in 1-65535; got port ''"),
    ("localhost:0", r"--workers: expected a port in 1-65535; got port '0'"),
    ("localhost:70000", r"expected a port in 1-65535; got port '70000'"),
    ("localhost:80a", r"expected a port in 1-65535; got port '80a'"),
    ("a:1,,b:2", r"--workers: expected HOST:PORT .*got entry '' of 'a:1,,b:2'"),
    ("::1:8000", r"expected IPv6 hosts in brackets"),
    ("bad_host!:80", r"expected a host name or IP address; got host 'bad_host!'"),
    ("a:1,a:1", r"--workers lists worker a:1 twice"),
])
def test_bad_worker_strings_name_argument_expectation_and_input(text, message):
    with pytest.raises(ValueError, match=message):
        parse_worker_addresses(text)


def test_parse_names_the_given_argument():
    with pytest.raises(ValueError, match="^--peers: expected HOST:PORT"):
        parse_worker_addresses("nope", argument="--peers")


def test_worker_session_rejects_both_sources_and_negative_counts():
    with pytest.raises(ValueError, match="--workers and --local_workers are exclusive"), \
            worker_session(workers="localhost:1", local_workers=2):
        pass
    with pytest.raises(ValueError, match="--local_workers must be an int >= 0; got -1"), \
            worker_session(local_workers=-1):
        pass
    with worker_session() as execution:
        assert execution is None


def test_launcher_validates_inputs():
    with pytest.raises(ValueError, match=r"n \(number of local workers\) must be an int >= 1"):
        LocalWorkers(0)
    with pytest.raises(ValueError, match="startup_timeout_s must be > 0 seconds; got 0"):
        LocalWorkers(1, startup_timeout_s=0)


# --- the launcher ------------------------------------------------------------------------------

def test_launcher_starts_answering_workers_and_stops_them_all(tmp_path):
    import grpc

    with LocalWorkers(2, log_dir=tmp_path) as workers:
        pids = workers.pids
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        assert [a.host for a in workers.addresses] == ["127.0.0.1"] * 2
        assert len({a.port for a in workers.addresses}) == 2
        for address in workers.addresses:
            with grpc.insecure_channel(address.target) as channel:
                grpc.channel_ready_future(channel).result(timeout=5)
        assert f"(pid {pids[0]}, log" in workers.describe(workers.addresses[0])
    assert not any(_alive(p) for p in pids)
    assert workers.stop() == 0  # idempotent


def test_launcher_stops_its_workers_when_the_driver_raises(tmp_path):
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="driver failed"), LocalWorkers(2, log_dir=tmp_path) as w:
        pids = w.pids
        assert all(_alive(p) for p in pids)
        raise RuntimeError("driver failed")
    assert len(pids) == 2
    assert not any(_alive(p) for p in pids)


def test_launcher_stops_its_workers_on_ctrl_c(tmp_path):
    pids: list[int] = []
    with pytest.raises(KeyboardInterrupt), LocalWorkers(1, log_dir=tmp_path) as w:
        pids = w.pids
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # interrupted by the SIGINT above
    assert pids and not any(_alive(p) for p in pids)


def test_launcher_escalates_to_sigkill_for_a_worker_ignoring_sigint(tmp_path):
    workers = LocalWorkers(1, log_dir=tmp_path, stop_timeout_s=0.5).start()
    pid = workers.pids[0]
    os.kill(pid, signal.SIGSTOP)  # a stopped process cannot act on SIGINT
    assert workers.stop() == 1
    assert not _alive(pid)


# --- remote execution --------------------------------------------------------------------------

def _tiny_fed_avg_run(rounds: int = 2, aggregation: dict | None = None
                      ) -> tuple[dict, list[np.ndarray]]:
    """Two FedAvg rounds of a tiny CNN on 5 fixed clients: (last metrics, trainable weights)."""
    import tensorflow as tf

    from tff_train.face.input_pipeline import FACE_INPUT_SPEC
    from tff_train.face.model import build_face_cnn
    from tff_train.learning.fed_avg import build_fed_avg
    from tff_train.runtime.tff_runtime import import_tff

    tff = import_tff()
    rng = np.random.default_rng(0)
    datasets = [tf.data.Dataset.from_tensor_slices((
        rng.random((n, 48, 48, 1), dtype=np.float32),
        rng.integers(0, 7, n).astype(np.int32))).batch(4) for n in (8, 12, 4, 16, 8)]
    process = build_fed_avg(
        lambda: build_face_cnn(width=4, depth=1, convs_per_block=1, dense_units=8, dropout=0.0,
                               num_classes=7, seed=0),
        client_optimizer=tff.learning.optimizers.build_sgdm(0.1),
        server_optimizer=tff.learning.optimizers.build_sgdm(1.0), input_spec=FACE_INPUT_SPEC,
        **_aggregator_kwargs(aggregation))
    state = process.initialize()
    for _ in range(rounds):
        output = process.next(state, datasets)
        state = output.state
    metrics = {k: float(v) for k, v in output.metrics["client_work"]["train"].items()}
    return metrics, [np.asarray(w) for w in process.get_model_weights(state).trainable]


def _aggregator_kwargs(aggregation: dict | None) -> dict:
    if not aggregation:
        return {}
    from tff_train.aggregators.options import build_model_aggregator

    factory, weighted = build_model_aggregator(aggregation)
    return {"model_aggregator": factory, "weighted": weighted}


@pytest.mark.slow
@pytest.mark.parametrize("aggregation", [
    {"robust": "median", "clip_norm": 1.0},  # stacked client rows merged across the workers
    {"quantization_bits": 8},
    {"robust": "multi_krum", "trim_fraction": 0.2},
])
def test_two_workers_equal_in_process_for_robust_and_compressed_aggregation(aggregation):
    expected_metrics, expected_weights = _tiny_fed_avg_run(rounds=1, aggregation=aggregation)
    with worker_session(local_workers=2, timeout_s=120, log=lambda _: None):
        metrics, weights = _tiny_fed_avg_run(rounds=1, aggregation=aggregation)
    assert metrics == pytest.approx(expected_metrics, rel=1e-5)
    for got, want in zip(weights, expected_weights, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def in_process_run() -> tuple[dict, list[np.ndarray]]:
    return _tiny_fed_avg_run()


@pytest.mark.slow
@pytest.mark.parametrize("num_workers", [1, 2])
def test_loopback_workers_equal_the_in_process_run(tmp_path, in_process_run, num_workers):
    expected_metrics, expected_weights = in_process_run
    with worker_session(local_workers=num_workers, timeout_s=120, log=lambda _: None) as ex:
        metrics, weights = _tiny_fed_avg_run()
        calls = [dict(stub.calls) for stub in ex.stubs]
    assert metrics["num_examples"] == expected_metrics["num_examples"] == 48
    for key, value in expected_metrics.items():
        assert metrics[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    for got, want in zip(weights, expected_weights, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # Every worker ran client work (CreateCall), i.e. the clients were split between them.
    assert len(calls) == num_workers and all(c.get("CreateCall", 0) > 0 for c in calls)


def test_a_dead_worker_fails_the_round_with_an_error_naming_it(tmp_path):
    from tff_train.runtime.remote_execution import WorkerError

    with LocalWorkers(2, log_dir=tmp_path) as workers, \
            worker_session(workers=",".join(map(str, workers.addresses)), timeout_s=60,
                           log=lambda _: None):
        victim, pid = workers.addresses[1], workers.pids[1]
        os.kill(pid, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(WorkerError, match=f"TFF worker {victim}: .*unavailable"):
            _tiny_fed_avg_run(rounds=1)
        assert time.monotonic() - started < 60


def test_a_dead_local_worker_is_named_with_its_pid(tmp_path):
    from tff_train.runtime.remote_execution import RemoteExecution, WorkerError

    with LocalWorkers(1, log_dir=tmp_path) as workers, \
            RemoteExecution(workers.addresses, timeout_s=60, describe=workers.describe):
        address, pid = workers.addresses[0], workers.pids[0]
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(WorkerError, match=rf"TFF worker {address} \(pid {pid}, log .*\)"):
            _tiny_fed_avg_run(rounds=1)


def test_a_hung_worker_fails_within_the_timeout_instead_of_hanging(tmp_path):
    from tff_train.runtime.remote_execution import RemoteExecution, WorkerError

    with LocalWorkers(1, log_dir=tmp_path) as workers, \
            RemoteExecution(workers.addresses, timeout_s=3, describe=workers.describe):
        os.kill(workers.pids[0], signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(WorkerError, match=r"no answer within the worker timeout of 3 s"):
            _tiny_fed_avg_run(rounds=1)
        assert time.monotonic() - started < 30


def test_unreachable_worker_is_named_at_connect_time():
    from tff_train.runtime.remote_execution import RemoteExecution, WorkerError
    from tff_train.runtime.worker_launcher import free_loopback_port

    address = WorkerAddress("127.0.0.1", free_loopback_port())
    with pytest.raises(WorkerError, match=rf"TFF worker {address}: not reachable within 1 s"):
        RemoteExecution([address], timeout_s=5, connect_timeout_s=1)


@pytest.mark.slow
def test_face_training_resumes_from_the_checkpoint_once_workers_are_back(tmp_path):
    from configs import face_smoke
    from tff_train.face.trainer import run_face_training
    from tff_train.learning import checkpointing
    from tff_train.runtime.remote_execution import RemoteExecution, WorkerError

    config = face_smoke.get_config()
    config.train.rounds = 1
    config.personalization.steps = 0
    quiet = {"log": lambda _: None}
    with worker_session(local_workers=2, timeout_s=120, **quiet):
        run_face_training(config, tmp_path / "run", **quiet)
    config.train.rounds = 2
    with LocalWorkers(2, log_dir=tmp_path) as workers, \
            RemoteExecution(workers.addresses, timeout_s=120, describe=workers.describe):
        os.kill(workers.pids[0], signal.SIGKILL)
        with pytest.raises(WorkerError, match=f"TFF worker {workers.addresses[0]} "):
            run_face_training(config, tmp_path / "run", resume=True, **quiet)
    assert len(checkpointing.list_checkpoints(tmp_path / "run" / "checkpoints")) == 1
    with worker_session(local_workers=2, timeout_s=120, **quiet):
        results = run_face_training(config, tmp_path / "run", resume=True, **quiet)
    assert [r["round"] for r in results["rows"]] == [1, 2]


@pytest.mark.slow
def test_per_client_results_keep_client_order_on_two_workers(tmp_path):
    from tff_train.runtime.tff_runtime import import_tff

    tff = import_tff()

    @tff.tensorflow.computation(np.float32)
    def double(x):  # noqa: ANN001, ANN202
        return x * 2.0

    @tff.federated_computation(tff.FederatedType(np.float32, tff.CLIENTS))
    def per_client(values):  # noqa: ANN001, ANN202
        return tff.federated_map(double, values)

    values = [float(v) for v in range(7)]
    with worker_session(local_workers=2, timeout_s=60, log=lambda _: None):
        for _ in range(3):
            assert [float(v) for v in per_client(values)] == [2 * v for v in values]


def test_secure_aggregation_refuses_to_run_silently_in_process_on_workers(tmp_path):
    from tff_train.aggregators.privacy import secure_simulation_context
    from tff_train.runtime.remote_execution import remote_context_installed

    assert not remote_context_installed()
    with worker_session(local_workers=1, timeout_s=60, log=lambda _: None):
        assert remote_context_installed()
        with pytest.raises(ValueError, match=r"aggregation.secure=True\) runs in TFF's in-process "
                                             "secure-sum simulation.*expected no --workers"), \
                secure_simulation_context():
            pass
    assert not remote_context_installed()


def _local_worker_pids() -> list[int]:
    return [p.pid for p in psutil.Process().children(recursive=True)
            if p.name() == WORKER_NAME and _alive(p.pid)]


@pytest.mark.slow
def test_worker_retries_reopen_the_workers_and_resume_from_the_checkpoint(tmp_path):
    from configs import face_smoke
    from tff_train.face.trainer import run_face_training
    from tff_train.runtime.worker_session import run_with_worker_retries

    one, two = face_smoke.get_config(), face_smoke.get_config()
    one.train.rounds, two.train.rounds = 1, 2
    one.personalization.steps = two.personalization.steps = 0
    quiet = {"log": lambda _: None}
    calls, messages = [], []
    before = set(_local_worker_pids())  # e.g. TFF's own in-process worker from earlier tests

    def run(resume):
        calls.append(resume)
        if len(calls) == 1:  # round 1 completes, then a worker dies before round 2
            run_face_training(one, tmp_path / "run", **quiet)
            session_workers = [pid for pid in _local_worker_pids() if pid not in before]
            assert len(session_workers) == 2
            os.kill(session_workers[0], signal.SIGKILL)
        return run_face_training(two, tmp_path / "run", resume=True, **quiet)

    results = run_with_worker_retries(run, retries=1, retry_wait_s=0, local_workers=2,
                                      timeout_s=60, log=messages.append)
    assert calls == [False, True]
    assert [r["round"] for r in results["rows"]] == [1, 2]
    assert any("TFF worker 127.0.0.1:" in m and "retry 1 of 1" in m for m in messages)
    assert set(_local_worker_pids()) <= before  # the session's workers are all gone


def test_worker_retries_give_up_with_the_last_error(tmp_path):
    from tff_train.runtime.remote_execution import WorkerError
    from tff_train.runtime.worker_session import run_with_worker_retries

    calls = []

    def run(resume):
        calls.append(resume)
        raise WorkerError(f"127.0.0.1:{len(calls)}", "gone")

    with pytest.raises(WorkerError, match=r"TFF worker 127.0.0.1:3: gone"):
        run_with_worker_retries(run, retries=2, retry_wait_s=0, log=lambda _: None)
    assert calls == [False, True, True]
    with pytest.raises(ValueError, match=r"--worker_retries must be an int >= 0; got -1"):
        run_with_worker_retries(run, retries=-1)
