"""Privacy and robustness benchmark on FER2013: DP, malicious clients, dropout, compression.

`python -m benchmarks.privacy_robustness --data_root=../shared/data --out=FILE.json`

Face protocol of `configs/face_fer2013.py` (10 Dirichlet-0.5 clients, all 10 per round, 1 local
epoch per round), shortened to `--rounds` rounds (default 10 instead of 30). Every run trains from
the same seed on the same data; PublicTest every `--eval_every` rounds, PrivateTest reported.

Runs (`--runs` selects a subset): `clean` (weighted FedAvg: ε = ∞, 0 malicious, 0% dropout),
`dp_8` / `dp_3` (DP-FedAvg, fixed clip `--dp_clip_norm`, noise multiplier solved for ε at δ and
q = 1 over the rounds), `malicious_fedavg` / `malicious_robust` / `malicious_median` (20% of the
clients send sign-flipped updates scaled by `--attack_scale`, aggregated by FedAvg vs clipping +
trimmed mean vs clipping + coordinate median vs clipping + multi-Krum; the reported robust accuracy
is the robust run with the best PublicTest accuracy), `robust_clean` / `krum_clean` (clipping +
trimmed mean / multi-Krum without attackers: the cost of the robust combiner itself),
`dropout_30` / `dropout_50` (that fraction of the sampled clients fails each round),
`compressed` (8-bit uplink). A finished run's results.json under `--workdir` is reused when
`--reuse` is set, so an interrupted benchmark continues where it stopped.

Fleet runs (`fleet_*`, the `dp_fleet` section): FER2013 split into `--fleet_clients` Dirichlet-0.5
clients, Poisson client sampling with `--fleet_clients_per_round` expected per round, for
`--fleet_rounds` rounds at batch size `--fleet_batch_size` (a client holds ~26 examples), δ =
1/n^1.1, the iterator client loop and the client store (cheaper per client; the attack run
builds its datasets in the driver): `fleet_clean` (weighted FedAvg),
`fleet_no_noise` (DP-FedAvg's adaptive clipping without noise: the run DP is compared with),
`fleet_dp_8` / `fleet_dp_3` (adaptive clipping, noise solved for ε with the Poisson accountant),
`fleet_secure_dp_8` (the ε = 8 noise over a secure sum of records clipped to
`--fleet_secure_clip_norm`), `fleet_krum_clean` / `fleet_malicious_krum` (clipping + multi-Krum
without / with 20% sign-flipping clients).
"""

from __future__ import annotations

import sys

from emocore.cli_output import quiet_unless_verbose

# ruff: noqa: E402 (the imports below follow the quiet-output call on purpose)
if __name__ == "__main__":  # before anything imports TensorFlow: quiet its console output
    quiet_unless_verbose(sys.argv)

import json
import time
from collections.abc import Sequence
from pathlib import Path

from absl import app, flags

# TensorFlow is imported at module level (importing it inside absl's main breaks Keras).
from benchmarks.common import PeakRssSampler, emit, provenance
from configs import face_fer2013
from tff_train.aggregators.privacy import default_delta, noise_for_epsilon
from tff_train.face.data_loaders import load_face_data
from tff_train.face.trainer import run_face_training
from tff_train.runtime.tff_runtime import import_tff, shutdown_tff_workers

FLEET_RUNS = ("fleet_clean", "fleet_no_noise", "fleet_dp_8", "fleet_dp_3", "fleet_secure_dp_8",
              "fleet_krum_clean", "fleet_malicious_krum")
RUNS = ("clean", "malicious_robust", "malicious_fedavg", "dp_8", "dp_3", "dropout_30",
        "dropout_50", "compressed", "robust_clean", "malicious_median", "malicious_krum",
        "krum_clean", *FLEET_RUNS)
DEFAULT_RUNS = tuple(r for r in RUNS if r not in FLEET_RUNS)
ROBUST_UNDER_ATTACK = ("malicious_robust", "malicious_median", "malicious_krum")

