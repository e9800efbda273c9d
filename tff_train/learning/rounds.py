"""The one federated rounds loop: `process.next` per round, metric rows, evaluation, checkpoints.

`run_rounds` owns the loop (initialise or resume, time each `process.next`, build the round's
metric row, evaluate, checkpoint, write rows); what a round trains on (`prepare_round`), what
its row holds (`metrics_row`), how it is evaluated (`evaluate`) and what else is measured around
`process.next` (`measure_next`) are arguments, so the face trainer and the scale benchmark run
the same loop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import tensorflow as tf
import tqdm

from tff_train.learning import checkpointing, workdir_io


@dataclasses.dataclass(frozen=True)
class RoundInput:
    """What `prepare_round` returns for one round."""

    state: Any  # the server state to train from (e.g. with new hyperparameters set)
    client_data: list  # the per-client values `process.next` takes (one per participating client)
    info: dict  # anything `metrics_row` needs about the round (e.g. the client ids)


@dataclasses.dataclass(frozen=True)
class RoundTiming:
    """Wall seconds of one round: preparing its input, and `process.next`; plus `measure_next`."""

    prepare_s: float
    next_s: float
    measured: dict  # what `measure_next` recorded around `process.next` ({} without it)


@dataclasses.dataclass(frozen=True)
class RoundOutputs:
    """Where `run_rounds` writes: checkpoints (with the rows, for resume), a CSV, TensorBoard."""

    checkpoint_dir: Path | None = None  # round_*.npz after every round
    metrics_csv: Path | None = None  # all rows so far, rewritten after every round
    tensorboard_dir: Path | None = None  # every numeric row value but "round" as a scalar


@contextlib.contextmanager
def _no_measure() -> Iterator[dict]:
    yield {}


def _check_positive(name: str, value: int) -> None:
    if not (isinstance(value, int) and value >= 1):
        raise ValueError(f"{name} must be an int >= 1; got {value!r}")


def run_rounds(process: Any, rounds: int, *,
               prepare_round: Callable[[int, Any], RoundInput],
               metrics_row: Callable[[int, Any, RoundInput, RoundTiming], dict],
               evaluate: Callable[[int, Any], dict] | None = None, eval_every: int = 1,
               outputs: RoundOutputs | None = None, resume: bool = False,
               measure_next: Callable[[], contextlib.AbstractContextManager[dict]] | None = None,
               progress: Callable[[dict], dict] | None = None,
               after_round: Callable[[int], None] | None = None,
               log: Callable[[str], None] = print) -> tuple[Any, list[dict]]:
    """Runs rounds 1..`rounds` of `process`; returns (final server state, one row per round).

    Round r: `prepare_round(r, state)` gives the round's input; `process.next` runs on it
    (timed, inside `measure_next()` whose dict is `RoundTiming.measured`);
    `metrics_row(r, output.metrics["client_work"]["train"], input, timing)` makes the row;
    `evaluate(r, state)` (every `eval_every` rounds and the last) adds its keys to it. Then the
    row is written to `outputs` (checkpoint holding all rows, CSV, TensorBoard) and
    `after_round(r)` runs. `resume=True` continues after the newest checkpoint in
    `outputs.checkpoint_dir` with its rows. `progress` (row -> postfix) shows a progress bar.
    """
    _check_positive("rounds", rounds)
    _check_positive("eval_every", eval_every)
    outputs = RoundOutputs() if outputs is None else outputs
    if resume and outputs.checkpoint_dir is None:
        raise ValueError("resume=True needs outputs.checkpoint_dir; got None")
    measure_next = _no_measure if measure_next is None else measure_next
    state = process.initialize()
    rows: list[dict] = []
    start_round = 0
    if resume:
        restored = checkpointing.load_latest_checkpoint(outputs.checkpoint_dir, state)
        if restored is not None:
            start_round, state, extra = restored
            rows = extra.get("rows", [])
            log(f"resumed from round {start_round} ({outputs.checkpoint_dir})")
    writer = (None if outputs.tensorboard_dir is None
              else tf.summary.create_file_writer(os.fspath(outputs.tensorboard_dir)))
    bar = (None if progress is None else
           tqdm.tqdm(range(start_round, rounds), initial=start_round, total=rounds,
                     desc="FedAvg rounds", unit="round", dynamic_ncols=True))
    for round_index in range(start_round, rounds) if bar is None else bar:
        round_num = round_index + 1
        started = time.perf_counter()
        round_input = prepare_round(round_num, state)
        prepared = time.perf_counter()
        with measure_next() as measured:
            output = process.next(round_input.state, round_input.client_data)
            done = time.perf_counter()
        state = output.state
        timing = RoundTiming(prepare_s=prepared - started, next_s=done - prepared,
                             measured=measured)
        row = metrics_row(round_num, output.metrics["client_work"]["train"], round_input,
                          timing)
        if evaluate is not None and (round_num % eval_every == 0 or round_num == rounds):
            row.update(evaluate(round_num, state))
        rows.append(row)
        if writer is not None:
            with writer.as_default(step=round_num):
                for key, value in row.items():
                    if key != "round":
                        tf.summary.scalar(key, value)
            writer.flush()
        if outputs.checkpoint_dir is not None:
            checkpointing.save_checkpoint(outputs.checkpoint_dir, round_num, state,
                                          extra={"rows": rows})
        if outputs.metrics_csv is not None:
            workdir_io.write_rows_csv(outputs.metrics_csv, rows)
        if bar is not None:
            bar.set_postfix(**progress(row))
        if after_round is not None:
            after_round(round_num)
    if bar is not None:
        bar.close()
    return state, rows
