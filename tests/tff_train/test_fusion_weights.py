"""Fitting linear- and log-pool fusion weights on validation data (tff_train.fusion_weights)."""

from __future__ import annotations

import numpy as np
import pytest

from emocore.fusion import FusionConfig, ModalityReading, fuse
from tff_train.fusion_weights import fit_learned_weights


def test_fit_grid_hand_case_keeps_the_first_best_point():
    # One sample of class 0: face says neutral, physio says positive. With accuracy,
    # grid (step 0.5) = [0, 1], [0.5, 0.5], [1, 0]: the last two are correct, the first wins.
    fitted = fit_learned_weights({"face": np.array([[1.0, 0, 0]]),
                                  "physio": np.array([[0, 1.0, 0]])}, np.array([0]),
                                 objective="accuracy", grid_step=0.5)
    assert fitted.weights == ((0.5,), (0.5,)) and fitted.validation_score == 1.0


def test_fit_prefers_the_informative_modality_and_handles_missing_rows():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 200)
    physio = np.eye(3)[labels] * 0.7 + 0.1
    face = rng.dirichlet(np.ones(3), 200)
    face[::4] = np.nan  # face missing for a quarter of the samples
    fitted = fit_learned_weights({"face": face, "physio": physio}, labels)
    assert fitted.weights[1][0] >= 0.8
    config = FusionConfig(strategy="learned_weights", learned_weights=fitted)
    assert FusionConfig.from_json(config.to_json()).learned_weights == fitted


def test_fit_per_class_beats_per_modality_when_modalities_specialise():
    labels = np.random.default_rng(1).integers(0, 3, 300)
    positive = labels == 1
    face = np.where(positive[:, None], [0.05, 0.9, 0.05], [0.3, 0.4, 0.3])
    physio = np.where(positive[:, None], [0.5, 0.2, 0.3], np.eye(3)[labels] * 0.7 + 0.1)
    scalar = fit_learned_weights({"face": face, "physio": physio}, labels)
    per_class = fit_learned_weights({"face": face, "physio": physio}, labels, per_class=True)
    assert len(per_class.weights[0]) == 3
    assert per_class.validation_score > scalar.validation_score + 0.01


@pytest.mark.parametrize("pool, strategy", [("linear", "learned_weights"),
                                             ("log", "learned_log_pool")])
def test_fit_scores_what_the_edge_fusion_computes(pool, strategy):
    # The fit's vectorised pool must equal emocore.fusion.fuse sample by sample: the mean
    # log-likelihood of the fitted weights, recomputed through fuse, is the fit's score.
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, 120)
    face = rng.dirichlet(np.ones(3) * 0.3, 120)
    physio = 0.6 * np.eye(3)[labels] + 0.4 * rng.dirichlet(np.ones(3) * 0.3, 120)
    face[::5] = np.nan
    fitted = fit_learned_weights({"face": face, "physio": physio}, labels, pool=pool,
                                 epsilon=1e-6, per_class=True)
    config = FusionConfig(strategy=strategy, learned_weights=fitted, epsilon=1e-6,
                          modality_label_spaces={"face": "driver_state3",
                                                 "physio": "driver_state3"})
    scores = []
    for f, p, y in zip(face, physio, labels, strict=True):
        result = fuse([ModalityReading("face", None if np.isnan(f).any() else f, 0.0, 1.0),
                       ModalityReading("physio", p, 0.0, 1.0)], 0.0, config)
        scores.append(np.log(max(result.probs[y], 1e-6)))
    assert fitted.validation_score == pytest.approx(float(np.mean(scores)), rel=1e-12)


def test_fit_log_pool_prefers_the_informative_modality():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 200)
    physio = np.eye(3)[labels] * 0.7 + 0.1
    face = rng.dirichlet(np.ones(3), 200)
    fitted = fit_learned_weights({"face": face, "physio": physio}, labels, pool="log")
    assert fitted.weights[1][0] >= 0.8


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"objective": "f1"}, r"objective must be one of \['log_likelihood', 'accuracy'\]"),
    ({"pool": "max"}, r"pool must be one of \['linear', 'log'\]; got 'max'"),
    ({"grid_step": 0.3}, "grid_step must divide 1 evenly"),
    ({"grid_step": 0.0}, r"grid_step must be finite and in \(0.0, 1.0\]"),
    ({"rounds": 0}, "rounds must be an integer >= 1; got 0"),
    ({"labels": np.array([0, 3])}, r"labels must be int\[N\] in \[0, 3\)"),
    ({"probs": {"face": np.ones((3, 3)) / 3}}, r"probs\['face'\] must have shape \[2, 3\]"),
    ({"probs": {"face": np.array([[0.5, 0.5, 0.5], [1, 0, 0]])}},
     r"probs\['face'\]: rows must be probability vectors summing to 1; row 0"),
    ({"probs": {"face": np.array([[np.nan, 0.5, 0.5], [1, 0, 0]])}},
     "a row must be all NaN"),
    ({"probs": {"face": np.full((2, 3), np.nan)}}, "no validation sample has any modality"),
])
def test_fit_bad_inputs(kwargs, message):
    args = {"probs": {"face": np.array([[1.0, 0, 0], [0, 1.0, 0]])}, "labels": np.array([0, 1])}
    with pytest.raises(ValueError, match=message):
        fit_learned_weights(**(args | kwargs))
