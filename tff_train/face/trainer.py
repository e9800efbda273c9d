"""The federated face-training job: FedAvg rounds with checkpoint/resume, evaluation, outputs.

Workdir layout: `config.json` (resolved config), `metrics.csv` (one row per round),
`tb/` (TensorBoard events), `checkpoints/round_*.npz`, `learning_curve.png`,
`confusion_private_test.{csv,png}`, `face_model.keras`, `results.json`.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Callable
from pathlib import Path

import ml_collections
import numpy as np
import tensorflow as tf

from tff_train.aggregators.client_faults import surviving_clients
from tff_train.aggregators.compression import communication_bytes
from tff_train.face.client_store import ClientStore, write_client_store
from tff_train.face.config import validate_face_config
from tff_train.face.data_loaders import FaceData, load_face_data
from tff_train.face.evaluation import evaluate_faces
from tff_train.face.input_pipeline import round_datasets, to_model_input
from tff_train.face.loss import log_label_prior
from tff_train.face.model import build_face_cnn, resolve_compute_dtype
from tff_train.face.personalisation import personalise
from tff_train.face.process import FaceProcess, build_face_process
from tff_train.learning import checkpointing, workdir_io
from tff_train.learning.batchnorm_recalibration import recalibrate_batchnorm
from tff_train.learning.client_sampling import round_clients
from tff_train.learning.learning_rate_schedule import scheduled_learning_rate
from tff_train.learning.rounds import RoundInput, RoundOutputs, RoundTiming, run_rounds


def face_model_builder(config: ml_collections.ConfigDict, compute_dtype: str | None = None
                       ) -> Callable[[], tf.keras.Model]:
    """A no-argument builder of the configured CNN (fresh variables on every call).

    `compute_dtype` None trains as configured (`model.compute_dtype`, "auto" resolved for this
    CPU); evaluation and export pass "float32" to get the float32 twin with the same (float32)
    weights.
    """
    m = config.model
    dtype = resolve_compute_dtype(m.compute_dtype if compute_dtype is None else compute_dtype)
    return lambda: build_face_cnn(width=m.width, depth=m.depth, stem_width=m.stem_width,
                                  normalization=m.normalization, norm_groups=m.norm_groups,
                                  convs_per_block=m.convs_per_block,
                                  pool_last_block=m.pool_last_block, dense_units=m.dense_units,
                                  dropout=m.dropout, num_classes=7, compute_dtype=dtype,
                                  seed=config.seed)


def configured_round_datasets(config: ml_collections.ConfigDict, data: FaceData,
                              client_ids: np.ndarray, round_num: int) -> list[tf.data.Dataset]:
    """The sampled clients' tf.data inputs of round `round_num` as `config.train` sets them."""
    t = config.train
    return round_datasets(data.clients, client_ids, seed=config.seed, round_num=round_num,
                          batch_size=t.batch_size, local_epochs=t.local_epochs,
                          augment=t.augment, prior_correction=t.prior_correction,
                          num_classes=len(data.class_names),
                          rounds_per_epoch=t.rounds_per_epoch)


def calibration_samples(data: FaceData, per_client: int, seed: int) -> list[np.ndarray]:
    """Each client's BatchNorm calibration sample: `float32[n_k,48,48,1]`, n_k ≤ per_client."""
    rng = np.random.default_rng(seed)
    samples = []
    for images, _ in data.clients:
        idx = np.sort(rng.permutation(len(images))[:per_client])
        samples.append(to_model_input(images[idx]).numpy())
    return samples


def global_log_prior(data: FaceData) -> np.ndarray:
    """`float32[C]` log label prior of all clients' training data (the sum of their label
    histograms: one federated, secure-aggregatable sum in a deployment)."""
    return log_label_prior(np.concatenate([labels for _, labels in data.clients]),
                           len(data.class_names))


def finalize_global_model(model: tf.keras.Model, weights: object, data: FaceData,
                          config: ml_collections.ConfigDict) -> tf.keras.Model:
    """Assigns the server's weights to `model`, adds the global label prior back to the
    `logits` bias when clients trained prior-corrected, and recalibrates BatchNorm federatedly."""
    weights.assign_weights_to(model)
    if config.train.prior_correction:
        model.get_layer("logits").bias.assign_add(global_log_prior(data))
    recalibrate_batchnorm(model, calibration_samples(data, config.train.bn_calibration_examples,
                                                     config.seed))
    return model


