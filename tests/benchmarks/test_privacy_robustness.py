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
