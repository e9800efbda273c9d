"""Scoring edge replays against a drive's labels; the driver profile from an unlabelled drive."""

from __future__ import annotations

import numpy as np

from emocore.physio import extract_recording, feature_names
from emodata.synthetic_cohort import CohortConfig, generate_cohort
from tflite_edge.drive_replay import fused_state, recording_profile, replay_accuracy


class _Drive:
    """States 0 on [0, 10), 2 on [10, 20), unlabelled elsewhere."""

    def states_at(self, times_s):
        t = np.asarray(times_s)
        return np.where(t < 0, -1, np.where(t < 10, 0, np.where(t < 20, 2, -1)))


def _line(t, face, physio, fused):
    return {"t": t, "face": None if face is None else {"driver_state": face},
            "physio": None if physio is None else {"driver_state": physio},
            "fused": {"label": fused}}


def test_replay_accuracy_counts_decisions_per_modality_and_skips_unlabelled_times():
    lines = [_line(1.0, [0.8, 0.1, 0.1], [0.1, 0.1, 0.8], "neutral"),
             _line(12.0, [0.1, 0.1, 0.8], None, "unknown"),
             _line(15.0, None, [0.2, 0.1, 0.7], "negative"),
             _line(25.0, [1.0, 0.0, 0.0], [1.0, 0.0, 0.0], "neutral")]  # unlabelled
    got = replay_accuracy(lines, _Drive())
    assert got == {"face": 1.0, "physio": 0.5, "fused": 1.0, "face_reading": 1.0,
                   "physio_reading": 0.5, "face_decisions": 2, "physio_decisions": 2,
                   "fused_decisions": 2}
    assert replay_accuracy([], _Drive())["face"] is None


def test_replay_accuracy_scores_the_pooled_state_fusion_used():
    # The reading says neutral at t=12 (state 2), its pool says negative: `face` scores the
    # pool, `face_reading` the single reading.
    line = _line(12.0, [0.8, 0.1, 0.1], None, "negative")
    line["face"]["pooled_driver_state"] = [0.2, 0.1, 0.7]
    got = replay_accuracy([line], _Drive())
    assert (got["face"], got["face_reading"], got["physio"]) == (1.0, 0.0, None)
    assert fused_state(line["face"]) == [0.2, 0.1, 0.7]
    assert fused_state({"driver_state": [1.0, 0.0, 0.0]}) == [1.0, 0.0, 0.0]
    assert fused_state(None) is None


def test_recording_profile_summarises_the_recording_windows():
    from configs import pipeline_default
    from tff_train.physio.config import feature_config

    features = feature_config(pipeline_default.get_config().physio)
    cohort = generate_cohort(1, seed=0, config=CohortConfig(faces_per_class=1))
    streams = cohort.drivers[0].episodes[-1].streams
    profile = recording_profile(streams, features)
    windows, _ = extract_recording(streams, features)
    data = profile.to_json_dict()
    assert data["feature_names"] == list(feature_names(features))
    seen = np.isfinite(windows).any(axis=0)  # features with at least one finite value
    assert seen.sum() >= len(seen) - 2
    np.testing.assert_allclose(np.asarray(data["mean"])[seen],
                               np.nanmean(windows[:, seen].astype(np.float64), axis=0), rtol=1e-9)
    np.testing.assert_array_equal(data["count"], np.isfinite(windows).sum(axis=0))
