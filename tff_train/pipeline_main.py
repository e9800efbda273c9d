"""The README main job: synthetic in-vehicle cohort → (later stages: train → convert → edge).

`python -m tff_train.pipeline_main --workdir=runs/default [--config=configs/pipeline_default.py]`
Everything runs on data the project generates itself (no downloads).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from absl import app, flags
from ml_collections import config_flags

from emodata.synthetic_cohort import cohort_summary, generate_cohort
from tff_train import workdir_io

_CONFIG = config_flags.DEFINE_config_file("config", "configs/pipeline_default.py",
                                          "Pipeline config file (get_config()).")
_WORKDIR = flags.DEFINE_string("workdir", "runs/default", "Output directory.")


def run_pipeline(config: object, workdir: str | Path) -> dict:
    """Generates the cohort and writes/prints its summary; returns the summary dict."""
    if config.cohort.num_drivers < 3:
        raise ValueError(f"config.cohort.num_drivers must be >= 3; got "
                         f"{config.cohort.num_drivers}")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    workdir_io.write_json(workdir / "config.json", config.to_dict())
    started = time.perf_counter()
    cohort = generate_cohort(config.cohort.num_drivers, seed=config.seed)
    summary = {"cohort": cohort_summary(cohort),
               "cohort_seconds": round(time.perf_counter() - started, 2)}
    workdir_io.write_json(workdir / "summary.json", summary)
    print(json.dumps(summary, indent=2))
    print(f"[pipeline] outputs in {workdir.resolve()}")
    return summary


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    run_pipeline(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
    app.run(main)
