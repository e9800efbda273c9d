import numpy as np
import pytest

from emocore.label_spaces import FER7
from emodata.synthetic_faces import (
    FACE_SIZE,
    RenderSettings,
    render_faces,
    sample_identity,
)


def faces(expressions, seed=0, settings=RenderSettings()):
    rng = np.random.default_rng(seed)
    identity = sample_identity(rng)
    return render_faces(identity, np.asarray(expressions), rng, settings)


def test_shapes_dtype_and_range():
    out = faces(np.arange(7).repeat(3))
    assert out.shape == (21, FACE_SIZE, FACE_SIZE) and out.dtype == np.uint8
    assert out.std() > 10  # not blank
    assert faces(np.zeros(0, dtype=np.int64)).shape == (0, FACE_SIZE, FACE_SIZE)


def test_same_seed_same_pixels_other_seed_other_pixels():
    labels = np.arange(7).repeat(40)  # several render chunks
    np.testing.assert_array_equal(faces(labels, seed=1), faces(labels, seed=1))
    assert not np.array_equal(faces(labels, seed=1), faces(labels, seed=2))


def test_expressions_change_the_face_where_expected():
    clean = RenderSettings(jitter=0.0, min_strength=1.0, max_rotation_deg=0.0, max_shift=0.0,
                           max_scale_change=0.0, noise_std=(0.0, 0.0), sunglasses_prob=0.0,
                           hand_prob=0.0)  # fmt: skip
    per_class = {
        name: faces(np.full(30, FER7.index(name)), seed=3, settings=clean).astype(float).mean(0)
        for name in FER7.labels
    }
    mouth = (slice(32, 44), slice(18, 30))
    # Surprise and fear open the mouth (darker mouth region); neutral keeps it closed.
    for name in ("surprise", "fear"):
        assert per_class[name][mouth].mean() < per_class["neutral"][mouth].mean() - 8, name
    # Every class differs from every other on average.
    for a in FER7.labels:
        for b in FER7.labels:
            if a < b:
                assert np.abs(per_class[a] - per_class[b]).mean() > 0.5, (a, b)


def test_sunglasses_darken_the_eye_band():
    plain = faces(np.full(20, 6), seed=4, settings=RenderSettings(sunglasses_prob=0.0,
                                                                  hand_prob=0.0))  # fmt: skip
    shades = faces(np.full(20, 6), seed=4, settings=RenderSettings(sunglasses_prob=1.0,
                                                                   hand_prob=0.0))  # fmt: skip
    eyes = (slice(14, 24), slice(10, 38))
    assert shades[:, eyes[0], eyes[1]].mean() < plain[:, eyes[0], eyes[1]].mean() - 10


@pytest.mark.parametrize(
    "expressions, match",
    [
        (np.array([0, 7]), r"expressions must lie in \[0, 7\)"),
        (np.array([-1]), r"expressions must lie in \[0, 7\)"),
        (np.zeros((2, 2), dtype=np.int64), "expressions must be a 1-D integer array"),
        (np.array([0.5]), "expressions must be a 1-D integer array"),
    ],
)
def test_bad_expressions_raise(expressions, match):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=match):
        render_faces(sample_identity(rng), expressions, rng)


def test_bad_identity_and_settings_raise():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="identity must be a FaceIdentity"):
        render_faces({"skin": 120}, np.zeros(1, dtype=np.int64), rng)
    with pytest.raises(ValueError, match=r"RenderSettings.min_strength must lie in \[0, 1\]"):
        RenderSettings(min_strength=1.5)
    with pytest.raises(ValueError, match="RenderSettings.noise_std must be"):
        RenderSettings(noise_std=(5.0, 1.0))
    with pytest.raises(ValueError, match="RenderSettings.hand_prob must lie in"):
        RenderSettings(hand_prob=-0.1)
    with pytest.raises(ValueError, match="RenderSettings.zoom must be > 0"):
        RenderSettings(zoom=0.0)
