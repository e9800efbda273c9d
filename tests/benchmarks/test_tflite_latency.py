"""benchmarks.tflite_latency: test-time flip and the timed measurement on a tiny model."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.tflite_latency import flip_averaged, measure, measure_in_subprocess

tf = pytest.importorskip("tensorflow")  # only to build the test model

from tests.tflite_edge.tiny_models import tiny_keras_model, to_tflite  # noqa: E402


def test_flip_averaged_is_the_mean_over_the_image_and_its_mirror():
    x = np.arange(2 * 3 * 4 * 1, dtype=np.float32).reshape(2, 3, 4, 1)
    calls = []

    def first_row(v: np.ndarray) -> np.ndarray:  # depends on left-right order
        calls.append(v.copy())
        return v[:, 0, :, 0]

    out = flip_averaged(first_row, x)
    np.testing.assert_array_equal(calls[1], x[:, :, ::-1])
    np.testing.assert_allclose(out, (x[:, 0, :, 0] + x[:, 0, ::-1, 0]) / 2)
    symmetric = np.ones((1, 3, 4, 1), np.float32)
    np.testing.assert_array_equal(flip_averaged(first_row, symmetric), symmetric[:, 0, :, 0])


def test_flip_averaged_reuses_the_callers_unflipped_prediction():
    x = np.arange(6, dtype=np.float32).reshape(1, 1, 6, 1)
    calls = []

    def first_row(v: np.ndarray) -> np.ndarray:
        calls.append(v.copy())
        return v[:, 0, :, 0]

    out = flip_averaged(first_row, x, predicted=np.zeros((1, 6), np.float32))
    assert len(calls) == 1  # only the mirror image is predicted
    np.testing.assert_array_equal(calls[0], x[:, :, ::-1])
    np.testing.assert_allclose(out, x[:, 0, ::-1, 0] / 2)


def test_flip_averaged_refuses_inputs_that_are_not_images():
    with pytest.raises(ValueError, match=r"x must be float32\[B,H,W,C\]; got shape \(3, 4\)"):
        flip_averaged(lambda v: v, np.zeros((3, 4), np.float32))


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("latency") / "m.tflite"
    path.write_bytes(to_tflite(tiny_keras_model(), int8=False))
    return str(path)


def test_measure_reports_percentiles_and_the_flip_option(model_path):
    plain = measure(model_path, runs=20, warmup=2)
    flipped = measure(model_path, runs=20, warmup=2, flip_average=True)
    assert plain["runs"] == 20 and plain["flip_average"] is False
    assert flipped["flip_average"] is True
    for result in (plain, flipped):
        assert 0 < result["p50_ms"] <= result["p99_ms"]


def test_measure_in_subprocess_runs_without_tensorflow(model_path):
    result = measure_in_subprocess(model_path, runs=20, flip_average=True)
    assert result["tensorflow_imported"] is False
    assert result["flip_average"] is True and result["runs"] == 20
