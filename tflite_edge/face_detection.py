"""Camera frame -> 48x48 grayscale face crop, with OpenCV's bundled Haar cascade.

Frames that already are face crops (`uint8[48,48]` or `uint8[48,48,1]`: FER2013 images, the
synthetic cohort's frames) skip detection and need no OpenCV. Every other frame (`uint8[H,W]`
grayscale, `uint8[H,W,1]`, `uint8[H,W,3]` BGR or `uint8[H,W,4]` BGRA, OpenCV's channel order)
goes through `cv2.CascadeClassifier` loaded from `cv2.data.haarcascades` (the XML files ship
inside the opencv wheel; nothing is downloaded). OpenCV is imported on the first frame that
needs it; when it is missing that frame raises ImportError naming the package to install.

Detection runs `detectMultiScale` on the grayscale frame, first shrunk (`INTER_AREA`) to at most
`max_detect_width` pixels wide (a 640x480 frame is searched at 320x240: ~5x faster; faces of
>= 2 * `min_size_px` frame pixels are still found) and histogram-equalised when `equalize`;
boxes are scaled back to frame pixels. The LARGEST box wins (ties: the first returned), is grown
by `margin` of its size on every side, clipped to the frame, cropped from the full-resolution
grayscale frame (not equalised) and resized to 48x48 (`INTER_AREA` when shrinking,
`INTER_LINEAR` when enlarging).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from tflite_edge.sources import import_cv2

FACE_SIZE = 48
DEFAULT_CASCADE = "haarcascade_frontalface_default.xml"


@dataclasses.dataclass(frozen=True)
class FaceBox:
    """A detected face: top-left corner (x, y) and size (w, h) in frame pixels."""

    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return self.w * self.h


@dataclasses.dataclass(frozen=True)
class DetectorConfig:
    """Haar cascade file (in `cv2.data.haarcascades`) and `detectMultiScale` settings."""

    cascade: str = DEFAULT_CASCADE
    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_size_px: int = 30
    margin: float = 0.0
    equalize: bool = True
    max_detect_width: int | None = 320  # None: detect at full resolution
    num_threads: int | None = None  # OpenCV's process-wide thread count, set on first use

    def __post_init__(self) -> None:
        if not isinstance(self.cascade, str) or not self.cascade.endswith(".xml"):
            raise ValueError(f"DetectorConfig.cascade must be an .xml file name; "
                             f"got {self.cascade!r}")
        if not self.scale_factor > 1.0:
            raise ValueError(f"DetectorConfig.scale_factor must be > 1; got {self.scale_factor!r}")
        for name in ("min_neighbors", "min_size_px"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"DetectorConfig.{name} must be an int >= 0; got {value!r}")
        for name in ("max_detect_width", "num_threads"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f"DetectorConfig.{name} must be None or an int >= 1; "
                                 f"got {value!r}")
        if not 0.0 <= self.margin <= 1.0:
            raise ValueError(f"DetectorConfig.margin must lie in [0, 1]; got {self.margin!r}")


def check_frame(frame: object) -> np.ndarray:
    """`frame` as an array if it is `uint8[H,W]` or `uint8[H,W,C]` with C in {1, 3, 4}."""
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"frame must be a numpy array; got {type(frame).__name__}")
    ok_shape = (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] in (1, 3, 4))) and (
        frame.shape[0] > 0 and frame.shape[1] > 0)
    if frame.dtype != np.uint8 or not ok_shape:
        raise ValueError("frame must be uint8[H,W], uint8[H,W,1], uint8[H,W,3] (BGR) or "
                         f"uint8[H,W,4] (BGRA); got {frame.dtype}{list(frame.shape)}")
    return frame


def is_face_crop(frame: np.ndarray) -> bool:
    """True for a frame that already is a 48x48 grayscale crop (`uint8[48,48]` / `[48,48,1]`)."""
    return frame.dtype == np.uint8 and frame.shape in ((FACE_SIZE, FACE_SIZE),
                                                       (FACE_SIZE, FACE_SIZE, 1))


def largest_box(boxes: Sequence[Sequence[int]] | np.ndarray) -> FaceBox | None:
    """The largest `(x, y, w, h)` box (first on ties), or None for no boxes."""
    best: FaceBox | None = None
    for x, y, w, h in np.asarray(boxes, dtype=np.int64).reshape(-1, 4).tolist():
        box = FaceBox(x, y, w, h)
        if best is None or box.area > best.area:
            best = box
    return best


def expand_box(box: FaceBox, margin: float, height: int, width: int) -> FaceBox:
    """`box` grown by `margin * size` on every side and clipped to a `height x width` frame."""
    dx, dy = int(round(box.w * margin)), int(round(box.h * margin))
    x0, y0 = max(box.x - dx, 0), max(box.y - dy, 0)
    x1, y1 = min(box.x + box.w + dx, width), min(box.y + box.h + dy, height)
    return FaceBox(x0, y0, x1 - x0, y1 - y0)


class FaceDetector:
    """Largest-face crops from frames; the cascade is loaded on the first frame needing it."""

    def __init__(self, config: DetectorConfig = DetectorConfig()) -> None:
        if not isinstance(config, DetectorConfig):
            raise ValueError(f"config must be a DetectorConfig; got {type(config).__name__}")
        self.config = config
        self._cv2: Any = None
        self._cascade: Any = None

    def _load(self) -> None:
        if self._cascade is not None:
            return
        cv2 = import_cv2("face detection on frames that are not 48x48 grayscale crops")
        path = str(cv2.data.haarcascades) + "/" + self.config.cascade
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():
            raise FileNotFoundError(f"DetectorConfig.cascade: cannot load Haar cascade {path!r}")
        if self.config.num_threads is not None:
            cv2.setNumThreads(self.config.num_threads)
        self._cv2, self._cascade = cv2, cascade

    def grayscale(self, frame: np.ndarray) -> np.ndarray:
        """`uint8[H,W]` grayscale view/copy of a checked frame (BGR/BGRA via OpenCV)."""
        frame = check_frame(frame)
        if frame.ndim == 2:
            return frame
        if frame.shape[2] == 1:
            return frame[:, :, 0]
        self._load()
        code = (self._cv2.COLOR_BGR2GRAY if frame.shape[2] == 3 else self._cv2.COLOR_BGRA2GRAY)
        return self._cv2.cvtColor(frame, code)

    def detect(self, frame: np.ndarray) -> list[FaceBox]:
        """All faces the cascade finds in `frame` (any accepted frame layout)."""
        gray = self.grayscale(frame)
        self._load()
        cv2 = self._cv2
        height, width = gray.shape
        scale = 1.0
        image = gray
        if self.config.max_detect_width is not None and width > self.config.max_detect_width:
            scale = self.config.max_detect_width / width
            size = (self.config.max_detect_width, max(1, int(round(height * scale))))
            image = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        if self.config.equalize:
            image = cv2.equalizeHist(image)
        side = self.config.min_size_px
        boxes = self._cascade.detectMultiScale(
            image, scaleFactor=self.config.scale_factor, minNeighbors=self.config.min_neighbors,
            minSize=(side, side))
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) / scale
        return [FaceBox(*(int(round(v)) for v in b)) for b in boxes.tolist()]

    def crop(self, frame: np.ndarray) -> np.ndarray | None:
        """`uint8[48,48]` crop of the largest face in `frame`, or None when there is no face.

        A 48x48 grayscale frame is returned as is (a copy, without channel axis). Raises
        ValueError for frames of the wrong dtype/shape, ImportError without OpenCV.
        """
        frame = check_frame(frame)
        if is_face_crop(frame):
            return frame.reshape(FACE_SIZE, FACE_SIZE).copy()
        gray = self.grayscale(frame)
        box = largest_box([dataclasses.astuple(b) for b in self.detect(gray)])
        if box is None:
            return None
        box = expand_box(box, self.config.margin, gray.shape[0], gray.shape[1])
        face = gray[box.y:box.y + box.h, box.x:box.x + box.w]
        shrink = face.shape[0] >= FACE_SIZE and face.shape[1] >= FACE_SIZE
        interpolation = self._cv2.INTER_AREA if shrink else self._cv2.INTER_LINEAR
        return self._cv2.resize(face, (FACE_SIZE, FACE_SIZE), interpolation=interpolation)
