"""Federated face CNN entry point.

`python -m tff_train.face_main --config=configs/face_fer2013.py --workdir=DIR`;

Override config keys with `--config.train.rounds=10`; `--resume` continues from the last completed
round in `--workdir` after a crash. `--local_workers=N` runs TFF on N local worker processes,
`--workers=HOST:PORT,...` on running `worker_binary` services (`--worker_timeout_s` bounds a call;
`--worker_retries=K` reopens the workers after a failure and resumes from the last checkpoint).
"""

from __future__ import annotations

import sys

from emocore.cli_output import quiet_unless_verbose

# ruff: noqa: E402 (the imports below follow the quiet-output call on purpose)
if __name__ == "__main__":  # before anything imports TensorFlow: quiet its console output
    quiet_unless_verbose(sys.argv)

from collections.abc import Sequence

from absl import app, flags, logging

from emocore.cli import define_config_file, run_main

# TensorFlow must be imported at module level, before absl's app.run: importing it inside
# main() breaks Keras functional models ("'SymbolicTensor' object has no attribute 'node'").
from tff_train.face.config import validate_face_config, validate_worker_options
from tff_train.face.trainer import run_face_training
from tff_train.runtime import worker_flags
from tff_train.runtime.tff_runtime import import_tff, shutdown_tff_workers
from tff_train.runtime.worker_flags import (
    define_worker_flags,
    worker_retries,
    worker_session_kwargs,
)
from tff_train.runtime.worker_session import run_with_worker_retries

_CONFIG = define_config_file("config", "configs/face_fer2013.py",
                             "Experiment config file (get_config()).")
_WORKDIR = flags.DEFINE_string("workdir", None, "Output directory.", required=True)
_RESUME = flags.DEFINE_bool("resume", False, "Continue from the newest checkpoint in --workdir.")
_CRASH_AFTER_ROUND = flags.DEFINE_integer(
    "crash_after_round", None, "Testing aid: SIGKILL this process after that round's checkpoint.")
define_worker_flags()
flags.adopt_module_key_flags(worker_flags)  # --help lists them, not only --helpfull


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    config, session = _CONFIG.value, worker_session_kwargs()
    validate_face_config(config)  # before any worker is started or contacted
    validate_worker_options(config, workers=session["workers"],
                            local_workers=session["local_workers"])
    import_tff()
    try:
        run_with_worker_retries(
            lambda resume: run_face_training(config, _WORKDIR.value, resume=resume,
                                             crash_after_round=_CRASH_AFTER_ROUND.value,
                                             log=logging.info),
            resume=_RESUME.value, retries=worker_retries(), **session, log=logging.info)
    finally:
        shutdown_tff_workers()


if __name__ == "__main__":
    run_main(main)
