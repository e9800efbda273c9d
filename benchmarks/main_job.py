"""The README main job under named face-schedule variants, each in its own process, timed.

`python -m benchmarks.main_job --out=FILE.json [--variants=default,previous,...]
[--workdir=DIR]`

Each variant is `python -m pipeline.main --workdir=DIR/NAME` plus its `--config.face.*`
overrides (VARIANTS), run one after another in a fresh process (so its wall time includes the
imports and TFF start-up, as a user sees it; the set-up check of `scripts/run_main.sh` is not
included). From each run's `summary.json` and replay lines it reports: wall seconds, the stage
timings, the face CNN's accuracy on the validation and test drivers' labelled faces (7
expressions), the driver-state accuracy of face / physio / fused on the validation driver's
replay (the fusion-weight fit; what the schedule is chosen on) and on the unseen driver's replay
(what the README reports). The validation driver trained neither model; the unseen driver is
seen by no trainer and plays no part in any choice.
"""

from __future__ import annotations

import sys

from emocore.cli_output import quiet_unless_verbose

# ruff: noqa: E402 (the imports below follow the quiet-output call on purpose)
if __name__ == "__main__":  # before anything imports TensorFlow: quiet its console output
    quiet_unless_verbose(sys.argv)

import json
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from absl import app, flags

from benchmarks.common import emit, provenance
from configs import pipeline_default
from emodata.synthetic_cohort import CohortConfig, generate_cohort
from pipeline.job import replay_accuracy

# Face-schedule variants of the main job (`--config.face.KEY=VALUE` overrides of the default).
VARIANTS: dict[str, dict[str, object]] = {
    "default": {},
    # The default before 2026-12-03: every driver client in each of 12 rounds, client Adam
    # 3e-3, datasets built in the driver and sent with each round.
    "previous": {"train.clients_per_round": 24, "train.rounds": 12, "train.eval_every": 4,
                 "train.client_learning_rate": 0.003, "train.client_datasets": "driver"},
    "clients8_lr3e-3": {"train.client_learning_rate": 0.003},
    "clients4_rounds64": {"train.clients_per_round": 4, "train.rounds": 64,
                          "train.eval_every": 16},
}

_VARIANTS = flags.DEFINE_list("variants", ["default", "previous"],
                              f"Variants to run, in order; of {list(VARIANTS)}.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Where the runs go (default: a temporary dir).")
_OUT = flags.DEFINE_string("out", None, "Also write the JSON here.")


def variant_args(overrides: dict[str, object]) -> list[str]:
    """`--config.face.KEY=VALUE` arguments of one variant."""
    return [f"--config.face.{key}={value}" for key, value in overrides.items()]


def validation_replay_accuracy(run_dir: Path) -> dict:
    """Face / physio / fused driver-state accuracy on the validation driver's replay (the
    fusion-weight fit's `fusion_validation_episode.jsonl`)."""
    config = pipeline_default.get_config()
    summary = json.loads((run_dir / "summary.json").read_text())
    driver_id = summary["fusion_weights"]["fitted_on_driver"]
    cohort = generate_cohort(config.cohort.num_drivers, seed=config.seed,
                             config=CohortConfig(faces_per_class=config.cohort.faces_per_class))
    (driver,) = [d for d in cohort.drivers if d.driver_id == driver_id]
    lines = [json.loads(x) for x in
             (run_dir / "fusion_validation_episode.jsonl").read_text().splitlines()]
    return replay_accuracy(lines, driver.episodes[0]) | {"driver": driver_id}


def run_variant(name: str, workdir: Path) -> dict:
    """Runs the main job with variant `name` in a fresh process; its measured results."""
    run_dir = workdir / name
    command = [sys.executable, "-m", "pipeline.main", f"--workdir={run_dir}",
               *variant_args(VARIANTS[name])]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall_s = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"variant {name!r} failed (exit {done.returncode}): "
                           f"{done.stderr.strip().splitlines()[-1:]}")
    summary = json.loads((run_dir / "summary.json").read_text())
    (unseen,) = summary["replay"]["accuracy"]
    return {
        "overrides": VARIANTS[name],
        "wall_s": round(wall_s, 1),
        "timings": summary["timings"],
        "face_rounds": summary["face"]["rounds"],
        "face_round_time_median_s": summary["face"]["round_time_median_s"],
        "face_validation_driver_accuracy": summary["face"]["validation_driver_accuracy"],
        "face_test_driver_accuracy": summary["face"]["test_driver_accuracy"],
        "validation_replay": validation_replay_accuracy(run_dir),
        "unseen_replay": unseen | {"driver": summary["replay"]["driver"]},
    }


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    unknown = [v for v in _VARIANTS.value if v not in VARIANTS]
    if unknown or not _VARIANTS.value:
        raise app.UsageError(f"--variants must name variants of {list(VARIANTS)}; got "
                             f"{_VARIANTS.value!r}")
    result = {"provenance": provenance(), "protocol": __doc__.split("\n\n", 2)[2].strip(),
              "default_face_config": pipeline_default.get_config().face.train.to_dict(),
              "variants": {}}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(_WORKDIR.value or tmp)
        for name in _VARIANTS.value:
            result["variants"][name] = run_variant(name, workdir)
            r = result["variants"][name]
            print(f"{name}: {r['wall_s']} s, validation replay face "
                  f"{r['validation_replay']['face']:.3f}, unseen face "
                  f"{r['unseen_replay']['face']:.3f} fused {r['unseen_replay']['fused']:.3f}",
                  file=sys.stderr)
            if _OUT.value:  # after every variant: a stopped run keeps what it measured
                emit(result, _OUT.value)
    emit(result, _OUT.value)


if __name__ == "__main__":
    app.run(main)
