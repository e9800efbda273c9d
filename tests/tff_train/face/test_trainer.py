"""End-to-end face FedAvg on the synthetic cohort: learning, outputs, crash + resume, bad config."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from configs import face_smoke
from tff_train.face.trainer import run_face_training


def _smoke(rounds: int = 2):
    config = face_smoke.get_config()
    config.train.rounds = rounds
    return config


@pytest.mark.slow
def test_two_rounds_lower_the_loss_and_write_every_output(tmp_path):
    results = run_face_training(_smoke(), tmp_path, log=lambda _: None)
    rows = results["rows"]
    assert [r["round"] for r in rows] == [1, 2]
    assert rows[1]["train_loss"] < rows[0]["train_loss"]
    for name in ("config.json", "metrics.csv", "results.json", "face_model.keras",
                 "learning_curve.png", "confusion_private_test.csv",
                 "confusion_private_test.png"):
        assert (tmp_path / name).is_file(), name
    assert any((tmp_path / "tb").iterdir())
    assert json.loads((tmp_path / "config.json").read_text())["train"]["rounds"] == 2
    p = results["personalization"]
    assert 0 <= p["personalised_worst_accuracy"] <= p["personalised_mean_accuracy"] <= 1


def _run_main(workdir, *extra: str) -> tuple[int, str]:
    """Runs face_main in its own session; returns (returncode, stderr tail).

    A SIGKILLed driver cannot stop its TFF worker, which then keeps any inherited pipe open:
    output goes to a file, and the whole session (driver + orphaned worker) is killed after.
    """
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    args = [sys.executable, "-m", "tff_train.face_main", "--config=configs/face_smoke.py",
            f"--workdir={workdir}", "--config.train.rounds=3", "--config.personalization.steps=0",
            *extra]
    log = workdir.parent / f"{workdir.name}-{len(extra)}.log"
    with open(log, "w") as f:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=f, env=env,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=600)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    return code, log.read_text()[-2000:]


@pytest.mark.slow
def test_resume_after_kill_9_equals_an_uninterrupted_run(tmp_path):
    code, err = _run_main(tmp_path / "crashed", "--crash_after_round=2")
    assert code == -signal.SIGKILL, err
    assert not (tmp_path / "crashed" / "results.json").exists()
    code, err = _run_main(tmp_path / "crashed", "--resume")
    assert code == 0, err
    assert "resumed from round 2" in err
    code, err = _run_main(tmp_path / "straight")
    assert code == 0, err

    def weights(run: str) -> list[np.ndarray]:
        with np.load(tmp_path / run / "face_model_weights.npz") as data:
            return [data[k] for k in sorted(data.files, key=lambda k: int(k.split("_")[1]))]

    for a, b in zip(weights("crashed"), weights("straight"), strict=True):
        np.testing.assert_array_equal(a, b)
    rows = [json.loads(line) for line in [(tmp_path / "crashed" / "results.json").read_text()]]
    assert [r["round"] for r in rows[0]["rows"]] == [1, 2, 3]


def test_existing_checkpoints_need_resume(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "round_000001.npz").write_bytes(b"x")
    with pytest.raises(ValueError, match="already holds checkpoints: pass --resume"):
        run_face_training(_smoke(), tmp_path)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("train.clients_per_round", 9,
     r"config.train.clients_per_round must be in \[1, num_clients=4\]"),
    ("train.rounds", 0, "config.train.rounds must be >= 1; got 0"),
    ("data.source", "imagenet", "config.data.source must be one of"),
    ("train.client_optimizer", "rmsprop", "config.train.client_optimizer must be one of"),
    ("aggregation.robust", "mode", "aggregation.robust must be"),
    ("train.rounds_per_epoch", 0, "config.train.rounds_per_epoch must be an int >= 1; got 0"),
    ("train.rounds_per_epoch", 3, r"config.train.rounds must be a multiple of "
                                  r"train.rounds_per_epoch=3 \(whole epochs\); got 2"),
    ("train.dropout_fraction", 1.0, r"config.train.dropout_fraction must be in \[0, 1\)"),
    ("faults.malicious_fraction", 1.0, r"config.faults.malicious_fraction must be in \[0, 1\)"),
    ("faults.attack", "noise", r"config.faults.attack must be one of \['sign_flip', 'scale', "),
    ("faults.attack_scale", 0.0, "config.faults.attack_scale must be > 0; got 0.0"),
    ("privacy.delta", 1.5, r"config.privacy.delta must be in \(0, 1\) or None"),
    ("aggregation.quantization_bits", 0, r"aggregation.quantization_bits must be an int in"),
    ("train.client_sampling", "all", r"config.train.client_sampling must be 'uniform' or "
                                     r"'poisson'; got 'all'"),
    ("train.client_loop", "while", r"config.train.client_loop must be one of \['iterator', "
                                   r"'reduce'\]; got 'while'"),
    ("model.compute_dtype", "half", r"config.model.compute_dtype must be one of \['auto', "),
    ("model.convs_per_block", (1, 1), r"config.model.convs_per_block must be a tuple of 3 "
                                      r"\(model.depth\) ints >= 1, e.g. \(1, 1, 1\); got \(1, 1\)"),
])
def test_bad_config_fails_before_training(tmp_path, key, value, message):
    config = _smoke()
    config.update_from_flattened_dict({key: value})
    with pytest.raises(ValueError, match=message):
        run_face_training(config, tmp_path)
    assert not (tmp_path / "config.json").exists()


def test_group_normalization_needs_groups_dividing_every_conv(tmp_path):
    config = _smoke()
    config.model.normalization, config.model.norm_groups = "group", 3
    with pytest.raises(ValueError, match=r"config.model.norm_groups must be an int >= 1 dividing "
                                         r"every conv's channels \[.*\] \(normalization='group'\); "
                                         r"got 3"):
        run_face_training(config, tmp_path)
    assert not (tmp_path / "config.json").exists()


def test_missing_data_path_names_the_key(tmp_path):
    from configs import face_fer2013

    config = face_fer2013.get_config()
    config.data.data_root = str(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="config.data.data_root must be .*FER2013 data path is "
                                         "missing"):
        run_face_training(config, tmp_path / "run")


@pytest.mark.slow
def test_robust_aggregation_with_client_dropout_completes_rounds(tmp_path):
    config = _smoke(rounds=1)
    config.aggregation.robust = "median"
    config.aggregation.clip_norm = 10.0
    config.train.dropout_fraction = 0.5
    config.personalization.steps = 0
    rows = run_face_training(config, tmp_path, log=lambda _: None)["rows"]
    assert rows[0]["clients"] == 2  # 4 sampled, half fail, the round completes with the rest
    # Uplink carries the trainable deltas; downlink also the BatchNorm statistics.
    assert 0 < rows[0]["uplink_bytes_per_client"] < rows[0]["downlink_bytes_per_client"]






def _weights(workdir) -> list[np.ndarray]:
    with np.load(workdir / "face_model_weights.npz") as data:
        return [data[k] for k in sorted(data.files, key=lambda k: int(k.split("_")[1]))]


def _one_round(tmp_path, name: str, **overrides) -> dict:
    config = _smoke(rounds=1)
    config.personalization.steps = 0
    config.update_from_flattened_dict({k.replace("__", "."): v for k, v in overrides.items()})
    return run_face_training(config, tmp_path / name, log=lambda _: None)


@pytest.mark.slow
def test_dp_run_writes_epsilon_and_delta_per_round(tmp_path):
    from tff_train.aggregators.privacy import compute_epsilon, default_delta

    config = _smoke(rounds=2)
    config.personalization.steps = 0
    config.aggregation.dp_noise_multiplier = 2.0
    config.aggregation.clip_norm = 1.0
    results = run_face_training(config, tmp_path, log=lambda _: None)
    eps = [r["dp_epsilon"] for r in results["rows"]]
    delta = default_delta(4)
    assert eps == pytest.approx([compute_epsilon(2.0, 1.0, k, delta) for k in (1, 2)])
    assert 0 < eps[0] < eps[1] < np.inf
    assert results["privacy"]["epsilon"] == pytest.approx(eps[1])
    assert results["privacy"]["delta"] == delta
    assert "dp_epsilon" in (tmp_path / "metrics.csv").read_text().splitlines()[0]


@pytest.mark.slow
def test_poisson_sampled_dp_run_accounts_for_poisson_sampling(tmp_path):
    from tff_train.aggregators.privacy import compute_epsilon, default_delta
    from tff_train.learning.client_sampling import poisson_sample_clients

    config = _smoke(rounds=2)
    config.personalization.steps = 0
    config.train.client_sampling = "poisson"
    config.train.clients_per_round = 2  # of 4: q = 0.5
    config.train.client_loop = "iterator"
    config.aggregation.dp_noise_multiplier = 0.1  # adaptive clipping (no clip_norm)
    results = run_face_training(config, tmp_path, log=lambda _: None)
    drawn = [len(poisson_sample_clients(4, 0.5, config.seed, r)) for r in (1, 2)]
    assert [r["clients"] for r in results["rows"]] == drawn
    assert results["privacy"]["sampling"] == "poisson"
    assert results["privacy"]["epsilon"] == pytest.approx(
        compute_epsilon(0.1, 0.5, 2, default_delta(4), sampling="poisson"))
    assert all(np.isfinite(r["train_loss"]) for r in results["rows"])


@pytest.mark.slow
def test_secure_aggregation_run_matches_the_plain_run(tmp_path):
    plain = _one_round(tmp_path, "plain", aggregation__clip_norm=5.0)
    secure = _one_round(tmp_path, "secure", aggregation__clip_norm=5.0, aggregation__secure=True)
    assert secure["rows"][0]["clients"] == 4
    pairs = list(zip(_weights(tmp_path / "plain"), _weights(tmp_path / "secure"), strict=True))
    for a, b in pairs:  # the secure sum quantizes to 32-bit integers: close, not equal
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)
    assert max(float(np.abs(a - b).max()) for a, b in pairs) > 0  # the secure path did run
    assert plain["private_test"]["accuracy"] == pytest.approx(
        secure["private_test"]["accuracy"], abs=0.05)


@pytest.mark.slow
def test_eight_bit_compression_is_wired_in_and_shrinks_the_uplink(tmp_path):
    _one_round(tmp_path, "float")
    eight = _one_round(tmp_path, "eight_bit", aggregation__quantization_bits=8)
    row = eight["rows"][0]
    assert row["uplink_bytes_per_client"] < row["downlink_bytes_per_client"] / 3
    # The bytes above come from the traffic model; the weights show that the quantizing
    # aggregator really ran: the same round, off by the 8-bit rounding of the deltas only.
    pairs = list(zip(_weights(tmp_path / "float"), _weights(tmp_path / "eight_bit"), strict=True))
    for a, b in pairs:
        np.testing.assert_allclose(a, b, atol=0.05)
    assert max(float(np.abs(a - b).max()) for a, b in pairs) > 1e-6


@pytest.mark.slow
def test_sign_flipping_clients_change_the_model_and_are_counted(tmp_path):
    _one_round(tmp_path, "clean")
    attacked = _one_round(tmp_path, "attacked", faults__malicious_fraction=0.5,
                          faults__attack="sign_flip", faults__attack_scale=4.0)
    assert len(attacked["malicious_clients"]) == 2 and attacked["attack"] == "sign_flip"
    assert attacked["rows"][0]["malicious_clients"] == 2  # all 4 clients are in the round
    diff = max(float(np.abs(a - b).max()) for a, b in zip(
        _weights(tmp_path / "clean"), _weights(tmp_path / "attacked"), strict=True))
    assert diff > 1e-3


@pytest.mark.slow
def test_fer2013_recipe_local_epochs_bfloat16_cosine_smoothing_lower_the_loss(tmp_path):
    from configs import face_fer2013

    config = _smoke()
    config.train.local_epochs = face_fer2013.get_config().train.local_epochs
    assert config.train.local_epochs == 2
    config.model.compute_dtype = "bfloat16"
    config.train.lr_schedule = "cosine"
    config.train.label_smoothing = 0.1
    config.personalization.steps = 0
    results = run_face_training(config, tmp_path, log=lambda _: None)
    rows = results["rows"]
    assert rows[1]["train_loss"] < rows[0]["train_loss"]
    base = config.train.client_learning_rate
    assert [r["client_learning_rate"] for r in rows] == pytest.approx([base, base / 2])
    assert 0 <= results["private_test"]["accuracy"] <= 1
    train_examples = sum(results["data"]["client_train_sizes"])  # the run's own clients
    assert rows[0]["num_examples"] == 2 * train_examples  # every client ran both local epochs



@pytest.mark.slow
def test_prior_corrected_clients_lower_the_loss(tmp_path):
    config = _smoke()
    config.train.prior_correction = True
    config.personalization.steps = 0
    rows = run_face_training(config, tmp_path, log=lambda _: None)["rows"]
    assert rows[1]["train_loss"] < rows[0]["train_loss"]
    assert 0 <= rows[1]["train_accuracy"] <= 1


@pytest.mark.slow
def test_group_normalized_clients_lower_the_loss(tmp_path):
    config = _smoke()
    config.model.normalization = "group"
    results = run_face_training(config, tmp_path, log=lambda _: None)
    losses = [r["train_loss"] for r in results["rows"]]
    assert losses[1] < losses[0]
    model = tf.keras.models.load_model(tmp_path / "face_model.keras")
    assert any(isinstance(layer, tf.keras.layers.GroupNormalization) for layer in model.layers)


def test_finalize_adds_the_global_label_prior_to_the_logits_bias_when_prior_corrected():
    import dataclasses

    from tff_train.face.data_loaders import FaceData
    from tff_train.face.trainer import face_model_builder, finalize_global_model

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 48, 48), dtype=np.uint8)
    clients = [(images[:30], np.array([0] * 20 + [3] * 10)), (images[30:], np.full(10, 6))]
    data = FaceData(clients=clients, clients_val=clients, public_test=clients[0],
                    private_test=clients[0], description={})
    config = _smoke()
    config.train.prior_correction = False
    source = face_model_builder(config)()

    @dataclasses.dataclass
    class Weights:  # the part of tff.learning.models.ModelWeights the trainer uses
        def assign_weights_to(self, model):
            model.set_weights(source.get_weights())

    bias = source.get_layer("logits").bias.numpy()
    plain = finalize_global_model(face_model_builder(config)(), Weights(), data, config)
    np.testing.assert_allclose(plain.get_layer("logits").bias.numpy(), bias)
    config.train.prior_correction = True
    corrected = finalize_global_model(face_model_builder(config)(), Weights(), data, config)
    counts = np.array([21, 1, 1, 11, 1, 1, 11])  # add-one smoothed label counts of both clients
    np.testing.assert_allclose(corrected.get_layer("logits").bias.numpy(),
                               bias + np.log(counts / counts.sum()), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_half_epoch_rounds_lower_the_loss_and_see_half_the_examples(tmp_path):
    config = _smoke(rounds=4)
    config.train.rounds_per_epoch = 2
    config.personalization.steps = 0
    full = run_face_training(_smoke(rounds=1), tmp_path / "full", log=lambda _: None)["rows"]
    rows = run_face_training(config, tmp_path / "half", log=lambda _: None)["rows"]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert rows[0]["num_examples"] + rows[1]["num_examples"] == full[0]["num_examples"]
    assert rows[0]["num_examples"] < full[0]["num_examples"]


@pytest.mark.slow
def test_client_store_rounds_equal_driver_dataset_rounds(tmp_path):
    def run(name, client_datasets):
        config = _smoke(rounds=2)
        config.personalization.steps = 0
        config.train.client_datasets = client_datasets
        return run_face_training(config, tmp_path / name, log=lambda _: None)

    driver, store = run("driver", "driver"), run("store", "store")
    assert (tmp_path / "store" / "client_store" / "client_000000.bin").is_file()
    for key in ("train_loss", "train_accuracy", "num_examples", "public_test_accuracy"):
        assert [r[key] for r in store["rows"]] == [r[key] for r in driver["rows"]], key
    assert store["private_test"]["accuracy"] == driver["private_test"]["accuracy"]


def test_the_client_store_refuses_update_attacks(tmp_path):
    config = _smoke()
    config.train.client_datasets = "store"
    config.faults.malicious_fraction = 0.25
    config.faults.attack = "sign_flip"
    with pytest.raises(ValueError, match=r"config.train.client_datasets must be 'driver' with "
                                         r"update attacks \(faults.attack='sign_flip'"):
        run_face_training(config, tmp_path)
