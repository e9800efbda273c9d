from __future__ import annotations

import json

import pytest

from configs import pipeline_default
from tff_train.pipeline_main import run_pipeline


def test_pipeline_writes_the_cohort_summary(tmp_path, capsys):
    config = pipeline_default.get_config()
    config.cohort.num_drivers = 3
    summary = run_pipeline(config, tmp_path)
    assert summary["cohort"]["drivers"] == 3
    assert json.loads((tmp_path / "summary.json").read_text())["cohort"]["drivers"] == 3
    assert '"drivers": 3' in capsys.readouterr().out


def test_pipeline_rejects_a_too_small_cohort(tmp_path):
    config = pipeline_default.get_config()
    config.cohort.num_drivers = 2
    with pytest.raises(ValueError, match="config.cohort.num_drivers must be >= 3; got 2"):
        run_pipeline(config, tmp_path)
