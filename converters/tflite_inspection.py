"""Static inspection of a `.tflite` flatbuffer (nothing is run) and an Edge TPU readiness check.

`inspect_tflite` lists every op (name, version, count), tensor dtypes, dynamic dims, quantization
of the inputs/outputs. `edgetpu_readiness` applies the Coral model requirements
(coral.ai/docs/edgetpu/models-intro, "Model requirements" and "Supported operations", compiler
v16) and returns every violated rule as a readable problem:

1. every op is in `EDGETPU_SUPPORTED_OPS` (no CUSTOM/Flex op): the compiler maps ops up to the
   first unsupported one and runs it and EVERYTHING AFTER IT on the CPU;
2. one subgraph only (the compiler rejects "more than one subgraph");
3. tensor sizes are constant: no `-1` in any `shape_signature` (dynamic batch included);
4. activation (non-constant) tensors are at most 4-D (the Edge TPU kernels are NHWC), and for
   rank >= 4 only the 3 innermost dims may be > 1 (Coral: "if a tensor has more than 3
   dimensions, then only the 3 innermost dimensions may have a size greater than 1"); constant
   weights such as conv filters `[O,H,W,I]` are laid out by the compiler and exempt;
5. the model is fully 8-bit quantized: no float tensor anywhere (int32 is allowed for biases),
   and every input/output is int8 or uint8 with a quantization scale.
Op-specific limitations (e.g. Mean: no reduction over the batch) are listed in the constant for
reference but not checked: the compiler's own log is the authority for those.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tensorflow.lite.python import schema_py_generated as schema

# Coral "Supported operations" table, as TFLite builtin op names -> known limitation.
EDGETPU_SUPPORTED_OPS: dict[str, str] = {
    "ADD": "",
    "AVERAGE_POOL_2D": "No fused activation function.",
    "CONCATENATION": "No fused activation function; a constant input must be all zeros "
                     "(2 inputs only).",
    "CONV_2D": "Same dilation in x and y.",
    "DEPTHWISE_CONV_2D": "Same dilation in x and y.",
    "EXPAND_DIMS": "",
    "FULLY_CONNECTED": "Default weights format only; output tensor is one-dimensional.",
    "L2_NORMALIZATION": "",
    "LOGISTIC": "",
    "LSTM": "Unidirectional LSTM only.",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "Unidirectional LSTM only.",
    "MAXIMUM": "",
    "MAX_POOL_2D": "No fused activation function.",
    "MEAN": "No reduction in the batch dimension; a z-reduction needs z % 4 == 0.",
    "MINIMUM": "",
    "MUL": "",
    "PACK": "No packing in the batch dimension.",
    "PAD": "No padding in the batch dimension.",
    "PRELU": "Alpha must be 1-dimensional (Keras: shared_axes=[1, 2]).",
    "QUANTIZE": "",
    "REDUCE_MAX": "Not over the batch dimension.",
    "REDUCE_MIN": "Not over the batch dimension.",
    "RELU": "",
    "RELU6": "",
    "RELU_N1_TO_1": "",
    "RESHAPE": "Some reshapes of large tensors are not mapped.",
    "RESIZE_BILINEAR": "3-D input/output; may stay on the CPU to avoid precision loss.",
    "RESIZE_NEAREST_NEIGHBOR": "3-D input/output; may stay on the CPU to avoid precision loss.",
    "RSQRT": "",
    "SLICE": "",
    "SOFTMAX": "1-D input only, at most 16,000 elements.",
    "SPACE_TO_DEPTH": "",
    "SPLIT": "No splitting in the batch dimension.",
    "SQUEEZE": "",
    "STRIDED_SLICE": "Strides must be 1 (no stride in the batch dimension).",
    "SUB": "",
    "SUM": "Not over the batch dimension.",
    "SQUARED_DIFFERENCE": "",
    "TANH": "",
    "TRANSPOSE": "",
    "TRANSPOSE_CONV": "",
}

EDGETPU_COMPILER = "edgetpu_compiler"
_MAX_LISTED = 5  # tensor names quoted per problem line

_OP_NAMES = {
    code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")
}
_DTYPE_NAMES = {
    code: name.lower() for name, code in vars(schema.TensorType).items()
    if not name.startswith("_")
}
_FLOAT_DTYPES = {"float16", "float32", "float64"}
_QUANTIZED_IO = {"int8", "uint8"}


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of the main subgraph (shape_signature has -1 where a dim is dynamic).

    `scale`/`zero_point` are the first quantization parameters (the only ones for per-tensor
    quantization, as on model inputs/outputs); None when the tensor is not quantized.
    """

    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    is_constant: bool
    scale: float | None
    zero_point: int | None