if __name__ == "__main__":
    flags.DEFINE_string("data_root", "../shared/data", "Folder holding fer2013/.")
    flags.DEFINE_string("out", None, "Write the JSON result here too.")
    flags.DEFINE_string("workdir", "/tmp/fedmultiemo_privacy_robustness", "Training outputs.")
    flags.DEFINE_string("cache_dir", "", "FER2013 .npz cache folder ('' = default).")
    flags.DEFINE_integer("rounds", 10, "Federated rounds per run.")
    flags.DEFINE_integer("eval_every", 5, "PublicTest evaluation every k rounds.")
    flags.DEFINE_list("runs", list(DEFAULT_RUNS), f"Subset of {list(RUNS)}.")
    flags.DEFINE_integer("fleet_clients", 1000, "Fleet runs: clients FER2013 is split into.")
    flags.DEFINE_integer("fleet_clients_per_round", 100, "Fleet runs: expected clients per "
                         "round (Poisson sampling).")
    flags.DEFINE_integer("fleet_rounds", 40, "Fleet runs: federated rounds.")
    flags.DEFINE_integer("fleet_eval_every", 20, "Fleet runs: PublicTest every k rounds.")
    flags.DEFINE_integer("fleet_batch_size", 16, "Fleet runs: client batch size.")
    flags.DEFINE_float("fleet_secure_clip_norm", 1.0, "fleet_secure_dp_8: fixed L2 clip.")
    flags.DEFINE_float("dp_clip_norm", 1.0, "Fixed L2 clip of each client delta in DP runs.")
    flags.DEFINE_float("malicious_fraction", 0.2, "Fraction of the clients that attack.")
    flags.DEFINE_float("attack_scale", 10.0, "Size of the sign-flipped malicious updates.")
    flags.DEFINE_float("robust_trim_fraction", 0.2, "Trimmed mean: fraction cut at each end.")
    flags.DEFINE_float("robust_clip_norm", 10.0, "L2 clip before the robust combiner.")
    flags.DEFINE_bool("reuse", False, "Reuse finished runs found in --workdir.")
FLAGS = flags.FLAGS


def run_overrides(name: str, *, rounds: int, num_clients: int, clients_per_round: int,
                  dp_clip_norm: float, malicious_fraction: float, attack_scale: float,
                  robust_trim_fraction: float, robust_clip_norm: float) -> dict:
    """The config overrides (`section.key`: value) of benchmark run `name`."""
    if name == "clean":
        return {}
    if name.startswith("dp_"):
        epsilon = float(name.split("_")[1])
        delta = default_delta(num_clients)
        noise = noise_for_epsilon(epsilon, clients_per_round / num_clients, rounds, delta)
        return {"aggregation.dp_noise_multiplier": noise,
                "aggregation.clip_norm": dp_clip_norm, "privacy.delta": delta}
    trimmed = {"aggregation.robust": "trimmed_mean",
               "aggregation.trim_fraction": robust_trim_fraction,
               "aggregation.clip_norm": robust_clip_norm}
    krum = {"aggregation.robust": "multi_krum",
            "aggregation.trim_fraction": robust_trim_fraction,
            "aggregation.clip_norm": robust_clip_norm}
    if name == "robust_clean":
        return trimmed
    if name == "krum_clean":
        return krum
    if name in ("malicious_fedavg", *ROBUST_UNDER_ATTACK):
        attack = {"faults.malicious_fraction": malicious_fraction,
                  "faults.attack": "sign_flip", "faults.attack_scale": attack_scale}
        if name == "malicious_robust":
            attack.update(trimmed)
        elif name == "malicious_krum":
            attack.update(krum)
        elif name == "malicious_median":
            attack.update({"aggregation.robust": "median",
                           "aggregation.clip_norm": robust_clip_norm})
        return attack
    if name.startswith("dropout_"):
        return {"train.dropout_fraction": int(name.split("_")[1]) / 100}
    if name == "compressed":
        return {"aggregation.quantization_bits": 8}
    raise ValueError(f"--runs: {name!r} is not one of {list(RUNS)}")


