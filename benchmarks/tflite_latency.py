"""Single-model latency under tflite-runtime in a process that never imports TensorFlow.

`python -m benchmarks.tflite_latency --model=M.tflite [--threads=1] [--runs=500]` prints JSON
`{p50_ms, p99_ms, mean_ms, runs, tensorflow_imported}`; `measure_in_subprocess` runs it from a
benchmark that itself has TensorFlow loaded.
"""

from __future__ import annotations

import sys

from emocore.cli_output import quiet_unless_verbose

# ruff: noqa: E402 (the imports below follow the quiet-output call on purpose)
if __name__ == "__main__":  # before anything imports TensorFlow: quiet its console output
    quiet_unless_verbose(sys.argv)

import json
import subprocess
import time

import numpy as np


def measure(model_path: str, threads: int = 1, runs: int = 500, warmup: int = 50) -> dict:
    """p50/p99 of set-input + invoke + copy-output for one random float input (quantized)."""
    from tflite_edge.interpreter import TFLiteModel

    model = TFLiteModel(model_path, num_threads=threads)
    detail = model.input_details[0]
    rng = np.random.default_rng(0)
    x = rng.random(tuple(detail["shape"]), dtype=np.float32)
    for _ in range(warmup):
        model.predict(x)
    times = np.empty(runs)
    for i in range(runs):
        started = time.perf_counter()
        model.predict(x)
        times[i] = time.perf_counter() - started
    return {"p50_ms": float(np.percentile(times, 50) * 1e3),
            "p99_ms": float(np.percentile(times, 99) * 1e3),
            "mean_ms": float(times.mean() * 1e3), "runs": runs, "threads": threads,
            "tensorflow_imported": "tensorflow" in sys.modules}


def measure_in_subprocess(model_path: str, threads: int = 1, runs: int = 500) -> dict:
    """`measure` in a fresh interpreter (no TensorFlow loaded), parsed from its JSON output."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.tflite_latency", f"--model={model_path}",
         f"--threads={threads}", f"--runs={runs}"],
        capture_output=True, text=True, timeout=600, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    print(json.dumps(measure(args.model, args.threads, args.runs)))


if __name__ == "__main__":
    main()
