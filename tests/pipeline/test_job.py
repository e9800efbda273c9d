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
    config.physio.data.synthetic_drivers = 4
    with pytest.raises(ValueError, match=r"config.physio.data.synthetic_drivers must be <= "
                                         r"config.cohort.num_drivers - 2 = 3 .*; got 4"):
        run_pipeline(config, tmp_path)


def test_the_trainer_configs_are_composed_and_their_errors_name_the_nested_key(tmp_path):
    config = pipeline_default.get_config()
    config.face.train.rounds = 0
    with pytest.raises(ValueError, match=r"^config.face.train.rounds must be"):
        run_pipeline(config, tmp_path)
    config = pipeline_default.get_config()
    config.physio.evaluation.val_fraction = 1.5
    with pytest.raises(ValueError, match=r"^config.physio.evaluation.val_fraction must be"):
        run_pipeline(config, tmp_path)
    config = pipeline_default.get_config()
    config.physio.models = "federated_rf,sklearn_rf"
    with pytest.raises(ValueError, match=r"config.physio.models must be one federated model"):
        run_pipeline(config, tmp_path)


def test_pooling_half_lives_are_checked_up_front(tmp_path):
    config = pipeline_default.get_config()
    config.fusion.pooling_half_life_s.face = -3.0
    with pytest.raises(ValueError, match=r"config.fusion.pooling_half_life_s.face must be finite "
                                         r"and in \[0.0, inf\); got -3.0"):
        run_pipeline(config, tmp_path)
    assert not (tmp_path / "bundle").exists()


def test_shared_values_follow_their_source():
    """The seed and cohort size reach the trainers, max_age_s follows the physio stride and the
    validation gap the physio window and stride, also after overrides."""
    config = pipeline_default.get_config()
    assert config.fusion.max_age_s == config.physio.features.stride_s + 1.0 == 6.0
    assert config.physio.evaluation.val_gap_windows == 3  # 20-s windows every 5 s
    config.seed, config.cohort.num_drivers = 7, 9
    config.physio.features.stride_s = 2.0
    config.physio.features.window_s = 30.0
    assert config.face.seed == config.physio.seed == 7
    assert config.face.data.synthetic_drivers == 9
    assert config.fusion.max_age_s == 3.0
    assert config.physio.evaluation.val_gap_windows == 14  # ceil(30 / 2) - 1
    config.face.aggregation.robust = "median"  # every trainer option is reachable
    assert config.to_dict()["face"]["aggregation"]["robust"] == "median"


def test_replay_keeps_the_calibration_drive_out(tmp_path):
    config = pipeline_default.get_config()
    config.replay.episodes = 2
    with pytest.raises(ValueError, match=r"config.replay.episodes must be in \[1, 1\] \(the "
                                         r"unseen driver's last episode is its calibration"):
        run_pipeline(config, tmp_path)


@pytest.mark.slow
def test_end_to_end_on_a_tiny_cohort_learns_and_fusion_helps(tmp_path, capfd, caplog):
    """A tiny run (3 face clients, 3 physio clients, 3 rounds) must still learn: the physio
    forest and the fused state well above chance (1/3) on the unseen driver's edge replay,
    and the fusion (weights fitted on the validation driver) no worse than either modality."""
    config = pipeline_default.get_config()
    config.cohort.num_drivers = 5
    config.cohort.faces_per_class = 10
    config.face.train.rounds = 3
    config.face.train.local_epochs = 2
    config.face.train.clients_per_round = 3
    config.physio.data.synthetic_drivers = 3
    with caplog.at_level("WARNING", logger="tflite_edge.realtime"):
        summary = run_pipeline(config, tmp_path)
    assert (tmp_path / "bundle" / "manifest.json").is_file()
    # The drives' sensor dropouts are counted in the table, not logged one by one.
    assert not [r for r in caplog.records if r.name == "tflite_edge.realtime"]
    accuracy = summary["replay"]["accuracy"][0]
    assert accuracy["fused_decisions"] > 200 and accuracy["physio_decisions"] > 200
    assert accuracy["physio"] > 0.6, accuracy
    assert accuracy["fused"] > 0.6, accuracy
    assert accuracy["fused"] >= max(accuracy["face"], accuracy["physio"]), accuracy
    # The bundle pools the face readings; the lines carry the pooled state fusion used.
    fusion = json.loads((tmp_path / "bundle" / "fusion.json").read_text())
    assert fusion["pooling_half_life_s"] == {"face": 4.0, "physio": 0.0}
    lines = [json.loads(x) for x in (tmp_path / "replay_episode0.jsonl").read_text().splitlines()]
    assert all("pooled_driver_state" in line["face"] for line in lines if line["face"]
               and "driver_state" in line["face"])
    assert accuracy["face_reading"] is not None
    assert summary["fusion_weights"]["fitted_on_driver"] == 3  # the face validation driver
    assert summary["replay"]["driver"] == 5 and summary["replay"]["calibration_episode"] == 1
    assert summary["replay"]["harness"][0]["peak_rss_mb"] > 0
    out = capfd.readouterr().out
    assert "[pipeline] results" in out and "unseen driver" in out
    for row in ("cohort", "train", "bundle", "replay", "total", "physio", "fused", "outputs"):
        assert f"  {row}" in out, row
    counts = summary["replay"]["harness"][0]["incidents"]["counts"]
    assert counts.get("invalid_samples", 0) > 0  # the tiny drives have dropouts too
    assert f"invalid_samples {counts['invalid_samples']}" in out


def test_main_job_command_reports_a_nested_config_error(tmp_path):
    """`python -m pipeline.main` (the README's main-job command) refuses a bad trainer key
    before any work, naming it, with exit status 2."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.main", f"--workdir={tmp_path / 'run'}",
         "--config.face.train.rounds=0"], cwd=repo, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "pipeline: error: config.face.train.rounds must be >= 1; got 0")
    assert not (tmp_path / "run").exists()
