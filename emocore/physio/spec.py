"""features.json (`PhysioSpec`): what the physio model consumes, and which signals feed which group.

    {"mode": "raw_signals", "config": {PhysioFeatureConfig fields}, "feature_names": [...]}
    {"mode": "precomputed", "feature_names": [...], "source": "wesad"}   ("source" optional)
Both may carry the per-driver calibration the forests were trained with (`emocore.calibration`):
    "calibration": {CalibrationConfig fields}, "population": {ReferenceStats} (the prior of
    drivers without a profile; required when the calibration's prior is "population").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from emocore.calibration import CalibrationConfig, ReferenceStats
from emocore.physio.config import FEATURE_GROUPS, PhysioFeatureConfig, feature_names

RAW_SIGNALS = "raw_signals"
PRECOMPUTED = "precomputed"
MODES = (RAW_SIGNALS, PRECOMPUTED)
_SPEC_KEYS = {"mode", "config", "feature_names", "source", "calibration", "population"}


@dataclasses.dataclass(frozen=True)
class PhysioSpec:
    """What the physio model consumes: raw-signal window features (`config`) or precomputed
    feature vectors, in the order `feature_names`."""

    mode: str
    feature_names: tuple[str, ...]
    config: PhysioFeatureConfig | None = None
    source: str | None = None
    calibration: CalibrationConfig | None = None
    population: ReferenceStats | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"features.json mode must be one of {list(MODES)}; got {self.mode!r}")
        names = self.feature_names
        if (not isinstance(names, tuple) or not names
                or not all(isinstance(n, str) and n for n in names)):
            raise ValueError(f"features.json feature_names must be a non-empty list of names; "
                             f"got {names!r}")
        if self.mode == RAW_SIGNALS:
            if not isinstance(self.config, PhysioFeatureConfig):
                raise ValueError("features.json mode 'raw_signals' needs a config object")
            expected = feature_names(self.config)
            if names != expected:
                raise ValueError(f"features.json feature_names must be {list(expected)} for its "
                                 f"config; got {list(names)}")
        if self.calibration is not None and not (isinstance(self.calibration, CalibrationConfig)
                                                 and self.calibration.enabled):
            raise ValueError(f"features.json calibration must be a CalibrationConfig with a "
                             f"method other than 'none' (or absent); got {self.calibration!r}")
        if self.population is not None and (not isinstance(self.population, ReferenceStats)
                                            or self.population.feature_names != names):
            raise ValueError(f"features.json population must be reference statistics over "
                             f"feature_names {list(names)}; got "
                             f"{getattr(self.population, 'feature_names', self.population)!r}")

    def require_population(self) -> ReferenceStats:
        """The population prior; raises when the calibration needs it and it is absent."""
        if self.population is None:
            raise ValueError("features.json has a calibration with prior 'population' but no "
                             "population statistics: re-export the bundle")
        return self.population

    @classmethod
    def raw_signals(cls, config: PhysioFeatureConfig) -> PhysioSpec:
        """The spec of a model on the extractor's window features for `config`."""
        return cls(RAW_SIGNALS, feature_names(config), config)

    def to_json_dict(self) -> dict[str, Any]:
        """The features.json object (pass it as `write_bundle(features=...)`)."""
        data: dict[str, Any] = {"mode": self.mode, "feature_names": list(self.feature_names)}
        if self.config is not None:
            config = dataclasses.asdict(self.config)
            config["groups"] = list(self.config.groups)
            data["config"] = config
        if self.source is not None:
            data["source"] = self.source
        if self.calibration is not None:
            data["calibration"] = self.calibration.to_json_dict()
        if self.population is not None:
            data["population"] = self.population.to_json_dict()
        return data

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> PhysioSpec:
        """Inverse of `to_json_dict`; raises ValueError naming unknown or missing keys."""
        if not isinstance(data, Mapping):
            raise ValueError(f"features.json must hold an object; got {type(data).__name__}")
        unknown = sorted(set(data) - _SPEC_KEYS)
        missing = sorted({"mode", "feature_names"} - set(data))
        if unknown or missing:
            raise ValueError(f"features.json: unknown keys {unknown}, missing keys {missing} "
                             f"(expected {sorted(_SPEC_KEYS)})")
        config = None
        if data.get("config") is not None:
            raw = dict(data["config"])
            fields = {f.name for f in dataclasses.fields(PhysioFeatureConfig)}
            if set(raw) - fields:
                raise ValueError(f"features.json config has unknown keys "
                                 f"{sorted(set(raw) - fields)}")
            if "groups" in raw:
                raw["groups"] = tuple(raw["groups"])
            config = PhysioFeatureConfig(**raw)
        names = data["feature_names"]
        calibration = data.get("calibration")
        population = data.get("population")
        return cls(data["mode"], tuple(names) if isinstance(names, list) else names, config,
                   data.get("source"),
                   None if calibration is None else CalibrationConfig.from_json_dict(calibration),
                   None if population is None else ReferenceStats.from_json_dict(population))


SIGNAL_NAMES = {"ecg": "ECG", "bvp": "blood-volume pulse", "hr": "heart rate",
                "eda": "electrodermal activity", "temp": "skin temperature", "resp": "respiration"}


def signals_needed(config: PhysioFeatureConfig) -> dict[str, tuple[str, ...]]:
    """{feature group: the signal kinds any one of which feeds it} for `config.groups`
    (cardiac: its `cardiac_source`, or any of hr/ecg/bvp for "auto")."""
    cardiac = ("hr", "ecg", "bvp") if config.cardiac_source == "auto" else (
        config.cardiac_source,)
    return {group: cardiac if group == "cardiac" else (group,) for group in config.groups}


def missing_signal_features(config: PhysioFeatureConfig, signals: tuple[str, ...] | list[str]
                            ) -> dict[str, tuple[str, ...]]:
    """{signal kind(s) absent from `signals`: the feature names that are therefore NaN in every
    window}, per feature group of `config` whose signals are all missing."""
    missing = {}
    for group, kinds in signals_needed(config).items():
        if not set(kinds) & set(signals):
            missing["/".join(kinds)] = FEATURE_GROUPS[group]
    return missing


def default_valid_ranges(config: PhysioFeatureConfig) -> dict[str, tuple[float, float]]:
    """Plausible ranges of the signals with physical units: hr (the extractor's bpm range),
    temp (degC), eda (uS or mV; >= 0). ecg/bvp/resp have device-specific units: unchecked."""
    return {"hr": (config.hr_min_bpm, config.hr_max_bpm), "temp": (10.0, 45.0),
            "eda": (0.0, 100.0)}
