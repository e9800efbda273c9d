"""The README main job: synthetic cohort → federated face CNN + federated forest → bundle → edge.

`python -m tff_train.pipeline_main --workdir=runs/default [--config=configs/pipeline_default.py]`
(`--local_workers=N` / `--workers=HOST:PORT,...`: TFF computations on worker processes)
Everything runs on data the project generates itself (no downloads). Stages:
  cohort  generate the deterministic in-vehicle cohort and print its summary;
  train   FedAvg face CNN (one client per driver) and a federated random forest on
          physiological windows (one client per driver), both through TFF;
  bundle  int8 face model + builtin-op forest TFLite + fusion/feature configs, with manifest;
  replay  the edge harness (tflite-runtime) replays an episode of a driver no model saw,
          and per-modality / fused accuracy against the episode's time-aligned labels is printed.
"""

from __future__ import annotations

import sys

from tflite_edge.cli_output import quiet_unless_verbose

if __name__ == "__main__":  # before anything imports TensorFlow: quiet its console output
    quiet_unless_verbose(sys.argv)

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path

import ml_collections
import numpy as np
from absl import app, flags
from ml_collections import config_flags

# TensorFlow-importing modules at module level (importing TF inside absl's main breaks Keras).
from configs import face_smoke, physio_smoke
from converters.bundle import write_bundle
from converters.face_to_tflite import convert_face_model
from converters.forest_to_tflite import forest_to_tflite
from emodata.label_spaces import DRIVER_STATE3
from emodata.synthetic_cohort import (
    SyntheticCohort,
    SyntheticDriver,
    cohort_summary,
    face_dataset,
    generate_cohort,
)
from tff_train import workdir_io, worker_flags
from tff_train.face_trainer import run_face_training
from tff_train.physio_trainer import feature_config, run_physio_training
from tff_train.tff_runtime import shutdown_tff_workers
from tff_train.tree_ensemble import TreeEnsemble
from tff_train.worker_flags import define_worker_flags, worker_session_kwargs
from tff_train.worker_session import worker_session
from tflite_edge.fusion import FusionConfig
from tflite_edge.physio_stream import PhysioSpec
from tflite_edge.realtime import run_harness
from tflite_edge.sources import episode_source

STAGES = ("cohort", "train", "bundle", "replay")

_CONFIG = config_flags.DEFINE_config_file("config", "configs/pipeline_default.py",
                                          "Pipeline config file (get_config()).")
_WORKDIR = flags.DEFINE_string("workdir", "runs/default", "Output directory.")
define_worker_flags()
flags.adopt_module_key_flags(worker_flags)  # --help lists them, not only --helpfull


def _stages(config: ml_collections.ConfigDict) -> tuple[str, ...]:
    stages = tuple(s.strip() for s in config.stages.split(",") if s.strip())
    if stages != STAGES[:len(stages)] or not stages:
        raise ValueError(f"config.stages must be a non-empty prefix of {','.join(STAGES)}; got "
                         f"{config.stages!r}")
    return stages


def validate_pipeline_config(config: ml_collections.ConfigDict) -> None:
    """Raises ValueError naming the first invalid key."""
    _stages(config)
    if config.cohort.num_drivers < 3:
        raise ValueError(f"config.cohort.num_drivers must be >= 3; got "
                         f"{config.cohort.num_drivers}")
    if config.face.rounds < 1:
        raise ValueError(f"config.face.rounds must be >= 1; got {config.face.rounds}")
    if config.physio.drivers < 2:
        raise ValueError(f"config.physio.drivers must be >= 2; got {config.physio.drivers}")
    if config.replay.episodes < 1:
        raise ValueError(f"config.replay.episodes must be >= 1; got {config.replay.episodes}")