@dataclass(frozen=True)
class OpInfo:
    """One operator code: builtin name (or CUSTOM:<code>), version and how often it is used."""

    name: str
    version: int
    count: int
    custom_code: str | None


@dataclass(frozen=True)
class TFLiteReport:
    """What `inspect_tflite` found: ops, tensors, inputs and outputs of the main subgraph."""

    num_subgraphs: int
    ops: tuple[OpInfo, ...]
    tensors: tuple[TensorInfo, ...]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    @property
    def dtype_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(t.dtype for t in self.tensors).items()))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (with `dtype_counts`)."""
        out = asdict(self)
        out["dtype_counts"] = self.dtype_counts
        return out


def _model(tflite_bytes: bytes) -> Any:
    if not isinstance(tflite_bytes, bytes | bytearray):
        raise ValueError(f"tflite_bytes must be bytes; got {type(tflite_bytes).__name__}")
    if len(tflite_bytes) < 8 or bytes(tflite_bytes[4:8]) != b"TFL3":
        raise ValueError(
            "tflite_bytes is not a TFLite flatbuffer (expected identifier b'TFL3' at bytes 4..8; "
            f"got {bytes(tflite_bytes[4:8])!r})"
        )
    return schema.Model.GetRootAsModel(bytes(tflite_bytes), 0)


def _op_name(opcode: Any) -> tuple[str, str | None]:
    # Builtin codes >= 127 live in BuiltinCode(); older files only fill DeprecatedBuiltinCode().
    code = max(opcode.BuiltinCode(), opcode.DeprecatedBuiltinCode())
    name = _OP_NAMES.get(code, f"UNKNOWN_BUILTIN_{code}")
    if name == "CUSTOM":
        custom = (opcode.CustomCode() or b"").decode("utf-8", "replace")
        return f"CUSTOM:{custom}", custom
    return name, None


def _tensor(model: Any, graph: Any, index: int) -> TensorInfo:
    t = graph.Tensors(index)
    shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    signature = (tuple(int(d) for d in t.ShapeSignatureAsNumpy())
                 if t.ShapeSignatureLength() else shape)
    buffer = model.Buffers(t.Buffer()) if 0 < t.Buffer() < model.BuffersLength() else None
    is_constant = buffer is not None and (
        buffer.DataLength() > 0 or (hasattr(buffer, "Size") and buffer.Size() > 0))
    q = t.Quantization()
    scale = zero_point = None
    if q is not None and q.ScaleLength() > 0:
        scale, zero_point = float(q.Scale(0)), int(q.ZeroPoint(0)) if q.ZeroPointLength() else 0
    return TensorInfo(
        index=index, name=(t.Name() or b"").decode("utf-8", "replace"),
        dtype=_DTYPE_NAMES.get(t.Type(), f"type{t.Type()}"), shape=shape,
        shape_signature=signature, is_constant=is_constant, scale=scale, zero_point=zero_point,
    )


def inspect_tflite(tflite_bytes: bytes) -> TFLiteReport:
    """Reads ops, tensors and I/O of the main subgraph (op counts span every subgraph)."""
    model = _model(tflite_bytes)
    codes = [_op_name(model.OperatorCodes(i)) for i in range(model.OperatorCodesLength())]
    versions = [model.OperatorCodes(i).Version() for i in range(model.OperatorCodesLength())]
    counts: Counter[int] = Counter()
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for o in range(graph.OperatorsLength()):
            counts[graph.Operators(o).OpcodeIndex()] += 1
    ops = tuple(
        OpInfo(name=codes[i][0], version=versions[i], count=counts[i], custom_code=codes[i][1])
        for i in range(len(codes)) if counts[i]
    )
    if model.SubgraphsLength() == 0:
        raise ValueError("tflite_bytes holds no subgraph")
    graph = model.Subgraphs(0)
    tensors = tuple(_tensor(model, graph, i) for i in range(graph.TensorsLength()))
    return TFLiteReport(
        num_subgraphs=model.SubgraphsLength(), ops=ops, tensors=tensors,
        inputs=tuple(tensors[int(i)] for i in graph.InputsAsNumpy()),
        outputs=tuple(tensors[int(i)] for i in graph.OutputsAsNumpy()),
    )


def list_ops(tflite_bytes: bytes) -> dict[str, int]:
    """`{op name: count}` over every subgraph, e.g. `{"CONV_2D": 4, "SOFTMAX": 1}`."""
    counts: Counter[str] = Counter()
    for op in inspect_tflite(tflite_bytes).ops:
        counts[op.name] += op.count
    return dict(sorted(counts.items()))


def op_names(tflite_bytes: bytes) -> list[str]:
    """Sorted distinct op names; custom and Flex ops appear as `"CUSTOM:<custom code>"`."""
    return sorted({op.name if op.custom_code is None else f"CUSTOM:{op.custom_code}"
                   for op in inspect_tflite(tflite_bytes).ops})


def _names(tensors: list[TensorInfo]) -> str:
    shown = ", ".join(f"{t.name!r} {list(t.shape_signature)}" for t in tensors[:_MAX_LISTED])
    more = len(tensors) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def edgetpu_readiness(tflite_bytes: bytes) -> dict[str, Any]:
    """`{"compatible": bool, "problems": [str, ...], "report": inspect_tflite(...).to_dict()}`.

    Applies rules 1-5 of the module docstring; `compatible` is True iff `problems` is empty.
    """
    report = inspect_tflite(tflite_bytes)
    problems: list[str] = []
    for op in report.ops:
        if op.custom_code is not None:
            kind = "Flex (select TF) op" if op.custom_code.startswith("Flex") else "custom op"
            problems.append(f"{kind} {op.custom_code!r} (x{op.count}) cannot run on the Edge TPU")
        elif op.name not in EDGETPU_SUPPORTED_OPS:
            problems.append(
                f"op {op.name} v{op.version} (x{op.count}) is not supported by the Edge TPU (it "
                "and every op after it would run on the CPU)"
            )
    if report.num_subgraphs != 1:
        problems.append(f"{report.num_subgraphs} subgraphs; the Edge TPU compiler needs exactly 1")
    dynamic = [t for t in report.tensors if any(d < 0 for d in t.shape_signature)]
    if dynamic:
        problems.append(f"dynamic (-1) dims in {len(dynamic)} tensors: {_names(dynamic)}")
    activations = [t for t in report.tensors if not t.is_constant]
    over_4d = [t for t in activations if len(t.shape_signature) > 4]
    if over_4d:
        problems.append(f"{len(over_4d)} tensors have more than 4 dims: {_names(over_4d)}")
    outer = [t for t in activations
             if len(t.shape_signature) >= 4 and any(d != 1 for d in t.shape_signature[:-3])]
    if outer:
        problems.append(
            f"{len(outer)} tensors have a dim > 1 outside the 3 innermost: {_names(outer)}")
    floats = [t for t in report.tensors if t.dtype in _FLOAT_DTYPES]
    if floats:
        problems.append(
            f"not fully 8-bit quantized: {len(floats)} float tensors: {_names(floats)}")
    for role, tensors in (("input", report.inputs), ("output", report.outputs)):
        for t in tensors:
            if t.dtype not in _QUANTIZED_IO or t.scale is None:
                problems.append(
                    f"{role} {t.name!r} is {t.dtype} (scale={t.scale}); the Edge TPU needs "
                    "int8/uint8 quantized I/O"
                )
    return {"compatible": not problems, "problems": problems, "report": report.to_dict()}


def export_edgetpu(
    tflite_bytes: bytes, out_dir: str | Path, *, model_name: str = "model",
    timeout_s: float = 600.0,
) -> dict[str, Any]:
    """Writes `<model_name>.tflite` + `edgetpu_readiness.json` to `out_dir` and compiles it.

    Raises ValueError carrying the problems when the model is not Edge-TPU ready. Runs
    `edgetpu_compiler` when it is on PATH (output `<model_name>_edgetpu.tflite`, log in
    `edgetpu_compiler.log`); otherwise `result["compiler"]` says it was skipped.
    """
    if not model_name or "/" in model_name or model_name.startswith("."):
        raise ValueError(f"model_name must be a plain file stem; got {model_name!r}")
    readiness = edgetpu_readiness(tflite_bytes)
    if not readiness["compatible"]:
        raise ValueError(
            "model is not Edge TPU compatible:\n- " + "\n- ".join(readiness["problems"]))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / f"{model_name}.tflite"
    model_path.write_bytes(bytes(tflite_bytes))
    (out_dir / "edgetpu_readiness.json").write_text(json.dumps(readiness, indent=2) + "\n")
    result: dict[str, Any] = {"model_path": str(model_path), "readiness": readiness}
    compiler = shutil.which(EDGETPU_COMPILER)
    if compiler is None:
        result["compiler"] = f"skipped: {EDGETPU_COMPILER} not on PATH"
        return result
    proc = subprocess.run(
        [compiler, "-s", "-o", str(out_dir), str(model_path)],
        capture_output=True, text=True, timeout=timeout_s, check=False,
    )
    log_path = out_dir / "edgetpu_compiler.log"
    log_path.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{EDGETPU_COMPILER} failed with exit code {proc.returncode}; see {log_path}")
    compiled = out_dir / f"{model_name}_edgetpu.tflite"
    if not compiled.is_file():
        raise RuntimeError(f"{EDGETPU_COMPILER} succeeded but wrote no {compiled}; see {log_path}")
    result.update(compiler="ran", compiled_path=str(compiled), log_path=str(log_path))
    return result
