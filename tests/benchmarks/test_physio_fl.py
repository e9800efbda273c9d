"""Tests for benchmarks.physio_fl's report tables on fabricated trainer results."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import physio_fl
from emocore.label_spaces import WESAD3
from tff_train.physio.tasks import PhysioTask


def _model(accuracy: float, federated: bool = False) -> dict:
    entry = {"accuracy": accuracy, "macro_f1": accuracy - 0.1, "train_seconds_total": 12.5,
             "fold_accuracy": [accuracy], "fold_accuracy_mean": accuracy,
             "fold_accuracy_std": 0.0, "worst_group_accuracy": accuracy - 0.2,
             "group_accuracy": {"S2": accuracy}, "per_class_accuracy": {},
             "confusion_matrix": [[1]], "num_examples": 10}
    if federated:
        entry.update(uplink_bytes_per_client_mean=1000.0, uplink_bytes_per_client_max=1200,
                     downlink_bytes_per_client_mean=0.0, downlink_bytes_per_client_max=0,
                     rounds=1, num_trees_mean=80.0)
    return entry


def _results() -> dict[str, dict]:
    return {
        "wesad3": {"task": {"windows": 10}, "folds": [["S2"]], "models": {
            "federated_rf": _model(0.7999, federated=True), "centralised_rf": _model(0.81),
            "federated_gbt": _model(0.85, federated=True), "centralised_gbt": _model(0.84)}},
        "wesad_binary": {"task": {"windows": 10}, "folds": [["S2"]], "models": {
            "federated_rf": _model(0.90, federated=True), "sklearn_rf": _model(0.95)}},
    }


def test_tables_have_the_documented_shape():
    results = _results()
    scores = physio_fl.table(results)
    assert scores["wesad3"]["federated_rf"] == {"accuracy": 0.7999,
                                                "macro_f1": pytest.approx(0.6999)}
    assert physio_fl.training_times(results)["wesad_binary"] == {"federated_rf": 12.5,
                                                                 "sklearn_rf": 12.5}
    sent = physio_fl.bytes_per_client(results)
    assert set(sent["wesad3"]) == {"federated_rf", "federated_gbt"}
    assert sent["wesad3"]["federated_rf"]["uplink"] == 1000.0
    assert sent["wesad3"]["federated_rf"]["downlink"] == 0.0
    assert physio_fl.details(results)["wesad3"]["models"]["federated_rf"][
        "worst_group_accuracy"] == pytest.approx(0.5999)


def test_target_verdicts_never_round_up():
    verdicts = {v["task"]: v for v in physio_fl.target_verdicts(physio_fl.table(_results()))}
    wesad = verdicts["wesad3"]
    assert wesad["best_federated"] == "federated_gbt" and wesad["meets_minimum"] is True
    assert wesad["best_centralised"] == "centralised_gbt" and wesad["within_gap"] is True
    binary = verdicts["wesad_binary"]  # 0.90 meets 0.90; 5 points below sklearn_rf
    assert binary["meets_minimum"] is True and binary["within_gap"] is False
    results = _results()
    results["wesad3"]["models"]["federated_gbt"] = _model(0.7999, federated=True)
    low = {v["task"]: v for v in physio_fl.target_verdicts(physio_fl.table(results))}["wesad3"]
    assert low["value"] == 0.7999 and low["meets_minimum"] is False  # 0.7999 < 0.80
    assert low["within_gap"] is False  # 0.7999 < 0.84 - 0.01


def test_rotated_order_starts_each_session_at_its_first_stress_window():
    task = PhysioTask("wesad3", np.zeros((7, 1), np.float32),
                      np.array([1, 1, 2, 0, 1, 2, 0], np.int64),
                      np.array(["a", "a", "a", "a", "b", "b", "b"]), ("f",), WESAD3)
    order = physio_fl.rotated_order(task, ["a"], "stress")
    np.testing.assert_array_equal(order, [2, 3, 0, 1, 4, 5, 6])
    np.testing.assert_array_equal(physio_fl.rotated_order(task, ["a", "b"], "stress"),
                                  [2, 3, 0, 1, 5, 6, 4])


def test_task_config_maps_tasks_to_configs():
    config = physio_fl.task_config("wesad_binary", "/data", "federated_rf",
                                   physio_fl.CALIBRATIONS["zscore_start60"])
    assert (config.data.task, config.data.data_root, config.models) == (
        "wesad_binary", "/data", "federated_rf")
    assert config.calibration.method == "zscore" and config.calibration.baseline_windows == 60
    assert config.output.final_models is False
    assert physio_fl.task_config("drivedb3", "/data").evaluation.num_folds == 4
    with pytest.raises(ValueError, match=r"task must be one of \['wesad3', 'wesad_binary', "
                                         r"'drivedb3'\]; got 'fer'"):
        physio_fl.task_config("fer", "/data")
