"""The README main job under named variants (face schedule, fusion), each in its own process.

`python -m benchmarks.main_job --out=FILE.json [--variants=default,previous,...]
[--extra_unseen_drivers=6] [--skip_drivers=6] [--workdir=DIR]`

Each variant is `python -m pipeline.main --workdir=DIR/NAME` plus its `--config.*` overrides
(VARIANTS), run one after another in a fresh process (so its wall time includes the imports and
TFF start-up, as a user sees it; the set-up check of `scripts/run_main.sh` is not included).
From each run's `summary.json` and replay lines it reports: wall seconds, the stage timings,
the face CNN's accuracy on the validation and test drivers' labelled faces (7 expressions),
the driver-state accuracy of face / physio / fused on the validation driver's replay (the
fusion-weight fit; what the schedule is chosen on) and on the unseen driver's replay (what the
README reports), and the same on `--extra_unseen_drivers` more drivers of the cohort's generator
that no run sees, after skipping `--skip_drivers` (first episode, each referenced to its own
profile from its last, unlabelled episode, as the main job does): one driver is a noisy
yardstick, their mean less so. The skipped drivers are scored too ("selection_replays"): with
the validation driver they are the set that settings are chosen on. The validation driver
trained neither model; the unseen drivers are seen by no trainer. A modality's accuracy is of
its state as fusion used it (pooled where the bundle pools it); `*_reading` is of single
readings.
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
from emodata.synthetic_cohort import CohortConfig, SyntheticDriver, generate_cohort
from tff_train.physio.config import feature_config
from tflite_edge.drive_replay import recording_profile, replay_accuracy
from tflite_edge.loop_stats import LoopConfig
from tflite_edge.realtime import run_harness
from tflite_edge.sources import episode_source

# Variants of the main job (`--config.KEY=VALUE` overrides of its default config): face
# schedules, the fusion pool, reading pooling.
_UNPOOLED_EPOCHS5 = {"face.train.local_epochs": 5, "fusion.pooling_half_life_s.face": 0.0}
VARIANTS: dict[str, dict[str, object]] = {
    "default": {},
    # The face schedules and fusion pools compared on 2026-12-03 before reading pooling, as they
    # ran then (5 local epochs, unpooled): main_job_unpooled.json, main_job_schedules*.json.
    # The default before 2026-12-03: every driver client in each of 12 rounds, client Adam
    # 3e-3, datasets built in the driver and sent with each round, linear pool.
    "previous": {"face.train.clients_per_round": 24, "face.train.rounds": 12,
                 "face.train.eval_every": 4, "face.train.client_learning_rate": 0.003,
                 "face.train.client_datasets": "driver", "fusion.strategy": "learned_weights",
                 **_UNPOOLED_EPOCHS5},
    "linear_pool": {"fusion.strategy": "learned_weights", **_UNPOOLED_EPOCHS5},
    "clients8_rounds36": {"face.train.rounds": 36, "face.train.eval_every": 12,
                          **_UNPOOLED_EPOCHS5},
    "clients8_lr3e-3": {"face.train.client_learning_rate": 0.003, "face.train.rounds": 36,
                        "face.train.eval_every": 12, **_UNPOOLED_EPOCHS5},
    "clients8_epochs4": {"face.train.rounds": 36, "face.train.eval_every": 12,
                         **_UNPOOLED_EPOCHS5, "face.train.local_epochs": 4},
    "clients4_rounds64": {"face.train.clients_per_round": 4, "face.train.rounds": 64,
                          "face.train.eval_every": 16, **_UNPOOLED_EPOCHS5},
    # Face schedules with face pooling (main_job_schedules_pooled.json; 4 local epochs won).
    "clients8_epochs5": {"face.train.local_epochs": 5},
    "clients8_rounds28": {"face.train.rounds": 28, "face.train.eval_every": 14,
                          "face.train.local_epochs": 5},
    # Reading pooling (half-life in s) of the face and physio readings before fusion.
    "unpooled": {"fusion.pooling_half_life_s.face": 0.0},
    "face_pool2": {"fusion.pooling_half_life_s.face": 2.0},
    "face_pool3": {"fusion.pooling_half_life_s.face": 3.0},
    "face_pool4": {"fusion.pooling_half_life_s.face": 4.0},
    "face_pool5": {"fusion.pooling_half_life_s.face": 5.0},
    "physio_pool5": {"fusion.pooling_half_life_s.physio": 5.0},
}
_MODALITY_KEYS = ("face", "physio", "fused", "face_reading", "physio_reading")

_VARIANTS = flags.DEFINE_list("variants", ["default", "previous"],
                              f"Variants to run, in order; of {list(VARIANTS)}.")
_EXTRA = flags.DEFINE_integer("extra_unseen_drivers", 6,
                              "More drivers no run sees, replayed on every variant's bundle.",
                              lower_bound=0)
_SKIP = flags.DEFINE_integer(
    "skip_drivers", 6, "Drivers after the job's unseen one that the extra ones start after: "
    "drivers 27-32 chose the fusion pool on 2026-12-03, so they are no longer unseen.",
    lower_bound=0)
_WORKDIR = flags.DEFINE_string("workdir", None, "Where the runs go (default: a temporary dir).")
_OUT = flags.DEFINE_string("out", None, "Also write the JSON here.")


def variant_args(overrides: dict[str, object]) -> list[str]:
    """`--config.KEY=VALUE` arguments of one variant."""
    return [f"--config.{key}={value}" for key, value in overrides.items()]


def replay_drivers(extra: int, skip: int) -> tuple[SyntheticDriver, ...]:
    """The cohort generator's drivers up to the last extra unseen one (driver k does not depend
    on the cohort size, so these are the main job's own drivers followed by the others)."""
    config = pipeline_default.get_config()
    return generate_cohort(
        config.cohort.num_drivers + 1 + skip + extra, seed=config.seed,
        config=CohortConfig(faces_per_class=config.cohort.faces_per_class)).drivers