def fleet_delta(num_clients: int) -> float:
    """The fleet runs' δ: 1 / num_clients**1.1."""
    return float(num_clients) ** -1.1


def fleet_overrides(name: str, *, rounds: int, eval_every: int, batch_size: int,
                    num_clients: int, clients_per_round: int, secure_clip_norm: float,
                    malicious_fraction: float, attack_scale: float, robust_trim_fraction: float,
                    robust_clip_norm: float) -> dict:
    """The config overrides of fleet run `name` (see the module docstring)."""
    if not 1 <= clients_per_round < num_clients:
        raise ValueError(f"--fleet_clients_per_round must be in [1, --fleet_clients="
                         f"{num_clients}); got {clients_per_round}")
    delta = fleet_delta(num_clients)
    fleet = {"partition.num_clients": num_clients, "train.clients_per_round": clients_per_round,
             "train.client_sampling": "poisson", "train.rounds": rounds,
             "train.eval_every": eval_every, "train.batch_size": batch_size,
             "train.client_loop": "iterator",  # ~26 examples per client: see benchmarks.scale
             "train.client_datasets": "store",
             "privacy.delta": delta}

    def noise(epsilon: float) -> float:
        return noise_for_epsilon(epsilon, clients_per_round / num_clients, rounds, delta,
                                 sampling="poisson")

    krum = {"aggregation.robust": "multi_krum", "aggregation.trim_fraction": robust_trim_fraction,
            "aggregation.clip_norm": robust_clip_norm}
    runs = {  # callables: only the requested run solves for its noise (seconds each)
        "fleet_clean": dict,
        "fleet_no_noise": lambda: {"aggregation.dp_noise_multiplier": 0.0},
        "fleet_dp_8": lambda: {"aggregation.dp_noise_multiplier": noise(8.0)},
        "fleet_dp_3": lambda: {"aggregation.dp_noise_multiplier": noise(3.0)},
        "fleet_secure_dp_8": lambda: {"aggregation.dp_noise_multiplier": noise(8.0),
                                      "aggregation.clip_norm": secure_clip_norm,
                                      "aggregation.secure": True},
        "fleet_krum_clean": lambda: krum,
        "fleet_malicious_krum": lambda: {
            **krum, "faults.malicious_fraction": malicious_fraction,
            "faults.attack": "sign_flip", "faults.attack_scale": attack_scale,
            "train.client_datasets": "driver"},  # update attacks travel beside driver datasets
    }
    if name not in runs:
        raise ValueError(f"--runs: {name!r} is not one of {list(FLEET_RUNS)}")
    return {**fleet, **runs[name]()}


def dp_fleet_headline(runs: dict[str, dict]) -> dict | None:
    """The `dp_fleet` section: accuracies, ε, noise, round times and the issue's comparisons."""
    fleet = {n: r for n, r in runs.items() if n in FLEET_RUNS}
    if not fleet:
        return None
    out: dict = {"runs": {}}
    for name, r in fleet.items():
        entry = {"private_test_accuracy": r["private_test_accuracy"],
                 "public_test_accuracy": r["public_test_accuracy"],
                 "round_time_median_s": r["round_time_median_s"],
                 "clients_per_round_mean": r["clients_per_round_mean"],
                 "wall_time_s": r.get("wall_time_s")}
        if r.get("privacy"):
            entry.update({k: r["privacy"][k] for k in ("epsilon", "delta", "noise_multiplier",
                                                        "sampling_rate", "sampling", "rounds")})
        out["runs"][name.removeprefix("fleet_")] = entry

    def acc(name: str) -> float | None:
        return fleet[name]["private_test_accuracy"] if name in fleet else None

    base = acc("fleet_no_noise")
    for eps in ("8", "3"):
        got = acc(f"fleet_dp_{eps}")
        if base is not None and got is not None:
            out[f"dp_{eps}_minus_no_noise_points"] = 100 * (got - base)
            out[f"target_dp_{eps}_within_5_points"] = 100 * (got - base) >= -5
    if acc("fleet_clean") is not None and acc("fleet_krum_clean") is not None:
        out["multi_krum_cost_points_without_attack"] = 100 * (acc("fleet_krum_clean")
                                                              - acc("fleet_clean"))
    if acc("fleet_clean") is not None and acc("fleet_malicious_krum") is not None:
        out["multi_krum_under_attack_minus_clean_points"] = 100 * (
            acc("fleet_malicious_krum") - acc("fleet_clean"))
    return out


