"""The privacy/robustness benchmark's run definitions and summary (no FER2013 needed)."""

from __future__ import annotations

import math

import pytest

from benchmarks.privacy_robustness import RUNS, headline, run_overrides
from tff_train.aggregators.privacy import compute_epsilon

SETTINGS = dict(rounds=10, num_clients=10, clients_per_round=10, dp_clip_norm=1.0,
                malicious_fraction=0.2, attack_scale=10.0, robust_trim_fraction=0.2,
                robust_clip_norm=10.0)


def test_dp_runs_get_the_noise_that_reaches_their_epsilon():
    for eps in (8.0, 3.0):
        o = run_overrides(f"dp_{eps:g}", **SETTINGS)
        got = compute_epsilon(o["aggregation.dp_noise_multiplier"], 1.0, 10, o["privacy.delta"])
        assert eps * 0.99 <= got <= eps
        assert o["aggregation.clip_norm"] == 1.0 and o["privacy.delta"] == 1e-5
    assert run_overrides("dp_3", **SETTINGS)["aggregation.dp_noise_multiplier"] > \
        run_overrides("dp_8", **SETTINGS)["aggregation.dp_noise_multiplier"]


def test_attack_dropout_and_compression_runs():
    assert run_overrides("clean", **SETTINGS) == {}
    fedavg = run_overrides("malicious_fedavg", **SETTINGS)
    robust = run_overrides("malicious_robust", **SETTINGS)
    assert fedavg["faults.attack"] == "sign_flip" and fedavg["faults.malicious_fraction"] == 0.2
    assert robust["aggregation.robust"] == "trimmed_mean" and "aggregation.robust" not in fedavg
    assert run_overrides("malicious_median", **SETTINGS)["aggregation.robust"] == "median"
    krum = run_overrides("malicious_krum", **SETTINGS)
    assert krum["aggregation.robust"] == "multi_krum" and krum["faults.attack"] == "sign_flip"
    assert "faults.attack" not in run_overrides("krum_clean", **SETTINGS)
    no_attack = run_overrides("robust_clean", **SETTINGS)
    assert no_attack["aggregation.robust"] == "trimmed_mean" and "faults.attack" not in no_attack
    assert run_overrides("dropout_30", **SETTINGS) == {"train.dropout_fraction": 0.3}
    assert run_overrides("compressed", **SETTINGS) == {"aggregation.quantization_bits": 8}
    with pytest.raises(ValueError, match=r"--runs: 'dp' is not one of \['clean'"):
        run_overrides("dp", **SETTINGS)


def _run(acc, public=0.4, **extra):
    return {"private_test_accuracy": acc, "public_test_accuracy": public,
            "uplink_bytes_per_client": 350,
            "downlink_bytes_per_client": 1000, "bytes_per_round_mean": 13500.0, **extra}


def test_headline_has_the_issue_shape():
    runs = {name: _run(0.4) for name in RUNS}
    runs["malicious_robust"] = _run(0.37, public=0.38)
    runs["malicious_median"] = _run(0.39, public=0.30)  # chosen on PublicTest, not PrivateTest
    runs["malicious_krum"] = _run(0.2, public=0.1)
    runs["compressed"]["uplink_bytes_per_client"] = 100
    for eps in ("8", "3"):
        runs[f"dp_{eps}"]["privacy"] = {"epsilon": float(eps) - 0.01, "delta": 1e-5,
                                        "noise_multiplier": 2.0}
    h = headline(runs)
    assert set(h["dp"]) == {"inf", "8", "3"} and math.isinf(float(h["dp"]["inf"]["epsilon"]))
    assert h["dp"]["3"] == {"accuracy": 0.4, "epsilon": 2.99, "delta": 1e-5,
                            "noise_multiplier": 2.0}
    assert h["malicious"]["robust_minus_clean_points"] == pytest.approx(-3.0)
    assert h["malicious"]["target_robust_within_2_points"] is False
    assert h["malicious"]["robust_run"].startswith("malicious_robust (best PublicTest")
    assert h["malicious"]["trimmed_mean_without_attack"] == 0.4
    assert h["malicious"]["multi_krum_without_attack"] == 0.4
    assert h["dropout"] == {"0": 0.4, "30": 0.4, "50": 0.4}
    assert h["bytes_per_round"]["uplink_compression_ratio"] == 3.5


