"""Physiological tasks: WESAD/drivedb/synthetic windows, folds, client splits, normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from emocore.label_spaces import DRIVEDB3, WESAD_BINARY
from emocore.physio import PhysioFeatureConfig, feature_names
from emodata.drivedb import Drive, label_drive, read_drive, sample_labels
from emodata.synthetic_cohort import CohortConfig
from tests.emodata.test_drivedb import protocol_columns, write_drive
from tests.emodata.test_wesad import write_subject
from tff_train.physio import tasks as pd_

WINDOWS = PhysioFeatureConfig(window_s=60.0, stride_s=60.0)


def _drive_columns(hand: bool = True, marker: bool = True) -> dict[str, np.ndarray]:
    """An 81-min, 2-Hz drive in the real csv layout with HR, GSR, RESP and protocol pulses."""
    cols = protocol_columns()
    t = cols["Elapsed time(s)"]
    cols["HR(bpm)"] = 75.0 + 5.0 * np.sin(t / 30.0)
    cols["foot GSR(mV)"] = 5.0 + 0.001 * t
    if hand:
        cols["hand GSR(mV)"] = 8.0 + 0.002 * t
    cols["RESP(mV)"] = np.sin(2 * np.pi * 0.25 * t)
    if not marker:
        del cols["marker(mV)"]
    return cols


def _task(groups: list[str], labels: list[int], features: np.ndarray | None = None
          ) -> pd_.PhysioTask:
    n = len(labels)
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2) if features is None else features
    return pd_.PhysioTask("drivedb3", x, np.asarray(labels, np.int64), np.asarray(groups),
                          ("a", "b"), DRIVEDB3)


# ------------------------------------------------------------------------------ WESAD
def test_wesad_task_groups_and_binary_labels(tmp_path):
    write_subject(tmp_path, 3, [1, 1, 2, 0])
    write_subject(tmp_path, 2, [1, 2])
    task = pd_.load_wesad_task(tmp_path)
    assert task.name == "wesad3" and task.features.shape == (6, 46)
    np.testing.assert_array_equal(task.groups, ["S2", "S2", "S3", "S3", "S3", "S3"])
    np.testing.assert_array_equal(task.labels, [1, 2, 1, 1, 2, 0])
    binary = pd_.load_wesad_task(tmp_path, binary=True)
    assert binary.label_space is WESAD_BINARY
    np.testing.assert_array_equal(binary.labels, [0, 1, 0, 0, 1, 0])  # stress vs the rest


def test_load_task_reads_the_shared_layout_and_validates(tmp_path):
    write_subject(tmp_path / "wesad_features", 2, [1, 2, 0])
    assert pd_.load_task("wesad_binary", tmp_path).name == "wesad_binary"
    with pytest.raises(ValueError, match=r"task must be one of \['wesad3', .*got 'wesad'"):
        pd_.load_task("wesad", tmp_path)
    with pytest.raises(ValueError, match="data_root is required for task 'drivedb3'; got None"):
        pd_.load_task("drivedb3")
    with pytest.raises(FileNotFoundError, match="drivedb folder not found"):
        pd_.load_task("drivedb3", tmp_path)


# ------------------------------------------------------------------------------ drivedb
def test_drive_signals_prefer_hand_gsr_then_foot():
    t = np.arange(10) / 2.0
    both = Drive("d1", t, {"hr": np.ones(10, np.float32), "hand_gsr": np.full(10, 2.0),
                           "foot_gsr": np.full(10, 3.0)}, ("d1.csv",))
    signals, source = pd_.drive_signals(both)
    assert source == "hand_gsr" and set(signals) == {"hr", "eda"}
    assert signals["eda"].values[0] == 2.0 and signals["eda"].rate_hz == pytest.approx(2.0)
    foot = Drive("d2", t, {"foot_gsr": np.full(10, 3.0), "resp": np.zeros(10)}, ("d2.csv",))
    signals, source = pd_.drive_signals(foot)
    assert source == "foot_gsr" and signals["eda"].values[0] == 3.0 and "resp" in signals
    assert pd_.drive_signals(Drive("d3", t, {"ecg": np.zeros(10)}, ("d3.csv",)))[1] == "none"
    with pytest.raises(ValueError, match="drive must be an emodata.drivedb.Drive; got dict"):
        pd_.drive_signals({"hr": t})


def test_training_and_the_edge_replay_get_the_same_drivedb_signals():
    """One channel -> signal mapping (emodata.drivedb): the trainer's window inputs and the
    edge's drivedb replay carry the same signals with the same values and rate."""
    from tflite_edge.sources import drivedb_source

    t = np.arange(200) / 15.4
    channels = {name: np.linspace(i, i + 1, t.size).astype(np.float32) for i, name in
                enumerate(("ecg", "emg", "foot_gsr", "hand_gsr", "hr", "marker", "resp"))}
    for drop in ((), ("hand_gsr",), ("hr", "resp")):
        drive = Drive("d", t, {k: v for k, v in channels.items() if k not in drop}, ("d.csv",))
        training, _ = pd_.drive_signals(drive)
        events = list(drivedb_source(drive, chunk_s=1.0))
        edge = {kind: np.concatenate([e.payload.values for e in events
                                      if e.payload.signal == kind])
                for kind in {e.payload.signal for e in events}}
        assert set(edge) == set(training), drop
        for kind, signal in training.items():
            np.testing.assert_array_equal(edge[kind], signal.values)
            assert {e.payload.rate_hz for e in events if e.payload.signal == kind} == {
                signal.rate_hz}


