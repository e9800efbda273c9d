from __future__ import annotations

import json
import math

import numpy as np
import pytest

from emocore.fusion import (
    Exclusion,
    ExclusionKind,
    FusionConfig,
    FusionEngine,
    LearnedWeights,
    ModalityReading,
    fuse,
    to_driver_state,
)

FACE = np.array([0.6, 0.3, 0.1])
PHYSIO = np.array([0.1, 0.1, 0.8])
THREE = (("face", "fer7"), ("physio", "wesad3"), ("vehicle", "drivedb3"))


def _r(modality, probs, t=10.0, quality=1.0):
    return ModalityReading(modality, None if probs is None else np.asarray(probs, float), t,
                           quality)


def _fuse(readings, now=10.0, **config):
    return fuse(readings, now, FusionConfig(**config))


def test_to_driver_state_sums_merged_classes():
    # FER7: angry, disgust, fear, happy, sad, surprise, neutral
    fer = np.array([0.1, 0.1, 0.1, 0.2, 0.1, 0.1, 0.3])
    np.testing.assert_allclose(to_driver_state(fer, "fer7"), [0.3, 0.3, 0.4])
    # WESAD3: amusement, baseline, stress; DRIVEDB3: low, medium, high
    np.testing.assert_allclose(to_driver_state([[0.2, 0.5, 0.3]], "wesad3"), [[0.5, 0.2, 0.3]])
    np.testing.assert_allclose(to_driver_state([0.5, 0.3, 0.2], "drivedb3"), [0.5, 0.0, 0.5])
    assert np.isnan(to_driver_state(np.full(7, np.nan), "fer7")).all()
    with pytest.raises(ValueError, match=r"probs must have last dim 7 for label space 'fer7'; "
                                         r"got shape \[3\]"):
        to_driver_state(np.ones(3) / 3, "fer7")


def test_confidence_weighted_max_prob_by_hand():
    result = _fuse([_r("face", FACE), _r("physio", PHYSIO)])
    # weights 0.6 and 0.8 -> (0.6 * FACE + 0.8 * PHYSIO) / 1.4
    np.testing.assert_allclose(result.probs, [0.44 / 1.4, 0.26 / 1.4, 0.70 / 1.4])
    assert result.label == "negative" and result.label_index == 2
    np.testing.assert_allclose(result.weights, [0.6 / 1.4, 0.8 / 1.4])
    assert result.used == ("face", "physio") and result.excluded == ()


