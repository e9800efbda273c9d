"""Fusion settings: `FusionConfig` (the bundle's fusion.json) and fitted `LearnedWeights`."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from emocore.label_spaces import DRIVER_STATE3, mapping_matrix

FUSED_SPACE = DRIVER_STATE3
UNKNOWN = "unknown"
STRATEGIES = ("confidence_weighted", "majority_vote", "product_of_experts", "learned_weights",
              "learned_log_pool")
# The strategies that pool with fitted `learned_weights`, and their pool (the `pool` of
# `tff_train.fusion_weights.fit_learned_weights`).
LEARNED_POOLS = {"learned_weights": "linear", "learned_log_pool": "log"}
LEARNED_STRATEGIES = tuple(LEARNED_POOLS)
CONFIDENCE_MEASURES = ("max_prob", "entropy")
OBJECTIVES = ("log_likelihood", "accuracy")
# 2 (2026-12-03) adds `pooling_half_life_s`; a version-1 file (without it) still reads, unpooled.
FUSION_JSON_VERSION = 2
SUPPORTED_FUSION_JSON_VERSIONS = (1, 2)
SUM_TOLERANCE = 1e-3  # a probability vector must sum to 1 within this


def finite_number(value: object, name: str, *, low: float | None = None,
                  high: float | None = None, low_open: bool = False) -> float:
    """`value` as a float when it is a finite number in the interval; else ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise ValueError(f"{name} must be a number; got {value!r}")
    value = float(value)
    bad = not math.isfinite(value) or (low is not None and (
        value <= low if low_open else value < low)) or (high is not None and value > high)
    if bad:
        interval = ("(" if low_open else "[") + f"{'-inf' if low is None else low}, " + (
            "inf)" if high is None else f"{high}]")
        raise ValueError(f"{name} must be finite and in {interval}; got {value}")
    return value


@dataclasses.dataclass(frozen=True)
class LearnedWeights:
    """Fitted linear-pool weights: `weights[m]` has 1 (per modality) or K (per class) entries."""

    modalities: tuple[str, ...]
    weights: tuple[tuple[float, ...], ...]
    objective: str = "log_likelihood"
    validation_score: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "modalities", tuple(self.modalities))
        object.__setattr__(self, "weights", tuple(tuple(float(v) for v in w)
                                                  for w in self.weights))
        if not self.modalities or len(set(self.modalities)) != len(self.modalities):
            raise ValueError(f"modalities must be unique and non-empty; got {self.modalities}")
        if len(self.weights) != len(self.modalities):
            raise ValueError(f"weights must have one row per modality ({len(self.modalities)}); "
                             f"got {len(self.weights)}")
        widths = {len(w) for w in self.weights}
        if widths not in ({1}, {FUSED_SPACE.num_classes}):
            raise ValueError(f"each weights row must have 1 or {FUSED_SPACE.num_classes} entries "
                             f"(all alike); got lengths {[len(w) for w in self.weights]}")
        if any(not math.isfinite(v) or v < 0 for w in self.weights for v in w):
            raise ValueError(f"weights must be finite and >= 0; got {self.weights}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {list(OBJECTIVES)}; got {self.objective!r}")

    @property
    def per_class(self) -> bool:
        """True when every modality has K per-class weights (else one scalar each)."""
        return len(self.weights[0]) > 1

    def matrix(self, modalities: Sequence[str]) -> np.ndarray:
        """`float64[len(modalities), K]` weights of `modalities` (scalars broadcast over K)."""
        rows = []
        for name in modalities:
            if name not in self.modalities:
                raise ValueError(f"no learned weight for modality {name!r}; have "
                                 f"{list(self.modalities)}")
            rows.append(np.broadcast_to(self.weights[self.modalities.index(name)],
                                        (FUSED_SPACE.num_classes,)))
        return np.array(rows, dtype=np.float64).reshape(len(rows), FUSED_SPACE.num_classes)

    def to_dict(self) -> dict[str, Any]:
        """The fusion.json `learned_weights` object."""
        return {"modalities": list(self.modalities), "weights": [list(w) for w in self.weights],
                "objective": self.objective, "validation_score": self.validation_score}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LearnedWeights:
        """Inverse of `to_dict`; raises ValueError naming unknown or missing keys."""
        _check_keys(data, {"modalities", "weights", "objective", "validation_score"},
                    "learned_weights")
        return cls(modalities=tuple(data["modalities"]), weights=tuple(data["weights"]),
                   objective=data["objective"], validation_score=data["validation_score"])


def _check_keys(data: Mapping[str, Any], expected: set[str], where: str) -> None:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} must be a JSON object; got {type(data).__name__}")
    unknown, missing = sorted(set(data) - expected), sorted(expected - set(data))
    if unknown or missing:
        raise ValueError(f"{where}: unknown keys {unknown}, missing keys {missing}")