def test_drive_windows_drop_windows_across_boundaries():
    rate = 2.0
    t = np.arange(int(100 * rate)) / rate  # 100 s
    drive = Drive("d", t, {"hr": np.full(len(t), 70.0, np.float32),
                           "resp": np.sin(t).astype(np.float32)}, ("d.csv",))
    labels = np.full(len(t), -1)
    labels[(t >= 5) & (t < 40)] = 0
    labels[(t >= 40) & (t < 95)] = 2
    x, y, ends = pd_.drive_windows(drive, labels, PhysioFeatureConfig(window_s=20.0,
                                                                      stride_s=5.0))
    # Windows [end - 20, end) with ends 20..100; kept only inside [5, 40) or [40, 95).
    np.testing.assert_allclose(ends, [25, 30, 35, 40, 60, 65, 70, 75, 80, 85, 90, 95])
    np.testing.assert_array_equal(y, [0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2])
    assert x.shape == (12, len(feature_names())) and x.dtype == np.float32
    assert np.isnan(x[:, feature_names().index("temp_mean")]).all()  # no temperature sensor
    assert np.isnan(x[:, feature_names().index("eda_tonic_mean")]).all()  # no GSR here
    with pytest.raises(ValueError, match=r"sample_label must have shape \[200\]"):
        pd_.drive_windows(drive, labels[:10], WINDOWS)
    empty = Drive("e", t, {"ecg": np.zeros(len(t), np.float32)}, ("e.csv",))
    with pytest.raises(ValueError, match="drive 'e' has none of the channels hr"):
        pd_.drive_windows(empty, labels, WINDOWS)


def test_drivedb_task_from_csv_files(tmp_path):
    write_drive(tmp_path / "drive05.csv", _drive_columns())
    write_drive(tmp_path / "drive02.csv", _drive_columns(hand=False))
    write_drive(tmp_path / "drive01.csv", _drive_columns(marker=False))
    task = pd_.load_drivedb_task(tmp_path, WINDOWS)
    assert task.group_names == ("drive02", "drive05")
    assert task.notes["eda_channel"] == {"drive02": "foot_gsr", "drive05": "hand_gsr"}
    assert task.notes["excluded_drives"] == {"drive01": "no marker column"}
    drive = read_drive(tmp_path / "drive05.csv")
    segments = label_drive(drive).segments
    per_sample = sample_labels(drive.time_s, segments)
    _, expected, ends = pd_.drive_windows(drive, per_sample, WINDOWS)
    np.testing.assert_array_equal(task.labels[task.groups == "drive05"], expected)
    assert set(np.unique(task.labels)) == {0, 1, 2}
    # Every kept window lies inside one segment of its label.
    for end, label in zip(ends, expected, strict=True):
        assert any(s.start_s <= end - 60 and end <= s.end_s + 0.5 and s.label == label
                   for s in segments)
    assert task.describe()["features_all_missing"] == ["temp_mean", "temp_slope_per_min"]


# ------------------------------------------------------------------------------ synthetic
def test_synthetic_task_is_deterministic_with_one_group_per_driver():
    config = PhysioFeatureConfig(window_s=20.0, stride_s=10.0)
    cohort = CohortConfig(faces_per_class=1, episodes_per_driver=1, segment_s=(30, 40),
                          frame_fps=0.0)
    a = pd_.synthetic_task(2, 3, config, cohort)
    b = pd_.synthetic_task(2, 3, config, cohort)
    assert a.group_names == ("driver00", "driver01")
    np.testing.assert_array_equal(a.features, b.features)
    assert set(np.unique(a.labels)) == {0, 1, 2}


# ------------------------------------------------------------------------------ evaluation
def test_group_folds_hold_out_every_group_once():
    groups = np.repeat([f"S{k}" for k in range(7)], 3)
    folds = pd_.group_folds(groups, 3, seed=1)
    assert [len(f) for f in folds] == [3, 2, 2]
    assert sorted(g for f in folds for g in f) == sorted(set(groups))
    assert folds == pd_.group_folds(groups, 3, seed=1)
    assert folds != pd_.group_folds(groups, 3, seed=2)
    with pytest.raises(ValueError, match=r"num_folds must be an int in \[2, 7\].*got 8"):
        pd_.group_folds(groups, 8)


