"""The main-job benchmark's variants are valid main-job configs and its replay scoring works."""

from __future__ import annotations

import json

import pytest

from benchmarks import main_job
from configs import pipeline_default
from emocore.label_spaces import DRIVER_STATE3
from emodata.synthetic_cohort import CohortConfig, generate_cohort
from pipeline.job import validate_pipeline_config


@pytest.mark.parametrize("name", list(main_job.VARIANTS))
def test_every_variant_is_a_valid_main_job_config(name):
    config = pipeline_default.get_config()
    for key, value in main_job.VARIANTS[name].items():
        *parents, field = key.split(".")
        node = config
        for parent in parents:
            node = node[parent]
        assert field in node, f"{name}: unknown key {key}"
        node[field] = value
    validate_pipeline_config(config)
    args = main_job.variant_args(main_job.VARIANTS[name])
    assert all(a.startswith("--config.") and "=" in a for a in args)
    assert len(args) == len(main_job.VARIANTS[name])


def test_the_previous_variant_restores_the_old_schedule():
    default = pipeline_default.get_config()
    previous = main_job.VARIANTS["previous"]
    assert previous["face.train.clients_per_round"] == 24 != default.face.train.clients_per_round
    assert previous["face.train.client_datasets"] == "driver" != default.face.train.client_datasets
    assert previous["fusion.strategy"] == "learned_weights" != default.fusion.strategy


def test_validation_replay_accuracy_scores_the_validation_driver(tmp_path):
    config = pipeline_default.get_config()
    cohort = generate_cohort(config.cohort.num_drivers, seed=config.seed,
                             config=CohortConfig(faces_per_class=config.cohort.faces_per_class))
    driver = cohort.drivers[-2]
    episode = driver.episodes[0]
    # One line per segment midpoint: face right, physio wrong, fused right.
    lines = []
    for seg in episode.segments:
        right = [0.0, 0.0, 0.0]
        right[seg.state] = 1.0
        wrong = [0.0, 0.0, 0.0]
        wrong[(seg.state + 1) % 3] = 1.0
        lines.append({"t": (seg.start_s + seg.end_s) / 2, "face": {"driver_state": right},
                      "physio": {"driver_state": wrong},
                      "fused": {"label": DRIVER_STATE3.labels[seg.state]}})
    (tmp_path / "fusion_validation_episode.jsonl").write_text(
        "\n".join(json.dumps(x) for x in lines))
    (tmp_path / "summary.json").write_text(json.dumps(
        {"fusion_weights": {"fitted_on_driver": driver.driver_id}}))
    got = main_job.validation_replay_accuracy(tmp_path)
    assert (got["face"], got["physio"], got["driver"]) == (1.0, 0.0, driver.driver_id)
    assert got["face_decisions"] == len(episode.segments)
