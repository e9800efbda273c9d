from __future__ import annotations

import json

import pytest

from configs import pipeline_default
from tff_train.pipeline_main import run_pipeline


def test_pipeline_writes_the_cohort_summary(tmp_path, capsys):
    config = pipeline_default.get_config()
    config.cohort.num_drivers = 3
    config.stages = "cohort"
    summary = run_pipeline(config, tmp_path)
    assert summary["cohort"]["drivers"] == 3
    assert json.loads((tmp_path / "summary.json").read_text())["cohort"]["drivers"] == 3
    assert '"drivers": 3' in capsys.readouterr().out


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


@pytest.mark.slow
def test_end_to_end_on_a_tiny_cohort(tmp_path):
    config = pipeline_default.get_config()
    config.cohort.num_drivers = 4
    config.face.rounds = 1
    config.face.local_epochs = 1
    config.physio.drivers = 2
    summary = run_pipeline(config, tmp_path)
    assert (tmp_path / "bundle" / "manifest.json").is_file()
    accuracy = summary["replay"]["accuracy"][0]
    assert accuracy["fused_decisions"] > 0 and 0 <= accuracy["fused"] <= 1
    assert summary["replay"]["harness"][0]["peak_rss_mb"] > 0
