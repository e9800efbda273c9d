"""Model-delta aggregation options -> the TFF aggregation factory for FedAvg, validated up front.

`build_model_aggregator(options)` returns `(factory or None, weighted)`; pass both to
`build_fed_avg(..., model_aggregator=factory, weighted=weighted)` (None keeps TFF's plain
mean). Options (an `AggregationOptions`, or a mapping / `ml_collections.ConfigDict` with a subset
of its fields; unknown keys are rejected):

| options                        | aggregator                                         | weighted |
|--------------------------------|----------------------------------------------------|----------|
| (defaults)                     | plain mean                                         | default  |
| clip_norm                      | fixed L2 clip of each delta, then the mean         | default  |
| dp_noise_multiplier            | DP-FedAvg (`privacy.build_dp_aggregator`): fixed   | False    |
|   + clients_per_round          | clip if clip_norm, else adaptive clip              |          |
| secure                         | secure-sum mean (`privacy.build_secure_aggregator`)| default  |
| secure + dp_noise_multiplier   | DP with a secure record sum (needs clip_norm)      | False    |
| robust = median / trimmed_mean | `RobustMeanFactory` (after clip_norm if set)       | False    |
| robust = multi_krum            | `MultiKrumFactory(trim_fraction)`: drops the       | True     |
|                                | floor(trim_fraction*K) most outlying deltas, then  |          |
|                                | the weighted mean (after clip_norm if set)         |          |
| quantization_bits              | `compression.build_compression_aggregator`         | default  |

"default" is `weighted` if given, else True (example-count FedAvg). DP and robust combiners are
unweighted; asking for `weighted=True` with them is an error (multi-Krum is weighted: asking for
`weighted=False` with it is an error). Secure processes must run inside
`tff_train.aggregators.privacy.secure_simulation_context()`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from tff_train.aggregators.compression import build_compression_aggregator
from tff_train.aggregators.krum import MultiKrumFactory
from tff_train.aggregators.privacy import build_dp_aggregator, build_secure_aggregator
from tff_train.aggregators.robust import COMBINERS, RobustMeanFactory
from tff_train.config_checks import is_int, is_number
from tff_train.runtime.tff_runtime import import_tff


@dataclasses.dataclass(frozen=True)
class AggregationOptions:
    """How client model deltas are aggregated (see the module docstring for combinations)."""

    weighted: bool | None = None  # None: True unless DP / robust (which are unweighted)
    clip_norm: float | None = None  # fixed L2 clip of every client delta
    dp_noise_multiplier: float | None = None  # None: no DP; 0 = clipping without noise
    clients_per_round: int | None = None  # expected clients per round (DP normalisation)
    secure: bool = False  # secure aggregation (simulated)
    robust: str | None = None  # one of ROBUST
    trim_fraction: float = 0.1  # trimmed_mean: cut at each end; multi_krum: outliers dropped
    quantization_bits: int | None = None  # e.g. 8: quantized uplink
    quantization_threshold: int = 0  # tensors with <= this many values stay float32
    quantization_stochastic: bool = False  # stochastic (unbiased) instead of nearest rounding


FIELDS = tuple(f.name for f in dataclasses.fields(AggregationOptions))
ROBUST = (*COMBINERS, "multi_krum")


def _fail(key: str, expected: str, got: object) -> None:
    raise ValueError(f"aggregation.{key} must be {expected}; got {got!r}")


def as_options(options: AggregationOptions | Mapping[str, Any] | Any) -> AggregationOptions:
    """`options` (dataclass, mapping or ConfigDict) as `AggregationOptions`; no unknown keys."""
    if isinstance(options, AggregationOptions):
        return options
    if hasattr(options, "to_dict"):  # ml_collections.ConfigDict / FrozenConfigDict
        options = options.to_dict()
    if not isinstance(options, Mapping):
        raise TypeError(f"options must be an AggregationOptions, a mapping or a ConfigDict; got "
                        f"{type(options).__name__}")
    unknown = sorted(set(options) - set(FIELDS))
    if unknown:
        raise ValueError(f"aggregation.{unknown[0]} is not an aggregation option; expected keys "
                         f"from {list(FIELDS)}")
    return AggregationOptions(**options)


def validate_options(options: AggregationOptions) -> None:
    """Raises ValueError naming the first invalid or conflicting key (`aggregation.<key> ...`)."""
    o = options
    if o.weighted is not None and not isinstance(o.weighted, bool):
        _fail("weighted", "True, False or None (automatic)", o.weighted)
    for key in ("secure", "quantization_stochastic"):
        if not isinstance(getattr(o, key), bool):
            _fail(key, "a bool", getattr(o, key))
    if o.clip_norm is not None and not (is_number(o.clip_norm) and o.clip_norm > 0):
        _fail("clip_norm", "a number > 0 or None", o.clip_norm)
    if o.dp_noise_multiplier is not None and not (
            is_number(o.dp_noise_multiplier) and o.dp_noise_multiplier >= 0):
        _fail("dp_noise_multiplier", "a number >= 0 or None (no DP)", o.dp_noise_multiplier)
    if o.clients_per_round is not None and not (
            is_int(o.clients_per_round) and o.clients_per_round >= 1):
        _fail("clients_per_round", "an int >= 1 or None", o.clients_per_round)
    if o.robust is not None and o.robust not in ROBUST:
        _fail("robust", f"None or one of {list(ROBUST)}", o.robust)
    if not (is_number(o.trim_fraction) and 0 <= o.trim_fraction < 0.5):
        _fail("trim_fraction", "a number in [0, 0.5)", o.trim_fraction)
    if o.quantization_bits is not None and not (
            is_int(o.quantization_bits) and 1 <= o.quantization_bits <= 16):
        _fail("quantization_bits", "an int in [1, 16] or None", o.quantization_bits)
    if not (is_int(o.quantization_threshold) and o.quantization_threshold >= 0):
        _fail("quantization_threshold", "an int >= 0", o.quantization_threshold)

    dp, robust, quantized = (o.dp_noise_multiplier is not None, o.robust is not None,
                             o.quantization_bits is not None)
    if dp and o.clients_per_round is None:
        _fail("clients_per_round", "set (the expected clients per round) when "
              "dp_noise_multiplier is set", None)
    if dp and robust:
        _fail("robust", "None when dp_noise_multiplier is set (DP and robust combiners do not "
              "combine)", o.robust)
    krum = o.robust == "multi_krum"
    if (dp or (robust and not krum)) and o.weighted:
        reason = "DP" if dp else "robust"
        _fail("weighted", f"False or None with {reason} aggregation (it is unweighted)",
              o.weighted)
    if krum and o.weighted is False:
        _fail("weighted", "True or None with robust='multi_krum' (a weighted mean)", o.weighted)
    if o.secure and robust:
        _fail("secure", "False with a robust combiner (it needs the individual updates)",
              o.secure)
    if o.secure and dp and o.clip_norm is None:
        _fail("clip_norm", "set with secure DP (the secure sum range is +-clip_norm)", None)
    if quantized and (dp or robust or o.secure):
        _fail("quantization_bits", "None with DP, secure or robust aggregation (compression "
              "only wraps the plain mean)", o.quantization_bits)


def build_model_aggregator(options: AggregationOptions | Mapping[str, Any] | Any
                           ) -> tuple[Any, bool]:
    """(TFF aggregation factory or None for the plain mean, weighted) for these options."""
    o = as_options(options)
    validate_options(o)
    clip = None if o.clip_norm is None else float(o.clip_norm)
    if o.dp_noise_multiplier is not None:
        return build_dp_aggregator(float(o.dp_noise_multiplier), int(o.clients_per_round),
                                   clip_norm=clip, secure=o.secure), False
    tff = import_tff()
    if o.robust is not None:
        krum = o.robust == "multi_krum"
        factory = (MultiKrumFactory(float(o.trim_fraction)) if krum
                   else RobustMeanFactory(o.robust, float(o.trim_fraction)))
        return (factory if clip is None else tff.aggregators.clipping_factory(clip, factory)), krum
    weighted = True if o.weighted is None else o.weighted
    if o.secure:
        return build_secure_aggregator(weighted=weighted, clip_norm=clip), weighted
    if o.quantization_bits is not None:
        factory = build_compression_aggregator(
            bits=int(o.quantization_bits), weighted=weighted,
            threshold=int(o.quantization_threshold), stochastic=o.quantization_stochastic)
    elif clip is not None:
        factory = (tff.aggregators.MeanFactory() if weighted
                   else tff.aggregators.UnweightedMeanFactory())
    else:
        return None, weighted
    return (factory if clip is None else tff.aggregators.clipping_factory(clip, factory)), weighted
