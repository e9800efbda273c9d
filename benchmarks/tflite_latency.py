"""Single-model latency under tflite-runtime in a process that never imports TensorFlow.

`python -m benchmarks.tflite_latency --model=M.tflite [--threads=1] [--runs=500] [--flip_average]`
prints JSON `{p50_ms, p99_ms, mean_ms, runs, tensorflow_imported}`; `measure_in_subprocess` runs it
from a benchmark that itself has TensorFlow loaded. `--flip_average` times test-time flip of an
image model (`[1,H,W,C]` input): the input and its mirror image, and the mean of both outputs.
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
from collections.abc import Callable

import numpy as np


def flip_averaged(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                  predicted: np.ndarray | None = None) -> np.ndarray:
    """Test-time flip: the mean of `predict(x)` and `predict` of `x: float32[B,H,W,C]` mirrored
    left-right (axis 2); `predicted`: `predict(x)` when the caller already has it."""
    if x.ndim != 4:
        raise ValueError(f"x must be float32[B,H,W,C]; got shape {x.shape}")
    if predicted is None:
        predicted = predict(x)
    return (predicted + predict(np.ascontiguousarray(x[:, :, ::-1]))) / 2


def measure(model_path: str, threads: int = 1, runs: int = 500, warmup: int = 50,
            flip_average: bool = False) -> dict:
    """p50/p99 of set-input + invoke + copy-output for one random float input (quantized);
    with `flip_average`, of `flip_averaged` (two invocations, the mirror copy and the mean)."""
    from tflite_edge.interpreter import TFLiteModel

    model = TFLiteModel(model_path, num_threads=threads)
    detail = model.input_details[0]
    rng = np.random.default_rng(0)
    x = rng.random(tuple(detail["shape"]), dtype=np.float32)
    step = (lambda v: flip_averaged(model.predict, v)) if flip_average else model.predict
    for _ in range(warmup):
        step(x)
    times = np.empty(runs)
    for i in range(runs):
        started = time.perf_counter()
        step(x)
        times[i] = time.perf_counter() - started
    return {"p50_ms": float(np.percentile(times, 50) * 1e3),
            "p99_ms": float(np.percentile(times, 99) * 1e3),
            "mean_ms": float(times.mean() * 1e3), "runs": runs, "threads": threads,
            "flip_average": flip_average, "tensorflow_imported": "tensorflow" in sys.modules}


def measure_in_subprocess(model_path: str, threads: int = 1, runs: int = 500,
                          flip_average: bool = False) -> dict:
    """`measure` in a fresh interpreter (no TensorFlow loaded), parsed from its JSON output."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.tflite_latency", f"--model={model_path}",
         f"--threads={threads}", f"--runs={runs}", *(["--flip_average"] if flip_average else [])],
        capture_output=True, text=True, timeout=600, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--flip_average", action="store_true")
    args = parser.parse_args()
    print(json.dumps(measure(args.model, args.threads, args.runs,
                             flip_average=args.flip_average)))


if __name__ == "__main__":
    main()
