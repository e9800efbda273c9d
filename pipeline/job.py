"""The README main job's stages: synthetic cohort → federated face CNN + federated forest → bundle
→ edge replay (the entry point is `pipeline.main`).

Everything runs on data the project generates itself (no downloads). Stages:
  cohort  generate the deterministic in-vehicle cohort and print its summary;
  train   FedAvg face CNN (one client per driver) and a federated random forest on
          physiological windows (one client per driver), both through TFF;
  bundle  int8 face model + builtin-op forest TFLite + fusion/feature configs, with manifest;
  replay  the edge harness (tflite-runtime) replays an episode of a driver no model saw,
          and per-modality / fused accuracy against the episode's time-aligned labels is printed.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

import ml_collections
import numpy as np

from converters.bundle import write_bundle
from converters.face_to_tflite import convert_face_model
from converters.forest_to_tflite import forest_to_tflite
from emocore.calibration import ReferenceStats
from emocore.face_preprocessing import scale_pixels
from emocore.fusion import (
    LEARNED_POOLS,
    LEARNED_STRATEGIES,
    STRATEGIES,
    FusionConfig,
    LearnedWeights,
    finite_number,
)
from emocore.label_spaces import DRIVER_STATE3
from emocore.physio import PhysioFeatureConfig
from emodata.synthetic_cohort import (
    CohortConfig,
    SyntheticCohort,
    SyntheticDriver,
    cohort_summary,
    face_dataset,
    generate_cohort,
)
from forests.ensemble import TreeEnsemble
from pipeline.report import results_table
from tff_train.face.config import validate_face_config
from tff_train.face.trainer import run_face_training
from tff_train.fusion_weights import fit_learned_weights
from tff_train.learning import workdir_io
from tff_train.physio.config import (
    FEATURES_JSON,
    FEDERATED_MODELS,
    feature_config,
    validate_physio_config,
)
from tff_train.physio.trainer import run_physio_training
from tflite_edge.drive_replay import (
    fused_state,
    labelled_lines,
    recording_profile,
    replay_accuracy,
)
from tflite_edge.loop_stats import LoopConfig
from tflite_edge.realtime import run_harness
from tflite_edge.sources import episode_source

STAGES = ("cohort", "train", "bundle", "replay")

def _stages(config: ml_collections.ConfigDict) -> tuple[str, ...]:
    stages = tuple(s.strip() for s in config.stages.split(",") if s.strip())
    if stages != STAGES[:len(stages)] or not stages:
        raise ValueError(f"config.stages must be a non-empty prefix of {','.join(STAGES)}; got "
                         f"{config.stages!r}")
    return stages


def _nested(validate: Callable[[ml_collections.ConfigDict], None],
            config: ml_collections.ConfigDict, key: str) -> None:
    """Runs a trainer's validator on `config[key]`, its errors naming `config.KEY....`."""
    try:
        validate(config[key])
    except ValueError as err:
        message = str(err)
        if message.startswith("config."):
            message = f"config.{key}." + message[len("config."):]
        raise ValueError(message) from None


def bundled_physio_model(config: ml_collections.ConfigDict) -> str:
    """The federated forest shipped in the bundle: `config.physio.models`, one federated model."""
    if config.physio.models not in FEDERATED_MODELS:
        raise ValueError(f"config.physio.models must be one federated model (one of "
                         f"{list(FEDERATED_MODELS)}: the forest the bundle ships); got "
                         f"{config.physio.models!r}")
    return config.physio.models


def validate_pipeline_config(config: ml_collections.ConfigDict) -> None:
    """Raises ValueError naming the first invalid key (the trainers' keys as `config.face.KEY`
    and `config.physio.KEY`)."""
    _stages(config)
    if config.cohort.num_drivers < 3:
        raise ValueError(f"config.cohort.num_drivers must be >= 3; got "
                         f"{config.cohort.num_drivers}")
    if config.cohort.faces_per_class < 1:
        raise ValueError(f"config.cohort.faces_per_class must be >= 1; got "
                         f"{config.cohort.faces_per_class}")
    if config.face.data.source != "synthetic" or config.physio.data.task != "synthetic":
        raise ValueError(f"config.face.data.source and config.physio.data.task must be "
                         f"'synthetic' (the main job's cohort); got {config.face.data.source!r} "
                         f"and {config.physio.data.task!r}")
    episodes = CohortConfig().episodes_per_driver
    if not 1 <= config.replay.episodes <= episodes - 1:
        raise ValueError(f"config.replay.episodes must be in [1, {episodes - 1}] (the unseen "
                         f"driver's last episode is its calibration drive); got "
                         f"{config.replay.episodes}")
    drivers = config.physio.data.synthetic_drivers
    if "train" in _stages(config) and drivers > config.cohort.num_drivers - 2:
        raise ValueError(f"config.physio.data.synthetic_drivers must be <= "
                         f"config.cohort.num_drivers - 2 = {config.cohort.num_drivers - 2} (the "
                         f"face validation and test drivers stay unseen); got {drivers}")
    bundled_physio_model(config)
    if config.fusion.strategy not in STRATEGIES:
        raise ValueError(f"config.fusion.strategy must be one of {list(STRATEGIES)}; got "
                         f"{config.fusion.strategy!r}")
    for modality, half_life in config.fusion.pooling_half_life_s.items():
        if modality not in ("face", "physio"):
            raise ValueError(f"config.fusion.pooling_half_life_s must have the keys face and "
                             f"physio; got {modality!r}")
        finite_number(half_life, f"config.fusion.pooling_half_life_s.{modality}", low=0.0)
    if "train" in _stages(config):
        _nested(validate_face_config, config, "face")
        _nested(validate_physio_config, config, "physio")


