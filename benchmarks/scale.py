"""Scaling benchmark: 10 / 100 / 1,000 clients, and in-process vs 1 and 2 TFF worker processes.

`python -m benchmarks.scale --out=FILE.json [--data_root=../shared/data] [--quick]`
Data: FER2013 train when `--data_root` holds it, else the synthetic cohort (the JSON says which),
Dirichlet(0.5)-split into each client count. A small CNN, 1 local epoch, no augmentation.

* `clients`: for each count, R rounds with 10 clients per round and R rounds with all clients per
  round, on one freshly started loopback worker: per-round seconds (round 1 includes tracing),
  examples per round, seconds spent building the round's datasets in the driver, CPU seconds of
  the driver and of the worker during `process.next`, and the peak RSS of the driver and of the
  worker.
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
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import psutil
from absl import app, flags

# TensorFlow is imported at module level (importing it inside absl's main breaks Keras).
from benchmarks.common import PidRssSampler, emit, provenance
from emodata.partitioning import dirichlet_partition
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


def build_process() -> object:
    """FedAvg on a small CNN (about 10k parameters): client SGD 0.05, server SGD 1.0."""
    tff = import_tff()
    return build_fed_avg(
        lambda: build_face_cnn(width=8, depth=2, convs_per_block=1, dense_units=32,
                               dropout=0.0, num_classes=7, seed=SEED),
        client_optimizer=tff.learning.optimizers.build_sgdm(0.05),
        server_optimizer=tff.learning.optimizers.build_sgdm(1.0), input_spec=FACE_INPUT_SPEC)


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
               per_round: int, rounds: int) -> dict:
    """`rounds` FedAvg rounds; per-round timings, metrics and the final weights."""

    def prepare_round(round_num: int, state: object) -> round_loop.RoundInput:
        ids = sample_clients(len(clients), per_round, SEED, round_num)
        datasets = round_datasets(clients, ids, seed=SEED, round_num=round_num, batch_size=32,
                                  local_epochs=1, augment=False)
        return round_loop.RoundInput(state, datasets, {})

    def metrics_row(round_num: int, train: dict, round_input: round_loop.RoundInput,
                    timing: round_loop.RoundTiming) -> dict:
        del round_input
        return {"round": round_num, "round_time_s": timing.next_s,
                "dataset_build_s": timing.prepare_s, "clients": int(per_round),
                "driver_cpu_s": timing.measured["driver_cpu_s"],
                "workers_cpu_s": timing.measured["workers_cpu_s"],
                "examples": int(train["num_examples"]), "loss": float(train["loss"]),
                "accuracy": float(train["sparse_categorical_accuracy"])}

    state, rows = round_loop.run_rounds(process, rounds, prepare_round=prepare_round,
                                        metrics_row=metrics_row, measure_next=cpu_during)
    weights = [np.asarray(w) for w in process.get_model_weights(state).trainable]
    return {"rows": rows, "weights": weights}


def steady_round_time(rows: Sequence[dict]) -> float:
    """Median round time without round 1 (tracing), or round 1 when it is the only one."""
    times = [r["round_time_s"] for r in rows[1:]] or [rows[0]["round_time_s"]]
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


def client_count_run(process: object, clients: list, rounds: int, timeout_s: float,
                     log: Callable[[str], None]) -> dict:
    """10-per-round and all-per-round runs on one fresh worker each."""
    result: dict = {"num_clients": len(clients),
                    "examples_per_client_median": float(np.median([len(y) for _, y in clients]))}
    for mode, per_round in (("10_per_round", min(CLIENTS_PER_ROUND, len(clients))),
                            ("all_per_round", len(clients))):
        with on_workers(1, timeout_s) as pids, PidRssSampler(pids) as rss:
            run = run_rounds(process, clients, per_round, rounds)
        rows = run["rows"]
        result[mode] = {
            "round_time_s": steady_round_time(rows), "rows": rows,
            "examples_per_round": float(np.mean([r["examples"] for r in rows])),
            "seconds_per_1k_examples": 1000 * steady_round_time(rows) / rows[-1]["examples"],
            "driver_cpu_s": float(np.median([r["driver_cpu_s"] for r in rows[1:] or rows])),
            "workers_cpu_s": float(np.median([r["workers_cpu_s"] for r in rows[1:] or rows])),
            "peak_rss_mb": {k: round(v, 1) for k, v in rss.peak_mb.items()}}
        log(f"{len(clients)} clients, {mode}: {result[mode]['round_time_s']:.2f} s/round, "
            f"{result[mode]['examples_per_round']:.0f} examples, RSS {result[mode]['peak_rss_mb']}")
    return result


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
    try:
        images, labels, description = load_pool(data_root, drivers)
        result["data"] = description
        result["protocol"] = {
            "model": "CNN width 8, depth 2, 1 conv/block, dense 32, 2x2 input pooling",
            "local_epochs": 1, "batch_size": 32, "augment": False, "partition": "Dirichlet 0.5",
            "rounds_per_run": rounds, "worker_rounds": worker_rounds,
            "round_time_s": "median of rounds 2.. (round 1 includes tracing)",
            "clients_runs_execute_on": "one fresh loopback worker per run",
            "in_process": "TFF's default local context (which itself runs one worker_binary)"}
        process = build_process()
        result["clients"] = {}
        for count in counts:
            clients = split(images, labels, count)
            result["clients"][str(count)] = client_count_run(
                process, clients, rounds, FLAGS.worker_timeout_s, print)
        result["workers"] = workers_comparison(
            process, split(images, labels, CLIENTS_PER_ROUND), worker_rounds,
            FLAGS.worker_timeout_s, print)
    finally:
        shutdown_tff_workers()
    result["wall_time_s"] = round(time.time() - started, 1)
    emit(result, FLAGS.out)


if __name__ == "__main__":
    app.run(main)
