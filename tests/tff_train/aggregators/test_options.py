"""Aggregation options -> TFF factory: combinations, weightedness and validation errors."""

from __future__ import annotations

import ml_collections
import numpy as np
import pytest

from tff_train.aggregators.options import AggregationOptions, as_options, build_model_aggregator
from tff_train.aggregators.robust import RobustMeanFactory
from tff_train.runtime.tff_runtime import import_tff

DELTA_TYPE = [(np.float32, [3, 2]), (np.float32, [2])]


def _create(factory, weighted):
    tff = import_tff()
    value_type = tff.types.to_type(DELTA_TYPE)
    if weighted:
        return factory.create(value_type, tff.TensorType(np.float32))
    return factory.create(value_type)


def test_defaults_keep_tffs_plain_mean():
    assert build_model_aggregator(AggregationOptions()) == (None, True)
    assert build_model_aggregator({"weighted": False}) == (None, False)


@pytest.mark.parametrize(("options", "weighted"), [
    (dict(clip_norm=1.0), True),
    (dict(clip_norm=1.0, weighted=False), False),
    (dict(dp_noise_multiplier=1.0, clients_per_round=10, clip_norm=0.5), False),
    (dict(dp_noise_multiplier=0.5, clients_per_round=10), False),  # adaptive clipping
    (dict(dp_noise_multiplier=1.0, clients_per_round=10, clip_norm=0.5, secure=True), False),
    (dict(secure=True), True),
    (dict(secure=True, weighted=False, clip_norm=2.0), False),
    (dict(robust="median"), False),
    (dict(robust="trimmed_mean", trim_fraction=0.2, clip_norm=1.0, weighted=False), False),
    (dict(robust="multi_krum", trim_fraction=0.2), True),
    (dict(robust="multi_krum", clip_norm=10.0, weighted=True), True),
    (dict(quantization_bits=8), True),
    (dict(quantization_bits=8, clip_norm=1.0, weighted=False), False),
])
def test_every_combination_builds_a_process_of_the_right_weightedness(options, weighted):
    tff = import_tff()
    factory, got_weighted = build_model_aggregator(options)
    assert got_weighted is weighted
    expected = (tff.aggregators.WeightedAggregationFactory if weighted
                else tff.aggregators.UnweightedAggregationFactory)
    assert isinstance(factory, expected)
    process = _create(factory, weighted)
    assert isinstance(process, tff.templates.AggregationProcess)


def test_clip_norm_clips_before_the_robust_combiner():
    factory, _ = build_model_aggregator({"robust": "median", "clip_norm": 1.0})
    process = _create(factory, weighted=False)
    big = [np.full((3, 2), 10.0, np.float32), np.zeros(2, np.float32)]  # norm sqrt(600)
    small = [np.full((3, 2), 0.1, np.float32), np.zeros(2, np.float32)]
    out = process.next(process.initialize(), [big, small, big])
    np.testing.assert_allclose(out.result[0], np.full((3, 2), 1 / np.sqrt(6)), rtol=1e-5)
    assert out.measurements["clipped_count"] == 2


def test_config_dict_and_mapping_are_accepted():
    config = ml_collections.ConfigDict({"robust": "trimmed_mean", "trim_fraction": 0.25})
    assert as_options(config) == AggregationOptions(robust="trimmed_mean", trim_fraction=0.25)
    factory, weighted = build_model_aggregator(config)
    assert isinstance(factory, RobustMeanFactory) and not weighted
    assert factory.combiner == "trimmed_mean" and factory.trim_fraction == 0.25


@pytest.mark.parametrize(("options", "message"), [
    (dict(clip_norm=0.0), r"aggregation.clip_norm must be a number > 0 or None; got 0.0"),
    (dict(clip_norm=True), r"aggregation.clip_norm must be a number > 0"),
    (dict(weighted="yes"), r"aggregation.weighted must be True, False or None"),
    (dict(secure=1), r"aggregation.secure must be a bool; got 1"),
    (dict(dp_noise_multiplier=-1.0, clients_per_round=5),
     r"aggregation.dp_noise_multiplier must be a number >= 0 or None"),
    (dict(dp_noise_multiplier=1.0), r"aggregation.clients_per_round must be set"),
    (dict(dp_noise_multiplier=1.0, clients_per_round=2.5),
     r"aggregation.clients_per_round must be an int >= 1 or None; got 2.5"),
    (dict(dp_noise_multiplier=1.0, clients_per_round=5, robust="median"),
     r"aggregation.robust must be None when dp_noise_multiplier is set"),
    (dict(dp_noise_multiplier=1.0, clients_per_round=5, clip_norm=1.0, weighted=True),
     r"aggregation.weighted must be False or None with DP aggregation"),
    (dict(robust="median", weighted=True),
     r"aggregation.weighted must be False or None with robust aggregation"),
    (dict(robust="mean"),
     r"aggregation.robust must be None or one of \['median', 'trimmed_mean', 'multi_krum'\]; "
     "got 'mean'"),
    (dict(robust="multi_krum", weighted=False),
     r"aggregation.weighted must be True or None with robust='multi_krum'"),
    (dict(robust="trimmed_mean", trim_fraction=0.5), r"aggregation.trim_fraction must be a number"),
    (dict(secure=True, robust="median"), r"aggregation.secure must be False with a robust"),
    (dict(secure=True, dp_noise_multiplier=0.1, clients_per_round=5),
     r"aggregation.clip_norm must be set with secure DP"),
    (dict(quantization_bits=0), r"aggregation.quantization_bits must be an int in \[1, 16\]"),
    (dict(quantization_bits=8, secure=True), r"aggregation.quantization_bits must be None with"),
    (dict(quantization_threshold=-1), r"aggregation.quantization_threshold must be an int >= 0"),
    (dict(noise=1.0), r"aggregation.noise is not an aggregation option; expected keys from"),
])
def test_invalid_options_name_the_key(options, message):
    with pytest.raises(ValueError, match=message):
        build_model_aggregator(options)


def test_options_of_the_wrong_kind_are_rejected():
    with pytest.raises(TypeError, match="options must be an AggregationOptions, a mapping or a "
                                        "ConfigDict; got list"):
        build_model_aggregator([("clip_norm", 1.0)])