def train_models(config: ml_collections.ConfigDict, workdir: Path) -> dict:
    """Federated face CNN and federated forest on the cohort; returns their result summaries."""
    face_cfg = face_smoke.get_config()
    face_cfg.seed = config.seed
    face_cfg.data.synthetic_drivers = config.cohort.num_drivers
    face_cfg.train.rounds = config.face.rounds
    face_cfg.train.local_epochs = config.face.local_epochs
    face_cfg.train.client_learning_rate = config.face.learning_rate
    face_cfg.model.width = config.face.width
    face_cfg.model.convs_per_block = config.face.convs_per_block
    face_cfg.partition.num_clients = 0  # synthetic: one client per training driver
    face_cfg.train.clients_per_round = config.cohort.num_drivers - 2
    face = run_face_training(face_cfg, workdir / "face", log=lambda m: print(f"[face] {m}"))
    physio_cfg = physio_smoke.get_config()
    physio_cfg.seed = config.seed
    physio_cfg.data.synthetic_drivers = config.physio.drivers
    physio_cfg.evaluation.num_folds = min(physio_cfg.evaluation.num_folds, config.physio.drivers)
    physio_cfg.models = config.physio.model
    physio = run_physio_training(physio_cfg, workdir / "physio",
                                 log=lambda m: print(f"[physio] {m}"))
    return {"face": face, "face_config": face_cfg, "physio": physio, "physio_config": physio_cfg}


def build_bundle(config: ml_collections.ConfigDict, trained: dict, cohort: SyntheticCohort,
                 workdir: Path) -> Path:
    """int8 + float32 face models, the federated forest and the configs → `workdir/bundle`.

    The int8 calibration faces come from `cohort` (the training cohort)."""
    import tensorflow as tf

    face_model = tf.keras.models.load_model(workdir / "face" / "face_model.keras")
    faces = face_dataset(cohort)
    calibration = faces.images[..., None].astype(np.float32) / 255.0
    forest = TreeEnsemble.load(workdir / "physio" / f"{config.physio.model}.npz")
    fusion = FusionConfig(strategy=config.fusion.strategy, max_age_s=config.fusion.max_age_s,
                          modality_label_spaces=(("face", "fer7"), ("physio", "driver_state3")))
    out = workdir / "bundle"
    write_bundle(
        out,
        face_models={"int8": convert_face_model(face_model, "int8",
                                                calibration_images=calibration,
                                                num_calibration_samples=200),
                     "float32": convert_face_model(face_model, "float32")},
        physio_model=forest_to_tflite(forest),
        fusion_config=fusion,
        features=PhysioSpec.raw_signals(feature_config(trained["physio_config"])).to_json_dict(),
        physio_label_space="driver_state3",
        face_blur_sigma=float(trained["face_config"].data.eval_blur_sigma),
        overwrite=True,
    )
    return out


def replay_accuracy(lines: list[dict], episode: object, offset_s: float) -> dict:
    """Accuracy of each modality's and the fused driver state against the episode's labels."""
    hits = {"face": [], "physio": [], "fused": []}
    for line in lines:
        truth = int(episode.states_at(np.array([line["t"] - offset_s]))[0])
        if truth < 0:
            continue
        for modality in ("face", "physio"):
            view = line.get(modality) or {}
            if view.get("driver_state") is not None:
                hits[modality].append(int(np.argmax(view["driver_state"])) == truth)
        label = line["fused"]["label"]
        if label in DRIVER_STATE3.labels:
            hits["fused"].append(DRIVER_STATE3.index(label) == truth)
    return {k: (float(np.mean(v)) if v else None) for k, v in hits.items()} | {
        f"{k}_decisions": len(v) for k, v in hits.items()}


def replay(config: ml_collections.ConfigDict, bundle: Path, unseen: SyntheticDriver,
           workdir: Path) -> dict:
    """Runs the edge harness over the episodes of `unseen`, a driver no model trained on."""
    summaries, accuracy = [], []
    for k, episode in enumerate(unseen.episodes[:config.replay.episodes]):
        lines_path = workdir / f"replay_episode{k}.jsonl"
        summaries.append(run_harness(bundle, episode_source(episode), out_lines=lines_path))
        lines = [json.loads(x) for x in lines_path.read_text().splitlines()]
        accuracy.append(replay_accuracy(lines, episode, offset_s=0.0))
    return {"driver": unseen.driver_id, "accuracy": accuracy, "harness": summaries}


