"""Federated decision forests on physiological signals: entry point.

`python -m tff_train.physio_main --config=configs/physio_wesad.py --workdir=DIR`;
override config keys with `--config.KEY=VALUE`, e.g. `--config.data.task=wesad_binary`.
`--local_workers=N` / `--workers=HOST:PORT,...` run the TFF computations on worker processes.
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
from tff_train.physio.config import validate_physio_config

# TensorFlow must be imported at module level, before absl's app.run: importing it inside
# main() breaks Keras functional models ("'SymbolicTensor' object has no attribute 'node'").
from tff_train.physio.trainer import run_physio_training
from tff_train.runtime import worker_flags
from tff_train.runtime.tff_runtime import import_tff
from tff_train.runtime.worker_flags import define_worker_flags, run_in_worker_session

_CONFIG = define_config_file("config", "configs/physio_wesad.py",
                             "Experiment config file (get_config()).")
_WORKDIR = flags.DEFINE_string("workdir", None, "Output directory.", required=True)
define_worker_flags()
flags.adopt_module_key_flags(worker_flags)  # --help lists them, not only --helpfull


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    validate_physio_config(_CONFIG.value)  # before any worker is started
    import_tff()
    run_in_worker_session(lambda: run_physio_training(_CONFIG.value, _WORKDIR.value),
                          log=logging.info)


if __name__ == "__main__":
    run_main(main)
