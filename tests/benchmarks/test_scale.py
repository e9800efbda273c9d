"""The scale benchmark's rounds keep their measurements (in-process, two tiny clients)."""

from __future__ import annotations

import numpy as np

from benchmarks import scale


def test_run_rounds_measures_every_round():
    rng = np.random.default_rng(0)
    clients = [(rng.integers(0, 255, (n, 48, 48), dtype=np.uint8), rng.integers(0, 7, n))
               for n in (5, 3)]
    run = scale.run_rounds(scale.build_process(), clients, per_round=2, rounds=2)
    assert [list(r) for r in run["rows"]] == [[
        "round", "round_time_s", "dataset_build_s", "clients", "driver_cpu_s", "workers_cpu_s",
        "examples", "loss", "accuracy"]] * 2
    assert [r["round"] for r in run["rows"]] == [1, 2]
    assert all(r["examples"] == 8 and r["clients"] == 2 and r["round_time_s"] > 0
               and r["driver_cpu_s"] >= 0 for r in run["rows"])
    assert all(np.isfinite(r["loss"]) and 0 <= r["accuracy"] <= 1 for r in run["rows"])
    assert run["weights"] and all(w.dtype == np.float32 for w in run["weights"])