def test_headline_of_a_partial_run_leaves_missing_entries_empty():
    h = headline({"clean": _run(0.4)})
    assert h["malicious"] == {"clean": 0.4, "fedavg": None, "robust": None}
    assert "robust_minus_clean_points" not in h["malicious"]
    assert set(h["dp"]) == {"inf"} and "uplink_compression_ratio" not in h["bytes_per_round"]


FLEET = dict(rounds=40, eval_every=20, batch_size=16, num_clients=1000, clients_per_round=100,
             secure_clip_norm=1.0, malicious_fraction=0.2, attack_scale=10.0,
             robust_trim_fraction=0.2, robust_clip_norm=10.0)


def test_fleet_runs_sample_poisson_and_reach_their_epsilon():
    from benchmarks.privacy_robustness import FLEET_RUNS, fleet_overrides

    for name in set(FLEET_RUNS) - {"fleet_dp_3", "fleet_dp_8", "fleet_secure_dp_8"}:
        o = fleet_overrides(name, **FLEET)
        assert o["partition.num_clients"] == 1000 and o["train.client_sampling"] == "poisson"
        assert o["privacy.delta"] == pytest.approx(1000 ** -1.1)
    for eps in (8.0, 3.0):
        o = fleet_overrides(f"fleet_dp_{eps:g}", **FLEET)
        got = compute_epsilon(o["aggregation.dp_noise_multiplier"], 0.1, 40, o["privacy.delta"],
                              sampling="poisson")
        assert eps * 0.99 <= got <= eps and "aggregation.clip_norm" not in o  # adaptive clip
        assert o["train.client_sampling"] == "poisson" and o["train.client_datasets"] == "store"
    assert fleet_overrides("fleet_no_noise", **FLEET)["aggregation.dp_noise_multiplier"] == 0.0
    secure = fleet_overrides("fleet_secure_dp_8", **FLEET)
    assert secure["aggregation.secure"] and secure["aggregation.clip_norm"] == 1.0
    assert fleet_overrides("fleet_malicious_krum", **FLEET)["faults.malicious_fraction"] == 0.2
    with pytest.raises(ValueError, match=r"--fleet_clients_per_round must be in \[1, "
                                         r"--fleet_clients=1000\); got 1000"):
        fleet_overrides("fleet_clean", **{**FLEET, "clients_per_round": 1000})


def test_dp_fleet_headline_compares_with_the_run_without_noise():
    from benchmarks.privacy_robustness import dp_fleet_headline

    def run(acc, privacy=None):
        return {"private_test_accuracy": acc, "public_test_accuracy": acc,
                "round_time_median_s": 5.0, "clients_per_round_mean": 99.5,
                "privacy": privacy}

    dp = {"epsilon": 7.9, "delta": 5e-4, "noise_multiplier": 0.9, "sampling_rate": 0.1,
          "sampling": "poisson", "rounds": 40}
    h = dp_fleet_headline({"clean": run(0.5), "fleet_clean": run(0.45),
                           "fleet_no_noise": run(0.44), "fleet_dp_8": run(0.40, dp),
                           "fleet_dp_3": run(0.30, dp), "fleet_krum_clean": run(0.40),
                           "fleet_malicious_krum": run(0.38)})
    assert set(h["runs"]) == {"clean", "no_noise", "dp_8", "dp_3", "krum_clean",
                              "malicious_krum"}
    assert h["dp_8_minus_no_noise_points"] == pytest.approx(-4.0)
    assert h["target_dp_8_within_5_points"] and not h["target_dp_3_within_5_points"]
    assert h["multi_krum_cost_points_without_attack"] == pytest.approx(-5.0)
    assert h["runs"]["dp_8"]["sampling"] == "poisson"
    assert dp_fleet_headline({"clean": run(0.5)}) is None