def summarise(name: str, overrides: dict, results: dict) -> dict:
    """The per-run numbers reported in the JSON."""
    rows = results["rows"]
    bytes_per_round = [(r["uplink_bytes_per_client"] + r["downlink_bytes_per_client"])
                       * r["clients"] for r in rows]
    return {
        "overrides": overrides,
        "private_test_accuracy": results["private_test"]["accuracy"],
        "public_test_accuracy": results["public_test"]["accuracy"],
        "private_test_macro_f1": results["private_test"]["macro_f1"],
        "final_train_loss": rows[-1]["train_loss"],
        "round_time_median_s": results["round_time_median_s"],
        "clients_per_round_mean": sum(r["clients"] for r in rows) / len(rows),
        "uplink_bytes_per_client": rows[-1]["uplink_bytes_per_client"],
        "downlink_bytes_per_client": rows[-1]["downlink_bytes_per_client"],
        "bytes_per_round_mean": sum(bytes_per_round) / len(rows),
        "privacy": results["privacy"],
        "malicious_clients": results["malicious_clients"],
        "public_test_curve": [{"round": r["round"], "accuracy": r["public_test_accuracy"]}
                              for r in rows if "public_test_accuracy" in r],
    }


def main(argv: Sequence[str]) -> None:
    del argv
    unknown = sorted(set(FLAGS.runs) - set(RUNS))
    if unknown:
        raise app.UsageError(f"--runs: {unknown} not in {list(RUNS)}")
    import_tff()
    started = time.time()
    base = face_fer2013.get_config()
    base.data.data_root = FLAGS.data_root
    base.data.cache_dir = FLAGS.cache_dir
    full_rounds = base.train.rounds  # the face_fl protocol's rounds, before shortening
    base.train.rounds = FLAGS.rounds
    base.train.eval_every = FLAGS.eval_every
    base.personalization.steps = 0
    runs: dict[str, dict] = {}
    result = {"provenance": provenance(), "base_config": base.to_dict(),
              "protocol": f"FER2013 face protocol shortened to {FLAGS.rounds} rounds "
                          f"(the full face_fl run has {full_rounds}); PrivateTest accuracy "
                          "reported",
              "fleet_protocol": {
                  "clients": FLAGS.fleet_clients, "partition": "Dirichlet 0.5",
                  "clients_per_round_expected": FLAGS.fleet_clients_per_round,
                  "client_sampling": "poisson", "rounds": FLAGS.fleet_rounds,
                  "eval_every": FLAGS.fleet_eval_every, "batch_size": FLAGS.fleet_batch_size,
                  "delta": fleet_delta(FLAGS.fleet_clients)},
              "runs": runs}
    datasets: dict[int, object] = {}  # partition.num_clients -> FaceData

    def data_for(config: object) -> object:
        n = config.partition.num_clients
        if n not in datasets:
            datasets[n] = load_face_data(config)
        return datasets[n]

    attacks = dict(malicious_fraction=FLAGS.malicious_fraction, attack_scale=FLAGS.attack_scale,
                   robust_trim_fraction=FLAGS.robust_trim_fraction,
                   robust_clip_norm=FLAGS.robust_clip_norm)
    try:
        with PeakRssSampler() as rss:
            for name in FLAGS.runs:
                if name in FLEET_RUNS:
                    overrides = fleet_overrides(
                        name, rounds=FLAGS.fleet_rounds, eval_every=FLAGS.fleet_eval_every,
                        batch_size=FLAGS.fleet_batch_size, num_clients=FLAGS.fleet_clients,
                        clients_per_round=FLAGS.fleet_clients_per_round,
                        secure_clip_norm=FLAGS.fleet_secure_clip_norm, **attacks)
                else:
                    overrides = run_overrides(
                        name, rounds=FLAGS.rounds, num_clients=base.partition.num_clients,
                        clients_per_round=base.train.clients_per_round,
                        dp_clip_norm=FLAGS.dp_clip_norm, **attacks)
                config = base.copy_and_resolve_references()
                config.update_from_flattened_dict(overrides)
                data = data_for(config)
                workdir = Path(FLAGS.workdir) / name
                done = workdir / "results.json"
                if FLAGS.reuse and done.exists():
                    results = json.loads(done.read_text())
                else:
                    if workdir.exists():
                        raise app.UsageError(f"{workdir} exists: remove it or pass --reuse")
                    t0 = time.time()
                    results = run_face_training(config, workdir, data=data)
                    results["wall_time_s"] = time.time() - t0
                    done.write_text(json.dumps(results, indent=2, default=float))  # for --reuse
                runs[name] = summarise(name, overrides, results)
                runs[name]["wall_time_s"] = results.get("wall_time_s")
                emit(result, FLAGS.out)  # partial results survive an interrupted benchmark
    finally:
        shutdown_tff_workers()
    result.update(headline({n: r for n, r in runs.items() if n not in FLEET_RUNS}))
    result["dp_fleet"] = dp_fleet_headline(runs)
    result.update({"peak_rss_driver_mb": rss.peak_self_mb,
                   "peak_rss_tff_worker_mb": rss.peak_children_mb,
                   "wall_time_s": time.time() - started})
    emit(result, FLAGS.out)