def train_models(config: ml_collections.ConfigDict, workdir: Path) -> dict:
    """Federated face CNN (`config.face`) and federated forest (`config.physio`) on the cohort;
    returns their result summaries."""
    face = run_face_training(config.face, workdir / "face", log=lambda m: print(f"[face] {m}"))
    physio = run_physio_training(config.physio, workdir / "physio",
                                 log=lambda m: print(f"[physio] {m}"))
    return {"face": face, "physio": physio}


def build_bundle(config: ml_collections.ConfigDict, cohort: SyntheticCohort,
                 workdir: Path, learned_weights: LearnedWeights | None = None,
                 models: dict | None = None) -> tuple[Path, dict]:
    """int8 + float32 face models, the federated forest and the configs → `workdir/bundle`.

    The int8 calibration faces come from `cohort` (the training cohort). The fusion strategy
    is `config.fusion.strategy`, except that the learned pools ("learned_weights",
    "learned_log_pool") fall back to "confidence_weighted" until `learned_weights` are given.
    `models` (the second value returned by an earlier call) skips the conversions. Returns
    (bundle dir, models)."""
    import tensorflow as tf

    if models is None:
        face_model = tf.keras.models.load_model(workdir / "face" / "face_model.keras")
        faces = face_dataset(cohort)
        calibration = scale_pixels(faces.images[..., None])
        forest = TreeEnsemble.load(workdir / "physio" / f"{bundled_physio_model(config)}.npz")
        models = {"face": {"int8": convert_face_model(face_model, "int8",
                                                      calibration_images=calibration,
                                                      num_calibration_samples=200),
                           "float32": convert_face_model(face_model, "float32")},
                  "physio": forest_to_tflite(forest)}
    strategy = config.fusion.strategy
    if strategy in LEARNED_STRATEGIES and learned_weights is None:
        strategy = "confidence_weighted"
    fusion = FusionConfig(strategy=strategy, max_age_s=config.fusion.max_age_s,
                          smoothing_half_life_s=config.fusion.smoothing_half_life_s,
                          modality_label_spaces=(("face", "fer7"), ("physio", "driver_state3")),
                          learned_weights=learned_weights,
                          pooling_half_life_s=dict(config.fusion.pooling_half_life_s))
    out = workdir / "bundle"
    write_bundle(
        out,
        face_models=models["face"],
        physio_model=models["physio"],
        fusion_config=fusion,
        features=json.loads((workdir / "physio" / FEATURES_JSON).read_text()),
        physio_label_space="driver_state3",
        overwrite=True,
    )
    return out, models


def fit_fusion_weights(config: ml_collections.ConfigDict, bundle: Path,
                       validation: SyntheticDriver, workdir: Path,
                       features: PhysioFeatureConfig,
                       loop_config: LoopConfig = LoopConfig()) -> LearnedWeights:
    """Fusion weights (`fit_learned_weights`, log-likelihood; the linear or log pool of
    `config.fusion.strategy`) fitted on the edge replay of the validation driver's first
    episode: a driver that trained neither model."""
    episode = validation.episodes[0]
    lines_path = workdir / "fusion_validation_episode.jsonl"
    run_harness(bundle, episode_source(episode), out_lines=lines_path, loop_config=loop_config,
                driver_profile=driver_profile(config, features, validation))
    probs: dict[str, list] = {"face": [], "physio": []}
    labels = []
    lines = [json.loads(x) for x in lines_path.read_text().splitlines()]
    for line, truth in labelled_lines(lines, episode):
        labels.append(truth)
        for modality, rows in probs.items():
            state = fused_state(line[modality])  # pooled where the bundle pools the modality
            rows.append(state if state is not None else [np.nan] * DRIVER_STATE3.num_classes)
    return fit_learned_weights({m: np.array(v, dtype=np.float64) for m, v in probs.items()},
                               np.array(labels, dtype=np.int64),
                               pool=LEARNED_POOLS[config.fusion.strategy],
                               epsilon=FusionConfig().epsilon)


