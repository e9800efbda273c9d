"""8-bit uplink quantization through TFF, and the per-round traffic model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from tff_train.aggregators.compression import (
    CommunicationBytes,
    build_compression_aggregator,
    communication_bytes,
)
from tff_train.runtime.tff_runtime import import_tff

RNG = np.random.default_rng(0)
KERNEL = RNG.normal(size=(40, 5)).astype(np.float32)
BIAS = RNG.normal(size=5).astype(np.float32)
VALUE_TYPE = [(np.float32, [40, 5]), (np.float32, [5])]


def _step(values):
    """Quantization step (max - min) / 255 of each tensor."""
    return [(float(v.max()) - float(v.min())) / 255 for v in values]


def _aggregate(factory, values, weights=None):
    tff = import_tff()
    if weights is None:
        process = factory.create(tff.types.to_type(VALUE_TYPE))
        return process.next(process.initialize(), values).result
    process = factory.create(tff.types.to_type(VALUE_TYPE), tff.TensorType(np.float32))
    return process.next(process.initialize(), values, weights).result


def test_round_trip_error_is_at_most_half_a_step():
    decoded = _aggregate(build_compression_aggregator(bits=8, weighted=False), [[KERNEL, BIAS]])
    for got, original, step in zip(decoded, [KERNEL, BIAS], _step([KERNEL, BIAS]), strict=True):
        error = np.abs(np.asarray(got) - original)
        assert error.max() <= step / 2 + 1e-6
        assert error.max() > step / 20  # the values really went through 8 bits


def test_stochastic_rounding_error_is_below_one_step():
    decoded = _aggregate(build_compression_aggregator(bits=8, weighted=False, stochastic=True),
                         [[KERNEL, BIAS]])
    for got, original, step in zip(decoded, [KERNEL, BIAS], _step([KERNEL, BIAS]), strict=True):
        assert np.abs(np.asarray(got) - original).max() <= step + 1e-6


def test_weighted_mean_of_quantized_updates():
    other = [np.zeros_like(KERNEL), np.ones_like(BIAS)]
    mean = _aggregate(build_compression_aggregator(bits=8, weighted=True),
                      [[KERNEL, BIAS], other], [np.float32(1.0), np.float32(3.0)])
    # Clients send weight * value; the bound on each is half a step of that product, / total 4.
    for got, a, b, step_a in zip(mean, [KERNEL, BIAS], other, _step([KERNEL, BIAS]), strict=True):
        np.testing.assert_allclose(got, (a + 3 * b) / 4, atol=(step_a / 2 + 1e-6) / 4)


def test_small_tensors_below_the_threshold_are_sent_exactly():
    decoded = _aggregate(build_compression_aggregator(bits=2, weighted=False, threshold=5),
                         [[KERNEL, BIAS]])
    np.testing.assert_array_equal(decoded[1], BIAS)  # 5 values: not quantized
    assert np.abs(np.asarray(decoded[0]) - KERNEL).max() > 0.1  # 2 bits: coarse


def test_communication_bytes_float32():
    cost = communication_bytes([(3, 3, 1, 8), (8,)], [(8,), (8,)])
    assert cost == CommunicationBytes(uplink=4 * (72 + 8) + 4, downlink=4 * (72 + 8 + 16))


def test_communication_bytes_8_bit():
    cost = communication_bytes([(1000,), (3,)], bits=8)
    # 8000 bits in 28-bit words = 286 words; 24 bits = 1 word; + (min, max) each; + weight.
    assert cost.uplink == (4 * 286 + 8) + (4 * 1 + 8) + 4
    assert cost.downlink == 4 * 1003
    assert communication_bytes([(1000,), (3,)], bits=8, threshold=3).uplink == \
        (4 * 286 + 8) + 4 * 3 + 4


@pytest.mark.parametrize(("n", "bits"), [(1000, 8), (1001, 7), (5, 8), (300, 12)])
def test_communication_bytes_match_the_tff_encoder(n, bits):
    from tensorflow_model_optimization.python.core.internal import tensor_encoding as te

    encoder = te.encoders.uniform_quantization(bits, stochastic=False)
    encode_params, _ = encoder.get_params(encoder.initial_state())
    encoded, _, _ = encoder.encode(RNG.normal(size=n).astype(np.float32), encode_params)
    sent = sum(int(np.asarray(t).size) * 4 for t in tf.nest.flatten(encoded))  # 32-bit words
    assert communication_bytes([(n,)], bits=bits).uplink == sent + 4
    assert sent < 4 * n or n < 2


@pytest.mark.parametrize(("call", "message"), [
    (lambda: build_compression_aggregator(bits=0), r"bits must be an int in \[1, 16\]; got 0"),
    (lambda: build_compression_aggregator(threshold=-1), r"threshold must be an int >= 0"),
    (lambda: communication_bytes([(3,)], bits=17), r"bits must be an int in \[1, 16\]; got 17"),
    (lambda: communication_bytes([(3, -1)]), r"trainable_shapes must hold shapes of non-neg"),
    (lambda: communication_bytes([(3,)], [(2.5,)]), r"non_trainable_shapes must hold shapes"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_compression_ratio_of_a_large_model_is_3_5():
    ratio = (communication_bytes([(10**6,)]).uplink
             / communication_bytes([(10**6,)], bits=8).uplink)
    assert ratio == pytest.approx(3.5, rel=1e-3)
    assert math.isclose(communication_bytes([(10**6,)], bits=8).downlink, 4e6)
