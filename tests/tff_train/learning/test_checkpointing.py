from __future__ import annotations

import collections

import numpy as np
import pytest

from tff_train.learning import checkpointing


def _state(value: float):
    return collections.OrderedDict(
        weights=[np.full((2, 3), value, np.float32), np.arange(4, dtype=np.int64)],
        step=np.int32(7), nested={"m": np.float32(value)})


def test_round_trip_restores_structure_values_and_extra(tmp_path):
    checkpointing.save_checkpoint(tmp_path, 3, _state(1.5), extra={"rows": [{"round": 3}]})
    restored = checkpointing.load_latest_checkpoint(tmp_path, _state(0.0))
    assert restored is not None
    round_num, state, extra = restored
    assert round_num == 3 and extra == {"rows": [{"round": 3}]}
    np.testing.assert_array_equal(state["weights"][0], np.full((2, 3), 1.5, np.float32))
    assert state["weights"][0].dtype == np.float32
    assert state["step"] == 7 and isinstance(state["nested"]["m"], np.float32)


def test_latest_wins_and_only_keep_newest_remain(tmp_path):
    for r in range(1, 5):
        checkpointing.save_checkpoint(tmp_path, r, _state(float(r)), keep=2)
    assert [p.name for p in checkpointing.list_checkpoints(tmp_path)] == [
        "round_000003.npz", "round_000004.npz"]
    round_num, state, _ = checkpointing.load_latest_checkpoint(tmp_path, _state(0.0))
    assert round_num == 4 and float(state["nested"]["m"]) == 4.0


def test_partial_temporary_file_is_ignored(tmp_path):
    checkpointing.save_checkpoint(tmp_path, 1, _state(1.0))
    (tmp_path / ".tmp_round_000002.npz").write_bytes(b"truncated")
    assert checkpointing.load_latest_checkpoint(tmp_path, _state(0.0))[0] == 1


def test_empty_directory_gives_none(tmp_path):
    assert checkpointing.load_latest_checkpoint(tmp_path / "missing", _state(0.0)) is None


def test_mismatched_state_is_refused(tmp_path):
    checkpointing.save_checkpoint(tmp_path, 1, _state(1.0))
    other = _state(0.0)
    other["weights"][0] = np.zeros((5, 3), np.float32)
    with pytest.raises(ValueError, match=r"has shape \(2, 3\); the current state expects \(5, 3\)"):
        checkpointing.load_latest_checkpoint(tmp_path, other)
    fewer = {"only": np.zeros(1)}
    with pytest.raises(ValueError, match="holds 4 arrays but the current state has 1"):
        checkpointing.load_latest_checkpoint(tmp_path, fewer)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="round_num must be >= 0; got -1"):
        checkpointing.save_checkpoint(tmp_path, -1, _state(1.0))
    with pytest.raises(ValueError, match="keep must be >= 1; got 0"):
        checkpointing.save_checkpoint(tmp_path, 1, _state(1.0), keep=0)
