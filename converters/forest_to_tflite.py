"""`TreeEnsemble` -> TFLite flatbuffer made only of builtin ops, plus checks and batch-1 timing.

TF-DF's own inference ops are custom and cannot be converted to TFLite, so the forest is
re-expressed as a fixed-depth traversal over constant node tables: each step gathers, for the
current node of every tree, its feature / threshold / NaN direction, gathers the input value,
compares `x >= threshold` in float32 and gathers the child. Leaves point to themselves, so
`depth = ensemble.max_depth` steps reach every leaf. The leaf values are then gathered and reduced
(mean for 'rf'; bias + per-class sum + sigmoid/softmax for 'gbt'). Ops used: GATHER, ADD, MUL,
NOT_EQUAL, GREATER_EQUAL, LOGICAL_AND/OR, CAST, MEAN or FULLY_CONNECTED, LOGISTIC/SOFTMAX, ...

The same traversal (`forest_outputs_tf`) serves TFF, where the ensemble arrives as tensors.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from converters.tflite_inspection import op_names
from forests.ensemble import TreeEnsemble
from forests.graph import forest_outputs_tf


def forest_to_tflite(ensemble: TreeEnsemble, batch_size: int | None = 1) -> bytes:
    """Converts to a builtin-ops-only TFLite model: float32[B,F] -> probabilities float32[B,C].

    batch_size: fixed B (1 on the edge), or None for a dynamic batch.
    """
    if not isinstance(ensemble, TreeEnsemble):
        raise ValueError(f"ensemble must be a TreeEnsemble; got {type(ensemble).__name__}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None; got {batch_size!r}")
    arrays = {name: tf.constant(a) for name, a in ensemble.to_arrays().items()}

    @tf.function(input_signature=[
        tf.TensorSpec([batch_size, ensemble.num_features], tf.float32, name="features")])
    def predict(features: tf.Tensor) -> tf.Tensor:
        probs = forest_outputs_tf(features, arrays, ensemble.kind, ensemble.num_classes,
                                  ensemble.max_depth)
        return tf.identity(probs, name="probabilities")

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [predict.get_concrete_function()], predict)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    model = converter.convert()
    assert_builtin_ops_only(model)
    return model


def assert_builtin_ops_only(tflite_model: bytes) -> list[str]:
    """Returns `op_names`; raises ValueError naming any custom or flex (TF select) op."""
    ops = op_names(tflite_model)
    bad = [op for op in ops if op.startswith(("CUSTOM", "UNKNOWN_BUILTIN", "FLEX"))]
    if bad:
        raise ValueError(f"TFLite model must contain only builtin ops; found {bad}")
    return ops


def tflite_row_predictor(
    tflite_model: bytes, num_threads: int = 1
) -> Callable[[np.ndarray], np.ndarray]:
    """A batch-1 `tflite_runtime` predictor: float32[F] or [1,F] row -> float32[C]."""
    from tflite_runtime.interpreter import Interpreter  # noqa: PLC0415 (edge runtime)

    interpreter = Interpreter(model_content=bytes(tflite_model), num_threads=num_threads)
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    if inp["shape"][0] != 1:
        raise ValueError(f"tflite_model must take batch 1; its input shape is {inp['shape']}")
    width = int(inp["shape"][1])

    def predict(row: np.ndarray) -> np.ndarray:
        row = np.asarray(row, np.float32).reshape(1, -1)
        if row.shape[1] != width:
            raise ValueError(f"row must have {width} features; got {row.shape[1]}")
        interpreter.set_tensor(inp["index"], row)
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])[0].copy()

    return predict


def tflite_predict_proba(tflite_model: bytes, x: np.ndarray) -> np.ndarray:
    """Runs a batch-1 model row by row under tflite_runtime. x: float32[N,F] -> float32[N,C]."""
    x = np.asarray(x, np.float32)
    if x.ndim != 2:
        raise ValueError(f"x must have shape [N,F]; got {x.shape}")
    predict = tflite_row_predictor(tflite_model)
    return np.stack([predict(row) for row in x])


def latency_per_row(
    predict_row: Callable[[np.ndarray], object], rows: np.ndarray, warmup: int = 10
) -> dict[str, float]:
    """Batch-1 latency of `predict_row(float32[1,F])` over `rows` float32[N,F], in microseconds."""
    rows = np.asarray(rows, np.float32)
    if rows.ndim != 2 or len(rows) == 0:
        raise ValueError(f"rows must have shape [N,F] with N >= 1; got {rows.shape}")
    for row in rows[:warmup]:
        predict_row(row[None, :])
    times = []
    for row in rows:
        start = time.perf_counter()
        predict_row(row[None, :])
        times.append((time.perf_counter() - start) * 1e6)
    times.sort()
    return {
        "rows": len(times),
        "median_us": statistics.median(times),
        "p90_us": times[min(len(times) - 1, int(0.9 * len(times)))],
        "mean_us": statistics.fmean(times),
    }
