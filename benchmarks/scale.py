"""Scaling benchmark: 10 / 100 / 1,000 clients, and in-process vs 1 and 2 TFF worker processes.

`python -m benchmarks.scale --out=FILE.json [--data_root=../shared/data] [--quick]`
Data: FER2013 train when `--data_root` holds it, else the synthetic cohort (the JSON says which),
Dirichlet(0.5)-split into each client count. A small CNN, 1 local epoch, no augmentation.

* `clients`: for each count and each client-data path (`PATHS`: the datasets built in the
  driver with TFF's `DatasetReduce` client loop, as before; the same with the iterator loop; the
  datasets built on the worker from client ids, `tff_train.face.client_store`), R rounds with 10
  clients per round and R rounds with all clients per round, on one freshly started loopback
  worker: per-round seconds (round 1 includes tracing) of preparing the round's client data in
  the driver and of `process.next`, examples per round, CPU seconds of the driver and of the
  worker during `process.next`, and the peak RSS of the driver and of the worker.
* `profile`: where the per-client cost goes, in ms per client over all clients of the largest
  count: the executor's floor (a trivial computation per client), moving a client dataset into
  the call (a computation that only counts its elements) from the driver vs from the store, the
  training loop's fixed cost (every client holding one example) with each loop, and building
  the round's datasets vs requests in the driver.
* `workers`: the same 10-client run in-process (TFF's default local context), on 1 and on 2
  loopback workers: steady-state round time, final loss, largest absolute difference of the
  final weights and metrics from the in-process run, and time ratio to it.
"""

from __future__ import annotations

import sys

from emocore.cli_output import quiet_unless_verbose

# ruff: noqa: E402 (the imports below follow the quiet-output call on purpose)
if __name__ == "__main__":  # before anything imports TensorFlow: quiet its console output
    quiet_unless_verbose(sys.argv)

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import psutil
from absl import app, flags

# TensorFlow is imported at module level (importing it inside absl's main breaks Keras).
from benchmarks.common import PidRssSampler, emit, provenance
from emodata.partitioning import dirichlet_partition
from tff_train.face.client_store import ClientStore, write_client_store
from tff_train.face.input_pipeline import FACE_INPUT_SPEC, round_datasets
from tff_train.face.model import build_face_cnn
from tff_train.learning import rounds as round_loop
from tff_train.learning.client_sampling import sample_clients
from tff_train.learning.fed_avg import build_fed_avg
from tff_train.runtime.remote_execution import RemoteExecution
from tff_train.runtime.tff_runtime import import_tff, shutdown_tff_workers
from tff_train.runtime.worker_launcher import LocalWorkers

SEED = 0
CLIENTS_PER_ROUND = 10
BATCH_SIZE = 32
# client-data path -> (where the datasets are built, the clients' training loop)
PATHS = {"driver_datasets_reduce_loop": ("driver", "reduce"),
         "driver_datasets": ("driver", "iterator"),
         "client_store": ("store", "iterator")}

if __name__ == "__main__":
    flags.DEFINE_string("data_root", "", "Folder holding fer2013/ (else: synthetic cohort).")
    flags.DEFINE_string("out", None, "Write the JSON result here too.")
    flags.DEFINE_string("client_counts", "10,100,1000", "Client counts to split the data into.")
    flags.DEFINE_integer("rounds", 2, "Rounds per client-count run (round 1 includes tracing).")
    flags.DEFINE_integer("worker_rounds", 3, "Rounds of the in-process vs workers comparison.")
    flags.DEFINE_integer("synthetic_drivers", 24, "Cohort size when FER2013 is not used.")
    flags.DEFINE_float("worker_timeout_s", 1800.0, "Per-call timeout of the remote workers.")
    flags.DEFINE_bool("quick", False, "Smoke run: tiny synthetic data, counts 10,40, 2 rounds.")
FLAGS = flags.FLAGS


