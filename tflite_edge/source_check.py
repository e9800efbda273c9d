"""Checks before the real-time loop runs: a replay source against the bundle's physio model
(`check_source`) and the fusion settings against the physio stride (`config_warnings`)."""

from __future__ import annotations

from emocore.fusion import FusionConfig
from emocore.physio import (
    PRECOMPUTED,
    RAW_SIGNALS,
    SIGNAL_NAMES,
    PhysioSpec,
    missing_signal_features,
    signals_needed,
)
from tflite_edge.physio_stream import PhysioStream
from tflite_edge.sources import Source


def config_warnings(config: FusionConfig, physio: PhysioStream | None) -> list[str]:
    """Warnings about the fusion settings for this physio stream (a stride beyond max_age_s)."""
    spec = physio.spec if physio is not None else None
    if spec is not None and spec.config is not None and spec.config.stride_s > config.max_age_s:
        return [f"fusion max_age_s {config.max_age_s:g} s < physio stride_s "
                f"{spec.config.stride_s:g} s: the physio reading goes stale between windows"]
    return []


def check_source(source: Source, spec: PhysioSpec | None, fusion: FusionConfig) -> list[str]:
    """Checks what `source` delivers against the bundle's physio model (`spec`, its
    features.json; None: no physio model), before any model is loaded or the loop runs.

    Raises ValueError, naming what the model expects and what the source provides, when the
    model takes raw signals and the source only sends precomputed feature vectors, or the
    reverse, or the vectors' columns differ from the model's features. Returns one warning per
    missing signal a raw-signal model's features need (those features are NaN in every window),
    with the physio quality cap that implies against the fusion's `min_quality`.
    """
    if spec is None or not (source.signals or source.feature_names):
        return []
    width = len(spec.feature_names)
    if spec.mode == RAW_SIGNALS:
        assert spec.config is not None  # guaranteed by PhysioSpec
        if not source.signals:
            needed = ", ".join("/".join(k) for k in signals_needed(spec.config).values())
            raise ValueError(
                f"{source.description} provides precomputed feature vectors "
                f"({len(source.feature_names)} features), but the bundle's physio model takes "
                f"raw signals ({needed}) and computes its {width} window features itself: "
                "replay raw signals (a drivedb drive or synthetic[:SEED]) or use a bundle built "
                "on precomputed features")
        warnings = []
        for kinds, names in missing_signal_features(spec.config, source.signals).items():
            finite = width - len(names)
            what = " / ".join(f"{k} ({SIGNAL_NAMES.get(k, k)})" for k in kinds.split("/"))
            cap = finite / width
            verdict = (f"below the fusion's min_quality {fusion.min_quality:g}: physio readings "
                       "are never fused" if cap < fusion.min_quality else
                       f"fusion min_quality {fusion.min_quality:g}")
            warnings.append(
                f"{source.description} has no {what} signal: {len(names)} of {width} physio "
                f"features ({', '.join(names)}) are NaN in every window; the forest sends them "
                f"down each split's missing-value branch, and physio quality (the fraction of "
                f"finite features) is at most {finite}/{width} = {cap:.3f} ({verdict})")
        return warnings
    assert spec.mode == PRECOMPUTED
    if not source.feature_names:
        raise ValueError(
            f"{source.description} provides raw signals ({', '.join(source.signals)}), but the "
            f"bundle's physio model takes precomputed feature vectors ({width} features: "
            f"{', '.join(spec.feature_names[:4])}, ...): replay a feature CSV (e.g. "
            "S<k>_feats_4.csv) or use a bundle built on raw signals")
    if tuple(source.feature_names) != spec.feature_names:
        raise ValueError(
            f"{source.description} provides feature vectors with columns "
            f"{list(source.feature_names)}, but the bundle's physio model takes "
            f"{list(spec.feature_names)} (features.json feature_names)")
    return []