@dataclasses.dataclass(frozen=True)
class FusionConfig:
    """Fusion settings; `to_json`/`from_json` is the `fusion.json` read by the Android bridge.

    `modality_label_spaces` maps each modality name to the label space of its model output
    (a dict or pairs; stored as `(name, space)` pairs sorted by name). `pooling_half_life_s`
    maps modalities to the half-life in seconds of their reading pooling (`FusionEngine`; a
    dict or pairs, stored sorted; a modality not named, or 0, is not pooled).
    """

    strategy: str = "confidence_weighted"
    confidence_measure: str = "max_prob"
    max_age_s: float = 2.0
    min_quality: float = 0.5
    epsilon: float = 1e-6
    smoothing_half_life_s: float = 0.0
    smoothing_reset_gap_s: float = 5.0
    modality_label_spaces: tuple[tuple[str, str], ...] = (("face", "fer7"), ("physio", "wesad3"))
    learned_weights: LearnedWeights | None = None
    pooling_half_life_s: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {list(STRATEGIES)}; got {self.strategy!r}")
        if self.confidence_measure not in CONFIDENCE_MEASURES:
            raise ValueError(f"confidence_measure must be one of {list(CONFIDENCE_MEASURES)}; "
                             f"got {self.confidence_measure!r}")
        finite_number(self.max_age_s, "max_age_s", low=0.0, low_open=True)
        finite_number(self.min_quality, "min_quality", low=0.0, high=1.0)
        finite_number(self.epsilon, "epsilon", low=0.0, high=0.01, low_open=True)
        finite_number(self.smoothing_half_life_s, "smoothing_half_life_s", low=0.0)
        finite_number(self.smoothing_reset_gap_s, "smoothing_reset_gap_s", low=0.0, low_open=True)
        spaces = self.modality_label_spaces
        pairs = sorted(spaces.items() if isinstance(spaces, Mapping)
                       else (tuple(pair) for pair in spaces))
        object.__setattr__(self, "modality_label_spaces", tuple(pairs))
        names = [name for name, _ in pairs]
        if not names or len(set(names)) != len(names) or not all(
                isinstance(n, str) and n for n in names):
            raise ValueError(f"modality_label_spaces must name unique, non-empty modalities; "
                             f"got {names}")
        for _, space in pairs:
            mapping_matrix(space, FUSED_SPACE.name)  # raises for spaces without a mapping
        pooling = self.pooling_half_life_s
        pooling = sorted(pooling.items() if isinstance(pooling, Mapping)
                         else (tuple(pair) for pair in pooling))
        pooled_names = [name for name, _ in pooling]
        if len(set(pooled_names)) != len(pooled_names) or not set(pooled_names) <= set(names):
            raise ValueError(f"pooling_half_life_s must name configured modalities ({names}) at "
                             f"most once each; got {pooled_names}")
        object.__setattr__(self, "pooling_half_life_s", tuple(
            (name, finite_number(h, f"pooling_half_life_s[{name!r}]", low=0.0))
            for name, h in pooling))
        if self.learned_weights is not None and set(self.learned_weights.modalities) != set(names):
            raise ValueError(f"learned_weights must cover exactly the modalities {sorted(names)}; "
                             f"got {sorted(self.learned_weights.modalities)}")
        if self.strategy in LEARNED_STRATEGIES and self.learned_weights is None:
            raise ValueError(f"strategy {self.strategy!r} needs learned_weights "
                             "(fit them with fit_learned_weights); got None")

    def pooling_half_life(self, modality: str) -> float:
        """The reading-pooling half-life of `modality` in seconds (0 = not pooled)."""
        return dict(self.pooling_half_life_s).get(modality, 0.0)

    @property
    def modalities(self) -> tuple[str, ...]:
        """The configured modality names, sorted."""
        return tuple(name for name, _ in self.modality_label_spaces)

    def to_json(self) -> str:
        """Indented JSON with `version` and the fused `labels` (checked again by `from_json`)."""
        data: dict[str, Any] = {"version": FUSION_JSON_VERSION, "labels": list(FUSED_SPACE.labels)}
        for field in dataclasses.fields(self):
            data[field.name] = getattr(self, field.name)
        data["modality_label_spaces"] = dict(self.modality_label_spaces)
        data["pooling_half_life_s"] = dict(self.pooling_half_life_s)
        if self.learned_weights is not None:
            data["learned_weights"] = self.learned_weights.to_dict()
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> FusionConfig:
        """Inverse of `to_json` (also reads version 1, written before reading pooling: no
        pooling); rejects other versions, other label orders, unknown keys."""
        data = json.loads(text)
        fields = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, Mapping):
            raise ValueError(f"fusion config must be a JSON object; got {type(data).__name__}")
        # The version first: an older file lacks the keys added since.
        version = data.get("version")
        if isinstance(version, bool) or version not in SUPPORTED_FUSION_JSON_VERSIONS:
            raise ValueError(f"fusion config version must be one of "
                             f"{list(SUPPORTED_FUSION_JSON_VERSIONS)} (this runtime's); got "
                             f"{version!r}")
        if version == 1:  # no reading pooling yet
            fields -= {"pooling_half_life_s"}
        _check_keys(data, fields | {"version", "labels"}, "fusion config")
        if data["labels"] != list(FUSED_SPACE.labels):
            raise ValueError(f"fusion config labels must be {list(FUSED_SPACE.labels)}; "
                             f"got {data['labels']}")
        kwargs = {k: data[k] for k in fields}
        if kwargs["learned_weights"] is not None:
            kwargs["learned_weights"] = LearnedWeights.from_dict(kwargs["learned_weights"])
        return cls(**kwargs)
