"""Per-driver calibration of physio features: `DriverBaseline` (z-score from unlabelled windows).

Forests trained on per-driver z-scored features (`normalise_per_group(..., "zscore")` in
training) need the same normalisation at the edge: the head unit computes it from the driver's
own earlier, unlabelled windows (`DriverBaseline.from_windows`) and feeds `(x - mean) / scale`
(NaN kept).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class DriverBaseline:
    """One driver's per-feature `mean: float64[F]` and `scale: float64[F]` (> 0), in the order
    `feature_names`; a feature never seen finite has mean NaN (its normalised value is NaN)."""

    feature_names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray

    def __post_init__(self) -> None:
        width = len(self.feature_names)
        for name in ("mean", "scale"):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.shape != (width,):
                raise ValueError(f"DriverBaseline.{name} must have shape [{width}] (one per "
                                 f"feature name); got {list(value.shape)}")
            object.__setattr__(self, name, value)
        if not (np.isfinite(self.scale) & (self.scale > 0)).all():
            raise ValueError(f"DriverBaseline.scale must be finite and > 0; got "
                             f"{self.scale.tolist()}")

    @classmethod
    def from_windows(cls, features: np.ndarray, feature_names: tuple[str, ...]
                     ) -> DriverBaseline:
        """Mean and population std of each column of `features: float[N,F]` over its finite
        values (std 0 -> scale 1; no finite value -> mean NaN, scale 1). No labels needed."""
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(feature_names) or x.shape[0] == 0:
            raise ValueError(f"features must be float[N,{len(feature_names)}] with N >= 1 (one "
                             f"column per feature name); got shape {list(x.shape)}")
        mean = np.full(x.shape[1], np.nan)
        scale = np.ones(x.shape[1])
        for j in range(x.shape[1]):
            values = x[np.isfinite(x[:, j]), j]
            if values.size:
                mean[j] = values.mean()
                sd = values.std()
                scale[j] = sd if sd > 0 else 1.0
        return cls(tuple(feature_names), mean, scale)

    def apply(self, features: np.ndarray) -> np.ndarray:
        """`float[..., F]` -> `float32[..., F]` normalised (float64 arithmetic, NaN kept)."""
        x = np.asarray(features, dtype=np.float64)
        if x.shape[-1:] != (len(self.feature_names),):
            raise ValueError(f"features must have last dim {len(self.feature_names)}; got shape "
                             f"{list(x.shape)}")
        return ((x - self.mean) / self.scale).astype(np.float32)

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready `{feature_names, mean (NaN -> null), scale}`."""
        return {"feature_names": list(self.feature_names),
                "mean": [None if math.isnan(v) else float(v) for v in self.mean],
                "scale": [float(v) for v in self.scale]}

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> DriverBaseline:
        """Inverse of `to_json_dict`; raises ValueError for other keys."""
        if not isinstance(data, Mapping) or set(data) != {"feature_names", "mean", "scale"}:
            raise ValueError(f"driver baseline must be an object with keys feature_names, mean, "
                             f"scale; got {sorted(data) if isinstance(data, Mapping) else data!r}")
        mean = [math.nan if v is None else v for v in data["mean"]]
        return cls(tuple(data["feature_names"]), np.array(mean, dtype=np.float64),
                   np.array(data["scale"], dtype=np.float64))