def test_confidence_weighted_entropy_ignores_a_uniform_modality():
    result = _fuse([_r("face", [1.0, 0.0, 0.0]), _r("physio", [1 / 3] * 3)],
                   confidence_measure="entropy")
    np.testing.assert_allclose(result.probs, [1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(result.weights, [1.0, 0.0], atol=1e-12)
    # 1 - H/ln3 for [0.5, 0.5, 0]: 1 - ln2/ln3
    both = _fuse([_r("face", [0.5, 0.5, 0.0]), _r("physio", [0, 0, 1.0])],
                 confidence_measure="entropy")
    w = 1 - math.log(2) / math.log(3)
    np.testing.assert_allclose(both.weights, [w / (w + 1), 1 / (w + 1)])
    # All uniform: every weight is 0 -> equal weights; the tie goes to the first class.
    flat = _fuse([_r("face", [1 / 3] * 3), _r("physio", [1 / 3] * 3)],
                 confidence_measure="entropy")
    np.testing.assert_allclose(flat.probs, [1 / 3] * 3)
    assert flat.label == "neutral"


def test_majority_vote_counts_and_breaks_ties():
    result = _fuse([_r("face", FACE), _r("physio", PHYSIO), _r("vehicle", [0.2, 0.1, 0.7])],
                   strategy="majority_vote", modality_label_spaces=THREE)
    np.testing.assert_allclose(result.probs, [1 / 3, 0.0, 2 / 3])
    assert result.label == "negative"
    # 1-1 vote tie: summed probability neutral 0.6 < negative 0.7 -> negative.
    tie = _fuse([_r("face", [0.5, 0.4, 0.1]), _r("physio", [0.1, 0.3, 0.6])],
                strategy="majority_vote")
    np.testing.assert_allclose(tie.probs, [0.5, 0.0, 0.5])
    assert tie.label == "negative"
    # Votes and sums tied -> fixed class order (neutral first).
    order = _fuse([_r("face", [0.6, 0.0, 0.4]), _r("physio", [0.4, 0.0, 0.6])],
                  strategy="majority_vote")
    assert order.label == "neutral"


def test_product_of_experts_with_epsilon_floor():
    result = _fuse([_r("face", [0.5, 0.5, 0.0]), _r("physio", [0.25, 0.25, 0.5])],
                   strategy="product_of_experts", epsilon=1e-6)
    expected = np.array([0.125, 0.125, 0.5e-6]) / (0.25 + 0.5e-6)
    np.testing.assert_allclose(result.probs, expected, rtol=1e-12)
    assert result.label == "neutral"  # neutral/positive tie -> class order
    veto = _fuse([_r("face", [0.9, 0.1, 0.0]), _r("physio", [0.0, 0.2, 0.8])],
                 strategy="product_of_experts")
    assert veto.label == "positive"  # each expert vetoes the other's favourite


def test_learned_weights_scalar_and_per_class():
    scalar = LearnedWeights(("face", "physio"), ((0.25,), (0.75,)))
    result = _fuse([_r("face", FACE), _r("physio", PHYSIO)], strategy="learned_weights",
                   learned_weights=scalar)
    np.testing.assert_allclose(result.probs, 0.25 * FACE + 0.75 * PHYSIO)
    per_class = LearnedWeights(("face", "physio"), ((1, 0, 0.5), (0, 1, 0.5)))
    result = _fuse([_r("face", FACE), _r("physio", PHYSIO)], strategy="learned_weights",
                   learned_weights=per_class)
    np.testing.assert_allclose(result.probs, np.array([0.6, 0.1, 0.45]) / 1.15)
    assert result.label == "neutral"
    # Only physio present: its class weights still apply (renormalised).
    alone = _fuse([_r("face", None), _r("physio", PHYSIO)], strategy="learned_weights",
                  learned_weights=per_class)
    np.testing.assert_allclose(alone.probs, np.array([0.0, 0.1, 0.4]) / 0.5)


def test_learned_log_pool_weighs_confident_disagreements():
    scalar = LearnedWeights(("face", "physio"), ((0.25,), (0.75,)))
    result = _fuse([_r("face", FACE), _r("physio", PHYSIO)], strategy="learned_log_pool",
                   learned_weights=scalar, epsilon=1e-6)
    log_p = 0.25 * np.log(np.maximum(FACE, 1e-6)) + 0.75 * np.log(np.maximum(PHYSIO, 1e-6))
    expected = np.exp(log_p) / np.exp(log_p).sum()
    np.testing.assert_allclose(result.probs, expected, rtol=1e-12)
    np.testing.assert_allclose(result.weights, [0.25, 0.75])
    # Opposite favourites, a shared second choice: the linear pool follows the larger weight,
    # the log pool picks the state both find plausible.
    face, physio = [0.60, 0.35, 0.05], [0.05, 0.35, 0.60]
    even = LearnedWeights(("face", "physio"), ((0.55,), (0.45,)))
    linear = _fuse([_r("face", face), _r("physio", physio)], strategy="learned_weights",
                   learned_weights=even)
    log_pool = _fuse([_r("face", face), _r("physio", physio)], strategy="learned_log_pool",
                     learned_weights=even)
    assert linear.label == "neutral" and log_pool.label == "positive"
    # Per-class exponents; one modality present keeps its argmax.
    per_class = LearnedWeights(("face", "physio"), ((1, 0, 0.5), (0, 1, 0.5)))
    alone = _fuse([_r("face", None), _r("physio", PHYSIO)], strategy="learned_log_pool",
                  learned_weights=per_class)
    assert alone.label_index == int(np.argmax(PHYSIO ** np.array([0, 1, 0.5])))


def test_learned_pool_without_mass_is_unknown():
    weights = LearnedWeights(("face", "physio"), ((1, 0, 0), (1, 0, 0)))
    result = _fuse([_r("face", [0, 1.0, 0]), _r("physio", None)], strategy="learned_weights",
                   learned_weights=weights)
    assert result.is_unknown and result.probs is None
    assert result.kinds == {"physio": ExclusionKind.MISSING, "face": ExclusionKind.ZERO_MASS}


def test_missing_stale_low_quality_and_future_readings_are_excluded_never_guessed():
    config = {"max_age_s": 2.0, "min_quality": 0.5, "modality_label_spaces": THREE}
    result = _fuse([_r("face", FACE, t=7.9), _r("physio", PHYSIO, quality=0.4),
                    _r("vehicle", [np.nan] * 3)], **config)
    assert result.is_unknown and result.label == "unknown" and result.label_index == -1
    assert result.probs is None and result.used == ()
    assert result.kinds == {"face": ExclusionKind.STALE, "physio": ExclusionKind.LOW_QUALITY,
                            "vehicle": ExclusionKind.NAN_PROBS}
    assert all(isinstance(e, Exclusion) and e.reason for e in result.excluded)  # prose for logs

    partial = _fuse([_r("face", FACE, t=8.0), _r("physio", PHYSIO, t=10.5),
                     _r("vehicle", None)], **config)
    assert partial.used == ("face",)  # exactly at max_age is still fresh
    np.testing.assert_allclose(partial.probs, FACE)
    assert partial.kinds == {"physio": ExclusionKind.FUTURE_TIMESTAMP,
                             "vehicle": ExclusionKind.MISSING}
    absent = _fuse([_r("physio", PHYSIO, quality=float("nan"))])
    assert absent.is_unknown
    assert absent.kinds == {"physio": ExclusionKind.LOW_QUALITY, "face": ExclusionKind.NO_READING}
    assert absent.reasons == {e.modality: e.reason for e in absent.excluded}


@pytest.mark.parametrize(("readings", "message"), [
    ([_r("face", [0.5, 0.5])], r"reading 'face': probs must have shape \[3\]"),
    ([_r("face", [0.5, 0.6, 0.1])], "reading 'face': probs must be non-negative and sum to 1"),
    ([_r("face", [1.5, -0.5, 0.0])], "reading 'face': probs must be non-negative and sum to 1"),
    ([_r("camera", FACE)], r"reading modality 'camera' is not configured; expected one of "
                           r"\['face', 'physio'\]"),
    ([_r("face", FACE), _r("face", FACE)], "readings hold modality 'face' twice"),
    (["face"], "readings must hold ModalityReading; got str"),
])
def test_malformed_readings_are_errors(readings, message):
    with pytest.raises(ValueError, match=message):
        _fuse(readings)


def test_smoothing_ema_half_life_gap_reset_and_unknown_steps():
    engine = FusionEngine(FusionConfig(smoothing_half_life_s=1.0, smoothing_reset_gap_s=5.0))
    first = engine.update([_r("face", [1.0, 0, 0], t=0.0)], now_s=0.0)
    assert first.smoothed and first.label == "neutral"
    np.testing.assert_allclose(first.probs, [1, 0, 0])
    # dt = 2 s = two half-lives: alpha = 1 - 2**-2 = 0.75
    second = engine.update([_r("face", [0, 0, 1.0], t=2.0)], now_s=2.0)
    np.testing.assert_allclose(second.probs, [0.25, 0, 0.75])
    assert second.label == "negative"
    # An unknown step is reported as unknown and leaves the state alone.
    gap = engine.update([], now_s=2.5)
    assert gap.is_unknown and not gap.smoothed
    third = engine.update([_r("face", [0, 1.0, 0], t=3.0)], now_s=3.0)  # dt = 1: alpha = 0.5
    np.testing.assert_allclose(third.probs, [0.125, 0.5, 0.375])
    # A gap longer than smoothing_reset_gap_s resets the state to the new distribution.
    reset = engine.update([_r("face", [0, 0, 1.0], t=9.0)], now_s=9.0)
    np.testing.assert_allclose(reset.probs, [0, 0, 1])
    with pytest.raises(ValueError, match="now_s must not decrease; got 8.0 after 9.0"):
        engine.update([], now_s=8.0)


def test_reading_pooling_geometric_ema_repeats_exclusions_and_reset():
    config = FusionConfig(pooling_half_life_s={"face": 1.0}, smoothing_reset_gap_s=5.0,
                          max_age_s=2.0, min_quality=0.5, epsilon=1e-6)
    engine = FusionEngine(config)
    first = engine.update([_r("face", [0.8, 0.1, 0.1], t=0.0)], now_s=0.0)
    np.testing.assert_allclose(first.probs, [0.8, 0.1, 0.1])
    # dt = 1 s = one half-life: alpha = 0.5, the normalised geometric mean of the two readings.
    second = engine.update([_r("face", [0.1, 0.1, 0.8], t=1.0),
                            _r("physio", [0.0, 1.0, 0.0], t=1.0)], now_s=1.0)
    mean = np.sqrt(np.array([0.08, 0.01, 0.08]))
    np.testing.assert_allclose(engine.pooled_probs("face"), mean / mean.sum())
    assert engine.pooled_probs("physio") is None  # not pooled
    # The fused result combined the pooled face with the unpooled physio reading.
    stateless = fuse([_r("face", mean / mean.sum(), t=1.0), _r("physio", [0, 1.0, 0], t=1.0)],
                     1.0, config)
    np.testing.assert_allclose(second.probs, stateless.probs)
    # The same reading again (a physio-triggered step) is not counted twice.
    engine.update([_r("face", [0.1, 0.1, 0.8], t=1.0)], now_s=1.5)
    np.testing.assert_allclose(engine.pooled_probs("face"), mean / mean.sum())
    # An excluded reading (low quality) leaves the pool alone and is not fused.
    low = engine.update([_r("face", [0.0, 1.0, 0.0], t=2.0, quality=0.1)], now_s=2.0)
    assert low.is_unknown
    np.testing.assert_allclose(engine.pooled_probs("face"), mean / mean.sum())
    # Zeros are floored at epsilon, so one confident reading cannot veto a class for good.
    engine.update([_r("face", [0.0, 0.0, 1.0], t=3.0)], now_s=3.0)
    assert engine.pooled_probs("face")[0] > 0
    # A gap longer than smoothing_reset_gap_s restarts the pool from the new reading.
    engine.update([_r("face", [0.2, 0.7, 0.1], t=9.0)], now_s=9.0)
    np.testing.assert_allclose(engine.pooled_probs("face"), [0.2, 0.7, 0.1])
    engine.reset()
    assert engine.pooled_probs("face") is None


def test_pooling_config_validation_and_json():
    config = FusionConfig(pooling_half_life_s=(("physio", 0.0), ("face", 3.0)))
    assert config.pooling_half_life_s == (("face", 3.0), ("physio", 0.0))
    assert (config.pooling_half_life("face"), config.pooling_half_life("physio")) == (3.0, 0.0)
    assert json.loads(config.to_json())["pooling_half_life_s"] == {"face": 3.0, "physio": 0.0}
    assert FusionConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match=r"pooling_half_life_s must name configured modalities "
                                         r"\(\['face', 'physio'\]\) at most once each; got "
                                         r"\['eye'\]"):
        FusionConfig(pooling_half_life_s={"eye": 1.0})
    with pytest.raises(ValueError, match=r"pooling_half_life_s\['face'\] must be finite and in "
                                         r"\[0.0, inf\); got -1.0"):
        FusionConfig(pooling_half_life_s={"face": -1.0})


def test_no_smoothing_by_default_is_the_stateless_result():
    engine = FusionEngine(FusionConfig())
    engine.update([_r("face", [1.0, 0, 0], t=0.0)], now_s=0.0)
    result = engine.update([_r("face", FACE, t=1.0)], now_s=1.0)
    assert not result.smoothed
    np.testing.assert_allclose(result.probs, FACE)


def test_config_json_round_trip_with_learned_weights():
    config = FusionConfig(strategy="learned_weights", max_age_s=1.5, smoothing_half_life_s=0.8,
                          modality_label_spaces={"physio": "wesad3", "face": "fer7"},
                          learned_weights=LearnedWeights(("face", "physio"), ((0.3,), (0.7,)),
                                                         validation_score=-0.5))
    text = config.to_json()
    data = json.loads(text)
    assert data["version"] == 2 and data["labels"] == ["neutral", "positive", "negative"]
    assert data["modality_label_spaces"] == {"face": "fer7", "physio": "wesad3"}
    assert FusionConfig.from_json(text) == config
    assert FusionConfig.from_json(FusionConfig().to_json()) == FusionConfig()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"strategy": "median"}, r"strategy must be one of \['confidence_weighted'"),
    ({"confidence_measure": "margin"}, "confidence_measure must be one of"),
    ({"max_age_s": 0.0}, r"max_age_s must be finite and in \(0.0, inf\); got 0.0"),
    ({"min_quality": 1.5}, r"min_quality must be finite and in \[0.0, 1.0\]; got 1.5"),
    ({"smoothing_half_life_s": -1}, "smoothing_half_life_s must be finite"),
    ({"epsilon": 0.0}, "epsilon must be finite"),
    ({"strategy": "learned_weights"}, "strategy 'learned_weights' needs learned_weights"),
    ({"strategy": "learned_log_pool"}, "strategy 'learned_log_pool' needs learned_weights"),
    ({"modality_label_spaces": {"face": "fer7", "x": "wesad_binary"}},
     "no mapping from 'wesad_binary' to 'driver_state3'"),
    ({"modality_label_spaces": {}}, "modality_label_spaces must name unique, non-empty"),
    ({"learned_weights": LearnedWeights(("face",), ((1.0,),))},
     r"learned_weights must cover exactly the modalities \['face', 'physio'\]"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FusionConfig(**kwargs)


def test_config_from_json_rejects_other_versions_labels_and_keys():
    data = json.loads(FusionConfig().to_json())
    with pytest.raises(ValueError, match=r"fusion config version must be one of \[1, 2\] "
                                         r"\(this runtime's\); got 3"):
        FusionConfig.from_json(json.dumps(data | {"version": 3}))
    with pytest.raises(ValueError, match="fusion config must be a JSON object; got list"):
        FusionConfig.from_json("[]")
    # A version-1 file (written before reading pooling) reads as unpooled; with the key it is
    # malformed.
    old = {k: v for k, v in data.items() if k != "pooling_half_life_s"} | {"version": 1}
    assert FusionConfig.from_json(json.dumps(old)) == FusionConfig()
    with pytest.raises(ValueError, match=r"unknown keys \['pooling_half_life_s'\]"):
        FusionConfig.from_json(json.dumps(data | {"version": 1}))
    with pytest.raises(ValueError, match="fusion config labels must be"):
        FusionConfig.from_json(json.dumps(data | {"labels": ["positive", "neutral", "negative"]}))
    with pytest.raises(ValueError, match=r"unknown keys \['alpha'\], missing keys \[\]"):
        FusionConfig.from_json(json.dumps(data | {"alpha": 1}))


def test_learned_weights_validation():
    with pytest.raises(ValueError, match="each weights row must have 1 or 3 entries"):
        LearnedWeights(("face", "physio"), ((1.0, 0.0), (1.0, 0.0)))
    with pytest.raises(ValueError, match="weights must be finite and >= 0"):
        LearnedWeights(("face",), ((-1.0,),))
    with pytest.raises(ValueError, match="weights must have one row per modality"):
        LearnedWeights(("face", "physio"), ((1.0,),))