def validation_replay_accuracy(run_dir: Path,
                               drivers: Sequence[SyntheticDriver] | None = None) -> dict:
    """Face / physio / fused driver-state accuracy on the validation driver's replay (the
    fusion-weight fit's `fusion_validation_episode.jsonl`); `drivers` from `replay_drivers`
    (generated here when None)."""
    summary = json.loads((run_dir / "summary.json").read_text())
    driver_id = summary["fusion_weights"]["fitted_on_driver"]
    drivers = replay_drivers(0, 0) if drivers is None else drivers
    (driver,) = [d for d in drivers if d.driver_id == driver_id]
    lines = [json.loads(x) for x in
             (run_dir / "fusion_validation_episode.jsonl").read_text().splitlines()]
    return replay_accuracy(lines, driver.episodes[0]) | {"driver": driver_id}


def extra_unseen_replays(run_dir: Path, count: int, skip: int = 0,
                         drivers: Sequence[SyntheticDriver] | None = None) -> dict:
    """Driver-state accuracy of face / physio / fused on the first episode of `count` drivers
    that follow the main job's unseen one after `skip` more (none of them seen by any run),
    through `run_dir`'s bundle; per driver and the mean over drivers. `drivers` from
    `replay_drivers(count, skip)` (generated here when None)."""
    config = pipeline_default.get_config()
    first = config.cohort.num_drivers + 1 + skip  # drivers 0..num_drivers are the job's own
    drivers = replay_drivers(count, skip) if drivers is None else drivers
    features = feature_config(config.physio)
    # As the main job's replay: the profile from the driver's last, unlabelled episode.
    profiled = config.physio.calibration.prior == "driver_profile"
    per_driver = []
    for driver in drivers[first:first + count]:
        lines_path = run_dir / f"replay_driver{driver.driver_id}.jsonl"
        run_harness(run_dir / "bundle", episode_source(driver.episodes[0]), out_lines=lines_path,
                    driver_profile=(recording_profile(driver.episodes[-1].streams, features)
                                    if profiled else None),
                    loop_config=LoopConfig(log_incidents=False))
        lines = [json.loads(x) for x in lines_path.read_text().splitlines()]
        per_driver.append(replay_accuracy(lines, driver.episodes[0]) | {"driver": driver.driver_id})
    return {"drivers": per_driver, "mean": _mean(per_driver)}


def _mean(per_driver: Sequence[dict]) -> dict:
    """Mean over drivers of each modality's replay accuracy."""
    return {k: round(float(sum(d[k] for d in per_driver) / len(per_driver)), 4)
            for k in _MODALITY_KEYS} if per_driver else {}


def run_variant(name: str, workdir: Path, extra_unseen_drivers: int, skip_drivers: int,
                drivers: Sequence[SyntheticDriver]) -> dict:
    """Runs the main job with variant `name` in a fresh process; its measured results
    (`drivers`: `replay_drivers(extra_unseen_drivers, skip_drivers)`)."""
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
    validation = validation_replay_accuracy(run_dir, drivers)
    # The skipped drivers chose settings (the fusion pool, the pooling half-life): with the
    # validation driver they are the selection set, reported apart from the unseen drivers.
    selection = extra_unseen_replays(run_dir, skip_drivers, 0, drivers)
    return {
        "overrides": VARIANTS[name],
        "wall_s": round(wall_s, 1),
        "timings": summary["timings"],
        "face_rounds": summary["face"]["rounds"],
        "face_round_time_median_s": summary["face"]["round_time_median_s"],
        "face_validation_driver_accuracy": summary["face"]["validation_driver_accuracy"],
        "face_test_driver_accuracy": summary["face"]["test_driver_accuracy"],
        "validation_replay": validation,
        "selection_replays": selection | {
            "mean_with_validation_driver": _mean([validation, *selection["drivers"]])},
        "unseen_replay": unseen | {"driver": summary["replay"]["driver"]},
        "extra_unseen_replays": extra_unseen_replays(run_dir, extra_unseen_drivers, skip_drivers,
                                                     drivers),
    }


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    unknown = [v for v in _VARIANTS.value if v not in VARIANTS]
    if unknown or not _VARIANTS.value:
        raise app.UsageError(f"--variants must name variants of {list(VARIANTS)}; got "
                             f"{_VARIANTS.value!r}")
    default = pipeline_default.get_config()
    result = {"provenance": provenance(), "protocol": __doc__.split("\n\n", 2)[2].strip(),
              "default_config": {"face_train": default.face.train.to_dict(),
                                 "fusion": default.fusion.to_dict()},
              "variants": {}}
    drivers = replay_drivers(_EXTRA.value, _SKIP.value)  # once: the same for every variant
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(_WORKDIR.value or tmp)
        for name in _VARIANTS.value:
            r = run_variant(name, workdir, _EXTRA.value, _SKIP.value, drivers)
            result["variants"][name] = r
            print(f"{name}: {r['wall_s']} s, validation replay face "
                  f"{r['validation_replay']['face']:.3f}, selection drivers "
                  f"{r['selection_replays']['mean_with_validation_driver']}, unseen face "
                  f"{r['unseen_replay']['face']:.3f} fused {r['unseen_replay']['fused']:.3f}, "
                  f"{_EXTRA.value} more unseen drivers {r['extra_unseen_replays']['mean']}",
                  file=sys.stderr)
            if _OUT.value:  # after every variant: a stopped run keeps what it measured
                emit(result, _OUT.value)
    emit(result, _OUT.value)


if __name__ == "__main__":
    app.run(main)