def driver_profile(config: ml_collections.ConfigDict, features: PhysioFeatureConfig,
                   unseen: SyntheticDriver) -> ReferenceStats | None:
    """The driver's calibration profile from its last episode's windows (no labels used; that
    episode is never replayed); None when the forest's prior is the population's."""
    if config.physio.calibration.prior != "driver_profile":
        return None
    return recording_profile(unseen.episodes[-1].streams, features)


def replay(config: ml_collections.ConfigDict, bundle: Path, unseen: SyntheticDriver,
           workdir: Path, features: PhysioFeatureConfig,
           loop_config: LoopConfig = LoopConfig()) -> dict:
    """Runs the edge harness over the episodes of `unseen`, a driver no model trained on."""
    profile = driver_profile(config, features, unseen)
    summaries, accuracy = [], []
    for k, episode in enumerate(unseen.episodes[:config.replay.episodes]):
        lines_path = workdir / f"replay_episode{k}.jsonl"
        summaries.append(run_harness(bundle, episode_source(episode), out_lines=lines_path,
                                     driver_profile=profile, loop_config=loop_config))
        lines = [json.loads(x) for x in lines_path.read_text().splitlines()]
        accuracy.append(replay_accuracy(lines, episode))
    return {"driver": unseen.driver_id, "accuracy": accuracy, "harness": summaries,
            "calibration_episode": len(unseen.episodes) - 1 if profile else None,
            "episode_s": [unseen.episodes[k].duration_s for k in range(config.replay.episodes)]}


def run_pipeline(config: ml_collections.ConfigDict, workdir: str | Path, *,
                 log_incidents: bool = False) -> dict:
    """Runs the configured stages; writes `summary.json` and prints the results table.

    `log_incidents`: log the edge replays' incidents as they happen (the synthetic drives'
    sensor dropouts among them); False counts them in the table and summary.json only.
    """
    validate_pipeline_config(config)
    loop_config = LoopConfig(log_incidents=log_incidents)  # validates it
    stages = _stages(config)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    workdir_io.write_json(workdir / "config.json", config.to_dict())
    timings: dict[str, float] = {}
    started = time.perf_counter()
    # Driver k does not depend on the cohort size, so one extra driver (index num_drivers) is
    # generated with the training drivers and kept for the replay: no trainer sees it.
    everyone = generate_cohort(config.cohort.num_drivers + 1, seed=config.seed,
                               config=CohortConfig(faces_per_class=config.cohort.faces_per_class))
    cohort = dataclasses.replace(everyone, drivers=everyone.drivers[:-1])
    summary: dict = {"cohort": cohort_summary(cohort)}
    timings["cohort_s"] = time.perf_counter() - started
    c = summary["cohort"]
    print(f"[pipeline] cohort: {c['drivers']} drivers, seed {c['seed']}, "
          f"{sum(c['faces_per_class'].values())} faces, {c['episodes']} episodes "
          f"({workdir / 'summary.json'} has the details)")
    if "train" in stages:
        started = time.perf_counter()
        trained = train_models(config, workdir)
        timings["train_s"] = time.perf_counter() - started
        face, physio = trained["face"], trained["physio"]
        model = physio["models"][bundled_physio_model(config)]
        summary["face"] = {
            "rounds": face["rounds"], "round_time_median_s": face["round_time_median_s"],
            "clients": len(face["data"]["client_train_sizes"]),
            "validation_driver_accuracy": face["public_test"]["accuracy"],
            "test_driver_accuracy": face["private_test"]["accuracy"]}
        summary["physio"] = {
            "model": bundled_physio_model(config), "clients": len(physio["task"]["groups"]),
            "calibration": physio["calibration"]["method"],
            "held_out_accuracy": model["accuracy"], "held_out_macro_f1": model["macro_f1"]}
    if "bundle" in stages:
        started = time.perf_counter()
        bundle, models = build_bundle(config, cohort, workdir)
        if config.fusion.strategy in LEARNED_STRATEGIES:
            weights = fit_fusion_weights(config, bundle, cohort.drivers[-2], workdir,
                                         feature_config(config.physio), loop_config)
            bundle, _ = build_bundle(config, cohort, workdir, weights, models)
            summary["fusion_weights"] = weights.to_dict() | {
                "fitted_on_driver": cohort.drivers[-2].driver_id}
        timings["bundle_s"] = time.perf_counter() - started
        summary["bundle"] = str(bundle)
    if "replay" in stages:
        started = time.perf_counter()
        summary["replay"] = replay(config, bundle, everyone.drivers[-1], workdir,
                                   feature_config(config.physio), loop_config)
        timings["replay_s"] = time.perf_counter() - started
    summary["timings"] = {k: round(v, 2) for k, v in timings.items()}
    workdir_io.write_json(workdir / "summary.json", summary)
    print(results_table(summary, workdir))
    return summary
