"""Tests for tflite_edge.face_detection: crops, the largest-face rule, OpenCV being optional."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from emodata.synthetic_faces import RenderSettings, render_faces, sample_identity
from tflite_edge.face_detection import (
    DetectorConfig,
    FaceBox,
    FaceDetector,
    check_frame,
    expand_box,
    is_face_crop,
    largest_box,
)

PLAIN = RenderSettings(jitter=0.0, max_rotation_deg=0.0, max_shift=0.0, max_scale_change=0.0,
                       noise_std=(0.0, 0.0), sunglasses_prob=0.0, hand_prob=0.0)


def synthetic_face(seed: int) -> np.ndarray:
    """A clean frontal 48x48 synthetic neutral face (the Haar cascade finds these)."""
    rng = np.random.default_rng(seed)
    return render_faces(sample_identity(rng), np.array([6]), rng, PLAIN)[0]


def frame_with_faces(placements: list[tuple[int, int, int]], seed: int = 0,
                     shape: tuple[int, int] = (480, 640)) -> np.ndarray:
    """A grayscale frame with the synthetic face pasted at (x, y) with side `size` each."""
    cv2 = pytest.importorskip("cv2")
    face = synthetic_face(seed)
    frame = np.full(shape, int(face[0, 0]), dtype=np.uint8)
    for x, y, size in placements:
        frame[y:y + size, x:x + size] = cv2.resize(face, (size, size),
                                                   interpolation=cv2.INTER_CUBIC)
    return frame


def test_face_crops_skip_detection_without_opencv(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 now raises ImportError
    detector = FaceDetector()
    crop = np.arange(48 * 48, dtype=np.uint8).reshape(48, 48)
    out = detector.crop(crop[:, :, None])
    np.testing.assert_array_equal(out, crop)
    assert out.shape == (48, 48) and out.base is None  # a copy, not a view
    with pytest.raises(ImportError, match="needs OpenCV.*pip install opencv-python-headless"):
        detector.crop(np.zeros((480, 640, 3), np.uint8))


@pytest.mark.parametrize(("frame", "message"), [
    (np.zeros((48, 48), np.float32), r"got float32\[48, 48\]"),
    (np.zeros((10, 10, 2), np.uint8), r"got uint8\[10, 10, 2\]"),
    (np.zeros((0, 10), np.uint8), r"got uint8\[0, 10\]"),
    (np.zeros(100, np.uint8), r"got uint8\[100\]"),
])
def test_bad_frames_are_refused(frame, message):
    with pytest.raises(ValueError, match="frame must be uint8\\[H,W\\].*" + message):
        FaceDetector().crop(frame)


def test_non_array_frame_is_refused():
    with pytest.raises(ValueError, match="frame must be a numpy array; got list"):
        check_frame([[0, 1], [2, 3]])


def test_is_face_crop():
    assert is_face_crop(np.zeros((48, 48), np.uint8))
    assert is_face_crop(np.zeros((48, 48, 1), np.uint8))
    assert not is_face_crop(np.zeros((48, 48, 3), np.uint8))
    assert not is_face_crop(np.zeros((48, 48), np.int16))


def test_largest_box_and_expansion():
    assert largest_box([]) is None
    boxes = [(0, 0, 10, 10), (5, 5, 20, 20), (1, 1, 20, 20), (2, 2, 4, 4)]
    assert largest_box(boxes) == FaceBox(5, 5, 20, 20)  # first of the two largest
    assert expand_box(FaceBox(10, 10, 20, 20), 0.25, 100, 100) == FaceBox(5, 5, 30, 30)
    assert expand_box(FaceBox(2, 90, 20, 20), 0.25, 100, 100) == FaceBox(0, 85, 27, 15)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"cascade": "face.txt"}, "cascade must be an .xml file name"),
    ({"scale_factor": 1.0}, "scale_factor must be > 1; got 1.0"),
    ({"min_neighbors": -1}, "min_neighbors must be an int >= 0; got -1"),
    ({"margin": 1.5}, r"margin must lie in \[0, 1\]; got 1.5"),
    ({"max_detect_width": 0}, "max_detect_width must be None or an int >= 1; got 0"),
])
def test_detector_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DetectorConfig(**kwargs)


def test_missing_cascade_file_is_reported():
    pytest.importorskip("cv2")
    detector = FaceDetector(DetectorConfig(cascade="no_such_cascade.xml"))
    with pytest.raises(FileNotFoundError, match="cannot load Haar cascade .*no_such_cascade.xml"):
        detector.crop(np.zeros((100, 100), np.uint8))


def test_the_bundled_cascade_finds_the_face_and_crops_it():
    cv2 = pytest.importorskip("cv2")
    frame = frame_with_faces([(240, 160, 160)])
    detector = FaceDetector()
    (box,) = detector.detect(frame)
    assert abs(box.x + box.w / 2 - 320) < 20 and abs(box.y + box.h / 2 - 240) < 20
    assert 120 < box.w < 220
    crop = detector.crop(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))  # BGR gives the same crop
    assert crop.shape == (48, 48) and crop.dtype == np.uint8
    np.testing.assert_array_equal(crop, detector.crop(frame))
    expected = cv2.resize(frame[box.y:box.y + box.h, box.x:box.x + box.w], (48, 48),
                          interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(crop, expected)


def test_the_largest_of_two_faces_wins():
    cv2 = pytest.importorskip("cv2")
    frame = frame_with_faces([(40, 100, 110), (360, 120, 200)])
    detector = FaceDetector()
    boxes = detector.detect(frame)
    assert len(boxes) == 2
    big = max(boxes, key=lambda b: b.area)
    assert big.x > 300  # the 200-px face on the right
    expected = cv2.resize(frame[big.y:big.y + big.h, big.x:big.x + big.w], (48, 48),
                          interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(detector.crop(frame), expected)
    margin = FaceDetector(DetectorConfig(margin=0.2)).crop(frame)
    assert not np.array_equal(margin, expected)


def test_no_face_gives_none():
    pytest.importorskip("cv2")
    frame = np.random.default_rng(0).integers(100, 110, (240, 320), dtype=np.uint8)
    assert FaceDetector().crop(frame) is None
