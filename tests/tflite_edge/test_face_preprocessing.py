from __future__ import annotations

import numpy as np
import pytest

from tflite_edge.face_preprocessing import (
    estimate_matching_sigma,
    gaussian_kernel,
    gradient_energy,
    match_training_blur,
)


def test_kernel_is_normalised_symmetric_with_radius_3_sigma():
    k = gaussian_kernel(1.0)
    assert len(k) == 7 and k.sum() == pytest.approx(1.0) and np.allclose(k, k[::-1])
    assert k.argmax() == 3


def test_blur_of_a_constant_image_is_the_constant_and_impulse_spreads_as_the_kernel():
    flat = np.full((2, 48, 48), 77, np.uint8)
    np.testing.assert_array_equal(match_training_blur(flat, 2.0), flat)
    impulse = np.zeros((48, 48), np.uint8)
    impulse[24, 24] = 255
    out = match_training_blur(impulse, 1.0).astype(np.float64)
    k = gaussian_kernel(1.0)
    expected = np.floor(255 * np.outer(k, k) + 0.5)
    np.testing.assert_array_equal(out[21:28, 21:28], expected)
    assert out.sum() == expected.sum()  # nothing beyond the radius


def test_borders_reflect_symmetrically():
    ramp = np.tile(np.arange(48, dtype=np.uint8) * 5, (48, 1))
    out = match_training_blur(ramp, 1.0)
    # d c b a | a b c d: a linear ramp bends at the border but stays monotone and in range.
    assert np.all(np.diff(out[0].astype(int)) >= 0)
    assert out[0, 0] >= ramp[0, 0] and out[0, -1] <= ramp[0, -1]


def test_sigma_zero_is_identity_and_blur_lowers_gradient_energy():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3, 48, 48), dtype=np.uint8)
    np.testing.assert_array_equal(match_training_blur(x, 0), x)
    assert gradient_energy(match_training_blur(x, 2.0)) < gradient_energy(x) / 4


def test_estimated_sigma_recovers_a_planted_blur():
    rng = np.random.default_rng(1)
    sharp = rng.integers(0, 256, (20, 48, 48), dtype=np.uint8)
    train = match_training_blur(rng.integers(0, 256, (20, 48, 48), dtype=np.uint8), 2.0)
    assert estimate_matching_sigma(train, sharp) == 2.0


@pytest.mark.parametrize(("images", "sigma", "message"), [
    (np.zeros((48, 48), np.float32), 1.0, r"images must be uint8\[...,H,W\]; got float32"),
    (np.zeros((48, 48), np.uint8), -1.0, "sigma must be >= 0 and finite; got -1.0"),
    (np.zeros((48, 48), np.uint8), float("nan"), "sigma must be >= 0 and finite; got nan"),
    (np.zeros((8, 8), np.uint8), 3.0, "needs a 9-px border"),
])
def test_bad_inputs(images, sigma, message):
    with pytest.raises(ValueError, match=message):
        match_training_blur(images, sigma)
