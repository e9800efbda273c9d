"""Federated decision forests on physiological signals: entry point.

`python -m tff_train.physio_main --config=configs/physio_wesad.py --workdir=DIR`;
override config keys with `--config.KEY=VALUE`, e.g. `--config.data.task=wesad_binary`.
"""

from __future__ import annotations

from collections.abc import Sequence

from absl import app, flags
from ml_collections import config_flags

# TensorFlow must be imported at module level, before absl's app.run: importing it inside
# main() breaks Keras functional models ("'SymbolicTensor' object has no attribute 'node'").
from tff_train.physio_trainer import run_physio_training
from tff_train.tff_runtime import import_tff, shutdown_tff_workers

_CONFIG = config_flags.DEFINE_config_file("config", "configs/physio_wesad.py",
                                          "Experiment config file (get_config()).")
_WORKDIR = flags.DEFINE_string("workdir", None, "Output directory.", required=True)


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    import_tff()
    try:
        run_physio_training(_CONFIG.value, _WORKDIR.value)
    finally:
        shutdown_tff_workers()


if __name__ == "__main__":
    app.run(main)