def test_client_datasets_take_validation_from_the_end_of_each_label_block():
    labels = [0] * 10 + [1] * 10 + [0] * 5
    task = _task(["a"] * 25, labels)
    (x, y, xv, yv), = pd_.client_datasets(task, ["a"], val_fraction=0.2, val_gap=2)
    # Label 0 block: rows 0-9 and 20-24 (15 rows): last 3 (22-24) val, gap drops 20-21.
    # Label 1 block: rows 10-19: last 2 (18-19) val, gap drops 16-17.
    np.testing.assert_array_equal(xv[:, 0] / 2, [18, 19, 22, 23, 24])
    np.testing.assert_array_equal(x[:, 0] / 2, [*range(10), *range(10, 16)])
    np.testing.assert_array_equal(yv, [1, 1, 0, 0, 0])
    assert not set(x[:, 0]) & set(xv[:, 0])


def test_client_datasets_keep_groups_apart_and_validate():
    task = _task(["a"] * 6 + ["b"] * 6, [0, 0, 0, 1, 1, 1] * 2)
    clients = pd_.client_datasets(task, ["b", "a"], val_fraction=0.34)
    assert [c[0][0, 0] for c in clients] == [12.0, 0.0]  # order of train_groups
    with pytest.raises(ValueError, match=r"train_groups must be a non-empty subset of "
                                         r"\['a', 'b'\]; got unknown \['c'\]"):
        pd_.client_datasets(task, ["a", "c"])
    with pytest.raises(ValueError, match=r"val_fraction must lie in \(0, 1\); got 0.0"):
        pd_.client_datasets(task, ["a"], val_fraction=0.0)
    with pytest.raises(ValueError, match="val_gap must be an int >= 0; got -1"):
        pd_.client_datasets(task, ["a"], val_gap=-1)
    with pytest.raises(ValueError, match=r"features must have shape \[12, 2\]; got \[12, 3\]"):
        pd_.client_datasets(task, ["a"], features=np.zeros((12, 3)))
    with pytest.raises(ValueError, match="group 'a' has too few windows"):
        pd_.client_datasets(task, ["a"], val_fraction=0.05)


def test_calibrate_groups_runs_each_session_in_order_with_the_training_groups_prior():
    from emocore.calibration import CalibrationConfig, ReferenceStats, calibrate_session

    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2)).astype(np.float32)
    x[:10] += 50.0  # group a is offset
    groups = np.array(["a"] * 10 + ["b"] * 12 + ["c"] * 8)
    config = CalibrationConfig("zscore", baseline_windows=5)
    out, population = pd_.calibrate_groups(x, groups, config, ["a", "b"], ("u", "v"))
    expected_prior = ReferenceStats.from_windows(x[:5], ("u", "v")).merge(
        ReferenceStats.from_windows(x[10:15], ("u", "v")))
    np.testing.assert_allclose(population.mean, expected_prior.mean, rtol=1e-12)
    for rows in (slice(0, 10), slice(10, 22), slice(22, 30)):  # held-out c uses the same prior
        np.testing.assert_array_equal(out[rows], calibrate_session(x[rows], config, population))
    # Group c's windows never enter the prior: changing them leaves a and b untouched.
    changed = x.copy()
    changed[22:] *= 7.0
    again, _ = pd_.calibrate_groups(changed, groups, config, ["a", "b"], ("u", "v"))
    np.testing.assert_array_equal(again[:22], out[:22])
    # driver_profile: each group against its own windows; none: unchanged, no prior.
    own, _ = pd_.calibrate_groups(x, groups, CalibrationConfig("center", prior="driver_profile"),
                                  ["a"], ("u", "v"))
    np.testing.assert_allclose(own[:10].mean(axis=0), 0.0, atol=1e-4)
    plain, prior = pd_.calibrate_groups(x, groups, CalibrationConfig(), ["a"], ("u", "v"))
    assert prior is None
    np.testing.assert_array_equal(plain, x)
    with pytest.raises(ValueError, match=r"groups must have shape \[30\]; got \[4\]"):
        pd_.calibrate_groups(x, groups[:4], config, ["a"], ("u", "v"))
    with pytest.raises(ValueError, match=r"train_groups must be a non-empty subset of the "
                                         r"groups; got unknown \['z'\]"):
        pd_.calibrate_groups(x, groups, config, ["z"], ("u", "v"))
    with pytest.raises(ValueError, match="feature_names must name the 2 feature columns"):
        pd_.calibrate_groups(x, groups, config, ["a"], ("u",))


def test_physio_task_validates_shapes():
    with pytest.raises(ValueError, match=r"features must be float32\[2,2\]; got float64"):
        pd_.PhysioTask("t", np.zeros((2, 2)), np.zeros(2, np.int64), np.array(["a", "a"]),
                       ("a", "b"), DRIVEDB3)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\) for 'drivedb3'"):
        _task(["a", "a"], [0, 3])
