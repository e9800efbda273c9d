"""The face-expression CNN family: 48x48x1 grayscale in, class probabilities out.

Only Edge-TPU/int8-friendly layers: Conv2D (+ folded BatchNorm), ReLU, MaxPool, global average
pooling, Dense, Softmax; `normalization="group"` (GroupNorm, for comparisons under non-IID
FedAvg) is the exception: it cannot be folded and converts to extra MEAN/SUM/DIV/RSQRT ops.
Input `float32[B,48,48,1]` scaled to [0, 1]; output `float32[B,C]`.

`compute_dtype="bfloat16"` builds the same graph with Keras' `mixed_bfloat16` policy on every
layer (float32 variables, bfloat16 convolutions): on CPUs with AMX/AVX-512-BF16 one training step
is ~2.5x faster, but where bfloat16 is emulated (an AVX2-only EPYC: 319 s vs 48 s per FedAvg round
of the FER2013 recipe) it is ~6x slower, so configs say "auto" (`resolve_compute_dtype`). The
variables, and so the weights a checkpoint or FedAvg round carries, are float32 either way:
`face_model_builder(..., "float32")` rebuilds the float32 twin for evaluation and TFLite
conversion with the same weights.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import tensorflow as tf

INPUT_SHAPE = (48, 48, 1)
COMPUTE_DTYPES = ("float32", "bfloat16")
CONFIG_COMPUTE_DTYPES = ("auto", *COMPUTE_DTYPES)  # "auto": `resolve_compute_dtype`
# CPU flags (Linux /proc/cpuinfo names) with native bfloat16 matrix arithmetic.
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
NORMALIZATIONS = ("batch", "group", "none")


@functools.cache
def _this_cpuinfo() -> str:
    """The text of /proc/cpuinfo, read once ('' where it does not exist)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return f.read()
    except OSError:
        return ""