def _table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)


def run_pipeline(config: ml_collections.ConfigDict, workdir: str | Path) -> dict:
    """Runs the configured stages; writes `summary.json` and prints a short table."""
    validate_pipeline_config(config)
    stages = _stages(config)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    workdir_io.write_json(workdir / "config.json", config.to_dict())
    timings: dict[str, float] = {}
    started = time.perf_counter()
    # Driver k does not depend on the cohort size, so one extra driver (index num_drivers) is
    # generated with the training drivers and kept for the replay: no trainer sees it.
    everyone = generate_cohort(config.cohort.num_drivers + 1, seed=config.seed)
    cohort = dataclasses.replace(everyone, drivers=everyone.drivers[:-1])
    summary: dict = {"cohort": cohort_summary(cohort)}
    timings["cohort_s"] = time.perf_counter() - started
    print(json.dumps(summary["cohort"], indent=2))
    rows = [("cohort", f"{config.cohort.num_drivers} drivers, "
                       f"{sum(summary['cohort']['faces_per_class'].values())} faces, "
                       f"{summary['cohort']['episodes']} episodes")]
    if "train" in stages:
        started = time.perf_counter()
        trained = train_models(config, workdir)
        timings["train_s"] = time.perf_counter() - started
        face, physio = trained["face"], trained["physio"]
        summary["face"] = {k: face[k] for k in ("rounds", "round_time_median_s")} | {
            "private_test_accuracy": face["private_test"]["accuracy"]}
        summary["physio"] = physio.get("summary", {k: v for k, v in physio.items()
                                                  if k not in ("folds", "per_fold")})
        rows.append(("face FedAvg", f"{face['rounds']} rounds, test-driver accuracy "
                                    f"{face['private_test']['accuracy']:.3f} (FER7)"))
    if "bundle" in stages:
        started = time.perf_counter()
        bundle = build_bundle(config, trained, cohort, workdir)
        timings["bundle_s"] = time.perf_counter() - started
        summary["bundle"] = str(bundle)
        rows.append(("bundle", str(bundle)))
    if "replay" in stages:
        started = time.perf_counter()
        summary["replay"] = replay(config, bundle, everyone.drivers[-1], workdir)
        timings["replay_s"] = time.perf_counter() - started
        acc = summary["replay"]["accuracy"][0]
        harness = summary["replay"]["harness"][0]
        def fmt(v: float | None) -> str:
            return ("n/a" if v is None else f"{v:.3f}")
        rows.append(("edge replay (unseen driver)",
                     f"face {fmt(acc['face'])}  physio {fmt(acc['physio'])}  "
                     f"fused {fmt(acc['fused'])}  (driver state, 3 classes)"))
        stages_ms = harness.get("latency_ms", harness.get("stages", {}))
        rows.append(("edge stage latency (ms)", json.dumps(stages_ms)[:200]))
        rows.append(("peak RSS", f"{harness.get('peak_rss_mb')} MB (this process also trained "
                                 "the models; see benchmarks.edge_latency for the edge alone)"))
    summary["timings"] = {k: round(v, 2) for k, v in timings.items()}
    workdir_io.write_json(workdir / "summary.json", summary)
    rows.append(("time", ", ".join(f"{k} {v:.1f}" for k, v in timings.items())))
    rows.append(("outputs", str(workdir.resolve())))
    print("\n[pipeline] results\n" + _table(rows))
    return summary


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        with worker_session(**worker_session_kwargs()):
            run_pipeline(_CONFIG.value, _WORKDIR.value)
    finally:
        shutdown_tff_workers()


if __name__ == "__main__":
    app.run(main)