def load_pool(data_root: str, synthetic_drivers: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """(uint8[N,48,48] images, int labels, description): FER2013 train or the synthetic cohort."""
    if data_root:
        from emodata.fer2013 import fer2013_path

        with contextlib.suppress(FileNotFoundError):
            from emodata.fer2013 import load_fer2013  # noqa: PLC0415

            path = fer2013_path(data_root)
            train = load_fer2013(path).split("train")
            return train.images, train.labels, {"source": "fer2013", "path": str(path),
                                                "examples": len(train.labels)}
    from emodata.synthetic_cohort import face_dataset, generate_cohort  # noqa: PLC0415

    faces = face_dataset(generate_cohort(synthetic_drivers, seed=SEED))
    return faces.images, faces.labels, {
        "source": "synthetic", "drivers": synthetic_drivers, "examples": len(faces.labels),
        "why": "no FER2013 under --data_root" if data_root else "--data_root not given"}


def split(images: np.ndarray, labels: np.ndarray, num_clients: int
          ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Dirichlet(0.5) label-skewed clients (all examples used for training)."""
    parts = dirichlet_partition(labels, num_clients, alpha=0.5, val_fraction=0.0, seed=SEED)
    return [(images[p.train_indices], labels[p.train_indices]) for p in parts]


def build_process(client_loop: str = "reduce", store: ClientStore | None = None) -> object:
    """FedAvg on a small CNN (about 10k parameters): client SGD 0.05, server SGD 1.0; with a
    `store`, its `next` takes `ClientRequest`s instead of datasets."""
    tff = import_tff()
    process = build_fed_avg(
        lambda: build_face_cnn(width=8, depth=2, convs_per_block=1, dense_units=32,
                               dropout=0.0, num_classes=7, seed=SEED),
        client_optimizer=tff.learning.optimizers.build_sgdm(0.05),
        server_optimizer=tff.learning.optimizers.build_sgdm(1.0), input_spec=FACE_INPUT_SPEC,
        client_loop=client_loop)
    if store is None:
        return process
    return store.compose(process, batch_size=BATCH_SIZE, augment=False, prior_correction=False)


def round_client_data(clients: Sequence[tuple[np.ndarray, np.ndarray]], ids: np.ndarray,
                      round_num: int, store: ClientStore | None) -> list:
    """The round's per-client values: datasets built here, or requests to the store."""
    if store is not None:
        return store.requests(ids, seed=SEED, round_num=round_num, local_epochs=1)
    return round_datasets(clients, ids, seed=SEED, round_num=round_num, batch_size=BATCH_SIZE,
                          local_epochs=1, augment=False)


def cpu_seconds() -> dict:
    """User + system CPU seconds of this process and of each child process (TFF workers)."""
    me = psutil.Process()
    children = {}
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            children[child.pid] = sum(child.cpu_times()[:2])
    return {"driver": sum(me.cpu_times()[:2]), "children": children}


@contextlib.contextmanager
def cpu_during() -> Iterator[dict]:
    """Yields a dict that gets the driver's and the workers' CPU seconds spent inside the block."""
    measured: dict = {}
    before = cpu_seconds()
    yield measured
    after = cpu_seconds()
    measured["driver_cpu_s"] = after["driver"] - before["driver"]
    measured["workers_cpu_s"] = sum(after["children"].get(pid, 0.0) - t
                                    for pid, t in before["children"].items())


def run_rounds(process: object, clients: Sequence[tuple[np.ndarray, np.ndarray]],
               per_round: int, rounds: int, store: ClientStore | None = None) -> dict:
    """`rounds` FedAvg rounds; per-round timings, metrics and the final weights (`store`: the
    process takes requests to it, see `build_process`)."""

    def prepare_round(round_num: int, state: object) -> round_loop.RoundInput:
        ids = sample_clients(len(clients), per_round, SEED, round_num)
        return round_loop.RoundInput(state, round_client_data(clients, ids, round_num, store),
                                     {})

    def metrics_row(round_num: int, train: dict, round_input: round_loop.RoundInput,
                    timing: round_loop.RoundTiming) -> dict:
        del round_input
        return {"round": round_num, "round_time_s": timing.next_s,
                "dataset_build_s": timing.prepare_s,
                "round_with_build_s": timing.prepare_s + timing.next_s, "clients": int(per_round),
                "driver_cpu_s": timing.measured["driver_cpu_s"],
                "workers_cpu_s": timing.measured["workers_cpu_s"],
                "examples": int(train["num_examples"]), "loss": float(train["loss"]),
                "accuracy": float(train["sparse_categorical_accuracy"])}

    state, rows = round_loop.run_rounds(process, rounds, prepare_round=prepare_round,
                                        metrics_row=metrics_row, measure_next=cpu_during)
    weights = [np.asarray(w) for w in process.get_model_weights(state).trainable]
    return {"rows": rows, "weights": weights}


def steady_round_time(rows: Sequence[dict], key: str = "round_time_s") -> float:
    """Median `key` without round 1 (tracing), or round 1's when it is the only one."""
    times = [r[key] for r in rows[1:]] or [rows[0][key]]
    return float(np.median(times))


@contextlib.contextmanager
def on_workers(n: int, timeout_s: float) -> Iterator[dict[str, int]]:
    """Runs TFF on `n` fresh loopback workers (n=0: in-process); yields {name: pid} to sample."""
    pids = {"driver": os.getpid()}
    if n == 0:
        yield pids
        return
    with LocalWorkers(n) as workers, RemoteExecution(workers.addresses, timeout_s=timeout_s,
                                                     describe=workers.describe):
        pids.update({f"worker_{i}": pid for i, pid in enumerate(workers.pids)})
        yield pids


def client_count_run(clients: list, store: ClientStore, rounds: int, timeout_s: float,
                     log: Callable[[str], None]) -> dict:
    """For each client-data path: 10-per-round and all-per-round runs on one fresh worker each
    (`store`: the same `clients` written by `write_client_store`)."""
    result: dict = {"num_clients": len(clients),
                    "examples_per_client_median": float(np.median([len(y) for _, y in clients]))}
    for path, (built_in, client_loop) in PATHS.items():
        path_store = store if built_in == "store" else None
        process = build_process(client_loop, path_store)
        result[path] = {}
        for mode, per_round in (("10_per_round", min(CLIENTS_PER_ROUND, len(clients))),
                                ("all_per_round", len(clients))):
            with on_workers(1, timeout_s) as pids, PidRssSampler(pids) as rss:
                run = run_rounds(process, clients, per_round, rounds, path_store)
            rows = run["rows"]
            steady = rows[1:] or rows
            out = result[path][mode] = {
                "round_time_s": steady_round_time(rows),
                "round_with_build_s": steady_round_time(rows, "round_with_build_s"),
                "dataset_build_s": steady_round_time(rows, "dataset_build_s"), "rows": rows,
                "examples_per_round": float(np.mean([r["examples"] for r in rows])),
                "seconds_per_1k_examples": 1000 * steady_round_time(rows) / rows[-1]["examples"],
                "driver_cpu_s": float(np.median([r["driver_cpu_s"] for r in steady])),
                "workers_cpu_s": float(np.median([r["workers_cpu_s"] for r in steady])),
                "peak_rss_mb": {k: round(v, 1) for k, v in rss.peak_mb.items()}}
            log(f"{len(clients)} clients, {path}, {mode}: next {out['round_time_s']:.2f} s + "
                f"build {out['dataset_build_s']:.2f} s, {out['examples_per_round']:.0f} examples, "
                f"RSS {out['peak_rss_mb']}")
    return result


def _timed(fn: Callable[[], object], num_clients: int) -> dict:
    """Wall and worker-CPU milliseconds per client of `fn()` (run once untimed to trace)."""
    fn()
    with cpu_during() as cpu:
        started = time.perf_counter()
        fn()
        wall = time.perf_counter() - started
    return {"wall_ms_per_client": 1000 * wall / num_clients,
            "worker_cpu_ms_per_client": 1000 * cpu["workers_cpu_s"] / num_clients,
            "driver_cpu_ms_per_client": 1000 * cpu["driver_cpu_s"] / num_clients}


def profile_per_client_cost(clients: list, store: ClientStore, timeout_s: float,
                            log: Callable[[str], None]) -> dict:
    """Per-client cost of each piece of a round over all `clients` (see the module docstring;
    `store`: the same clients written by `write_client_store`)."""
    tff = import_tff()
    n = len(clients)
    ids = np.arange(n)
    batch_type = (tff.TensorType(np.float32, [None, 48, 48, 1]), tff.TensorType(np.int32, [None]))

    @tff.tensorflow.computation(np.int32)
    def plus_one(x):  # noqa: ANN001, ANN202
        return x + 1

    @tff.federated_computation(tff.FederatedType(np.int32, tff.CLIENTS))
    def trivial(xs):  # noqa: ANN001, ANN202
        return tff.federated_sum(tff.federated_map(plus_one, xs))

    @tff.tensorflow.computation(tff.SequenceType(batch_type))
    def count(ds):  # noqa: ANN001, ANN202
        return ds.reduce(np.int32(0), lambda c, _: c + 1)

    @tff.federated_computation(tff.FederatedType(tff.SequenceType(batch_type), tff.CLIENTS))
    def count_batches(datasets):  # noqa: ANN001, ANN202
        return tff.federated_sum(tff.federated_map(count, datasets))

    count_from_store = tff.simulation.compose_dataset_computation_with_computation(
        store.dataset_computation(batch_size=BATCH_SIZE, augment=False, prior_correction=False),
        count_batches)
    datasets = round_client_data(clients, ids, 1, None)
    requests = round_client_data(clients, ids, 1, store)
    one_example = [(x[:1], y[:1]) for x, y in clients]
    tiny = round_client_data(one_example, ids, 1, None)
    out: dict = {"num_clients": n}
    with on_workers(1, timeout_s):
        out["executor_floor"] = _timed(lambda: trivial(list(range(n))), n)
        out["dataset_into_call_from_driver"] = _timed(lambda: count_batches(datasets), n)
        out["dataset_into_call_from_store"] = _timed(lambda: count_from_store(requests), n)
        for loop in ("reduce", "iterator"):
            process = build_process(loop)
            state = process.initialize()
            out[f"one_example_clients_{loop}_loop"] = _timed(
                lambda p=process, s=state: p.next(s, tiny), n)
    for name, build in (("build_datasets_in_driver", lambda: round_client_data(
            clients, ids, 2, None)), ("build_requests_in_driver", lambda: round_client_data(
            clients, ids, 2, store))):
        started = time.perf_counter()
        build()
        out[name] = {"wall_ms_per_client": 1000 * (time.perf_counter() - started) / n}
    for key, value in out.items():
        if isinstance(value, dict):
            log(f"profile {key}: " + ", ".join(f"{k} {v:.2f}" for k, v in value.items()))
    return out


def workers_comparison(process: object, clients: list, rounds: int, timeout_s: float,
                       log: Callable[[str], None]) -> dict:
    """The same run in-process and on 1 and 2 loopback workers."""
    runs = {}
    for name, n in (("in_process", 0), ("1", 1), ("2", 2)):
        with on_workers(n, timeout_s):
            runs[name] = run_rounds(process, clients, CLIENTS_PER_ROUND, rounds)
    base = runs["in_process"]
    out = {}
    for name, run in runs.items():
        weight_diff = max(float(np.max(np.abs(a - b)))
                          for a, b in zip(run["weights"], base["weights"], strict=True))
        metric_diff = max(abs(r[k] - b[k]) for r, b in zip(run["rows"], base["rows"], strict=True)
                          for k in ("loss", "accuracy", "examples"))
        out[name] = {"round_time_s": steady_round_time(run["rows"]),
                     "final_loss": run["rows"][-1]["loss"],
                     "max_abs_weight_diff_vs_in_process": weight_diff,
                     "max_abs_metric_diff_vs_in_process": metric_diff,
                     "time_ratio_vs_in_process": steady_round_time(run["rows"])
                     / steady_round_time(base["rows"]),
                     "rows": run["rows"]}
        log(f"workers={name}: {out[name]['round_time_s']:.2f} s/round, weight diff "
            f"{weight_diff:.2e}, metric diff {metric_diff:.2e}")
    return out


def summarise(runs: dict, counts: Sequence[int]) -> dict:
    """All-clients round seconds (with the driver's build) of each path and count, and the
    largest count's ratio to the smallest's (the issue's target: <= 2)."""
    lo, hi = str(min(counts)), str(max(counts))
    out: dict = {"all_per_round_round_with_build_s": {
        path: {c: runs[c][path]["all_per_round"]["round_with_build_s"] for c in runs}
        for path in PATHS}}
    out["ratio_largest_vs_smallest_count"] = {
        path: times[hi] / times[lo] for path, times in out["all_per_round_round_with_build_s"]
        .items()}
    before = out["all_per_round_round_with_build_s"]["driver_datasets_reduce_loop"][lo]
    out["ratio_largest_count_vs_smallest_before"] = {
        path: times[hi] / before for path, times in out["all_per_round_round_with_build_s"]
        .items()}
    # Each count with its fastest path (the client loop is a per-run choice).
    best = {c: min((times[c], path) for path, times in
                   out["all_per_round_round_with_build_s"].items()) for c in (lo, hi)}
    out["fastest_path"] = {c: {"path": path, "round_with_build_s": s}
                           for c, (s, path) in best.items()}
    out["ratio_largest_vs_smallest_count_fastest_paths"] = best[hi][0] / best[lo][0]
    return out


def main(argv: Sequence[str]) -> None:
    del argv
    import_tff()
    started = time.time()
    counts = [int(c) for c in FLAGS.client_counts.split(",")]
    rounds, worker_rounds, drivers = FLAGS.rounds, FLAGS.worker_rounds, FLAGS.synthetic_drivers
    data_root = FLAGS.data_root
    if FLAGS.quick:
        counts, rounds, worker_rounds, drivers, data_root = [10, 40], 2, 2, 3, ""
    if not data_root or not Path(data_root).exists():
        data_root = ""
    result: dict = {"provenance": provenance(), "quick": FLAGS.quick}
    scratch = tempfile.TemporaryDirectory(prefix="fedmultiemo_scale_")
    try:
        images, labels, description = load_pool(data_root, drivers)
        result["data"] = description
        result["protocol"] = {
            "model": "CNN width 8, depth 2, 1 conv/block, dense 32, full 48x48 input",
            "local_epochs": 1, "batch_size": BATCH_SIZE, "augment": False,
            "partition": "Dirichlet 0.5",
            "client_data_paths": {k: {"datasets_built_in": v[0], "client_loop": v[1]}
                                  for k, v in PATHS.items()},
            "rounds_per_run": rounds, "worker_rounds": worker_rounds,
            "round_time_s": "median of rounds 2.. (round 1 includes tracing)",
            "clients_runs_execute_on": "one fresh loopback worker per run",
            "in_process": "TFF's default local context (which itself runs one worker_binary)"}
        result["clients"] = {}
        largest = None  # (clients, store) of the largest count, for the profile
        for count in counts:
            clients = split(images, labels, count)
            store = write_client_store(Path(scratch.name) / f"store_{count}", clients)
            result["clients"][str(count)] = client_count_run(
                clients, store, rounds, FLAGS.worker_timeout_s, print)
            if count == max(counts):
                largest = (clients, store)
        result["summary"] = summarise(result["clients"], counts)
        result["profile"] = profile_per_client_cost(*largest, FLAGS.worker_timeout_s, print)
        result["workers"] = workers_comparison(
            build_process(), split(images, labels, CLIENTS_PER_ROUND), worker_rounds,
            FLAGS.worker_timeout_s, print)
    finally:
        shutdown_tff_workers()
        scratch.cleanup()
    result["wall_time_s"] = round(time.time() - started, 1)
    emit(result, FLAGS.out)


if __name__ == "__main__":
    app.run(main)