def cpu_has_fast_bfloat16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU does bfloat16 natively (`BFLOAT16_CPU_FLAGS`); `cpuinfo` is the text of
    /proc/cpuinfo (this machine's when None; False where it does not exist)."""
    if cpuinfo is None:
        cpuinfo = _this_cpuinfo()
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return any(flag in flags for flag in BFLOAT16_CPU_FLAGS)


def resolve_compute_dtype(compute_dtype: str, cpuinfo: str | None = None) -> str:
    """A config's `model.compute_dtype` as `build_face_cnn` takes it: "auto" is "bfloat16" on a
    CPU with native bfloat16 (`cpu_has_fast_bfloat16`), else "float32"."""
    if compute_dtype not in CONFIG_COMPUTE_DTYPES:
        raise ValueError(f"compute_dtype must be one of {list(CONFIG_COMPUTE_DTYPES)}; got "
                         f"{compute_dtype!r}")
    if compute_dtype != "auto":
        return compute_dtype
    return "bfloat16" if cpu_has_fast_bfloat16(cpuinfo) else "float32"


def conv_channels(width: int, depth: int, stem_width: int) -> list[int]:
    """The channel counts of `build_face_cnn`'s convs: the stem's (if any), then each block's."""
    return ([stem_width] if stem_width else []) + [width * 2**block for block in range(depth)]


def build_face_cnn(
    *,
    width: int = 32,
    depth: int = 4,
    stem_width: int = 0,
    normalization: str = "batch",
    norm_groups: int = 8,
    convs_per_block: int | Sequence[int] = 2,
    pool_last_block: bool = True,
    dense_units: int = 128,
    dropout: float = 0.3,
    num_classes: int = 7,
    compute_dtype: str = "float32",
    seed: int = 0,
) -> tf.keras.Model:
    """A VGG-style CNN: `depth` blocks of 3x3 convs, channel width doubling.

    `convs_per_block` is one count for every block or one per block (e.g. `(1, 1, 2, 2)`: the
    late blocks run on small maps, so their convs are cheap). `pool_last_block=False` feeds the
    last block's whole map to global average pooling; True ends it with a 2x2 max pool like the
    others (behind a stem at depth 4 that keeps only the top-left 2x2 of its 3x3 map).

    `stem_width > 0` starts with a stride-2 3x3 conv of that many channels (+BN, ReLU), so the
    blocks run on a learned 24x24 map: ~4x fewer multiply-adds and, measured on this machine,
    ~10x lower int8 latency than the same blocks at 48x48 (the first full-resolution block
    dominates). `normalization="none"` drops BatchNorm (convs get a bias): under FedAvg on
    label-skewed clients, BatchNorm trains on each client's own batch statistics, which differ
    from the global ones it is evaluated with; `normalization="group"` normalises each image
    over `norm_groups` channel groups instead (GroupNorm: no batch statistics, nothing to
    recalibrate; every conv's channel count must be a multiple of `norm_groups`). Block i has
    `width * 2**i` channels (Conv2D, BatchNorm, ReLU) and ends with 2x2 max pooling; then global
    average pooling, an optional Dense+ReLU layer of `dense_units`, dropout and a softmax over
    `num_classes` (always computed in float32).
    """
    if isinstance(convs_per_block, int):
        convs_per_block = (convs_per_block,) * depth
    convs_per_block = tuple(convs_per_block)
    if width < 1:
        raise ValueError(f"width must be >= 1; got {width}")
    if not 1 <= depth <= 5:
        raise ValueError(f"depth must be in [1, 5] (48x48 input halves per block); got {depth}")
    if stem_width < 0:
        raise ValueError(f"stem_width must be >= 0 (0 = no stem); got {stem_width}")
    size = INPUT_SHAPE[0] // (2 if stem_width else 1)
    if size < 2**depth:
        raise ValueError(f"depth={depth} halves a {size}px map {depth} times to nothing: lower "
                         f"depth or stem_width=0")
    if len(convs_per_block) != depth or not all(
            isinstance(n, int) and n >= 1 for n in convs_per_block):
        raise ValueError(f"convs_per_block must be an int >= 1 or {depth} (depth) of them; got "
                         f"{convs_per_block}")
    if dense_units < 0:
        raise ValueError(f"dense_units must be >= 0; got {dense_units}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1); got {dropout}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2; got {num_classes}")
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {list(NORMALIZATIONS)}; got "
                         f"{normalization!r}")
    if normalization == "group":
        channels = conv_channels(width, depth, stem_width)
        if norm_groups < 1 or any(c % norm_groups for c in channels):
            raise ValueError(f"norm_groups must be >= 1 and divide every conv's channels "
                             f"{channels}; got {norm_groups}")
    if compute_dtype not in COMPUTE_DTYPES:
        raise ValueError(f"compute_dtype must be one of {list(COMPUTE_DTYPES)}; got "
                         f"{compute_dtype!r}")

    policy = tf.keras.mixed_precision.Policy(
        "mixed_bfloat16" if compute_dtype == "bfloat16" else "float32")
    layers = tf.keras.layers
    init = tf.keras.initializers.HeNormal(seed=seed)
    normalized = normalization != "none"

    def conv_unit(x: tf.Tensor, channels: int, strides: int, conv: str, bn: str, relu: str
                  ) -> tf.Tensor:
        x = layers.Conv2D(channels, 3, strides=strides, padding="same", use_bias=not normalized,
                          kernel_initializer=init, dtype=policy, name=conv)(x)
        if normalization == "batch":
            x = layers.BatchNormalization(dtype=policy, name=bn)(x)
        elif normalization == "group":
            x = layers.GroupNormalization(norm_groups, dtype=policy, name=bn)(x)
        return layers.ReLU(dtype=policy, name=relu)(x)

    inputs = tf.keras.Input(shape=INPUT_SHAPE, name="face")
    x = inputs
    if stem_width:
        x = conv_unit(x, stem_width, 2, "stem_conv", "stem_bn", "stem_relu")
    for block in range(depth):
        channels = width * 2**block
        for conv in range(convs_per_block[block]):
            x = conv_unit(x, channels, 1, f"block{block}_conv{conv}", f"block{block}_bn{conv}",
                          f"block{block}_relu{conv}")
        if block < depth - 1 or pool_last_block:
            x = layers.MaxPooling2D(2, dtype=policy, name=f"block{block}_pool")(x)
    x = layers.GlobalAveragePooling2D(dtype=policy, name="gap")(x)
    if dense_units:
        x = layers.Dense(dense_units, kernel_initializer=init, dtype=policy, name="fc")(x)
        x = layers.ReLU(dtype=policy, name="fc_relu")(x)
    if dropout:
        x = layers.Dropout(dropout, seed=seed, dtype=policy, name="dropout")(x)
    logits = layers.Dense(
        num_classes, kernel_initializer=tf.keras.initializers.GlorotUniform(seed=seed + 1),
        dtype=policy, name="logits")(x)
    probs = layers.Softmax(dtype="float32", name="probs")(logits)
    return tf.keras.Model(inputs, probs, name=f"face_cnn_w{width}_d{depth}")
