"""The README main job: synthetic cohort → federated face CNN + federated forest → bundle → edge.

`python -m pipeline.main --workdir=runs/default [--config=configs/pipeline_default.py]`
(`--local_workers=N` / `--workers=HOST:PORT,...`: TFF computations on worker processes).
The stages are in `pipeline.job`, the results table in `pipeline.report`.
"""

from __future__ import annotations

import sys

from emocore.cli_output import quiet_unless_verbose, verbosity_from_argv

# ruff: noqa: E402 (the imports below follow the quiet-output call on purpose)
if __name__ == "__main__":  # before anything imports TensorFlow: quiet its console output
    quiet_unless_verbose(sys.argv)

from collections.abc import Sequence

from absl import app, flags

# TensorFlow-importing modules at module level (importing TF inside absl's main breaks Keras).
from emocore.cli import define_config_file, run_main
from pipeline.job import run_pipeline, validate_pipeline_config
from tff_train.runtime import worker_flags
from tff_train.runtime.worker_flags import define_worker_flags, run_in_worker_session

_CONFIG = define_config_file("config", "configs/pipeline_default.py",
                             "Pipeline config file (get_config()).")
_WORKDIR = flags.DEFINE_string("workdir", "runs/default", "Output directory.")
define_worker_flags()
flags.adopt_module_key_flags(worker_flags)  # --help lists them, not only --helpfull


def main(argv: Sequence[str]) -> None:
    """Validates the config, then runs the pipeline on the flags' TFF workers."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    validate_pipeline_config(_CONFIG.value)  # before any worker is started
    # The verbose mode of quiet_unless_verbose (an explicit -v >= 0) also logs each incident.
    verbosity = verbosity_from_argv(sys.argv)
    log_incidents = verbosity is not None and verbosity >= 0
    run_in_worker_session(lambda: run_pipeline(_CONFIG.value, _WORKDIR.value,
                                               log_incidents=log_incidents))


if __name__ == "__main__":
    run_main(main)