def _run_rounds(config: ml_collections.ConfigDict, setup: FaceProcess, train_data: FaceData,
                data: FaceData, eval_model: tf.keras.Model, traffic: object, ckpt_dir: Path, *,
                store: ClientStore | None, resume: bool, crash_after_round: int | None,
                log: Callable[[str], None]) -> tuple[object, list[dict]]:
    """The FedAvg rounds with per-round checkpoints; returns (final server state, metric rows).
    With a `store` the rounds send it `ClientRequest`s, else datasets built here."""
    t, process = config.train, setup.process
    state_learning_rate = None  # the client learning rate set on the state by `prepare_round`

    def prepare_round(round_num: int, state: object) -> RoundInput:
        nonlocal state_learning_rate
        client_ids = round_clients(len(train_data.clients), t.clients_per_round, config.seed,
                                   round_num, t.client_sampling)
        if client_ids.size == 0:  # Poisson sampling drew nobody (expected clients_per_round)
            raise ValueError(f"round {round_num}: Poisson client sampling drew no client "
                             f"(train.clients_per_round={t.clients_per_round} expected of "
                             f"{len(train_data.clients)}): raise train.clients_per_round")
        if t.dropout_fraction:
            client_ids = surviving_clients(client_ids, t.dropout_fraction, config.seed, round_num)
        if store is not None:
            client_data = store.requests(client_ids, seed=config.seed, round_num=round_num,
                                         local_epochs=t.local_epochs,
                                         rounds_per_epoch=t.rounds_per_epoch)
        else:
            client_data = setup.client_data(
                configured_round_datasets(config, train_data, client_ids, round_num), client_ids)
        learning_rate = scheduled_learning_rate(t.client_learning_rate, round_num - 1, t.rounds,
                                                t.lr_schedule)
        if learning_rate != state_learning_rate:  # two TFF calls carrying the whole state
            state = setup.with_client_learning_rate(state, learning_rate)
            state_learning_rate = learning_rate
        return RoundInput(state, client_data,
                          {"client_ids": client_ids, "learning_rate": learning_rate})

    def metrics_row(round_num: int, train: dict, round_input: RoundInput, timing: RoundTiming
                    ) -> dict:
        client_ids = round_input.info["client_ids"]
        row = {"round": round_num, "train_loss": float(train["loss"]),
               "train_accuracy": float(train["sparse_categorical_accuracy"]),
               "num_examples": int(train["num_examples"]), "round_seconds": timing.next_s,
               "clients": len(client_ids),
               "client_learning_rate": round_input.info["learning_rate"],
               "malicious_clients": int(np.isin(client_ids, setup.malicious_ids).sum()),
               "uplink_bytes_per_client": traffic.uplink,
               "downlink_bytes_per_client": traffic.downlink}
        privacy = setup.privacy(round_num)
        if privacy is not None:
            row.update(dp_epsilon=privacy["epsilon"], dp_delta=privacy["delta"])
        return row

    def evaluate(round_num: int, state: object) -> dict:
        del round_num
        finalize_global_model(eval_model, process.get_model_weights(state), data, config)
        return {"public_test_accuracy": evaluate_faces(
            eval_model, *data.public_test, data.class_names)["accuracy"]}

    def after_round(round_num: int) -> None:
        if crash_after_round is not None and round_num == crash_after_round:
            os.kill(os.getpid(), signal.SIGKILL)

    return run_rounds(
        process, t.rounds, prepare_round=prepare_round, metrics_row=metrics_row,
        evaluate=evaluate, eval_every=t.eval_every,
        outputs=RoundOutputs(checkpoint_dir=ckpt_dir, metrics_csv=ckpt_dir.parent / "metrics.csv",
                             tensorboard_dir=ckpt_dir.parent / "tb"),
        resume=resume, after_round=after_round, log=log,
        progress=lambda row: {"loss": f"{row['train_loss']:.3f}",
                              "acc": f"{row['train_accuracy']:.3f}",
                              "s": f"{row['round_seconds']:.1f}"})


