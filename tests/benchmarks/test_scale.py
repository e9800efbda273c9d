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
        "round", "round_time_s", "dataset_build_s", "round_with_build_s", "clients",
        "driver_cpu_s", "workers_cpu_s", "examples", "loss", "accuracy"]] * 2
    assert all(r["round_with_build_s"] == r["round_time_s"] + r["dataset_build_s"]
               for r in run["rows"])
    assert [r["round"] for r in run["rows"]] == [1, 2]
    assert all(r["examples"] == 8 and r["clients"] == 2 and r["round_time_s"] > 0
               and r["driver_cpu_s"] >= 0 for r in run["rows"])
    assert all(np.isfinite(r["loss"]) and 0 <= r["accuracy"] <= 1 for r in run["rows"])
    assert run["weights"] and all(w.dtype == np.float32 for w in run["weights"])


def test_summary_ratios_compare_the_largest_count_with_the_smallest():
    def run(seconds):
        return {"all_per_round": {"round_with_build_s": seconds}}

    runs = {"10": {p: run(2.0) for p in scale.PATHS},
            "1000": {"driver_datasets_reduce_loop": run(14.0), "driver_datasets": run(8.0),
                     "client_store": run(3.0)}}
    summary = scale.summarise(runs, [10, 1000])
    assert summary["ratio_largest_vs_smallest_count"] == {
        "driver_datasets_reduce_loop": 7.0, "driver_datasets": 4.0, "client_store": 1.5}
    assert summary["ratio_largest_count_vs_smallest_before"]["client_store"] == 1.5
