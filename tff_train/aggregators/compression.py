"""Uplink compression of model deltas (uniform b-bit quantization) and per-round traffic per client.

`build_compression_aggregator` uses TFF's `tff.aggregators.EncodedSumFactory` with the
tensor_encoding uniform quantizer (from tensorflow_model_optimization, works with TFF 0.87): each
client flattens every float tensor of its (weighted) delta with more than `threshold` elements,
maps it to integers q = round((x - min) / scale), scale = (max - min) / (2**bits - 1), bit-packs
them 28 bits per int32 word (so each word serialises to 4 varint bytes) and sends them with the
per-tensor (min, max) as float32; the server
dequantizes (x' = min + q * scale) while summing. Deterministic rounding (the default, keeps runs
reproducible) has a round-trip error of at most scale / 2 per coordinate; stochastic rounding is
unbiased with error below scale.

Traffic model (`communication_bytes`), per client and round: downlink is the full float32 model
(trainable and non-trainable weights, 4 bytes each); uplink is the trainable delta (4 bytes per
value, or 4 * ceil(n * bits / 28) + 8 bytes for a quantized tensor of n values: 8 bits is 3.5x
smaller than float32, not 4x) plus the float32 aggregation weight. Client metrics, protocol framing,
secure-aggregation overheads and the encoder parameters TFF's simulation echoes back from clients
are not counted.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

from tff_train.runtime.tff_runtime import import_tff

FLOAT_BYTES = 4
WORD_BITS = 28  # bits the tensor_encoding bit-packing stage stores in each int32 word


@dataclasses.dataclass(frozen=True)
class CommunicationBytes:
    """Bytes moved per client in one round: `uplink` (client -> server), `downlink` (broadcast)."""

    uplink: int
    downlink: int


def _check_bits(bits: int) -> None:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 16:
        raise ValueError(f"bits must be an int in [1, 16]; got {bits!r}")


def _check_threshold(threshold: int) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        raise ValueError(f"threshold must be an int >= 0; got {threshold!r}")


def build_compression_aggregator(*, bits: int = 8, weighted: bool = True, threshold: int = 0,
                                 stochastic: bool = False) -> Any:
    """A (weighted or unweighted) mean factory whose client values are sent `bits`-bit quantized.

    Tensors with at most `threshold` elements (e.g. biases) are sent as float32. The weighted
    variant quantizes `weight * delta`, as TFF's `MeanFactory` weights before summing.
    """
    _check_bits(bits)
    _check_threshold(threshold)
    tff = import_tff()
    value_sum = tff.aggregators.EncodedSumFactory.quantize_above_threshold(
        quantization_bits=bits, threshold=threshold, stochastic=stochastic)
    if weighted:
        return tff.aggregators.MeanFactory(value_sum_factory=value_sum)
    return tff.aggregators.UnweightedMeanFactory(value_sum_factory=value_sum)


def _num_elements(shape: Iterable[int], name: str) -> int:
    dims = tuple(shape)
    if any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in dims):
        raise ValueError(f"{name} must hold shapes of non-negative ints; got {dims!r}")
    return math.prod(dims)


def communication_bytes(trainable_shapes: Sequence[Sequence[int]],
                        non_trainable_shapes: Sequence[Sequence[int]] = (), *,
                        bits: int | None = None, threshold: int = 0) -> CommunicationBytes:
    """Per-client bytes of one FedAvg round for a float32 model with these weight shapes.

    `bits=None`: uncompressed float32 uplink; otherwise the quantized uplink of
    `build_compression_aggregator(bits=bits, threshold=threshold)`. E.g.
    `communication_bytes([w.shape for w in model.trainable_weights])`.
    """
    if bits is not None:
        _check_bits(bits)
    _check_threshold(threshold)
    trainable = [_num_elements(s, "trainable_shapes") for s in trainable_shapes]
    non_trainable = [_num_elements(s, "non_trainable_shapes") for s in non_trainable_shapes]
    downlink = FLOAT_BYTES * (sum(trainable) + sum(non_trainable))
    uplink = FLOAT_BYTES  # the aggregation weight (example count, or 1 when unweighted)
    for n in trainable:
        if bits is not None and n > threshold:
            uplink += FLOAT_BYTES * math.ceil(n * bits / WORD_BITS) + 2 * FLOAT_BYTES
        else:
            uplink += FLOAT_BYTES * n
    return CommunicationBytes(uplink=uplink, downlink=downlink)