def run_face_training(config: ml_collections.ConfigDict, workdir: str | os.PathLike, *,
                      resume: bool = False, data: FaceData | None = None,
                      crash_after_round: int | None = None,
                      log: Callable[[str], None] = print) -> dict:
    """Trains the face CNN with FedAvg as configured; returns (and writes) the results dict.

    `resume=True` continues from the newest checkpoint in `workdir`. `crash_after_round` kills
    this process with SIGKILL right after that round's checkpoint (for crash/resume tests).
    """
    validate_face_config(config)
    workdir = Path(workdir)
    ckpt_dir = workdir / "checkpoints"
    if not resume and checkpointing.list_checkpoints(ckpt_dir):
        raise ValueError(f"workdir {workdir} already holds checkpoints: pass --resume to continue "
                         "or choose an empty --workdir")
    workdir.mkdir(parents=True, exist_ok=True)
    workdir_io.write_json(workdir / "config.json", config.to_dict())
    if data is None:
        data = load_face_data(config)
    t = config.train
    builder = face_model_builder(config)
    setup = build_face_process(config, builder, len(data.clients))
    train_data = dataclasses.replace(data, clients=setup.poison(data.clients,
                                                                len(data.class_names)))
    store = None
    if t.client_datasets == "store":  # the clients' data read on the worker, by client id
        store = write_client_store(workdir / "client_store", train_data.clients,
                                   len(data.class_names))
        setup = dataclasses.replace(setup, process=store.compose(
            setup.process, batch_size=t.batch_size, augment=t.augment,
            prior_correction=t.prior_correction))
    eval_builder = face_model_builder(config, "float32")
    eval_model = eval_builder()
    traffic = communication_bytes([w.shape for w in eval_model.trainable_weights],
                                  [w.shape for w in eval_model.non_trainable_weights],
                                  bits=config.aggregation.quantization_bits)
    with setup.execution_context():
        state, rows = _run_rounds(config, setup, train_data, data, eval_model, traffic, ckpt_dir,
                                  store=store, resume=resume,
                                  crash_after_round=crash_after_round, log=log)
        weights = setup.process.get_model_weights(state)
        model = finalize_global_model(eval_builder(), weights, data, config)

    public = evaluate_faces(model, *data.public_test, data.class_names)
    private = evaluate_faces(model, *data.private_test, data.class_names)
    model.save(workdir / "face_model.keras")
    np.savez(workdir / "face_model_weights.npz", *model.get_weights())
    workdir_io.write_confusion(workdir, "confusion_private_test", private["confusion_matrix"],
                               data.class_names, "federated CNN, private test")
    workdir_io.plot_learning_curve(workdir / "learning_curve.png", rows,
                                   ["train_loss", "train_accuracy", "public_test_accuracy"],
                                   "FedAvg face CNN")
    p = config.personalization
    personalised = personalise(eval_builder, model.get_weights(), data.clients, data.clients_val,
                               steps=p.steps, learning_rate=p.learning_rate,
                               batch_size=t.batch_size, seed=config.seed,
                               class_names=data.class_names)
    round_times = [r["round_seconds"] for r in rows]
    results = {
        "rounds": t.rounds,
        "public_test": public,
        "private_test": private,
        "personalization": personalised,
        "round_time_median_s": float(np.median(round_times)),
        "rows": rows,
        "data": data.description,
        "num_parameters": int(model.count_params()),
        "compute_dtype": resolve_compute_dtype(config.model.compute_dtype),
        "privacy": setup.privacy(t.rounds),
        "malicious_clients": [int(k) for k in setup.malicious_ids],
        "attack": setup.attack,
    }
    workdir_io.write_json(workdir / "results.json", results)
    synthetic = data.description.get("source") == "synthetic"  # held-out drivers, not FER splits
    split_names = ("validation_driver", "test_driver") if synthetic else ("public_test",
                                                                           "private_test")
    log(f"federated face CNN: {split_names[0]}={public['accuracy']:.4f} "
        f"{split_names[1]}={private['accuracy']:.4f} -> {workdir}")
    return results
