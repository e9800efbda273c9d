from __future__ import annotations

import json

import pytest

from configs import pipeline_default
from pipeline.job import run_pipeline


def test_pipeline_writes_the_cohort_summary(tmp_path, capsys):
    config = pipeline_default.get_config()
    config.cohort.num_drivers = 3
    config.stages = "cohort"
    summary = run_pipeline(config, tmp_path)
    assert summary["cohort"]["drivers"] == 3
    assert json.loads((tmp_path / "summary.json").read_text())["cohort"]["drivers"] == 3
    assert "[pipeline] cohort: 3 drivers, seed 0" in capsys.readouterr().out


def test_pipeline_rejects_a_too_small_cohort(tmp_path):
    config = pipeline_default.get_config()
    config.cohort.num_drivers = 2
    with pytest.raises(ValueError, match="config.cohort.num_drivers must be >= 3; got 2"):
        run_pipeline(config, tmp_path)


def test_stages_must_be_a_prefix(tmp_path):
    config = pipeline_default.get_config()
    config.stages = "cohort,bundle"
    with pytest.raises(ValueError, match="config.stages must be a non-empty prefix of "
                                         "cohort,train,bundle,replay"):
        run_pipeline(config, tmp_path)


def test_physio_drivers_must_leave_the_validation_and_test_drivers_unseen(tmp_path):
    config = pipeline_default.get_config()
    config.cohort.num_drivers = 5
    config.physio.drivers = 4
    with pytest.raises(ValueError, match=r"config.physio.drivers must be <= "
                                         r"config.cohort.num_drivers - 2 = 3 .*; got 4"):
        run_pipeline(config, tmp_path)


def test_replay_keeps_the_calibration_drive_out(tmp_path):
    config = pipeline_default.get_config()
    config.replay.episodes = 2
    with pytest.raises(ValueError, match=r"config.replay.episodes must be in \[1, 1\] \(the "
                                         r"unseen driver's last episode is its calibration"):
        run_pipeline(config, tmp_path)


@pytest.mark.slow
def test_end_to_end_on_a_tiny_cohort_learns_and_fusion_helps(tmp_path, capfd):
    """A tiny run (3 face clients, 3 physio clients, 3 rounds) must still learn: the physio
    forest and the fused state well above chance (1/3) on the unseen driver's edge replay,
    and the fusion (weights fitted on the validation driver) no worse than either modality."""
    config = pipeline_default.get_config()
    config.cohort.num_drivers = 5
    config.cohort.faces_per_class = 10
    config.face.rounds = 3
    config.face.local_epochs = 2
    config.face.clients_per_round = 3
    config.physio.drivers = 3
    summary = run_pipeline(config, tmp_path)
    assert (tmp_path / "bundle" / "manifest.json").is_file()
    accuracy = summary["replay"]["accuracy"][0]
    assert accuracy["fused_decisions"] > 200 and accuracy["physio_decisions"] > 200
    assert accuracy["physio"] > 0.6, accuracy
    assert accuracy["fused"] > 0.6, accuracy
    assert accuracy["fused"] >= max(accuracy["face"], accuracy["physio"]), accuracy
    assert summary["fusion_weights"]["fitted_on_driver"] == 3  # the face validation driver
    assert summary["replay"]["driver"] == 5 and summary["replay"]["calibration_episode"] == 1
    assert summary["replay"]["harness"][0]["peak_rss_mb"] > 0
    out = capfd.readouterr().out
    assert "[pipeline] results" in out and "unseen driver" in out
    for row in ("cohort", "train", "bundle", "replay", "total", "physio", "fused", "outputs"):
        assert f"  {row}" in out, row