def headline(runs: dict[str, dict]) -> dict:
    """The issue's summary shape: dp / malicious / dropout accuracies and bytes per round."""
    def acc(name: str) -> float | None:
        return runs[name]["private_test_accuracy"] if name in runs else None

    dp = {}
    if "clean" in runs:
        dp["inf"] = {"accuracy": acc("clean"), "epsilon": "inf", "delta": 0.0}  # strict JSON
    for eps in ("8", "3"):
        if f"dp_{eps}" in runs:
            p = runs[f"dp_{eps}"]["privacy"]
            dp[eps] = {"accuracy": acc(f"dp_{eps}"), "epsilon": p["epsilon"], "delta": p["delta"],
                       "noise_multiplier": p["noise_multiplier"]}
    candidates = [n for n in ROBUST_UNDER_ATTACK if n in runs]
    chosen = max(candidates, key=lambda n: runs[n]["public_test_accuracy"], default=None)
    malicious = {"clean": acc("clean"), "fedavg": acc("malicious_fedavg"),
                 "robust": acc(chosen) if chosen else None}
    if chosen:
        malicious["robust_run"] = chosen + " (best PublicTest among " + ", ".join(candidates) + ")"
    if "robust_clean" in runs:
        malicious["trimmed_mean_without_attack"] = acc("robust_clean")
    if "krum_clean" in runs:
        malicious["multi_krum_without_attack"] = acc("krum_clean")
    if None not in (malicious["clean"], malicious["robust"]):
        malicious["robust_minus_clean_points"] = 100 * (malicious["robust"] - malicious["clean"])
        malicious["target_robust_within_2_points"] = malicious["robust_minus_clean_points"] >= -2
    dropout = {"0": acc("clean"), "30": acc("dropout_30"), "50": acc("dropout_50")}
    traffic = {}
    for label, name in (("float32", "clean"), ("8bit", "compressed")):
        if name in runs:
            r = runs[name]
            traffic[label] = {k: r[k] for k in ("uplink_bytes_per_client",
                                                "downlink_bytes_per_client",
                                                "bytes_per_round_mean")}
            traffic[label]["accuracy"] = r["private_test_accuracy"]
    if len(traffic) == 2:
        traffic["uplink_compression_ratio"] = (traffic["float32"]["uplink_bytes_per_client"]
                                               / traffic["8bit"]["uplink_bytes_per_client"])
    return {"dp": dp, "malicious": malicious, "dropout": dropout, "bytes_per_round": traffic}


if __name__ == "__main__":
    app.run(main)
