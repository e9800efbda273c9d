"""Physio trainer: config validation, a 2-client federated run on the synthetic cohort, main."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from configs import physio_drivedb, physio_smoke, physio_wesad
from emocore.physio import PhysioSpec, feature_names
from forests.ensemble import TreeEnsemble
from tests.forests.test_ensemble import random_ensemble
from tff_train.physio import config as pc
from tff_train.physio import models as pm
from tff_train.physio import trainer as pt

pytest.importorskip("tensorflow_decision_forests")
PROJECT_ROOT = Path(__file__).resolve().parents[3]


def _smoke(**changes: object):
    config = physio_smoke.get_config()
    config.update_from_flattened_dict(changes)
    return config


@pytest.mark.parametrize("changes, message", [
    ({"data.task": "wesad"}, r"config.data.task must be one of \['wesad3', .*got 'wesad'"),
    ({"calibration.method": "rank"}, r"config.calibration: calibration method must be one of"),
    ({"data.task": "wesad3", "data.data_root": "/nonexistent"},
     r"config.data.data_root must be a folder holding wesad_features/ \(the wesad3 data path "
     r"is missing\); got '/nonexistent'"),
    ({"data.synthetic_drivers": 1}, r"config.data.synthetic_drivers must be an int >= 2"),
    ({"data.synthetic_segment_s": (5, 9)},
     r"config.data: CohortConfig.segment_s must be whole seconds \(low, high\) with 10 <= low"),
    ({"features.stride_s": 0.0}, r"config.features: PhysioFeatureConfig.stride_s must be a "
                                 r"finite number > 0; got 0.0"),
    ({"evaluation.num_folds": 1}, r"config.evaluation.num_folds must be an int >= 2; got 1"),
    ({"evaluation.run_folds": 4}, r"config.evaluation.run_folds must be an int in \[0, "
                                  r"num_folds=3\] \(0 = all\); got 4"),
    ({"evaluation.val_fraction": 1.0}, r"config.evaluation.val_fraction must be in \(0, 1\)"),
    ({"models": "federated_rf,xgboost"}, r"config.models must be a comma-separated list of "
                                         r"distinct names from \['federated_rf', .*xgboost'"),
    ({"models": "sklearn_rf,sklearn_rf"}, r"config.models must be .*distinct"),
    ({"federated_rf.keep_top_n": 0},
     r"config.federated_rf: keep_top_n must be an int >= 1; got 0"),
    ({"federated_gbt.num_bins": 1},
     r"config.federated_gbt: num_bins must be an int in \[2, 65535\]; got 1"),
    ({"models": "centralised_hist_gbt", "federated_gbt.learning_rate": 0.0},
     r"config.federated_gbt: learning_rate must be a number in \(0.0, 1.0\]; got 0.0"),
    ({"centralised_gbt.shrinkage": 0.0}, r"config.centralised_gbt.shrinkage must be in \(0, 1\]"),
    ({"sklearn_rf.max_depth": 0}, r"config.sklearn_rf.max_depth must be an int in \[1, 30\]"),
])
def test_bad_configs_fail_before_any_work(tmp_path, changes, message):
    with pytest.raises(ValueError, match=message):
        pt.run_physio_training(_smoke(**changes), tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_real_task_configs_are_valid_and_folds_must_fit_the_groups(tmp_path):
    for module, folder in ((physio_wesad, "wesad_features"), (physio_drivedb, "drivedb")):
        config = module.get_config()
        config.data.data_root = str(tmp_path)
        with pytest.raises(ValueError, match=f"config.data.data_root must be a folder holding "
                                             f"{folder}/"):
            pc.validate_physio_config(config)
        (tmp_path / folder).mkdir()
        pc.validate_physio_config(config)
    with pytest.raises(ValueError, match=r"config.evaluation.num_folds: num_folds must be an int "
                                         r"in \[2, 3\] \(the number of groups\); got 4"):
        pt.run_physio_training(_smoke(**{"evaluation.num_folds": 4}), tmp_path / "w")
    assert pc.parse_models(" sklearn_rf , federated_gbt") == ("sklearn_rf", "federated_gbt")


def test_compact_nodes_keeps_predictions():
    rng = np.random.default_rng(0)
    ens = random_ensemble(rng, num_trees=6, max_depth=3)
    padded = ens.pad(num_nodes=ens.max_nodes + 40)
    compact = pm.compact_nodes(padded)
    assert compact.max_nodes <= ens.max_nodes
    x = rng.uniform(-3, 3, (200, ens.num_features)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    np.testing.assert_array_equal(compact.predict_proba(x), padded.predict_proba(x))


def test_two_client_federated_run_writes_every_output(tmp_path):
    config = _smoke(**{"evaluation.run_folds": 1, "federated_gbt.num_trees": 2})
    logs: list[str] = []
    results = pt.run_physio_training(config, tmp_path, log=logs.append)

    assert results["folds"] == [["driver02"]]  # fold 0 of 3: clients driver00 and driver01
    task_windows = results["task"]["windows"]
    for name in pc.MODELS:
        r = results["models"][name]
        assert 0.0 <= r["accuracy"] <= 1.0 and r["num_examples"] < task_windows
        assert list(r["group_accuracy"]) == ["driver02"]
        assert (tmp_path / f"confusion_{name}.csv").exists()
        assert (tmp_path / f"confusion_{name}.png").stat().st_size > 0
    # Synthetic states are separable from physiology: better than chance (1/3) on a new driver.
    assert results["models"]["sklearn_rf"]["accuracy"] > 0.5
    fed_rf, fed_gbt = results["models"]["federated_rf"], results["models"]["federated_gbt"]
    assert fed_rf["uplink_bytes_per_client_mean"] > 0
    # The forest broadcasts its candidates for cross-client scoring: 3 rounds.
    assert fed_rf["downlink_bytes_per_client_max"] > 0 and fed_rf["rounds"] == 3
    assert fed_gbt["downlink_bytes_per_client_mean"] > 0 and fed_gbt["rounds"] >= 6
    assert fed_gbt["num_trees_mean"] <= 2 * 3  # at most 2 iterations of 3 trees
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["model"] for r in rows] == list(pc.MODELS)
    assert json.loads((tmp_path / "config.json").read_text())["data"]["task"] == "synthetic"
    # The trainer writes what its forests consume: the bundle's features.json.
    spec = PhysioSpec.from_json_dict(json.loads((tmp_path / pc.FEATURES_JSON).read_text()))
    assert spec == PhysioSpec.raw_signals(pc.feature_config(config))
    assert json.loads((tmp_path / "results.json").read_text())["folds"] == [["driver02"]]

    # Final federated models on all 3 drivers, loadable for the converters.
    final = results["final_models"]
    assert final["federated_rf"]["clients"] == 3
    task = pt.load_physio_task(config)
    for name, kind in (("federated_rf", "rf"), ("federated_gbt", "gbt")):
        ens = TreeEnsemble.load(tmp_path / f"{name}.npz")
        assert ens.kind == kind and ens.feature_names == feature_names(pc.feature_config(config))
        assert ens.num_trees == final[name]["num_trees"]
        assert np.mean(ens.predict(task.features) == task.labels) > 0.5  # its training data
    assert any("final federated_gbt" in line for line in logs)


def test_physio_main_runs_a_config_with_overrides(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tff_train.physio_main", "--config=configs/physio_smoke.py",
         f"--workdir={tmp_path}", "--config.models=federated_rf,sklearn_rf",
         "--config.evaluation.run_folds=1", "--config.output.final_models=False"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results["models"]) == ["federated_rf", "sklearn_rf"]
    assert "federated_rf: held-out accuracy=" in result.stdout
    assert not (tmp_path / "federated_rf.npz").exists()
