"""The one rounds loop on a pure-Python process: rows, evaluation, checkpoints, resume, hooks."""

from __future__ import annotations

import collections
import contextlib
import csv
import types
from collections.abc import Iterator

import numpy as np
import pytest

from tff_train.learning import checkpointing
from tff_train.learning.rounds import RoundInput, RoundOutputs, RoundTiming, run_rounds


class CountingProcess:
    """A process whose state is float64[1]: each round adds the sum of its client values."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, list]] = []

    def initialize(self) -> np.ndarray:
        return np.zeros(1)

    def next(self, state: np.ndarray, client_data: list) -> types.SimpleNamespace:
        self.calls.append((float(state[0]), list(client_data)))
        train = collections.OrderedDict(loss=float(sum(client_data)), num_examples=len(client_data))
        return types.SimpleNamespace(state=state + sum(client_data),
                                     metrics={"client_work": {"train": train}})


def prepare(round_num: int, state: np.ndarray) -> RoundInput:
    return RoundInput(state, [round_num, 1], {"tag": f"r{round_num}"})


def row(round_num: int, train: dict, round_input: RoundInput, timing: RoundTiming) -> dict:
    assert timing.prepare_s >= 0 and timing.next_s >= 0
    return {"round": round_num, "loss": train["loss"], "tag": round_input.info["tag"],
            **timing.measured}


def test_rounds_rows_evaluation_and_hooks():
    process, evaluated, ended = CountingProcess(), [], []

    def evaluate(round_num: int, state: np.ndarray) -> dict:
        evaluated.append(round_num)
        return {"state": float(state[0])}

    @contextlib.contextmanager
    def measure() -> Iterator[dict]:
        measured = {}
        yield measured
        measured["measured"] = 1.0

    state, rows = run_rounds(process, 5, prepare_round=prepare, metrics_row=row,
                             evaluate=evaluate, eval_every=2, measure_next=measure,
                             after_round=ended.append)
    assert float(state[0]) == sum(r + 1 for r in range(1, 6))
    assert [c[1] for c in process.calls] == [[r, 1] for r in range(1, 6)]
    assert evaluated == [2, 4, 5] and ended == [1, 2, 3, 4, 5]
    assert rows[1] == {"round": 2, "loss": 3.0, "tag": "r2", "measured": 1.0, "state": 5.0}
    assert "state" not in rows[0] and [r["round"] for r in rows] == [1, 2, 3, 4, 5]


def test_checkpoints_csv_and_resume(tmp_path):
    outputs = RoundOutputs(checkpoint_dir=tmp_path / "ckpt", metrics_csv=tmp_path / "m.csv")

    class Crash(Exception):
        pass

    def crash_after_3(round_num: int) -> None:
        if round_num == 3:
            raise Crash

    with pytest.raises(Crash):
        run_rounds(CountingProcess(), 5, prepare_round=prepare, metrics_row=row,
                   outputs=outputs, after_round=crash_after_3)
    assert checkpointing.list_checkpoints(tmp_path / "ckpt")[-1].name == "round_000003.npz"
    with open(tmp_path / "m.csv") as f:
        assert [r["round"] for r in csv.DictReader(f)] == ["1", "2", "3"]
    process, logged = CountingProcess(), []
    state, rows = run_rounds(process, 5, prepare_round=prepare, metrics_row=row,
                             outputs=outputs, resume=True, log=logged.append)
    assert logged == [f"resumed from round 3 ({tmp_path / 'ckpt'})"]
    assert [c[0] for c in process.calls] == [9.0, 14.0]  # rounds 4, 5 from the round-3 state
    assert float(state[0]) == 20.0 and [r["round"] for r in rows] == [1, 2, 3, 4, 5]
    _, again = run_rounds(CountingProcess(), 5, prepare_round=prepare, metrics_row=row,
                          outputs=outputs, resume=True, log=logged.append)
    assert again == rows  # nothing left to run


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"rounds": 0}, r"rounds must be an int >= 1; got 0"),
    ({"eval_every": 0}, r"eval_every must be an int >= 1; got 0"),
    ({"resume": True}, r"resume=True needs outputs.checkpoint_dir; got None"),
])
def test_bad_arguments_are_named(kwargs, message):
    kwargs = {"rounds": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        run_rounds(CountingProcess(), kwargs.pop("rounds"), prepare_round=prepare,
                   metrics_row=row, **kwargs)
