"""Replaying recorded drives on the edge: scoring a replay against the drive's labels, and the
driver's calibration profile from an unlabelled drive."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from emocore.calibration import ReferenceStats
from emocore.label_spaces import DRIVER_STATE3
from emocore.physio import PhysioFeatureConfig, extract_recording, feature_names


class LabelledDrive(Protocol):
    """A drive whose DRIVER_STATE3 id at each time is known (e.g. a synthetic cohort episode)."""

    def states_at(self, times_s: np.ndarray) -> np.ndarray:
        """`int64[T]` DRIVER_STATE3 ids at `times_s: float64[T]` (-1 outside the drive)."""
        ...


def fused_state(view: Mapping[str, Any] | None) -> list[float] | None:
    """The driver state `float[3]` that fusion used from one modality's line view: its pooled
    state where the bundle pools the modality, else the reading's own (None when missing)."""
    view = view or {}
    pooled = view.get("pooled_driver_state")
    return pooled if pooled is not None else view.get("driver_state")


def labelled_lines(lines: Sequence[Mapping[str, Any]], drive: LabelledDrive
                   ) -> Iterator[tuple[Mapping[str, Any], int]]:
    """`(line, DRIVER_STATE3 id)` for each harness line at a labelled time of `drive` (the
    labels of all lines looked up at once)."""
    truths = drive.states_at(np.array([line["t"] for line in lines], dtype=np.float64))
    return ((line, truth) for line, truth in zip(lines, truths.tolist(), strict=True)
            if truth >= 0)


def replay_accuracy(lines: Sequence[Mapping[str, Any]], drive: LabelledDrive) -> dict:
    """Accuracy of each modality's and the fused driver state against the drive's labels.

    `lines`: the harness's JSON lines (`t`, `face`, `physio`, `fused`); lines at unlabelled
    times are skipped. Returns `{face, physio, fused}` accuracies (None without decisions; a
    modality's state as fusion used it, pooled where the bundle pools it), `{face,
    physio}_reading` (each line's latest single reading, unpooled) and `{face, physio,
    fused}_decisions` counts.
    """
    hits: dict[str, list[bool]] = {
        "face": [], "physio": [], "fused": [], "face_reading": [], "physio_reading": []}
    for line, truth in labelled_lines(lines, drive):
        for modality in ("face", "physio"):
            state = fused_state(line[modality])
            if state is not None:
                hits[modality].append(int(np.argmax(state)) == truth)
                reading = line[modality]["driver_state"]
                hits[f"{modality}_reading"].append(int(np.argmax(reading)) == truth)
        label = line["fused"]["label"]
        if label in DRIVER_STATE3.labels:
            hits["fused"].append(DRIVER_STATE3.index(label) == truth)
    return {k: (float(np.mean(v)) if v else None) for k, v in hits.items()} | {
        f"{k}_decisions": len(hits[k]) for k in ("face", "physio", "fused")}


def recording_profile(streams: Mapping[str, Any], features: PhysioFeatureConfig
                      ) -> ReferenceStats:
    """The driver's calibration profile from the feature windows of one unlabelled recording
    (`streams`, as `emocore.physio.extract_recording` reads them; no labels used)."""
    windows, _ = extract_recording(streams, features)
    return ReferenceStats.from_windows(windows, feature_names(features))
